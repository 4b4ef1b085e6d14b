"""Contract: nothing of one tenant is visible or changeable from another."""

from __future__ import annotations

import pytest

from ..model import Change, Member, Query
from ..storage import ResourceNotFound, UnknownMembers
from .contract_support import OTHER_TENANT, TENANT, filter_of, group, timestamp, user


class TenancyContract:
    def test_same_unique_values_in_two_tenants(self, scim_storage):
        mine = scim_storage.create(TENANT, user("pat@example.com"))
        theirs = scim_storage.create(OTHER_TENANT, user("PAT@example.com"))
        scim_storage.create(TENANT, group("Admins"))
        scim_storage.create(OTHER_TENANT, group("Admins"))
        for ctx, expected in ((TENANT, mine.id), (OTHER_TENANT, theirs.id)):
            page = scim_storage.query(ctx, "User", Query(
                filter=filter_of(scim_storage, "User", 'userName eq "pat@example.com"')))
            assert [r.id for r in page.resources] == [expected]

    def test_other_tenants_resources_are_invisible(self, scim_storage):
        mine = scim_storage.create(TENANT, user("quinn", externalId="q-1"))
        staff = scim_storage.create(TENANT, group("Staff", [mine.id]))
        for resource_type, id in (("User", mine.id), ("Group", staff.id)):
            with pytest.raises(ResourceNotFound):
                scim_storage.get(OTHER_TENANT, resource_type, id)
            with pytest.raises(ResourceNotFound):
                scim_storage.update(OTHER_TENANT, resource_type, id, Change(), now=timestamp())
            with pytest.raises(ResourceNotFound):
                scim_storage.delete(OTHER_TENANT, resource_type, id)
        for text in (None, 'externalId eq "q-1"', f'id eq "{mine.id}"', 'userName sw "q"'):
            page = scim_storage.query(OTHER_TENANT, "User", Query(filter=filter_of(scim_storage, "User", text)))
            assert (page.total, page.resources) == (0, [])
        assert scim_storage.query(OTHER_TENANT, "Group", Query()).total == 0
        assert scim_storage.get(TENANT, "User", mine.id).version == 1
        assert [m.value for m in scim_storage.get(TENANT, "Group", staff.id).members] == [mine.id]

    def test_members_must_belong_to_the_tenant(self, scim_storage):
        mine = scim_storage.create(TENANT, user("rae"))
        theirs = scim_storage.create(OTHER_TENANT, group("Theirs"))
        with pytest.raises(UnknownMembers):
            scim_storage.update(OTHER_TENANT, "Group", theirs.id, Change(add_members=[Member(mine.id)]),
                                now=timestamp())
        with pytest.raises(UnknownMembers):
            scim_storage.create(OTHER_TENANT, group("Other", [mine.id]))
        assert scim_storage.get(OTHER_TENANT, "Group", theirs.id).members == []
        assert scim_storage.get(TENANT, "User", mine.id).groups == []

    def test_deleting_in_one_tenant_leaves_the_other(self, scim_storage):
        mine = scim_storage.create(TENANT, user("sam"))
        theirs = scim_storage.create(OTHER_TENANT, user("sam"))
        scim_storage.delete(TENANT, "User", mine.id)
        assert scim_storage.get(OTHER_TENANT, "User", theirs.id).data["userName"] == "sam"
