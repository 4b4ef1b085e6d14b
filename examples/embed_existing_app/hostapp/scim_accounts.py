"""The `accounts://` storage plugin: SCIM Users are rows of the host app's `Account` table.

What maps (everything else a client sends is not stored, and so not returned)::

    userName                      Account.email        (unique ignoring case, the login)
    name.givenName / familyName   Account.first_name / last_name
    displayName                   Account.display_name
    active                        Account.is_active    (absent means active)
    externalId                    Account.external_ref
    emails[type eq "work"].value  Account.work_email   (the one email kept)
    password                      Account.password_hash (werkzeug's format: the login checks it)
    id                            Account.public_id

Bearer tokens are rows of the app's `scim_token` table (`flask scim token create` issues one);
the static `SCIM_BEARER_TOKENS` work as well.

Honest limits: Groups are not supported (every Group request is 501 with a message saying
so; turn group provisioning off in the identity provider), and the app serves one SCIM tenant.
Filters and sorts are translated to SQL by `account_query`; what cannot be translated is a
400, never an empty list.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from scimflask import hookimpl
from scimflask.errors import ConfigurationError, Forbidden, Mutability, ScimError
from scimflask.model import Change, Page, Query, RequestContext, Resource, Token
from scimflask.schema.catalog import Catalog
from scimflask.storage import ResourceNotFound, Storage, UniqueConflict, VersionMismatch

from .account_query import to_condition, to_order
from .models import Account, ScimToken

USER = "User"


class GroupsNotSupported(ScimError):
    status = 501

    def __init__(self) -> None:
        super().__init__("This application does not support Groups over SCIM; provision Users only "
                         "(turn group provisioning off in the identity provider).")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc)


def _naive(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _work_email(emails: object) -> str | None:
    """The value of the work email, else of the primary one, else of the first one."""
    if not isinstance(emails, list) or not emails:
        return None
    for wanted in (lambda e: e.get("type") == "work", lambda e: e.get("primary") is True, lambda e: True):
        for email in emails:
            if isinstance(email, dict) and wanted(email) and email.get("value"):
                return email["value"]
    return None


def to_data(account: Account) -> dict:
    """The SCIM attributes of an account (canonical names, as the storage contract wants)."""
    data: dict = {"userName": account.email, "active": account.is_active}
    name = {key: value for key, value in (("givenName", account.first_name),
                                          ("familyName", account.last_name)) if value is not None}
    if name:
        data["name"] = name
    if account.display_name is not None:
        data["displayName"] = account.display_name
    if account.external_ref is not None:
        data["externalId"] = account.external_ref
    if account.work_email is not None:
        data["emails"] = [{"value": account.work_email, "type": "work", "primary": True}]
    if account.password_hash is not None:
        data["password"] = account.password_hash  # writeOnly: scimflask never returns it
    return data


def apply_data(account: Account, data: dict) -> None:
    """Write SCIM attributes onto the account's columns (the whole mapped set: PUT semantics)."""
    name = data.get("name") or {}
    account.email = data["userName"]
    account.first_name = name.get("givenName")
    account.last_name = name.get("familyName")
    account.display_name = data.get("displayName")
    account.is_active = data.get("active") is not False
    account.external_ref = data.get("externalId")
    account.work_email = _work_email(data.get("emails"))
    # scimflask hashes a password as it arrives (werkzeug.security's format, which
    # Account.check_password reads) and carries the stored hash over when a PUT leaves it out.
    account.password_hash = data.get("password")


class AccountStorage(Storage):
    """Users on `Account` rows of the host's Flask-SQLAlchemy database."""

    schemes = ("accounts",)
    base_exceptions = (OperationalError, InterfaceError)  # the database is down or gone

    def __init__(self, catalog: Catalog, db: SQLAlchemy, tenant: str) -> None:
        super().__init__(catalog)
        self.db = db
        self.tenant = tenant

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> AccountStorage:
        """`accounts://`; options: `db` (the app's Flask-SQLAlchemy object, required) and
        `tenant` (the one SCIM tenant served, default "default")."""
        db = options.get("db")
        if not isinstance(db, SQLAlchemy):
            raise ConfigurationError("accounts:// needs SCIM_STORAGE_OPTIONS={'db': <your SQLAlchemy()>}")
        return cls(catalog, db, options.get("tenant", "default"))

    # -- helpers --------------------------------------------------------------------------
    def _check(self, ctx: RequestContext, resource_type: str) -> None:
        if ctx.tenant != self.tenant:
            raise Forbidden(f"this application serves the SCIM tenant {self.tenant!r} only")
        if self.catalog.resource_type(resource_type).name != USER:
            raise GroupsNotSupported()

    def _account(self, id: str) -> Account:
        # populate_existing: re-read the row even if this session has seen it (a retry after a
        # version conflict must see the other writer's version).
        account = self.db.session.scalar(
            select(Account).where(Account.public_id == id).execution_options(populate_existing=True))
        if account is None:
            raise ResourceNotFound(USER, id)
        return account

    def _commit(self) -> None:
        try:
            self.db.session.commit()
        except IntegrityError:
            self.db.session.rollback()
            raise UniqueConflict("userName") from None  # the only unique column a client can set
        except StaleDataError:
            self.db.session.rollback()
            raise VersionMismatch() from None
        except BaseException:
            self.db.session.rollback()
            raise

    @staticmethod
    def _resource(account: Account, *, with_groups: bool) -> Resource:
        return Resource(USER, account.public_id, to_data(account), _aware(account.created_at),
                        _aware(account.updated_at), account.version, groups=[] if with_groups else None)

    # -- resources ------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        self._check(ctx, resource.resource_type)
        account = Account(public_id=resource.id, created_at=_naive(resource.created),
                          updated_at=_naive(resource.last_modified))
        apply_data(account, resource.data)
        self.db.session.add(account)
        self._commit()
        return self._resource(account, with_groups=True)

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        self._check(ctx, resource_type)
        return self._resource(self._account(id), with_groups=with_groups)

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        self._check(ctx, resource_type)
        if change.touches_members:
            raise Mutability("Users have no members")
        account = self._account(id)
        if expected_version is not None and account.version != expected_version:
            raise VersionMismatch(account.version)
        if change.data is not None:
            apply_data(account, change.data)
        account.updated_at = _naive(now)  # always a change, so the version always moves
        self._commit()
        return self._resource(account, with_groups=False)

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        self._check(ctx, resource_type)
        account = self._account(id)
        if expected_version is not None and account.version != expected_version:
            raise VersionMismatch(account.version)
        self.db.session.delete(account)
        self._commit()

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        self._check(ctx, resource_type)
        condition = true() if query.filter is None else to_condition(query.filter)
        order = to_order(query.sort)
        total = self.db.session.scalar(select(func.count()).select_from(Account).where(condition))
        accounts = []
        if query.count > 0:
            accounts = self.db.session.scalars(
                select(Account).where(condition).order_by(*order)
                .offset(max(query.start_index, 1) - 1).limit(query.count)).all()
        return Page([self._resource(a, with_groups=query.with_groups) for a in accounts], total)

    # -- tokens: rows of scim_token ---------------------------------------------------------
    def add_token(self, token: Token) -> None:
        if token.tenant != self.tenant:
            raise ConfigurationError(f"this application serves the SCIM tenant {self.tenant!r} only")
        self.db.session.merge(ScimToken(
            id=token.id, tenant=token.tenant, secret_hash=token.secret_hash, description=token.description,
            created_at=_naive(token.created), last_used_at=token.last_used and _naive(token.last_used),
            expires_at=token.expires and _naive(token.expires)))
        self._commit()

    def find_token(self, secret_hash: str) -> Token | None:
        row = self.db.session.scalar(select(ScimToken).where(ScimToken.secret_hash == secret_hash))
        return None if row is None else _token(row)

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        rows = self.db.session.scalars(select(ScimToken).order_by(ScimToken.created_at, ScimToken.id)).all()
        return [_token(row) for row in rows if tenant is None or row.tenant == tenant]

    def delete_token(self, token_id: str) -> bool:
        row = self.db.session.get(ScimToken, token_id)
        if row is None:
            return False
        self.db.session.delete(row)
        self._commit()
        return True


def _token(row: ScimToken) -> Token:
    return Token(id=row.id, tenant=row.tenant, secret_hash=row.secret_hash, created=_aware(row.created_at),
                 description=row.description, last_used=row.last_used_at and _aware(row.last_used_at),
                 expires=row.expires_at and _aware(row.expires_at))


@hookimpl
def scimflask_register_storage(registry):
    registry.add(AccountStorage)
