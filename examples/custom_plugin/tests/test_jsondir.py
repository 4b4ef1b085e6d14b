"""What only the jsondir backend promises: its URL, its files, and atomicity across processes."""

import json
import multiprocessing

import pytest
from scimflask_jsondir import JsonDirectoryStorage

from scimflask.errors import ConfigurationError
from scimflask.model import Change, Member, RequestContext
from scimflask.schema import default_catalog
from scimflask.storage import UniqueConflict
from scimflask.testing.contract_support import group, timestamp, user

ACME = RequestContext(tenant="acme/eu")


def test_from_uri_creates_the_directory(tmp_path):
    storage = JsonDirectoryStorage.from_uri(f"jsondir://{tmp_path}/a/b", {}, default_catalog())
    assert (tmp_path / "a" / "b" / "tenants").is_dir()
    assert storage.fsync is True


@pytest.mark.parametrize("uri, options", [
    ("jsondir://relative/path", {}),
    ("jsondir:///tmp/x?fsync=maybe", {}),
    ("jsondir:///tmp/x?color=blue", {}),
    ("jsondir:///tmp/x", {"client": object()}),
    ("memory://", {}),
])
def test_from_uri_refuses_what_it_cannot_serve(uri, options):
    with pytest.raises(ConfigurationError):
        JsonDirectoryStorage.from_uri(uri, options, default_catalog())


def test_one_readable_file_per_tenant(scim_storage):
    created = scim_storage.create(ACME, user("ann@example.com"))
    path = scim_storage.root / "tenants" / "tenant-acme%2Feu.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["User"][created.id]["data"] == {"userName": "ann@example.com"}
    assert on_disk["User"][created.id]["version"] == 1


def test_a_failed_write_leaves_the_file_untouched(scim_storage):
    scim_storage.create(ACME, user("ann@example.com"))
    path = scim_storage.root / "tenants" / "tenant-acme%2Feu.json"
    before = path.read_bytes()
    with pytest.raises(UniqueConflict):
        scim_storage.create(ACME, user("ANN@example.com"))
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir() if p.suffix == ".tmp"] == []


def _add_members(root: str, group_id: str, member_ids: list[str]) -> None:
    storage = JsonDirectoryStorage.from_uri(f"jsondir://{root}?fsync=false", {}, default_catalog())
    for member_id in member_ids:
        storage.update(ACME, "Group", group_id, Change(add_members=[Member(member_id)]), now=timestamp())


def test_writers_in_separate_processes_lose_nothing(scim_storage):
    """The flock serialises worker processes, not only threads: every membership lands."""
    users = [scim_storage.create(ACME, user(f"u{n}")).id for n in range(24)]
    staff = scim_storage.create(ACME, group("Staff"))
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_add_members, args=(str(scim_storage.root), staff.id, users[i::3]))
               for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    fetched = scim_storage.get(ACME, "Group", staff.id)
    assert {m.value for m in fetched.members} == set(users)
    assert fetched.version == 1 + len(users)
