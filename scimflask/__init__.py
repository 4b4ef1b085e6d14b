"""scimflask: a SCIM 2.0 service provider for Flask with pluggable storage."""

from .app import create_app
from .errors import ConfigurationError, ScimError
from .extension import Scim
from .hookspecs import hookimpl
from .model import Change, Member, Page, Query, RequestContext, Resource, Sort, Token
from .storage import Storage, StorageRegistry

SCIM = Scim  # the spelling the design card uses

__all__ = [
    "Scim", "SCIM", "create_app", "hookimpl", "Storage", "StorageRegistry", "ScimError",
    "ConfigurationError", "Change", "Member", "Page", "Query", "RequestContext", "Resource",
    "Sort", "Token",
]
