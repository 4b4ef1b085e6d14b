"""Which attributes a response carries: `attributes`, `excludedAttributes` and `returned`.

RFC 7644 §3.4.2.5 / §3.9 with RFC 7643 §2.4 and §7:
- `returned: always` (e.g. `id`) is in every response, whatever the parameters say; `schemas`
  is always there too;
- `returned: never` (e.g. `password`) is in none;
- `returned: request` only when named in `attributes`;
- `returned: default` unless `attributes` is given without naming it, or it is excluded.
The same rules apply one level down to sub-attributes (`name.givenName`, `emails.value`).
Names are parsed with the attribute notation of RFC 7644 §3.10, case-insensitively, with or
without a schema URN prefix; a bare schema URN stands for every attribute of that schema.
RFC 7644 does not say what an unknown name means; it is ignored, so a client asking for an
attribute this server lacks still gets an answer. An `attributes` list left empty that way
(or given empty) is treated as absent.
"""

from __future__ import annotations

from ..filter.ast import AttrPath
from ..schema.catalog import ALWAYS, COMPLEX, NEVER, REQUEST, Attribute, Catalog, ResourceType
from ..schema.validate import SCHEMAS_KEY, current_resource_type, schemas_for

_WHOLE = None  # a selection of a whole attribute, as opposed to a set of sub-attribute names

# (schema URN lower-cased, attribute name) -> None for the whole attribute, or sub-attribute names
_Selection = dict[tuple[str, str], "frozenset[str] | None"]


def parse_attribute_list(text: str | None, catalog: Catalog,
                         resource_type: ResourceType | str) -> list[AttrPath]:
    """Bound paths of a comma-separated `attributes` / `excludedAttributes` value."""
    if not text:
        return []
    rt = current_resource_type(catalog, resource_type)
    urns = {urn.lower(): urn for urn in rt.schema_ids}
    paths: list[AttrPath] = []
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        if name.lower() in urns:
            urn = urns[name.lower()]
            found = [AttrPath(urn, attr.name) for attr in catalog.attributes(rt, urn)]
        else:
            ref = catalog.resolve(rt, name)
            if ref is None:
                continue
            sub = ref.sub_attribute.name if ref.sub_attribute else None
            found = [AttrPath(ref.schema, ref.attribute.name, sub)]
        paths.extend(path for path in found if path not in paths)
    return paths


def _selection(paths: list[AttrPath] | None) -> _Selection:
    selection: _Selection = {}
    for path in paths or ():
        key = (path.schema.lower(), path.attribute)
        if path.sub_attribute is None or (key in selection and selection[key] is _WHOLE):
            selection[key] = _WHOLE
        else:
            selection[key] = (selection.get(key) or frozenset()) | {path.sub_attribute}
    return selection


class _Rules:
    """The parsed parameters, answering "is this (sub-)attribute shown?"."""

    def __init__(self, attributes: list[AttrPath] | None, excluded: list[AttrPath] | None) -> None:
        self.selected = _selection(attributes)
        self.excluded = _selection(excluded)

    def shows(self, urn: str, attr: Attribute) -> bool:
        if attr.returned in (ALWAYS, NEVER):
            return attr.returned == ALWAYS
        key = (urn.lower(), attr.name)
        shown = key in self.selected if self.selected else attr.returned != REQUEST
        return shown and not (key in self.excluded and self.excluded[key] is _WHOLE)

    def shows_sub(self, urn: str, attr: Attribute, sub: Attribute | None) -> bool:
        """`sub` None is a key the catalog does not define: shown unless sub-attributes are picked."""
        key = (urn.lower(), attr.name)
        chosen = self.selected.get(key)
        if sub is None:
            return chosen is _WHOLE
        if sub.returned in (ALWAYS, NEVER):
            return sub.returned == ALWAYS
        if attr.returned == ALWAYS:
            return sub.returned != REQUEST
        shown = sub.name in chosen if chosen is not _WHOLE else sub.returned != REQUEST
        dropped = self.excluded.get(key)
        return shown and not (dropped and sub.name in dropped)


class _Plan:
    """What to keep of a document, worked out once per (resource type, attributes, excluded).

    `sections` maps each schema URN (lower-cased) to {lower-cased attribute name: action}, where
    the action is True (keep the value whole), or (sub-attribute name -> shown, shown-if-unknown)
    for a complex attribute; hidden attributes are absent. `unknown` says whether a name the
    catalog does not define is kept.
    """

    def __init__(self, catalog: Catalog, rt: ResourceType, rules: _Rules) -> None:
        self.rt = rt
        self.extensions = {urn.lower(): urn for urn, _ in rt.extensions}
        self.unknown = not rules.selected
        self.defined: dict[str, dict[str, Attribute]] = {}
        self.sections: dict[str, dict[str, object]] = {}
        for urn in rt.schema_ids:
            attrs = {attr.name.lower(): attr for attr in reversed(catalog.attributes(rt, urn))}
            self.defined[urn.lower()] = attrs
            self.sections[urn.lower()] = {
                name: self._action(rules, urn, attr) for name, attr in attrs.items() if rules.shows(urn, attr)}

    @staticmethod
    def _action(rules: _Rules, urn: str, attr: Attribute) -> object:
        if attr.type != COMPLEX:
            return True
        shown = {sub.name.lower(): rules.shows_sub(urn, attr, sub) for sub in reversed(attr.sub_attributes)}
        return shown, rules.shows_sub(urn, attr, None)

    def schema(self, urn: str, values: dict) -> dict:
        section, defined = self.sections[urn.lower()], self.defined[urn.lower()]
        out = {}
        for name, value in values.items():
            lowered = name.lower()
            action = section.get(lowered)
            if action is None:
                if self.unknown and lowered not in defined:
                    out[name] = value  # not in the catalog: no rule hides it by default
                continue
            if action is not True:
                value = _project_complex_value(action, value)  # type: ignore[arg-type]
                if value is None:
                    continue
            out[name] = value
        return out

    def shows(self, name: str) -> bool:
        return name.lower() in self.sections[self.rt.schema.lower()]


def _project_complex_value(action: tuple[dict[str, bool], bool], value: object) -> object:
    """The shown part of a complex attribute's value, or None when nothing of it is shown."""
    shown, unknown = action

    def element(item: dict) -> dict:
        return {key: sub_value for key, sub_value in item.items() if shown.get(key.lower(), unknown)}

    if isinstance(value, list):
        elements = [element(e) if isinstance(e, dict) else e for e in value]
        return [e for e in elements if e != {}] or None
    if isinstance(value, dict):
        return element(value) or None
    return value


_PLANS_KEPT = 256  # distinct (attributes, excluded) pairs remembered per resource type


def _plan(catalog: Catalog, rt: ResourceType, attributes: list[AttrPath] | None,
          excluded: list[AttrPath] | None) -> _Plan:
    plans = catalog.derived(("projection plans", rt.name.lower()), dict)
    key = (tuple(attributes or ()), tuple(excluded or ()))
    plan = plans.get(key)
    if plan is None:
        if len(plans) >= _PLANS_KEPT:  # client-chosen keys: keep the memory bounded
            plans.clear()
        plan = plans[key] = _Plan(catalog, rt, _Rules(attributes, excluded))
    return plan


def project(document: dict, catalog: Catalog, resource_type: ResourceType | str, *,
            attributes: list[AttrPath] | None = None,
            excluded: list[AttrPath] | None = None) -> dict:
    """The response body for `document` (from `Resource.document`), `schemas` added."""
    rt = current_resource_type(catalog, resource_type)
    plan = _plan(catalog, rt, attributes, excluded)
    extensions = plan.extensions
    core: dict = {}
    shown_extensions: dict = {}
    for name, value in document.items():
        urn = extensions.get(name.lower())
        if name == SCHEMAS_KEY:
            continue  # recomputed below
        if urn is None:
            core[name] = value
        elif isinstance(value, dict):
            shown = plan.schema(urn, value)
            if shown:
                shown_extensions[urn] = shown
    return {SCHEMAS_KEY: schemas_for(document, rt), **plan.schema(rt.schema, core), **shown_extensions}


def loads(catalog: Catalog, resource_type: ResourceType | str, *,
          attributes: list[AttrPath] | None, excluded: list[AttrPath] | None) -> tuple[bool, bool]:
    """(Group `members` shown, User `groups` shown): what the storage must load."""
    rt = current_resource_type(catalog, resource_type)
    plan = _plan(catalog, rt, attributes, excluded)
    return plan.shows("members"), plan.shows("groups")
