"""Contract: create / get / update / delete, uniqueness and compare-and-set versions."""

from __future__ import annotations

import pytest

from ..model import Change, Query
from ..schema.catalog import ENTERPRISE_USER
from ..storage import ResourceNotFound, UniqueConflict, VersionMismatch
from .contract_support import TENANT, filter_of, group, query_all, rich_user_data, timestamp, user, user_from


class ResourceContract:
    """Resources round-trip exactly, come back as copies, and carry versions and timestamps."""

    def test_create_returns_the_stored_resource(self, scim_storage):
        new = user("alice", displayName="Alice")
        created = scim_storage.create(TENANT, new)
        assert (created.id, created.resource_type, created.version) == (new.id, "User", 1)
        assert created.data == {"userName": "alice", "displayName": "Alice"}
        assert (created.created, created.last_modified) == (new.created, new.last_modified)

    def test_data_round_trips_exactly(self, scim_storage):
        data = rich_user_data("zoë.ångström@example.com")
        created = scim_storage.create(TENANT, user_from(data))
        fetched = scim_storage.get(TENANT, "User", created.id)
        assert fetched.data == data
        assert fetched.data[ENTERPRISE_USER]["manager"]["displayName"] == "Björk"
        assert (fetched.created, fetched.last_modified) == (created.created, created.last_modified)

    def test_returned_objects_are_copies(self, scim_storage):
        new = user("bob", emails=[{"value": "bob@example.com"}])
        created = scim_storage.create(TENANT, new)
        new.data["userName"] = "changed-input"
        created.data["emails"][0]["value"] = "changed-output"
        fetched = scim_storage.get(TENANT, "User", new.id)
        fetched.data["userName"] = "changed-fetched"
        again = scim_storage.get(TENANT, "User", new.id)
        assert again.data == {"userName": "bob", "emails": [{"value": "bob@example.com"}]}

    def test_get_loads_groups_only_when_asked(self, scim_storage):
        member = scim_storage.create(TENANT, user("carol"))
        scim_storage.create(TENANT, group("Staff", [member.id]))
        assert scim_storage.get(TENANT, "User", member.id, with_groups=False).groups is None
        assert len(scim_storage.get(TENANT, "User", member.id).groups) == 1

    def test_unknown_id_is_not_found(self, scim_storage):
        missing = user("nobody")
        with pytest.raises(ResourceNotFound):
            scim_storage.get(TENANT, "User", missing.id)
        with pytest.raises(ResourceNotFound):
            scim_storage.update(TENANT, "User", missing.id, Change(data={"userName": "x"}), now=timestamp())
        with pytest.raises(ResourceNotFound):
            scim_storage.delete(TENANT, "User", missing.id)

    def test_a_user_id_is_not_a_group(self, scim_storage):
        created = scim_storage.create(TENANT, user("dave"))
        with pytest.raises(ResourceNotFound):
            scim_storage.get(TENANT, "Group", created.id)

    def test_update_replaces_data_and_bumps_version(self, scim_storage):
        created = scim_storage.create(TENANT, user("erin", title="Engineer", active=True))
        now = timestamp()
        updated = scim_storage.update(TENANT, "User", created.id,
                                      Change(data={"userName": "erin", "active": False}), now=now)
        assert (updated.version, updated.last_modified, updated.created) == (2, now, created.created)
        assert updated.data == {"userName": "erin", "active": False}
        assert updated.members is None and updated.groups is None
        fetched = scim_storage.get(TENANT, "User", created.id)
        assert (fetched.data, fetched.version, fetched.last_modified) == (updated.data, 2, now)

    def test_update_without_data_keeps_data_but_still_bumps_version(self, scim_storage):
        created = scim_storage.create(TENANT, group("Ops"))
        updated = scim_storage.update(TENANT, "Group", created.id, Change(), now=timestamp())
        assert (updated.data, updated.version) == (created.data, 2)

    def test_update_input_is_copied(self, scim_storage):
        created = scim_storage.create(TENANT, user("frank"))
        data = {"userName": "frank", "name": {"givenName": "Frank"}}
        scim_storage.update(TENANT, "User", created.id, Change(data=data), now=timestamp())
        data["name"]["givenName"] = "mutated"
        assert scim_storage.get(TENANT, "User", created.id).data["name"] == {"givenName": "Frank"}

    def test_delete_removes_the_resource(self, scim_storage):
        created = scim_storage.create(TENANT, user("gina"))
        scim_storage.delete(TENANT, "User", created.id)
        with pytest.raises(ResourceNotFound):
            scim_storage.get(TENANT, "User", created.id)
        with pytest.raises(ResourceNotFound):
            scim_storage.delete(TENANT, "User", created.id)
        assert scim_storage.query(TENANT, "User", Query()).total == 0


class UniquenessContract:
    """Unique attributes (from the catalog: User userName, Group displayName) are enforced by
    the store, case-insensitively; other attributes, even `externalId`, may repeat."""

    def test_user_name_is_unique_ignoring_case(self, scim_storage):
        scim_storage.create(TENANT, user("Hank@Example.com"))
        with pytest.raises(UniqueConflict) as info:
            scim_storage.create(TENANT, user("hank@example.COM"))
        assert info.value.attribute == "userName"
        assert scim_storage.query(TENANT, "User", Query()).total == 1

    def test_group_display_name_is_unique_ignoring_case(self, scim_storage):
        scim_storage.create(TENANT, group("Admins"))
        with pytest.raises(UniqueConflict) as info:
            scim_storage.create(TENANT, group("ADMINS"))
        assert info.value.attribute == "displayName"
        assert scim_storage.query(TENANT, "Group", Query()).total == 1

    def test_non_unique_attributes_may_repeat(self, scim_storage):
        scim_storage.create(TENANT, user("ida", displayName="Same", externalId="x-1"))
        scim_storage.create(TENANT, user("ivy", displayName="Same", externalId="x-1"))
        scim_storage.create(TENANT, group("ida"))  # a Group may share a User's userName
        matches = query_all(scim_storage, TENANT, "User",
                            Query(filter=filter_of(scim_storage, "User", 'externalId eq "x-1"')))
        assert matches.total == 2

    def test_update_cannot_take_another_resources_value(self, scim_storage):
        scim_storage.create(TENANT, user("jack"))
        jill = scim_storage.create(TENANT, user("jill"))
        with pytest.raises(UniqueConflict) as info:
            scim_storage.update(TENANT, "User", jill.id, Change(data={"userName": "JACK"}), now=timestamp())
        assert info.value.attribute == "userName"
        fetched = scim_storage.get(TENANT, "User", jill.id)
        assert (fetched.data["userName"], fetched.version) == ("jill", 1)

    def test_a_resource_keeps_its_own_value(self, scim_storage):
        kim = scim_storage.create(TENANT, user("kim"))
        updated = scim_storage.update(TENANT, "User", kim.id,
                                      Change(data={"userName": "KIM", "title": "Lead"}), now=timestamp())
        assert updated.data["userName"] == "KIM"

    def test_released_values_can_be_taken_again(self, scim_storage):
        leo = scim_storage.create(TENANT, user("leo"))
        scim_storage.update(TENANT, "User", leo.id, Change(data={"userName": "leon"}), now=timestamp())
        scim_storage.create(TENANT, user("LEO"))
        staff = scim_storage.create(TENANT, group("Staff"))
        scim_storage.delete(TENANT, "Group", staff.id)
        assert scim_storage.create(TENANT, group("staff")).data["displayName"] == "staff"


class VersionContract:
    """`expected_version` makes update and delete a compare-and-set."""

    def test_matching_version_applies(self, scim_storage):
        created = scim_storage.create(TENANT, user("mia"))
        updated = scim_storage.update(TENANT, "User", created.id, Change(data={"userName": "mia2"}),
                                      expected_version=1, now=timestamp())
        assert updated.version == 2

    def test_stale_version_changes_nothing(self, scim_storage):
        created = scim_storage.create(TENANT, group("Readers"))
        scim_storage.update(TENANT, "Group", created.id, Change(data={"displayName": "Writers"}), now=timestamp())
        with pytest.raises(VersionMismatch):
            scim_storage.update(TENANT, "Group", created.id, Change(data={"displayName": "Lost"}),
                                expected_version=1, now=timestamp())
        with pytest.raises(VersionMismatch):
            scim_storage.delete(TENANT, "Group", created.id, expected_version=1)
        fetched = scim_storage.get(TENANT, "Group", created.id)
        assert (fetched.data["displayName"], fetched.version) == ("Writers", 2)

    def test_base_read_at_the_expected_version_applies(self, scim_storage):
        created = scim_storage.create(TENANT, user("opal", title="Engineer"))
        base = scim_storage.get(TENANT, "User", created.id)
        updated = scim_storage.update(TENANT, "User", created.id,
                                      Change(data={"userName": "opal", "title": "Lead"}, base=base),
                                      expected_version=1, now=timestamp())
        assert (updated.version, updated.created, updated.data["title"]) == (2, created.created, "Lead")
        assert scim_storage.get(TENANT, "User", created.id).data == {"userName": "opal", "title": "Lead"}
        found = scim_storage.query(TENANT, "User", Query(filter=filter_of(scim_storage, "User", 'title eq "Lead"')))
        assert [r.id for r in found.resources] == [created.id]

    def test_stale_base_changes_nothing(self, scim_storage):
        """A write computed from an old read loses to the one that got in first, whatever the
        store does with `base`, and a base of a deleted resource finds nothing."""
        created = scim_storage.create(TENANT, user("piet", title="Engineer"))
        stale = scim_storage.get(TENANT, "User", created.id)
        scim_storage.update(TENANT, "User", created.id, Change(data={"userName": "piet", "title": "Lead"}),
                            now=timestamp())
        with pytest.raises(VersionMismatch):
            scim_storage.update(TENANT, "User", created.id,
                                Change(data={"userName": "piet", "title": "Lost"}, base=stale),
                                expected_version=stale.version, now=timestamp())
        fetched = scim_storage.get(TENANT, "User", created.id)
        assert (fetched.data["title"], fetched.version) == ("Lead", 2)
        for title in ("Lost", "Lead"):
            found = scim_storage.query(TENANT, "User", Query(filter=filter_of(scim_storage, "User", f'title eq "{title}"')))
            assert [r.id for r in found.resources] == ([created.id] if title == "Lead" else [])
        scim_storage.delete(TENANT, "User", created.id)
        with pytest.raises(ResourceNotFound):
            scim_storage.update(TENANT, "User", created.id,
                                Change(data={"userName": "piet"}, base=fetched),
                                expected_version=fetched.version, now=timestamp())

    def test_delete_with_matching_version(self, scim_storage):
        created = scim_storage.create(TENANT, user("ned"))
        scim_storage.delete(TENANT, "User", created.id, expected_version=1)
        with pytest.raises(ResourceNotFound):
            scim_storage.get(TENANT, "User", created.id)
