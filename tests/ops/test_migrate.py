"""Moving between backends: SQLite → SQLite file, Redis (fake; real and PostgreSQL when their
URL is set), resumable after an interruption, and verified resource by resource."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner

from scimflask.cli.main import main
from scimflask.model import Member, RequestContext, Resource, utcnow
from scimflask.ops.migrate import export_records, migrate, open_installed_storage, tenants_of, verify
from scimflask.storage.capabilities import Tenant, TenantSupport
from tests.conftest import POSTGRES_URL, REDIS_URL, _needs

USERS, GROUPS = 2_000, 20


def fill(storage, tenant: str, users: int, groups: int) -> None:
    """A tenant record, a token, `users` users and `groups` groups of 50 members each."""
    from scimflask.auth import new_token

    if isinstance(storage, TenantSupport):
        storage.put_tenant(Tenant(id=tenant, created=utcnow(), description="migrated"))
    new_token(storage, tenant, "idp")
    ctx = RequestContext(tenant=tenant)
    start = utcnow() - timedelta(days=3)
    ids = []
    for index in range(users):
        when = start + timedelta(seconds=index)
        resource = Resource("User", str(uuid.uuid4()), {
            "userName": f"user{index}@example.com", "active": index % 7 != 0,
            "name": {"givenName": f"Given{index}", "familyName": "Family"},
            "emails": [{"value": f"user{index}@example.com", "type": "work", "primary": True}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": f"D{index % 5}"},
        }, created=when, last_modified=when + timedelta(minutes=1))
        ids.append(storage.create(ctx, resource).id)
    for index in range(groups):
        when = start + timedelta(hours=2, seconds=index)
        members = [Member(value=ids[(index * 50 + k) % users], type="User") for k in range(50)]
        storage.create(ctx, Resource("Group", str(uuid.uuid4()), {"displayName": f"Group {index}"},
                                     created=when, last_modified=when, members=members))


@pytest.fixture
def tmp_path(tmp_path_factory):
    """SQLite files on tmpfs when there is one: the copy is the subject here, not fsync."""
    import tempfile
    from pathlib import Path

    if Path("/dev/shm").is_dir():
        with tempfile.TemporaryDirectory(dir="/dev/shm") as directory:
            yield Path(directory)
    else:
        yield tmp_path_factory.mktemp("migrate")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    import shutil
    import tempfile
    from pathlib import Path

    directory = tempfile.mkdtemp(dir="/dev/shm") if Path("/dev/shm").is_dir() else tmp_path_factory.mktemp("m")
    path = Path(directory) / "source.db"
    storage = open_installed_storage(f"sqlite:///{path}")
    tenant = "src-" + uuid.uuid4().hex[:8]
    fill(storage, tenant, USERS, GROUPS)
    yield storage, f"sqlite:///{path}"
    storage.close()
    shutil.rmtree(directory, ignore_errors=True)


def _fakeredis():
    import fakeredis

    return open_installed_storage("redis://fake", {"client": fakeredis.FakeRedis()})


TARGETS = [
    pytest.param(lambda tmp: open_installed_storage(f"sqlite:///{tmp / 'target.db'}"), id="sqlite-file"),
    pytest.param(lambda tmp: _fakeredis(), id="fakeredis"),
    pytest.param(lambda tmp: open_installed_storage(POSTGRES_URL, {"table_prefix": f"m{uuid.uuid4().hex[:6]}_"}),
                 id="postgres", marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")]),
    pytest.param(lambda tmp: open_installed_storage(REDIS_URL), id="redis",
                 marks=[pytest.mark.redis, _needs(REDIS_URL, "SCIMFLASK_TEST_REDIS_URL")]),
]


def _target(factory, tmp_path):
    target = factory(tmp_path)
    if not isinstance(target, TenantSupport):
        pytest.skip(f"{type(target).__name__} lacks TenantSupport")
    return target


@pytest.mark.parametrize("make_target", TARGETS)
def test_migration_resumes_and_ends_identical(source, make_target, tmp_path):
    storage, _ = source
    target = _target(make_target, tmp_path)
    tenants = tenants_of(storage)
    interrupted_after = 700
    real_create = target.create
    calls = {"n": 0}

    def flaky_create(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > interrupted_after:
            raise KeyboardInterrupt("operator pressed ^C")
        return real_create(*args, **kwargs)

    target.create = flaky_create
    with pytest.raises(KeyboardInterrupt):
        migrate(storage, target, tenants)
    assert verify(storage, target, tenants, every_resource=False)  # counts differ: incomplete
    target.create = real_create

    seen = []
    result = migrate(storage, target, tenants, progress=lambda done, total: seen.append((done, total)))
    assert result.skipped >= interrupted_after
    assert seen[-1][1] == USERS + GROUPS
    assert verify(storage, target, tenants, every_resource=True) == []
    copied = [record for record in export_records(target, tenants) if record["kind"] != "resource"]
    original = [record for record in export_records(storage, tenants) if record["kind"] != "resource"]
    assert copied == original  # tenant record and token hash, unchanged


def test_export_import_and_migrate_from_the_cli(source, tmp_path):
    _, source_url = source
    runner = CliRunner()
    dump = tmp_path / "dump.jsonl"
    records = USERS + GROUPS + 2  # and a tenant record and a token
    exported = runner.invoke(main, ["export", "--storage", source_url, str(dump)])
    assert exported.exit_code == 0, exported.output
    assert len(dump.read_text().splitlines()) == records
    assert progress_lines(exported.output, "exporting") == tenths(records)
    target_url = f"sqlite:///{tmp_path / 'imported.db'}"
    imported = runner.invoke(main, ["import", "--storage", target_url, str(dump)])
    assert imported.exit_code == 0 and f"imported {records}" in imported.output
    assert progress_lines(imported.output, "importing") == tenths(records)
    again = runner.invoke(main, ["import", "--storage", target_url, str(dump)])
    assert "imported 1, already present" in again.output  # the tenant record is re-put, nothing else
    checked = runner.invoke(main, ["migrate", "--from", source_url, "--to", target_url, "--verify"])
    assert checked.exit_code == 0, checked.output
    assert progress_lines(checked.output, "copying") == tenths(records)
    assert "verified: source and target agree" in checked.output


def progress_lines(output: str, label: str) -> list[tuple[int, int]]:
    """(done, total) of each `label: done/total records` line (output is not a terminal)."""
    import re

    return [(int(done), int(total)) for done, total in re.findall(rf"^{label}: (\d+)/(\d+) records$", output, re.M)]


def tenths(total: int) -> list[tuple[int, int]]:
    """A line every tenth of the way, and one at the end."""
    step = total // 10
    return [(step * n, total) for n in range(1, 11)] + ([(total, total)] if step * 10 != total else [])


def test_progress_draws_a_bar_on_a_terminal():
    import io

    from scimflask.cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Progress("copying", 40, file=screen) as progress:
        for done in range(1, 41):
            progress(done, 0)
    assert "copying  [####################################]  40/40" in screen.getvalue()
    assert "records" not in screen.getvalue()  # no plain lines on a terminal


def test_migrate_into_the_configured_storage(source, tmp_path, monkeypatch):
    """--to may be left out: the target is SCIM_STORAGE_URI."""
    _, source_url = source
    target = tmp_path / "configured.db"
    monkeypatch.setenv("SCIM_STORAGE_URI", f"sqlite:///{target}")
    result = CliRunner().invoke(main, ["migrate", "--from", source_url])
    assert result.exit_code == 0, result.output
    assert f"copying: {USERS + GROUPS + 2}/{USERS + GROUPS + 2} records" in result.output
    assert "verified: source and target agree" in result.output


def test_import_refuses_a_broken_file(tmp_path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"kind": "tenant"\n')
    answer = CliRunner().invoke(main, ["import", "--storage", f"sqlite:///{tmp_path / 'x.db'}", str(broken)])
    assert answer.exit_code != 0 and "broken.jsonl:1" in answer.output


@pytest.mark.slow
@pytest.mark.parametrize("make_target", [t for t in TARGETS if t.id in ("postgres", "redis")])
def test_migration_of_a_production_sized_directory(make_target, tmp_path):
    """10,000 users and 100 groups from SQLite to PostgreSQL and to Redis, verified resource by
    resource (the smaller test above covers every target and the resumed run)."""
    storage = open_installed_storage(f"sqlite:///{tmp_path / 'big.db'}")
    fill(storage, "big-" + uuid.uuid4().hex[:8], 10_000, 100)
    target = _target(make_target, tmp_path)
    tenants = tenants_of(storage)
    migrate(storage, target, tenants)
    assert verify(storage, target, tenants, every_resource=True) == []
