"""The core Group schema (RFC 7643 §4.2, §8.7.1)."""

from __future__ import annotations

from .catalog import COMPLEX, CORE_GROUP, IMMUTABLE, REFERENCE, SERVER, Attribute, Schema

GROUP = Schema(
    id=CORE_GROUP,
    name="Group",
    description="Group",
    attributes=(
        # Uniqueness of displayName is not an RFC requirement, but Entra ID matches groups by
        # it (its provisioning documentation requires it), so scimflask enforces it.
        Attribute("displayName", required=True, uniqueness=SERVER,
                  description="A human-readable name for the Group."),
        Attribute("members", type=COMPLEX, multi_valued=True,
                  description="A list of members of the Group.",
                  sub_attributes=(
                      Attribute("value", mutability=IMMUTABLE, case_exact=True,
                                description="Identifier of the member of this Group."),
                      Attribute("$ref", type=REFERENCE, mutability=IMMUTABLE, case_exact=True,
                                reference_types=("User", "Group"),
                                description="The URI of the member resource."),
                      Attribute("display", description="A human-readable name for the member."),
                      Attribute("type", mutability=IMMUTABLE, canonical_values=("User", "Group"),
                                description="The type of the member."),
                  )),
    ),
)
