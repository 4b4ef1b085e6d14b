"""Schema definitions and the catalog that serves them."""

from .catalog import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    Attribute,
    AttributeRef,
    Catalog,
    ResourceType,
    Schema,
)
from .enterprise import ENTERPRISE
from .group import GROUP
from .user import USER

USER_TYPE = ResourceType(
    id="User", name="User", endpoint="/Users", description="User Account",
    schema=CORE_USER, extensions=((ENTERPRISE_USER, False),),
)
GROUP_TYPE = ResourceType(
    id="Group", name="Group", endpoint="/Groups", description="Group", schema=CORE_GROUP,
)


def default_catalog() -> Catalog:
    """A fresh catalog with User (+ Enterprise extension) and Group."""
    catalog = Catalog()
    for schema in (USER, GROUP, ENTERPRISE):
        catalog.add_schema(schema)
    catalog.add_resource_type(USER_TYPE)
    catalog.add_resource_type(GROUP_TYPE)
    return catalog


__all__ = [
    "Attribute", "AttributeRef", "Catalog", "ResourceType", "Schema", "default_catalog",
    "CORE_USER", "CORE_GROUP", "ENTERPRISE_USER", "USER", "GROUP", "ENTERPRISE",
    "USER_TYPE", "GROUP_TYPE",
]
