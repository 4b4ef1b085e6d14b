"""Contract: bearer-token records (stored by hash only)."""

from __future__ import annotations

import hashlib

from ..model import Token
from .contract_support import new_id, timestamp


def token(tenant: str, secret: str) -> Token:
    return Token(new_id(), tenant, hashlib.sha256(secret.encode()).hexdigest(), timestamp(), "for tests")


class TokenContract:
    def test_add_find_list_delete(self, scim_storage):
        first, second, third = token("a", "s1"), token("b", "s2"), token("a", "s3")
        for record in (first, second, third):
            scim_storage.add_token(record)
        found = scim_storage.find_token(second.secret_hash)
        assert (found.id, found.tenant, found.description) == (second.id, "b", "for tests")
        assert scim_storage.find_token(hashlib.sha256(b"wrong").hexdigest()) is None
        assert [t.id for t in scim_storage.list_tokens()] == [first.id, second.id, third.id]
        assert [t.id for t in scim_storage.list_tokens("a")] == [first.id, third.id]
        assert scim_storage.delete_token(first.id) is True
        assert scim_storage.delete_token(first.id) is False
        assert scim_storage.find_token(first.secret_hash) is None
        assert [t.id for t in scim_storage.list_tokens("a")] == [third.id]

    def test_found_tokens_are_copies(self, scim_storage):
        record = token("a", "secret")
        scim_storage.add_token(record)
        record.description = "changed after add"
        scim_storage.find_token(record.secret_hash).description = "changed after find"
        assert scim_storage.find_token(record.secret_hash).description == "for tests"

    def test_touch_is_best_effort(self, scim_storage):
        record = token("a", "secret")
        scim_storage.add_token(record)
        when = timestamp()
        scim_storage.touch_token(record.id, when)
        scim_storage.touch_token(new_id(), when)  # unknown ids are ignored
        assert scim_storage.find_token(record.secret_hash).last_used in (None, when)
