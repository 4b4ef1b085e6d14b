"""Every query strategy of the Redis backend (index page, candidates, batched scan) gives the
reference's ids in the reference's order, also page by page (offsets and keysets)."""

from __future__ import annotations

from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scimflask_redis import query as redis_query

from scimflask.filter.evaluate import matches
from scimflask.filter.parser import parse_attr_path
from scimflask.filter.sort import sort_documents
from scimflask.model import Query, RequestContext, Resource, Sort
from scimflask.testing.contract_support import new_id
from scimflask.testing.strategies import filters, timestamps, user_lists

from .redis_helpers import fake_storage, index_problems

STORAGE = fake_storage()
CATALOG = STORAGE.catalog
USER = CATALOG.resource_type("User")
SORTABLE = ("userName", "displayName", "meta.created", "meta.lastModified", "title", "emails.value")
FILTERS = filters(CATALOG, USER)
SORTS = st.one_of(st.none(), st.builds(Sort, st.sampled_from([parse_attr_path(n, CATALOG, USER) for n in SORTABLE]),
                                       st.booleans()))


def _reference(ctx, all_ids, query):
    documents = [STORAGE.get(ctx, "User", id).document(STORAGE.catalog.locator(ctx.base_url)) for id in all_ids]
    if query.filter is not None:
        documents = [d for d in documents if matches(query.filter, d, USER, CATALOG)]
    return [d["id"] for d in sort_documents(documents, query.sort, USER, CATALOG)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), batch=st.sampled_from([1, 3, 200]), limit=st.sampled_from([0, 2, 1000]),
       exact_limit=st.sampled_from([0, 3, 20000]))
def test_pages_agree_with_the_reference(data, batch, limit, exact_limit):
    ctx = RequestContext(tenant=f"q-{new_id()}", base_url="https://scim.example/v2")
    all_ids = []
    for item in data.draw(user_lists(max_size=9), label="users"):
        created, modified = sorted((data.draw(timestamps()), data.draw(timestamps())))
        all_ids.append(STORAGE.create(ctx, Resource("User", new_id(), item, created, modified)).id)
    query = Query(filter=data.draw(st.one_of(st.none(), FILTERS), label="filter"),
                  sort=data.draw(SORTS, label="sort"))
    size = data.draw(st.integers(1, 4), label="page size")
    with mock.patch.object(redis_query, "BATCH", batch), mock.patch.object(redis_query, "CANDIDATE_LIMIT", limit), \
            mock.patch.object(redis_query, "EXACT_LIMIT", exact_limit):
        expected = _reference(ctx, all_ids, query)
        start = data.draw(st.integers(1, len(all_ids) + 2), label="startIndex")
        window = STORAGE.query(ctx, "User", Query(query.filter, query.sort, start_index=start, count=size))
        assert [r.id for r in window.resources] == expected[start - 1:start - 1 + size]
        assert window.total == len(expected)
        walked, after = [], None
        for _ in range(len(expected) + 1):
            page = STORAGE.query(ctx, "User", Query(query.filter, query.sort, count=size, after=after))
            walked += [r.id for r in page.resources]
            after = page.next_keyset
            if after is None:
                break
        assert walked == expected
    assert index_problems(STORAGE, ctx.tenant) == []
