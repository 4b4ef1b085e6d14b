"""A test catalog: the default one plus an extension with the types the User schema lacks."""

from __future__ import annotations

from scimflask.schema import USER_TYPE, default_catalog
from scimflask.schema.catalog import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    NEVER,
    REFERENCE,
    Attribute,
    Catalog,
    ResourceType,
    Schema,
)

TEST_EXT = "urn:example:params:scim:schemas:extension:Test:2.0:User"

TEST_SCHEMA = Schema(
    id=TEST_EXT,
    name="TestUser",
    description="Attributes of every type, for filter tests",
    attributes=(
        Attribute("level", type=INTEGER),
        Attribute("score", type=DECIMAL),
        Attribute("code", case_exact=True),
        Attribute("tags", multi_valued=True),
        Attribute("exactTags", multi_valued=True, case_exact=True),
        Attribute("counts", type=INTEGER, multi_valued=True),
        Attribute("since", type=DATETIME),
        Attribute("blob", type=BINARY),
        Attribute("exactBlob", type=BINARY, case_exact=True),
        Attribute("link", type=REFERENCE),
        Attribute("exactLink", type=REFERENCE, case_exact=True),
        Attribute("flag", type=BOOLEAN),
        Attribute("secret", returned=NEVER),
    ),
)


def make_catalog() -> tuple[Catalog, ResourceType]:
    """(catalog, User resource type with the test extension attached)."""
    catalog = default_catalog()
    catalog.add_extension(USER_TYPE.name, TEST_SCHEMA)
    return catalog, catalog.resource_type(USER_TYPE.name)
