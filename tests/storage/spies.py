"""Call counters for tests that prove a path was (or was not) taken."""

from __future__ import annotations


def count_calls(monkeypatch, owner, name: str) -> list[int]:
    """Wrap `owner.name` so that every call appends to the returned list."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls
