"""Test requests written with placeholders (`{user}`, …) for ids that exist only once seeded."""

from __future__ import annotations


def fill(value, ids: dict):
    """`value` with every placeholder in its strings (keys included) replaced by its id."""
    if isinstance(value, str):
        for placeholder, real in ids.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {fill(k, ids): fill(v, ids) for k, v in value.items()}
    return value
