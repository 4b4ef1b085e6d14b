"""The SCIM operations (create, get, replace, patch, delete, search), free of HTTP.

Views and Bulk both call these, so a Bulk operation behaves exactly like the single request it
stands for. Each write ends with one storage call (atomic in the backend) and, after it
committed, the `scimflask_resource_changed` notification.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from .config import ConfigKeys
from .errors import (
    InvalidCursor,
    InvalidFilter,
    InvalidValue,
    Mutability,
    NotFoundError,
    PreconditionFailedError,
    ScimError,
    ServiceUnavailable,
    TooMany,
    Uniqueness,
)
from .events import CREATED, DELETED, PATCHED, REPLACED, ResourceEvent
from .filter import parse_attr_path
from .filter.ast import Filter
from .model import Change, Member, Page, Query, RequestContext, Resource, Sort, utcnow
from .protocol.paging import CursorPosition, Paging
from .protocol.patch import MembersRequired, PatchResult, apply_patch, parse_patch_request
from .schema import immutability
from .schema.catalog import ResourceType
from .state import ScimState
from .storage.base import Storage
from .storage.errors import (
    ResourceNotFound,
    ScanTooLarge,
    StaleKeyset,
    UniqueConflict,
    UnknownMembers,
    UnsupportedFilter,
    VersionMismatch,
)

log = logging.getLogger("scimflask")

# Optimistic retries of a PATCH whose resource changed between read and compare-and-set.
PATCH_ATTEMPTS = 8


@dataclass
class SearchParams:
    """A list or search request, from query parameters or a SearchRequest body."""

    filter: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    paging: Paging = field(default_factory=lambda: Paging(1, 100, None))
    with_members: bool = True
    with_groups: bool = True


@dataclass
class SearchResult:
    resources: list[Resource]
    total: int
    start_index: int | None
    next_cursor: str | None = None


def _storage_error(exc: Exception, resource_type: str) -> ScimError:
    """The SCIM error (RFC 7644 §3.12) a client sees for a storage contract error."""
    if isinstance(exc, ResourceNotFound):
        return NotFoundError(f"{exc.resource_type} {exc.id!r} not found")
    if isinstance(exc, UniqueConflict):
        return Uniqueness(f"{exc.attribute} is already in use by another {resource_type}")
    if isinstance(exc, VersionMismatch):
        return PreconditionFailedError("the resource was modified: its version no longer matches If-Match")
    if isinstance(exc, UnknownMembers):
        shown = ", ".join(exc.ids[:10]) + (" …" if len(exc.ids) > 10 else "")
        return InvalidValue(f"members must name existing Users or Groups; unknown: {shown}")
    if isinstance(exc, StaleKeyset):
        return InvalidCursor("The cursor does not fit this query's sort order.")
    if isinstance(exc, UnsupportedFilter):
        return InvalidFilter(str(exc))
    if isinstance(exc, ScanTooLarge):
        return TooMany(f"The filter would examine more than {exc.limit} {exc.resource_type} resources that no "
                       "index narrows down. Add a condition an index answers (eq, or sw/ew/co of 3 characters or "
                       "more on userName, displayName, externalId, emails.value, name.givenName or "
                       "name.familyName), or raise SCIM_MAX_FILTER_SCAN.")
    raise exc


# The storage errors a request can cause; StorageUnavailable is answered 503 by the blueprint.
_CLIENT_ERRORS = (ResourceNotFound, UniqueConflict, VersionMismatch, UnknownMembers, StaleKeyset,
                  UnsupportedFilter, ScanTooLarge)


@contextmanager
def translated(resource_type: str) -> Iterator[None]:
    """Raise the SCIM error for any storage contract error raised inside the block."""
    try:
        yield
    except _CLIENT_ERRORS as exc:
        raise _storage_error(exc, resource_type) from None


class Operations:
    """The protocol operations for one app (see module docstring)."""

    def __init__(self, state: ScimState) -> None:
        self.state = state
        self.catalog = state.catalog
        self.config = state.config

    @property
    def storage(self) -> Storage:
        # Read from the state on each use: views build one Operations per app, at registration.
        return self.state.storage

    # -- helpers ------------------------------------------------------------------------
    def resource_type(self, name: str) -> ResourceType:
        return self.catalog.resource_type(name)

    def _notify(self, action: str, ctx: RequestContext, resource_type: str, id: str,
                data: dict | None, changed: tuple[str, ...] = ()) -> None:
        event = ResourceEvent(action=action, resource_type=resource_type, id=id, context=ctx,
                              data=data, changed=changed)
        try:
            self.state.pm.hook.scimflask_resource_changed(event=event)
        except Exception:  # a host's observer must never fail a committed write
            log.exception("scimflask_resource_changed hook failed for %s %s", resource_type, id)

    def _member_policy(self, write, members: list[Member]):
        """Run `write(check_members)` under SCIM_UNKNOWN_MEMBERS; "ignore" drops unknown ids."""
        policy = self.config[ConfigKeys.UNKNOWN_MEMBERS]
        if policy == "accept":
            return write(False)
        try:
            return write(True)
        except UnknownMembers as exc:
            if policy == "reject":
                raise
            unknown = set(exc.ids)
            log.warning("dropping %d unknown member id(s)", len(unknown))
            members[:] = [m for m in members if m.value not in unknown]
            return write(True)

    # -- single resources ---------------------------------------------------------------
    def get(self, ctx: RequestContext, resource_type: str, id: str, *, with_members: bool = True,
            with_groups: bool = True) -> Resource:
        with translated(resource_type):
            return self.storage.get(ctx, resource_type, id, with_members=with_members,
                                    with_groups=with_groups)

    def create(self, ctx: RequestContext, resource_type: str, body: dict) -> Resource:
        data, members = self.state.validator(resource_type).load(body, mode="create")
        now = utcnow()
        rt = self.resource_type(resource_type)
        resource = Resource(resource_type=rt.name, id=str(uuid.uuid4()), data=data, created=now,
                            last_modified=now, version=1,
                            members=list(members or []) if self.catalog.has_members(rt) else None)
        with translated(resource_type):
            created = self._member_policy(
                lambda check: self.storage.create(ctx, resource, check_members=check),
                resource.members if resource.members is not None else [])
        self._notify(CREATED, ctx, created.resource_type, created.id, created.data, tuple(data))
        return created

    def replace(self, ctx: RequestContext, resource_type: str, id: str, body: dict,
                expected_version: int | None, *, with_groups: bool = False) -> Resource:
        """PUT (RFC 7644 §3.5.1): readOnly ignored, immutable must match, omitted cleared.

        Two documented choices: an omitted `password` keeps the stored one (clients cannot read
        it back to resend it), and an omitted `members` keeps the membership (so a rename by PUT
        cannot empty a large group); a `members` list replaces it.

        `with_groups` returns the User's `groups` as read before the write (a PUT cannot change
        them), which saves the response a third storage call.
        """
        data, members = self.state.validator(resource_type).load(body, mode="replace")
        with translated(resource_type):
            current = self.storage.get(ctx, resource_type, id, with_members=False, with_groups=with_groups)
        if "id" in body and isinstance(body["id"], str) and body["id"] != id:
            raise Mutability(f"id {body['id']!r} in the body does not match the resource's id")
        immutability.check_document(self.catalog, self.resource_type(resource_type), current.data, data)
        if "password" not in data and "password" in current.data:
            data["password"] = current.data["password"]
        change = Change(data=data, base=current)
        if members is not None and self.catalog.has_members(resource_type):
            change.replace_members = list(members)
        with translated(resource_type):
            updated = self._member_policy(
                lambda check: self.storage.update(ctx, resource_type, id, change,
                                                  expected_version=expected_version, check_members=check,
                                                  now=utcnow()),
                change.replace_members or [])
        self._notify(REPLACED, ctx, updated.resource_type, id, updated.data, tuple(data))
        if with_groups:
            updated.groups = current.groups
        return updated

    def patch(self, ctx: RequestContext, resource_type: str, id: str, body: dict,
              expected_version: int | None, *, with_groups: bool = False) -> tuple[Resource, PatchResult]:
        """PATCH (RFC 7644 §3.5.2) applied to the latest state, atomically.

        Attribute changes are written with compare-and-set on the version read; if another
        writer got in between, the PATCH is re-applied to the new state (bounded retries), so
        concurrent PATCHes never erase each other. Membership deltas are set operations and need
        no version check unless the client sent If-Match. `with_groups`: as in `replace`.
        """
        rt = self.resource_type(resource_type)
        operations = parse_patch_request(body, self.catalog, rt, rules=self.state.validator(rt.name).rules)
        for attempt in range(PATCH_ATTEMPTS):
            with translated(resource_type):
                current, result = self._patched(ctx, rt, id, operations, expected_version, with_groups)
                change = result.to_change()
                change.base = current
                cas = expected_version if expected_version is not None else (
                    current.version if change.data is not None or change.replace_members is not None else None)
                members = change.replace_members if change.replace_members is not None else change.add_members
                try:
                    updated = self._member_policy(
                        lambda check, change=change, cas=cas: self.storage.update(
                            ctx, resource_type, id, change, expected_version=cas, check_members=check,
                            now=utcnow()),
                        members)
                except VersionMismatch:
                    if expected_version is not None:
                        raise
                    time.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                    continue
            self._notify(PATCHED, ctx, updated.resource_type, id, updated.data, result.changed)
            if with_groups:
                updated.groups = current.groups
            return updated, result
        raise ServiceUnavailable("the resource is being changed by other requests; retry", headers={"Retry-After": "1"})

    def _patched(self, ctx: RequestContext, rt: ResourceType, id: str, operations: list,
                 expected_version: int | None, with_groups: bool) -> tuple[Resource, PatchResult]:
        """The current resource and the PATCH applied to it (members read only when needed)."""
        current = self.storage.get(ctx, rt.name, id, with_members=False, with_groups=with_groups)
        if expected_version is not None and current.version != expected_version:
            raise PreconditionFailedError("the resource was modified: its version no longer matches If-Match")
        try:
            return current, apply_patch(current, operations, self.catalog, rt)
        except MembersRequired:
            current = self.storage.get(ctx, rt.name, id, with_members=True, with_groups=False)
            return current, apply_patch(current, operations, self.catalog, rt)

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        """How many members a Group has, counted without loading them; with `up_to`, only
        whether there are more (the answer is then at most `up_to + 1`)."""
        with translated("Group"):
            return self.storage.count_members(ctx, group_id, up_to=up_to)

    def delete(self, ctx: RequestContext, resource_type: str, id: str, expected_version: int | None) -> None:
        with translated(resource_type):
            self.storage.delete(ctx, resource_type, id, expected_version=expected_version)
        self._notify(DELETED, ctx, self.resource_type(resource_type).name, id, None)

    # -- queries ------------------------------------------------------------------------
    def build_query(self, rt: ResourceType, params: SearchParams) -> tuple[Filter | None, Sort | None]:
        flt = None
        if params.filter is not None and params.filter.strip():
            flt = self.state.parse_filter(params.filter, rt.name)
        sort = None
        if params.sort_by:
            order = (params.sort_order or "ascending").lower()
            if order not in ("ascending", "descending"):
                raise InvalidValue("sortOrder must be 'ascending' or 'descending'")
            sort = Sort(parse_attr_path(params.sort_by, self.catalog, rt), descending=order == "descending")
        elif params.sort_order and params.sort_order.lower() not in ("ascending", "descending"):
            raise InvalidValue("sortOrder must be 'ascending' or 'descending'")
        return flt, sort

    def search(self, ctx: RequestContext, resource_type: str, params: SearchParams) -> SearchResult:
        rt = self.resource_type(resource_type)
        flt, sort = self.build_query(rt, params)
        paging = params.paging
        query = Query(filter=flt, sort=sort, count=paging.count, with_members=params.with_members,
                      with_groups=params.with_groups, max_scan=self.state.config[ConfigKeys.MAX_FILTER_SCAN])
        if paging.cursor is None:
            query = replace(query, start_index=paging.start_index)
            with translated(rt.name):
                page = self.storage.query(ctx, rt.name, query)
            return SearchResult(page.resources, page.total, paging.start_index)
        codec = self.state.cursors
        fingerprint = codec.query_fingerprint(ctx.tenant, rt.name, flt, sort)
        position = codec.decode(paging.cursor, fingerprint)
        if self.storage.supports_keyset:
            with translated(rt.name):
                page = self.storage.query(ctx, rt.name, replace(query, after=position.keyset))
            next_cursor = None
            if page.next_keyset is not None:
                next_cursor = codec.encode(CursorPosition(keyset=page.next_keyset), fingerprint)
        else:
            with translated(rt.name):
                page = self.storage.query(ctx, rt.name, replace(query, start_index=position.offset + 1))
            end = position.offset + len(page.resources)
            next_cursor = codec.encode(CursorPosition(offset=end), fingerprint) if end < page.total else None
        return SearchResult(page.resources, page.total, None, next_cursor)

    def search_all(self, ctx: RequestContext, searches: Sequence[tuple[str, SearchParams]]) -> SearchResult:
        """One index-paged search across resource types (RFC 7644 §3.4.3, `POST /.search`).

        `searches` pairs each resource type with the request's parameters for it, in the order
        the results are listed; they share filter and paging and differ only in what to load.
        Sorting and cursors are not defined across types; callers refuse them. A type whose
        filter names attributes it lacks cannot match and is left out (if every type is, its
        error is raised). Each type's total is counted first, then only the slices that fall
        into the requested window are read.
        """
        matching: list[tuple[str, SearchParams]] = []
        errors: list[InvalidFilter] = []
        for name, params in searches:
            try:
                self.build_query(self.resource_type(name), params)
            except InvalidFilter as exc:
                errors.append(exc)
                continue
            matching.append((name, params))
        if errors and not matching:
            raise errors[0]
        paging = searches[-1][1].paging if searches else Paging(1, 0, None)
        totals = [self.search(ctx, name, replace(params, paging=Paging(1, 0, None))).total
                  for name, params in matching]
        resources: list[Resource] = []
        offset, remaining = paging.start_index - 1, paging.count
        for (name, params), total in zip(matching, totals, strict=True):
            if remaining <= 0:
                break
            if offset >= total:
                offset -= total
                continue
            found = self.search(ctx, name, replace(params, paging=Paging(offset + 1, remaining, None)))
            resources.extend(found.resources)
            remaining -= len(found.resources)
            offset = 0
        return SearchResult(resources, sum(totals), paging.start_index)


__all__ = ["Operations", "SearchParams", "SearchResult", "Page"]
