"""The few hooks through which plugins extend scimflask.

Hooks are called with keyword arguments only. Storage operations are *not* hooks: a plugin
registers a `Storage` class and requests call its methods directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from flask import Request

    from .events import ResourceEvent
    from .schema.catalog import Catalog
    from .storage.registry import StorageRegistry

PROJECT = "scimflask"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def scimflask_register_storage(registry: StorageRegistry) -> None:
    """Add storage backends: call ``registry.add(MyStorage)`` for each class.

    Called each time storage is opened: once per ``Scim.init_app``, and once per run of a
    command-line tool that opens storage (migrate, export, import). Each class declares the URL
    schemes it serves in ``schemes``; the app's ``SCIM_STORAGE_URI`` then picks one.

    Example::

        @hookimpl
        def scimflask_register_storage(registry):
            registry.add(JsonDirectoryStorage)   # schemes = ("jsondir",)

    :param registry: the app's ``StorageRegistry``.
    """


@hookspec
def scimflask_register_schemas(catalog: Catalog) -> None:
    """Add custom schemas, extensions or resource types to ``catalog``.

    Called each time storage is opened (like ``scimflask_register_storage``), after the built-in
    User, Group and Enterprise User definitions are in. The same definitions then drive ``/Schemas``, validation, filters and
    PATCH.

    Example::

        @hookimpl
        def scimflask_register_schemas(catalog):
            catalog.add_extension("User", Schema(id="urn:example:params:scim:schemas:extension:acme:2.0:User",
                                                 name="AcmeUser", description="Acme",
                                                 attributes=(Attribute("badge"),)))

    :param catalog: the app's ``Catalog``.
    """


@hookspec(firstresult=True)
def scimflask_authenticate(request: Request, config: dict[str, Any]) -> Any:
    """Authenticate a SCIM request in place of (or before) the built-in bearer-token check.

    Stops at the first non-None result. Return a ``scimflask.auth.Principal`` (tenant, token
    id, optional user id for ``/Me``) to accept the request, raise
    ``scimflask.errors.Unauthorized`` to refuse it, or return None to let the next plugin (and
    finally the built-in bearer-token check) decide.

    Example::

        @hookimpl
        def scimflask_authenticate(request, config):
            expected = flask.current_app.config["ACME_INTERNAL_KEY"]
            if hmac.compare_digest(request.headers.get("X-Internal-Key", ""), expected):
                return Principal(tenant=config["SCIM_DEFAULT_TENANT"], token_id="internal")

    :param request: the Flask request.
    :param config: the app's validated, read-only ``SCIM_*`` configuration.
    :return: a ``Principal`` or None.
    """


@hookspec
def scimflask_resource_changed(event: ResourceEvent) -> None:
    """Observe a committed write (create, replace, patch, delete) of a resource of any type.

    Called after the storage has committed, once per resource written (Bulk included). The
    return value is ignored; an exception is logged and swallowed, never shown to the client.

    Example::

        @hookimpl
        def scimflask_resource_changed(event):
            if event.resource_type == "User" and event.data.get("active") is False:
                sessions.revoke_all(event.id)

    :param event: a ``ResourceEvent`` (action, resource type, id, tenant, new data or None).
    """


@hookspec(firstresult=True)
def scimflask_authorize_admin(request: Request, config: dict[str, Any]) -> bool | None:
    """Decide whether a request may use the admin API (tenants, tokens, provisioning log).

    Stops at the first non-None result: True admits the request, False refuses it (401), None
    defers to the next plugin and finally to ``SCIM_ADMIN_TOKENS``. Implementing this hook also
    switches the admin API on when ``SCIM_ADMIN_TOKENS`` is empty, so a host can put the admin
    page behind its own login instead of a static token.

    Example::

        @hookimpl
        def scimflask_authorize_admin(request, config):
            user = flask_login.current_user
            return bool(user.is_authenticated and user.is_admin)

    :param request: the Flask request to the admin API.
    :param config: the app's validated, read-only ``SCIM_*`` configuration.
    :return: True, False or None.
    """
