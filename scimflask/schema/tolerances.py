"""The tolerance table: every departure from RFC 7643/7644 that scimflask accepts, and for whom.

Each entry exists because a real identity-provider client sends that shape and would fail
without it; everything not listed here is read strictly. `SCIM_COMPATIBILITY = "lenient"` (the
default) turns every entry on, `"strict"` turns every entry off. docs/compatibility.md shows
the same table to people (a test keeps the two equal), and each entry names the test that
replays the client's request in both modes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalog import ENTERPRISE_USER

LENIENT = "lenient"
STRICT = "strict"
MODES = (LENIENT, STRICT)

# The enterprise `manager` reference (RFC 7643 §4.3), the one attribute the manager
# tolerances apply to.
MANAGER = f"{ENTERPRISE_USER}:manager"


@dataclass(frozen=True)
class Tolerance:
    """One quirk: what is accepted, which client sends it, where it applies, which test replays it."""

    name: str
    quirk: str
    clients: str
    applies_to: str
    replay: str


PATCH_OP_CASE = "patch-op-case"
BOOLEAN_STRINGS = "boolean-strings"
EMPTY_STRING_CLEARS = "empty-string-clears"
MANAGER_BARE_ID = "manager-bare-id"
MANAGER_IN_LIST = "manager-in-list"
EXTENSION_ATTRIBUTE_WITHOUT_URN = "extension-attribute-without-urn"
PATHLESS_KEYS_AS_PATHS = "pathless-keys-as-paths"
TYPE_FILTER_UPSERT = "type-filter-upsert"
MEMBERS_REMOVE_BY_VALUE = "members-remove-by-value"
ABSENT_MEMBER_REMOVAL = "absent-member-removal"
RESTATED_ID = "restated-id"
UNREGISTERED_EXTENSION_OBJECT = "unregistered-extension-object"
FOREIGN_SCHEMA_URI = "foreign-schema-uri"

_ENTRA_REPLAY = "tests/views/test_entra_replay.py::test_tolerance_replay"
_OKTA_REPLAY = "tests/views/test_okta_replay.py::test_tolerance_replay"

TOLERANCES: tuple[Tolerance, ...] = (
    Tolerance(PATCH_OP_CASE, 'PATCH `op` in any case: `"Add"`, `"Replace"`, `"Remove"`.',
              "Entra ID (default mode)", "the `op` of every PATCH operation",
              f"{_ENTRA_REPLAY}[{PATCH_OP_CASE}]"),
    Tolerance(BOOLEAN_STRINGS, 'Booleans sent as the strings `"True"` / `"False"` (any case).',
              "Entra ID (default-mode PATCH), Microsoft's Postman suite (POST)",
              "every boolean attribute (`active`, `emails.primary`, ...) in POST, PUT, PATCH",
              f"{_ENTRA_REPLAY}[{BOOLEAN_STRINGS}]"),
    Tolerance(EMPTY_STRING_CLEARS, '`""` clears a single-valued attribute, as null does.',
              "Entra ID (SCIM_Null_Update test, manager removal)",
              "single-valued attributes and sub-attributes in POST, PUT, PATCH",
              f"{_ENTRA_REPLAY}[{EMPTY_STRING_CLEARS}]"),
    Tolerance(MANAGER_BARE_ID, "`manager` sent as a bare id string instead of `{\"value\": id}`.",
              "Entra ID (PATCH `add`; also seen in POST bodies)", f"`{MANAGER}`",
              f"{_ENTRA_REPLAY}[{MANAGER_BARE_ID}]"),
    Tolerance(MANAGER_IN_LIST, "`manager` sent as a one-element array `[{\"$ref\": ..., \"value\": id}]`.",
              "Entra ID (older documented PATCH form)", f"`{MANAGER}`",
              f"{_ENTRA_REPLAY}[{MANAGER_IN_LIST}]"),
    Tolerance(EXTENSION_ATTRIBUTE_WITHOUT_URN,
              'A PATCH `path` naming an extension attribute without its URN (`"path": "manager"`).',
              "Entra ID (older documented PATCH form)",
              "PATCH paths whose attribute is in no core schema and in exactly one extension",
              f"{_ENTRA_REPLAY}[{EXTENSION_ATTRIBUTE_WITHOUT_URN}]"),
    Tolerance(PATHLESS_KEYS_AS_PATHS,
              "A path-less add/replace whose value keys are paths (`name.givenName`, "
              "`urn:...:enterprise:2.0:User:employeeNumber`).",
              "Entra ID (aadOptscim062020 mode)", "the keys of a path-less PATCH value",
              f"{_ENTRA_REPLAY}[{PATHLESS_KEYS_AS_PATHS}]"),
    Tolerance(TYPE_FILTER_UPSERT,
              'add/replace on `attr[type eq "<type>"]` (or `...].sub`) that matches no element '
              "creates it, when `<type>` is a canonical `type` value of the attribute.",
              'Entra ID (`emails[type eq "work"].value`)',
              "multi-valued attributes with canonical `type` values (emails, phoneNumbers, "
              "addresses, ims, photos)",
              f"{_ENTRA_REPLAY}[{TYPE_FILTER_UPSERT}]"),
    Tolerance(MEMBERS_REMOVE_BY_VALUE,
              '`remove` with `"path": "members"` and a `value` array removes only the listed members.',
              "Entra ID (default mode)", "Group `members`",
              f"{_ENTRA_REPLAY}[{MEMBERS_REMOVE_BY_VALUE}]"),
    Tolerance(ABSENT_MEMBER_REMOVAL,
              'Removing a member that is not in the group (`members[value eq "id"]`) changes '
              "nothing instead of failing with noTarget.",
              "Entra ID, Okta (both re-send removals)", "Group `members`",
              f"{_OKTA_REPLAY}[{ABSENT_MEMBER_REMOVAL}]"),
    Tolerance(RESTATED_ID, "A path-less replace whose value restates the resource's own `id`.",
              "Okta (group rename)", "`id` equal to the resource's id, in PATCH",
              f"{_OKTA_REPLAY}[{RESTATED_ID}]"),
    Tolerance(UNREGISTERED_EXTENSION_OBJECT,
              "A body object keyed by an extension URN this server does not have is ignored.",
              "Entra ID (custom extension attributes mapped by an admin)",
              "top-level `urn:` keys of POST and PUT bodies", f"{_ENTRA_REPLAY}[{UNREGISTERED_EXTENSION_OBJECT}]"),
    Tolerance(FOREIGN_SCHEMA_URI,
              "`schemas` lists URIs of schemas the resource type does not have.",
              "Entra ID (Group POST lists `http://schemas.microsoft.com/2006/11/ResourceManagement/"
              "ADSCIM/2.0/Group`)", "the `schemas` of POST and PUT bodies",
              f"{_ENTRA_REPLAY}[{FOREIGN_SCHEMA_URI}]"),
)

_NAMES = frozenset(tolerance.name for tolerance in TOLERANCES)


@dataclass(frozen=True)
class Compatibility:
    """Which tolerances are on: all of them (`lenient`) or none (`strict`)."""

    mode: str = LENIENT

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"compatibility mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    def allows(self, name: str) -> bool:
        """Whether tolerance `name` applies (a name missing from the table is a programming error)."""
        if name not in _NAMES:
            raise KeyError(f"no tolerance named {name!r}")
        return self.mode == LENIENT

    @property
    def enabled(self) -> tuple[str, ...]:
        """The names of the tolerances in force, in table order."""
        return tuple(t.name for t in TOLERANCES) if self.mode == LENIENT else ()
