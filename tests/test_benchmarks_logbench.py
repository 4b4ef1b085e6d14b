"""The provisioning-log benchmark runs end to end on SQLite (no service needed) and prints both
tables with plausible figures; the full run is `python -m benchmarks.logbench`."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import tempfile

import pytest
from scimflask_sql.storage import SqlStorage
from sqlalchemy.engine import Connection

import scimflask.blueprint
from benchmarks import log_instructions, logbench
from scimflask.ops.provisioning_log import ProvisioningLog
from scimflask.storage.capabilities import LogQuery

QUERIES = ("failures only, newest page of 50", "failures only, next page (cursor)", "text q=logu",
           "text q=example (a word most entries hold)")


def _rows(table: str) -> list[list[str]]:
    """The body rows of a Markdown table, as cells."""
    lines = [line for line in table.strip().splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_quick_sqlite_run_prints_both_tables_and_leaves_nothing_behind(capsys):
    before = set(glob.glob(tempfile.gettempdir() + "/scimflask-logbench-*"))
    assert logbench.main(["--quick", "--entries", "2000", "--backends", "sqlite"]) == 0
    out = capsys.readouterr().out
    query_part, write_part = out.split("### Provisioning log: write cost")
    queries = _rows(query_part.split("\n\n", 1)[1])
    assert [row[0] for row in queries] == ["sqlite"] * len(QUERIES)
    assert all(row[1].startswith(name) for row, name in zip(queries, QUERIES, strict=True))
    for row in queries:
        assert _number(row[2]) == 2000
        p50, p95 = _number(row[5]), _number(row[6])
        assert 0 < p50 <= p95 < 5_000, row
        assert row[7].startswith(("met", "MISSED"))
    assert 0 < _number(queries[0][3]) <= 50  # about 40 failures among 2,000 entries

    writes = _rows(write_part.split("\n\n", 1)[1])
    assert [(row[0], row[1]) for row in writes] == [("sqlite", "PATCH replace one attribute"),
                                                  ("sqlite", "POST create user")]
    for row in writes:
        on, off, ratio = _number(row[3]), _number(row[4]), _number(row[5])
        assert on > 0 and off > 0 and 0.2 < ratio < 5, row
        assert abs(ratio - on / off) < 0.01
        stored, sent = (int(part.replace(",", "")) for part in row[8].split("/"))
        assert 0 < stored <= sent  # one entry per request of the log-on side
        assert row[9].startswith(("met", "MISSED"))
    assert set(glob.glob(tempfile.gettempdir() + "/scimflask-logbench-*")) == before  # the SQLite file is gone


def test_an_unknown_backend_is_refused():
    with pytest.raises(SystemExit):
        logbench.parse_args(["--backends", "sqlite,oracle"])


def test_write_cost_only_skips_the_query_part(capsys):
    assert logbench.main(["--quick", "--write-cost-only", "--entries", "2000", "--backends", "memory",
                          "--rounds", "2", "--requests", "10"]) == 0
    out = capsys.readouterr().out
    assert "query speed" not in out
    writes = _rows(out.split("\n\n", 1)[1])
    assert [(row[0], row[1]) for row in writes] == [("memory", "PATCH replace one attribute"),
                                                  ("memory", "POST create user")]
    assert all(row[8].split("/")[0].strip() == row[8].split("/")[1].strip() for row in writes)  # all stored


def test_breakdown_times_each_step_of_the_log_on_side(capsys):
    originals = (ProvisioningLog.record, Connection.begin, scimflask.blueprint._request_record)
    own = set(vars(SqlStorage))
    assert logbench.main(["--quick", "--write-cost-only", "--breakdown", "--entries", "2000",
                          "--backends", "memory,sqlite", "--rounds", "2", "--requests", "20"]) == 0
    out = capsys.readouterr().out
    table = out.split("### Where the log's write cost goes")[1].split("\n\n", 1)[1]
    rows = _rows(table)
    assert [(row[0], row[1]) for row in rows] == [(backend, workload) for backend in ("memory", "sqlite")
                                                  for workload in ("PATCH replace one attribute", "POST create user")]
    for row in rows:
        snapshot, queue, build, store, prune, steps = (_number(cell) for cell in row[2:8])
        assert snapshot > 0 and queue > 0 and build > 0 and store > 0 and prune >= 0, row
        assert abs(steps - (snapshot + queue + build + store + prune)) < 0.001
        if row[0] == "memory":
            assert row[9] == "—"
        else:
            on, off = (_number(part) for part in row[9].split("/"))
            assert on > 0 and off > 0  # every request began a write transaction on SQLite
    assert (ProvisioningLog.record, Connection.begin, scimflask.blueprint._request_record) == originals  # put back
    assert set(vars(SqlStorage)) == own  # the inherited append_logs is inherited again


def test_served_write_cost_runs_both_apps_under_gunicorn_and_counts_every_entry(capsys):
    before = set(glob.glob(tempfile.gettempdir() + "/scimflask-logbench-*"))
    assert logbench.main(["--quick", "--write-cost-only", "--served", "--entries", "1000",
                          "--backends", "memory,sqlite", "--rounds", "2", "--requests", "10",
                          "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    served = _rows(out.split("### Provisioning log: write cost served")[1].split("\n\n", 1)[1])
    assert [(row[0], row[1]) for row in served] == [("sqlite", "PATCH replace one attribute"),
                                                  ("sqlite", "POST create user")]  # memory is not served
    for row in served:
        assert row[2] == "2 × 0.5 s"
        ceiling, on, off, ratio = (_number(cell) for cell in row[3:7])
        assert ceiling > 0 and on > 0 and off > 0 and 0.2 < ratio < 5, row
        assert abs(ratio - on / off) < 0.01
        stored, answered = (int(part.replace(",", "")) for part in row[8].split("/"))
        assert stored == answered > 0  # every request the log-on server answered, stored as it exited
        assert row[9].startswith(("met", "MISSED"))
    assert set(glob.glob(tempfile.gettempdir() + "/scimflask-logbench-*")) == before  # logs and SQLite file gone


def test_the_instruction_child_stores_every_entry_in_batches_and_leaves_pruning_apart(monkeypatch):
    store = logbench.open_store("sqlite")
    try:
        side = logbench.WriteSide(store, "on", 20, 0)
        stored: list[int] = []
        monkeypatch.setattr(SqlStorage, "append_logs", lambda self, entries, original=SqlStorage.append_logs: (
            stored.append(len(entries)), original(self, entries))[1])
        pruned: list[str] = []
        monkeypatch.setattr(SqlStorage, "prune_log", lambda self, tenant, **limits: pruned.append(tenant) or 0)
        monkeypatch.setattr(log_instructions, "BATCH", 8)
        log_instructions.run_requests(side.config, "patch", 5, side.users, "t")
        log_instructions.run_requests(side.config, "post", 5, side.users, "u")
        assert stored == [8, 8, 8, 1] * 2  # 20 + 5 requests a run, a batch every 8 and the rest at the end
        assert pruned == []
        assert len(side.state.storage.query_log(side.tenant, LogQuery(limit=100))) == 50
        log_instructions.run_prune(side.config, side.tenant, 30)
        assert pruned == [side.tenant]
        side.close()
    finally:
        store.cleanup()


def _file(config: dict) -> str:
    return config["SCIM_STORAGE_URI"].removeprefix("sqlite:///")


def _users(config: dict, tenant: str) -> int:
    with contextlib.closing(sqlite3.connect(_file(config))) as database:
        return database.execute("SELECT count(*) FROM scim_resources WHERE tenant = ? AND resource_type = 'User'",
                                (tenant,)).fetchone()[0]


def test_each_instruction_child_on_sqlite_gets_its_own_copy_of_the_sides_file():
    store = logbench.open_store("sqlite")
    try:
        side = logbench.WriteSide(store, "on", 5, 0)
        with log_instructions._own_copy(side.config) as first, log_instructions._own_copy(side.config) as second:
            paths = {config["SCIM_STORAGE_URI"] for config in (side.config, first, second)}
            assert len(paths) == 3
            # Every committed user is in a copy, though the side's app still holds its WAL open.
            assert [_users(config, side.tenant) for config in (side.config, first, second)] == [5, 5, 5]
            with contextlib.closing(sqlite3.connect(_file(first))) as copy, copy:
                copy.execute("DELETE FROM scim_resources")
            assert [_users(config, side.tenant) for config in (side.config, first, second)] == [5, 0, 5]
            copied = _file(first)
        assert not os.path.exists(copied)
        with log_instructions._own_copy({"SCIM_STORAGE_URI": "redis://127.0.0.1:6379/15"}) as served:
            assert served == {"SCIM_STORAGE_URI": "redis://127.0.0.1:6379/15"}  # a server's data is not copied
        side.close()
    finally:
        store.cleanup()


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_logged_create_costs_more_instructions_than_an_unlogged_one():
    config = {"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": [logbench.SCIM_TOKEN],
              "SCIM_DEFAULT_TENANT": "instructions"}
    on, off = (log_instructions._pair({**config, "SCIM_LOG_ENABLED": enabled}, "post", 3, 1, f"t{enabled}")
               for enabled in (True, False))
    # A create costs some million instructions; storing its entry adds some ten thousand.
    assert 500_000 < off < on < off * 1.5, (on, off)
