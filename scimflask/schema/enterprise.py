"""The Enterprise User extension (RFC 7643 §4.3, §8.7.1)."""

from __future__ import annotations

from .catalog import COMPLEX, ENTERPRISE_USER, READ_ONLY, REFERENCE, Attribute, Schema

ENTERPRISE = Schema(
    id=ENTERPRISE_USER,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        Attribute("employeeNumber", description="Numeric or alphanumeric identifier assigned to a person."),
        Attribute("costCenter", description="Identifies the name of a cost center."),
        Attribute("organization", description="Identifies the name of an organization."),
        Attribute("division", description="Identifies the name of a division."),
        Attribute("department", description="Identifies the name of a department."),
        Attribute("manager", type=COMPLEX, description="The User's manager.",
                  sub_attributes=(
                      Attribute("value", case_exact=True, description="The id of the manager."),
                      Attribute("$ref", type=REFERENCE, case_exact=True, reference_types=("User",),
                                description="The URI of the manager's User resource."),
                      Attribute("displayName", mutability=READ_ONLY,
                                description="The displayName of the User's manager."),
                  )),
    ),
)
