"""The core User schema (RFC 7643 §4.1, §8.7.1)."""

from __future__ import annotations

from .catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    CORE_USER,
    NEVER,
    READ_ONLY,
    REFERENCE,
    SERVER,
    WRITE_ONLY,
    Attribute,
    Schema,
)


def _multi(name: str, description: str, *, value_type: str = "string", types: tuple[str, ...] = (),
           reference_types: tuple[str, ...] = (), case_exact_value: bool = False) -> Attribute:
    """A multi-valued complex attribute with the usual value/display/type/primary quartet."""
    return Attribute(
        name,
        type=COMPLEX,
        multi_valued=True,
        description=description,
        sub_attributes=(
            Attribute("value", type=value_type, description=f"The {name} value.",
                      case_exact=case_exact_value, reference_types=reference_types),
            Attribute("display", description="A human-readable name, primarily for display."),
            Attribute("type", description="A label indicating the attribute's function.",
                      canonical_values=types),
            Attribute("primary", type=BOOLEAN,
                      description="Whether this is the preferred value of the attribute."),
        ),
    )


USER = Schema(
    id=CORE_USER,
    name="User",
    description="User Account",
    attributes=(
        Attribute("userName", required=True, uniqueness=SERVER,
                  description="Unique identifier for the User, typically used to authenticate."),
        Attribute("name", type=COMPLEX, description="The components of the user's real name.",
                  sub_attributes=(
                      Attribute("formatted", description="The full name, formatted for display."),
                      Attribute("familyName", description="The family name of the User."),
                      Attribute("givenName", description="The given name of the User."),
                      Attribute("middleName", description="The middle name(s) of the User."),
                      Attribute("honorificPrefix", description="The honorific prefix(es)."),
                      Attribute("honorificSuffix", description="The honorific suffix(es)."),
                  )),
        Attribute("displayName", description="The name of the User, suitable for display."),
        Attribute("nickName", description="The casual way to address the user."),
        Attribute("profileUrl", type=REFERENCE, reference_types=("external",),
                  description="A fully qualified URL pointing to the User's online profile."),
        Attribute("title", description="The user's title, such as \"Vice President\"."),
        Attribute("userType", description="The relationship between the organization and the user."),
        Attribute("preferredLanguage", description="The User's preferred written or spoken language."),
        Attribute("locale", description="The User's default location for localization."),
        Attribute("timezone", description="The User's time zone in the IANA database format."),
        Attribute("active", type=BOOLEAN, description="The User's administrative status."),
        Attribute("password", mutability=WRITE_ONLY, returned=NEVER,
                  description="The User's cleartext password; stored hashed, never returned."),
        _multi("emails", "Email addresses for the user.", types=("work", "home", "other")),
        _multi("phoneNumbers", "Phone numbers for the User.",
               types=("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", "Instant messaging addresses for the User.",
               types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi("photos", "URLs of photos of the User.", value_type=REFERENCE,
               types=("photo", "thumbnail"), reference_types=("external",), case_exact_value=True),
        Attribute("addresses", type=COMPLEX, multi_valued=True,
                  description="A physical mailing address for this User.",
                  sub_attributes=(
                      Attribute("formatted", description="The full mailing address."),
                      Attribute("streetAddress", description="The full street address component."),
                      Attribute("locality", description="The city or locality component."),
                      Attribute("region", description="The state or region component."),
                      Attribute("postalCode", description="The zip code or postal code component."),
                      Attribute("country", description="The country name component."),
                      Attribute("type", description="A label indicating the attribute's function.",
                                canonical_values=("work", "home", "other")),
                      Attribute("primary", type=BOOLEAN,
                                description="Whether this is the preferred mailing address."),
                  )),
        Attribute("groups", type=COMPLEX, multi_valued=True, mutability=READ_ONLY,
                  description="Groups the user belongs to, derived from Group membership.",
                  sub_attributes=(
                      Attribute("value", mutability=READ_ONLY, case_exact=True,
                                description="The identifier of the User's group."),
                      Attribute("$ref", type=REFERENCE, mutability=READ_ONLY, case_exact=True,
                                reference_types=("User", "Group"),
                                description="The URI of the corresponding Group resource."),
                      Attribute("display", mutability=READ_ONLY,
                                description="A human-readable name, primarily for display."),
                      Attribute("type", mutability=READ_ONLY, canonical_values=("direct", "indirect"),
                                description="Whether membership is direct or indirect."),
                  )),
        _multi("entitlements", "A list of entitlements for the User."),
        _multi("roles", "A list of roles for the User."),
        _multi("x509Certificates", "A list of certificates issued to the User.", value_type=BINARY,
               case_exact_value=True),
    ),
)

