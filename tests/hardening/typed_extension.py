"""A test-only User extension with one attribute of each type the core schemas lack.

The core User and Group schemas have no integer, decimal or dateTime attribute a client may
write, so the bad-input catalogue registers this plugin (SCIM_PLUGINS) to send wrong types to
every attribute type of RFC 7643 §2.3.
"""

from __future__ import annotations

from scimflask import hookimpl
from scimflask.schema.catalog import BINARY, DATETIME, DECIMAL, INTEGER, REFERENCE, Attribute, Schema

TYPED = "urn:scimflask:params:scim:schemas:extension:hardening:2.0:User"

TYPED_SCHEMA = Schema(
    id=TYPED,
    name="HardeningTyped",
    description="One attribute per RFC 7643 attribute type (tests only).",
    attributes=(
        Attribute("level", type=INTEGER, description="An integer."),
        Attribute("score", type=DECIMAL, description="A decimal."),
        Attribute("hired", type=DATETIME, description="A dateTime."),
        Attribute("badge", type=BINARY, description="Binary data."),
        Attribute("site", type=REFERENCE, reference_types=("external",), description="A reference."),
    ),
)


@hookimpl
def scimflask_register_schemas(catalog) -> None:
    catalog.add_extension("User", TYPED_SCHEMA)
