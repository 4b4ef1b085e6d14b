"""The benchmark's synthetic directory and its verdicts (the timed run itself is `benchmarks/run.py --quick`)."""

from __future__ import annotations

from urllib.parse import quote

import pytest

import scimflask
from benchmarks import report
from benchmarks.directory import seed_group, seed_users, user_id
from benchmarks.workloads import LOOKUPS

TOKEN = "bench-smoke-token"


@pytest.fixture
def app():
    return scimflask.create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,),
                                 "SCIM_DEFAULT_TENANT": "bench", "SCIM_SECRET_KEY": "smoke"})


def test_every_lookup_finds_exactly_the_seeded_user(app):
    state = app.extensions["scim"]
    seed_users(state, "bench", 0, 30, threads=1)
    client = app.test_client()
    for name, expression in LOOKUPS.items():
        response = client.get(f"/scim/v2/Users?filter={quote(expression(17))}",
                              headers={"Authorization": f"Bearer {TOKEN}"})
        body = response.get_json()
        assert response.status_code == 200, name
        assert [r["id"] for r in body["Resources"]] == [user_id(17)], name


def test_seeded_group_holds_the_first_users(app):
    state = app.extensions["scim"]
    seed_users(state, "bench", 0, 5, threads=1)
    gid = seed_group(state, "bench", "smoke", 3)
    response = app.test_client().get(f"/scim/v2/Groups/{gid}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert sorted(m["value"] for m in response.get_json()["members"]) == sorted(user_id(i) for i in range(3))


def test_a_group_larger_than_a_seeding_chunk_gets_every_member(app, monkeypatch):
    """Huge groups are seeded as a create and then adds of a chunk each (one write of a
    million members outlived Redis' socket timeout): no chunk may be lost or repeated."""
    from benchmarks import directory

    monkeypatch.setattr(directory, "GROUP_SEED_CHUNK", 2)
    state = app.extensions["scim"]
    seed_users(state, "bench", 0, 7, threads=1)
    gid = seed_group(state, "bench", "chunked", 7)
    response = app.test_client().get(f"/scim/v2/Groups/{gid}", headers={"Authorization": f"Bearer {TOKEN}"})
    members = [m["value"] for m in response.get_json()["members"]]
    assert sorted(members) == sorted(user_id(i) for i in range(7))


def test_scaling_table_judges_each_workload_by_its_growth_aim():
    """An equality lookup may double from the smallest size to the largest, a substring one
    (co/sw/ew) triple."""
    rows = [{"phase": "scale", "backend": "b", "workload": workload, "n": n, "p50_ms": p50, "errors": 0}
            for workload in ("lookup userName eq", "lookup userName ew")
            for n, p50 in ((1000, 2.0), (100000, 4.5))]
    eq_line, ew_line = report.scaling_table(rows, [1000, 100000]).splitlines()[-2:]
    assert "2.25×" in eq_line and eq_line.endswith("| ≤ 2× | NO |")
    assert "2.25×" in ew_line and ew_line.endswith("| ≤ 3× | yes |")


def test_only_substring_picks_the_co_sw_ew_lookups_and_lookups_picks_all():
    from benchmarks import run

    assert run.chosen_lookups(run.parse_args(["--only", "substring"]).only) == list(run.SUBSTRING_LOOKUPS)
    assert run.chosen_lookups(run.parse_args([]).only) == list(LOOKUPS)
    assert run.chosen_lookups(run.parse_args(["--only", "patch"]).only) == []


def test_inprocess_names_an_unknown_workload_before_seeding_anything(capsys):
    from benchmarks import inprocess

    with pytest.raises(SystemExit) as stopped:
        inprocess.main(["--only", "get-user", "--users", "10"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert "unknown workload(s) get-user" in error and "get-by-id" in error and "seeded" not in error


def test_a_run_removes_its_working_directory_even_when_it_fails(monkeypatch, tmp_path):
    """The SQLite directories of a run hold gigabytes at a million users."""
    from benchmarks import run

    workdir = tmp_path / "work"
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(run.tempfile, "mkdtemp", lambda prefix: (workdir.mkdir(), str(workdir))[1])

    def failing(args, stamp, logs, workdir, argv):
        (workdir / "bench.db").write_bytes(b"x")
        raise RuntimeError("a backend broke")

    monkeypatch.setattr(run, "_run", failing)
    with pytest.raises(RuntimeError):
        run.main(["--quick", "--backends", "memory"])
    assert not workdir.exists()


def test_a_named_sqlite_file_is_emptied_unless_kept(monkeypatch, tmp_path):
    """SCIMFLASK_BENCH_SQLITE_FILE lets `--keep` re-measure a SQLite directory that took half an
    hour to seed; without `--keep` the run starts from an empty store, as every other run."""
    from benchmarks import backends, run

    path = tmp_path / "bench.db"
    monkeypatch.setattr(run, "SQLITE_FILE", None)
    with pytest.raises(SystemExit):
        run.parse_args(["--keep", "--backends", "sqlite"])
    monkeypatch.setattr(backends, "SQLITE_FILE", str(path))
    monkeypatch.setattr(run, "SQLITE_FILE", str(path))
    assert run.parse_args(["--keep", "--backends", "sqlite"]).keep
    for name in ("bench.db", "bench.db-wal"):
        (tmp_path / name).write_bytes(b"seeded")
    store = backends.backend("sqlite")
    store.prepare(tmp_path / "work", keep=True)
    assert store.uri == f"sqlite:///{path}" and path.read_bytes() == b"seeded"
    store.prepare(tmp_path / "work", keep=False)
    assert store.uri == f"sqlite:///{path}" and sorted(tmp_path.iterdir()) == []
