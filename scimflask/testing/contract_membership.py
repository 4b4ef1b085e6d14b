"""Contract: group membership as set deltas, member checks, and the derived User `groups`."""

from __future__ import annotations

import pytest

from ..model import Change, Member, Query
from ..storage import UnknownMembers
from .contract_support import TENANT, filter_of, group, new_id, timestamp, user


def _member_ids(storage, group_id: str) -> set[str]:
    return {m.value for m in storage.get(TENANT, "Group", group_id).members}


def _patch(storage, group_id: str, **change) -> None:
    storage.update(TENANT, "Group", group_id, Change(**change), now=timestamp())


class MembershipContract:
    def test_create_fills_member_types(self, scim_storage):
        alice = scim_storage.create(TENANT, user("alice"))
        inner = scim_storage.create(TENANT, group("Inner"))
        created = scim_storage.create(TENANT, group("Outer", [alice.id, inner.id]))
        assert {(m.value, m.type) for m in created.members} == {(alice.id, "User"), (inner.id, "Group")}
        fetched = scim_storage.get(TENANT, "Group", created.id)
        assert {(m.value, m.type) for m in fetched.members} == {(alice.id, "User"), (inner.id, "Group")}

    def test_unknown_members_fail_create(self, scim_storage):
        alice = scim_storage.create(TENANT, user("alice"))
        ghost = new_id()
        with pytest.raises(UnknownMembers) as info:
            scim_storage.create(TENANT, group("Haunted", [alice.id, ghost]))
        assert info.value.ids == [ghost]
        assert scim_storage.query(TENANT, "Group", Query()).total == 0

    def test_unchecked_members_are_stored_as_given(self, scim_storage):
        ghost = new_id()
        created = scim_storage.create(TENANT, group("Trusting", [ghost]), check_members=False)
        assert _member_ids(scim_storage, created.id) == {ghost}

    def test_add_and_remove_are_idempotent_set_operations(self, scim_storage):
        a, b = (scim_storage.create(TENANT, user(name)) for name in ("a", "b"))
        staff = scim_storage.create(TENANT, group("Staff", [a.id]))
        _patch(scim_storage, staff.id, add_members=[Member(a.id), Member(b.id)])
        assert _member_ids(scim_storage, staff.id) == {a.id, b.id}
        assert len(scim_storage.get(TENANT, "Group", staff.id).members) == 2
        _patch(scim_storage, staff.id, remove_members=[a.id, new_id()])
        assert _member_ids(scim_storage, staff.id) == {b.id}
        _patch(scim_storage, staff.id, remove_members=[a.id])
        fetched = scim_storage.get(TENANT, "Group", staff.id)
        assert ({m.value for m in fetched.members}, fetched.version) == ({b.id}, 4)

    def test_added_members_get_their_type(self, scim_storage):
        a = scim_storage.create(TENANT, user("a"))
        staff = scim_storage.create(TENANT, group("Staff"))
        _patch(scim_storage, staff.id, add_members=[Member(a.id, display="A")])
        (member,) = scim_storage.get(TENANT, "Group", staff.id).members
        assert (member.value, member.type) == (a.id, "User")

    def test_replace_members(self, scim_storage):
        a, b, c = (scim_storage.create(TENANT, user(name)) for name in ("a", "b", "c"))
        staff = scim_storage.create(TENANT, group("Staff", [a.id, b.id]))
        _patch(scim_storage, staff.id, replace_members=[Member(b.id), Member(c.id)])
        assert _member_ids(scim_storage, staff.id) == {b.id, c.id}
        _patch(scim_storage, staff.id, replace_members=[])
        assert _member_ids(scim_storage, staff.id) == set()

    def test_an_id_both_removed_and_added_ends_present(self, scim_storage):
        """Removes apply before adds, so a change naming one id in both keeps it a member."""
        a = scim_storage.create(TENANT, user("a"))
        staff = scim_storage.create(TENANT, group("Staff"))
        _patch(scim_storage, staff.id, add_members=[Member(a.id)], remove_members=[a.id])
        assert _member_ids(scim_storage, staff.id) == {a.id}

    def test_unknown_added_members_change_nothing(self, scim_storage):
        a = scim_storage.create(TENANT, user("a"))
        b = scim_storage.create(TENANT, user("b"))
        staff = scim_storage.create(TENANT, group("Staff", [a.id]))
        ghost = new_id()
        for change in (Change(add_members=[Member(ghost)]),
                       Change(add_members=[Member(b.id), Member(ghost)]),  # the known one stays out too
                       Change(replace_members=[Member(ghost)]),
                       Change(data={"displayName": "Renamed"}, add_members=[Member(ghost)])):
            with pytest.raises(UnknownMembers) as info:
                scim_storage.update(TENANT, "Group", staff.id, change, now=timestamp())
            assert info.value.ids == [ghost]
        fetched = scim_storage.get(TENANT, "Group", staff.id)
        assert (_member_ids(scim_storage, staff.id), fetched.version) == ({a.id}, 1)
        assert fetched.data["displayName"] == "Staff"

    def test_user_groups_are_derived_from_membership(self, scim_storage):
        a = scim_storage.create(TENANT, user("a"))
        staff = scim_storage.create(TENANT, group("Staff", [a.id]))
        admins = scim_storage.create(TENANT, group("Admins"))
        _patch(scim_storage, admins.id, add_members=[Member(a.id)])
        refs = scim_storage.get(TENANT, "User", a.id).groups
        assert {(g.value, g.display) for g in refs} == {(staff.id, "Staff"), (admins.id, "Admins")}
        _patch(scim_storage, staff.id, data={"displayName": "Personnel"})
        refs = scim_storage.get(TENANT, "User", a.id).groups
        assert {(g.value, g.display) for g in refs} == {(staff.id, "Personnel"), (admins.id, "Admins")}

    def test_deleting_a_user_removes_it_from_every_group(self, scim_storage):
        a, b = (scim_storage.create(TENANT, user(name)) for name in ("a", "b"))
        g1 = scim_storage.create(TENANT, group("One", [a.id, b.id]))
        g2 = scim_storage.create(TENANT, group("Two", [a.id]))
        scim_storage.delete(TENANT, "User", a.id)
        assert _member_ids(scim_storage, g1.id) == {b.id}
        assert _member_ids(scim_storage, g2.id) == set()
        found = scim_storage.query(TENANT, "Group", Query(
            filter=filter_of(scim_storage, "Group", f'members.value eq "{a.id}"')))
        assert found.total == 0

    def test_deleting_a_group_removes_it_from_users_and_parents(self, scim_storage):
        a = scim_storage.create(TENANT, user("a"))
        inner = scim_storage.create(TENANT, group("Inner", [a.id]))
        outer = scim_storage.create(TENANT, group("Outer", [inner.id, a.id]))
        scim_storage.delete(TENANT, "Group", inner.id)
        assert [g.value for g in scim_storage.get(TENANT, "User", a.id).groups] == [outer.id]
        assert _member_ids(scim_storage, outer.id) == {a.id}

    def test_members_are_loaded_only_when_asked(self, scim_storage):
        a = scim_storage.create(TENANT, user("a"))
        staff = scim_storage.create(TENANT, group("Staff", [a.id]))
        assert scim_storage.get(TENANT, "Group", staff.id, with_members=False).members is None
        page = scim_storage.query(TENANT, "Group", Query(with_members=False))
        assert [g.members for g in page.resources] == [None]
        page = scim_storage.query(TENANT, "Group", Query())
        assert [[m.value for m in g.members] for g in page.resources] == [[a.id]]
        page = scim_storage.query(TENANT, "User", Query(with_groups=False))
        assert [u.groups for u in page.resources] == [None]
        page = scim_storage.query(TENANT, "User", Query())
        assert [[g.value for g in u.groups] for u in page.resources] == [[staff.id]]
