"""`jsondir:///path`: scimflask storage on a directory of JSON files.

Layout under the directory::

    tokens.json                   bearer-token records (hashes only)
    tenants/<tenant>.json         every resource and membership of one tenant

Each write is one locked read-modify-replace of one file, so every method is atomic across
threads and worker processes on one machine (not across machines: use PostgreSQL or Redis
for that). Queries load the tenant's file and run scimflask's reference evaluator and sort
over it (and find keyset positions in that order): a scan, fine for an example and for small directories, and by construction exactly
the semantics the conformance kit checks.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

from scimflask.filter.evaluate import matches
from scimflask.filter.sort import sort_documents, sort_key
from scimflask.model import Change, Page, Query, RequestContext, Resource, Token
from scimflask.schema.catalog import Catalog
from scimflask.storage import (
    ConfigurationError,
    ResourceNotFound,
    ScanTooLarge,
    Storage,
    UniqueConflict,
    VersionMismatch,
)

from .files import JsonFile
from .keyset import keyset_of, position, start_after
from .tenant import MEMBERS, TenantDocument, member_to_json, new_record

# Longest tenant name kept readable in a file name; longer ones are hashed.
MAX_READABLE_TENANT = 100


class JsonDirectoryStorage(Storage):
    """The full storage contract on JSON files (see the module docstring for the layout)."""

    schemes = ("jsondir",)
    # A missing disk, a permission problem or a corrupted file: the store is broken (503).
    base_exceptions = (OSError, json.JSONDecodeError, UnicodeDecodeError)
    # `query` honours `Query.after`, so RFC 9865 cursors survive inserts and deletes between pages.
    supports_keyset = True

    def __init__(self, catalog: Catalog, root: Path, *, fsync: bool = True) -> None:
        super().__init__(catalog)
        self.root = root
        self.fsync = fsync
        (root / "tenants").mkdir(parents=True, exist_ok=True)
        self._tokens = JsonFile(root / "tokens.json", fsync=fsync)

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> JsonDirectoryStorage:
        """`jsondir:///absolute/path[?fsync=false]`; the directory is created if missing.

        `fsync=false` skips flushing each write to disk: faster, for tests only.
        """
        parts = urlsplit(uri)
        path = unquote(parts.path)
        if parts.scheme.lower() not in cls.schemes or parts.netloc not in ("", "localhost") \
                or not path.startswith("/"):
            raise ConfigurationError(f"cannot serve {uri!r}: use jsondir:///absolute/path/to/directory")
        params = parse_qs(parts.query)
        unknown = set(params) - {"fsync"}
        if unknown or options:
            raise ConfigurationError(f"jsondir:// takes only the fsync URL parameter, "
                                     f"got: {', '.join(sorted(unknown | set(options)))}")
        fsync = params.get("fsync", ["true"])[-1].lower()
        if fsync not in ("true", "false"):
            raise ConfigurationError(f"jsondir:// fsync must be true or false, not {fsync!r}")
        try:
            return cls(catalog, Path(path), fsync=fsync == "true")
        except OSError as exc:
            raise ConfigurationError(f"cannot use {path!r} as a jsondir store: {exc}") from exc

    # -- helpers --------------------------------------------------------------------------
    def _file(self, ctx: RequestContext) -> JsonFile:
        name = quote(ctx.tenant, safe="")
        if len(name) > MAX_READABLE_TENANT:
            name = "sha256-" + hashlib.sha256(ctx.tenant.encode("utf-8")).hexdigest()
        return JsonFile(self.root / "tenants" / f"tenant-{name}.json", fsync=self.fsync)

    def _read(self, ctx: RequestContext) -> TenantDocument:
        return TenantDocument(self._file(ctx).read(), self.catalog)

    @staticmethod
    def _record(tenant: TenantDocument, rt, id: str) -> dict:
        record = tenant.table(rt).get(id)
        if record is None:
            raise ResourceNotFound(rt.name, id)
        return record

    @staticmethod
    def _check_version(record: dict, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != record["version"]:
            raise VersionMismatch(record["version"])

    @staticmethod
    def _new_members(tenant: TenantDocument, current: list[dict], change: Change, check: bool) -> list[dict]:
        """The member list after `change`: a replacement, or set deltas (re-adds and removals
        of absent members change nothing). Unknown ids raise before anything is written."""
        added = tenant.checked_members(change.add_members, check)
        if change.replace_members is not None:
            current = [member_to_json(m) for m in tenant.checked_members(change.replace_members, check)]
        removed = set(change.remove_members)
        members = [m for m in current if m["value"] not in removed]
        present = {m["value"] for m in members}
        members.extend(member_to_json(m) for m in added if m.value not in present)
        return members

    # -- resources ------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self.catalog.resource_type(resource.resource_type)
        takes_members = self.catalog.has_members(rt)
        with self._file(ctx).change() as document:
            tenant = TenantDocument(document, self.catalog)
            if tenant.find_type(resource.id) is not None:
                raise UniqueConflict("id")
            taken = tenant.taken(rt, resource.id, resource.data)
            if taken is not None:
                raise UniqueConflict(taken)
            members = tenant.checked_members(resource.members or (), check_members)
            tenant.table(rt)[resource.id] = new_record(resource, members if takes_members else None)
        return tenant.resource(rt, resource.id, with_members=True, with_groups=True)

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        rt = self.catalog.resource_type(resource_type)
        tenant = self._read(ctx)
        self._record(tenant, rt, id)
        return tenant.resource(rt, id, with_members=with_members, with_groups=with_groups)

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        rt = self.catalog.resource_type(resource_type)
        with self._file(ctx).change() as document:
            tenant = TenantDocument(document, self.catalog)
            record = self._record(tenant, rt, id)
            self._check_version(record, expected_version)
            if change.data is not None:
                taken = tenant.taken(rt, id, change.data)
                if taken is not None:
                    raise UniqueConflict(taken)
                record["data"] = copy.deepcopy(change.data)
            if change.touches_members:
                record[MEMBERS] = self._new_members(tenant, record.get(MEMBERS, []), change, check_members)
            record["version"] += 1
            record["lastModified"] = now.isoformat()
        return tenant.resource(rt, id, with_members=False, with_groups=False)

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        rt = self.catalog.resource_type(resource_type)
        with self._file(ctx).change() as document:
            tenant = TenantDocument(document, self.catalog)
            self._check_version(self._record(tenant, rt, id), expected_version)
            del tenant.table(rt)[id]
            tenant.forget(id)

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        """A scan: every resource of the type is evaluated with the reference evaluator, so a
        filter over more than `query.max_scan` resources is refused before it starts."""
        rt = self.catalog.resource_type(resource_type)
        tenant = self._read(ctx)
        if query.filter is not None and query.max_scan is not None and len(tenant.table(rt)) > query.max_scan:
            raise ScanTooLarge(rt.name, query.max_scan)
        documents = [
            tenant.resource(rt, id, with_members=True, with_groups=True).document(self.catalog.locator(ctx.base_url))
            for id in tenant.table(rt)
        ]
        if query.filter is not None:
            documents = [d for d in documents if matches(query.filter, d, rt, self.catalog)]
        ordered = sort_documents(documents, query.sort, rt, self.catalog)
        keys = [sort_key(d, query.sort, rt, self.catalog) for d in ordered]
        if query.after is not None:
            rows = [(position(key), d["id"]) for key, d in zip(keys, ordered, strict=True)]
            start = start_after(rows, query.after, descending=query.sort is not None and query.sort.descending)
        else:
            start = max(query.start_index, 1) - 1
        end = start + max(query.count, 0)
        resources = [tenant.resource(rt, d["id"], with_members=query.with_members,
                                     with_groups=query.with_groups) for d in ordered[start:end]]
        next_keyset = keyset_of(keys[end - 1], ordered[end - 1]["id"]) if resources and end < len(ordered) else None
        return Page(resources=resources, total=len(ordered), next_keyset=next_keyset)

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        rt = self.catalog.resource_type("Group")
        count = len(self._record(self._read(ctx), rt, group_id).get(MEMBERS, ()))
        return count if up_to is None else min(count, up_to + 1)

    # -- tokens ---------------------------------------------------------------------------
    def add_token(self, token: Token) -> None:
        with self._tokens.change() as document:
            document[token.id] = _token_to_json(token)

    def find_token(self, secret_hash: str) -> Token | None:
        for raw in self._tokens.read().values():
            if raw["secret_hash"] == secret_hash:
                return _token_from_json(raw)
        return None

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        tokens = [_token_from_json(raw) for raw in self._tokens.read().values()
                  if tenant is None or raw["tenant"] == tenant]
        return sorted(tokens, key=lambda t: (t.created, t.id))

    def delete_token(self, token_id: str) -> bool:
        with self._tokens.change() as document:
            return document.pop(token_id, None) is not None

    def touch_token(self, token_id: str, when: datetime) -> None:
        with self._tokens.change() as document:
            if token_id in document:
                document[token_id]["last_used"] = when.isoformat()

    # -- lifecycle ------------------------------------------------------------------------
    def ping(self) -> None:
        (self.root / "tenants").stat()


def _token_to_json(token: Token) -> dict:
    return {
        "id": token.id, "tenant": token.tenant, "secret_hash": token.secret_hash,
        "created": token.created.isoformat(), "description": token.description,
        "last_used": token.last_used.isoformat() if token.last_used else None,
        "expires": token.expires.isoformat() if token.expires else None,
    }


def _token_from_json(raw: dict) -> Token:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return Token(id=raw["id"], tenant=raw["tenant"], secret_hash=raw["secret_hash"],
                 created=datetime.fromisoformat(raw["created"]), description=raw["description"],
                 last_used=when(raw["last_used"]), expires=when(raw["expires"]))
