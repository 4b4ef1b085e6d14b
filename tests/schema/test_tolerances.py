"""The tolerance table: complete, documented, replayed, and switched off as a whole by strict mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from scimflask.schema.tolerances import LENIENT, STRICT, TOLERANCES, Compatibility
from tests.views import test_entra_replay, test_okta_replay

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"
REPLAY_MODULES = {"tests/views/test_entra_replay.py": test_entra_replay,
                  "tests/views/test_okta_replay.py": test_okta_replay}


def test_entries_are_unique_and_complete():
    names = [tolerance.name for tolerance in TOLERANCES]
    assert len(names) == len(set(names))
    for tolerance in TOLERANCES:
        assert tolerance.quirk and tolerance.clients and tolerance.applies_to, tolerance


@pytest.mark.parametrize("tolerance", TOLERANCES, ids=lambda tolerance: tolerance.name)
def test_each_entry_names_the_test_that_replays_it(tolerance):
    module_path, _, test = tolerance.replay.partition("::")
    assert test == f"test_tolerance_replay[{tolerance.name}]"
    assert tolerance.name in REPLAY_MODULES[module_path].REPLAYS


def test_every_replay_belongs_to_an_entry():
    replayed = [name for module in REPLAY_MODULES.values() for name in module.REPLAYS]
    assert sorted(replayed) == sorted(tolerance.name for tolerance in TOLERANCES)


@pytest.mark.parametrize("tolerance", TOLERANCES, ids=lambda tolerance: tolerance.name)
def test_each_entry_is_documented(tolerance):
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{tolerance.name}` |")]
    assert len(rows) == 1, f"docs/compatibility.md needs one table row for {tolerance.name}"
    assert tolerance.replay in rows[0]


def test_modes_switch_every_tolerance_together():
    lenient, strict = Compatibility(LENIENT), Compatibility(STRICT)
    for tolerance in TOLERANCES:
        assert lenient.allows(tolerance.name) and not strict.allows(tolerance.name)
    assert lenient.enabled == tuple(tolerance.name for tolerance in TOLERANCES)
    assert strict.enabled == ()
    assert Compatibility() == lenient


def test_unknown_names_and_modes_are_programming_errors():
    with pytest.raises(KeyError):
        Compatibility().allows("no-such-tolerance")
    with pytest.raises(ValueError):
        Compatibility("sloppy")
