"""Builders the contract classes share: contexts, timestamps, resources, queries.

They produce what scimflask core hands a backend (validated data with canonical names, UUID4
ids, aware UTC timestamps), so a backend is tested with the calls it will really receive.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta, timezone

from ..filter.evaluate import matches
from ..filter.parser import parse_attr_path, parse_filter
from ..filter.sort import sort_documents
from ..model import Member, Page, Query, RequestContext, Resource, Sort
from ..schema.catalog import ENTERPRISE_USER
from ..storage.base import Storage

TENANT = RequestContext(tenant="tenant-a", base_url="https://scim.example/scim/v2")
OTHER_TENANT = RequestContext(tenant="tenant-b", base_url="https://scim.example/scim/v2")

_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)
_ticks = itertools.count(1)


def timestamp() -> datetime:
    """A fresh, strictly increasing UTC time with millisecond precision (what SCIM shows)."""
    return _EPOCH + timedelta(milliseconds=next(_ticks))


def new_id() -> str:
    return str(uuid.uuid4())


def user(user_name: str, **attributes: object) -> Resource:
    """A new User resource as core builds it for `create`."""
    return user_from({"userName": user_name, **attributes})


def group(display_name: str, members: list[str] = (), **attributes: object) -> Resource:
    """A new Group whose members are the given ids (types left for the backend to fill)."""
    now = timestamp()
    return Resource("Group", new_id(), {"displayName": display_name, **attributes}, now, now,
                    members=[Member(value) for value in members])


def rich_user_data(user_name: str) -> dict:
    """Data exercising nesting, multi-valued complex attributes, unicode and an extension."""
    return {
        "userName": user_name,
        "externalId": "ext-Ünïcødé-🙂",
        "name": {"givenName": "Zoë", "familyName": "Ångström-O'Brien", "formatted": "Zoë Ångström"},
        "displayName": "Zoë \"Z\" Ångström",
        "active": True,
        "emails": [
            {"value": "zoe@example.com", "type": "work", "primary": True},
            {"value": "zoë@example.org", "type": "home"},
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "mobile"}],
        ENTERPRISE_USER: {
            "employeeNumber": "00042",
            "department": "研究開発",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "Björk"},
        },
    }


def user_from(data: dict) -> Resource:
    """A new User resource carrying `data` unchanged."""
    now = timestamp()
    return Resource("User", new_id(), data, now, now)


def create_users(storage: Storage, ctx: RequestContext, datas: list[dict]) -> list[Resource]:
    return [storage.create(ctx, user_from(data)) for data in datas]


def filter_of(storage: Storage, resource_type: str, text: str | None):
    """The bound filter AST for `text` (None for no filter), as core hands it over."""
    if text is None:
        return None
    return parse_filter(text, storage.catalog, storage.catalog.resource_type(resource_type))


def sort_of(storage: Storage, resource_type: str, attribute: str | None, descending: bool = False) -> Sort | None:
    if attribute is None:
        return None
    rt = storage.catalog.resource_type(resource_type)
    return Sort(parse_attr_path(attribute, storage.catalog, rt), descending)


def query_all(storage: Storage, ctx: RequestContext, resource_type: str, query: Query) -> Page:
    """One page as large as the whole result (for checks that want every match)."""
    return storage.query(ctx, resource_type, Query(
        filter=query.filter, sort=query.sort, start_index=1, count=100_000,
        with_members=query.with_members, with_groups=query.with_groups,
    ))


def ids(page_or_resources) -> list[str]:
    resources = page_or_resources.resources if isinstance(page_or_resources, Page) else page_or_resources
    return [r.id for r in resources]


def user_names(resources) -> list[str]:
    return [r.data["userName"] for r in resources]



def reference_ids(storage: Storage, ctx: RequestContext, resource_type: str, all_ids: list[str],
                  query: Query) -> list[str]:
    """What `query` must return, in order: the reference evaluator and sort applied to the
    documents of `all_ids` as `storage.get` returns them."""
    rt = storage.catalog.resource_type(resource_type)
    documents = [storage.get(ctx, resource_type, id).document(storage.catalog.locator(ctx.base_url)) for id in all_ids]
    if query.filter is not None:
        documents = [d for d in documents if matches(query.filter, d, rt, storage.catalog)]
    return [d["id"] for d in sort_documents(documents, query.sort, rt, storage.catalog)]
