"""scimflask: a SCIM 2.0 service provider for Flask with pluggable storage."""

from .app import create_app
from .errors import ConfigurationError, ScimError
from .extension import Scim
from .hookspecs import hookimpl
from .model import Change, Member, Page, Query, RequestContext, Resource, Sort, Token
from .storage import Storage, StorageRegistry

__all__ = [
    "Scim", "create_app", "hookimpl", "Storage", "StorageRegistry", "ScimError",
    "ConfigurationError", "Change", "Member", "Page", "Query", "RequestContext", "Resource",
    "Sort", "Token",
]
