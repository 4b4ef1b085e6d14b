"""One PATCH operation applied to the attribute that holds its target (RFC 7644 §3.5.2.1-3).

Functions here edit a *container*: the dict that holds the target's top-level attribute (the
resource document for core attributes, the extension object for extension attributes, or a
scratch dict holding a Group's loaded members). Every value written goes through
`coerce_attribute_value` with the operation's `ValueRules`, so PATCH stores exactly what POST
would.

A value filter that selects no element is noTarget (RFC 7644 §3.5.2.2, §3.5.2.3), for `add`
too: the element cannot be placed unambiguously. The one exception is `type-filter-upsert`
(Entra ID's `emails[type eq "work"].value`): when the filter is `type eq "<canonical type>"`,
add/replace creates the element `{"type": <type>, ...}`, and clearing it is a no-op.

Decisions where the RFC leaves room:
- An element that loses its `value` sub-attribute is removed: it no longer says anything.
- A complex attribute whose `value` changes (a reference such as `manager`) drops its other
  sub-attributes, which described the old target (`$ref`, `displayName`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from ..errors import InvalidPath, InvalidValue, NoTarget
from ..filter.ast import EQ, Compare, Filter
from ..schema.catalog import COMPLEX, IMMUTABLE, Attribute
from ..schema.coerce import ValueRules, clears, coerce_attribute_value, coerce_element
from ..schema.immutability import check_unchanged
from ..schema.tolerances import TYPE_FILTER_UPSERT

ADD, REPLACE, REMOVE = "add", "replace", "remove"

Matcher = Callable[[Filter, dict], bool]
"""Whether a filter selects one element of a multi-valued complex attribute."""


@dataclass(frozen=True)
class Target:
    """What one operation points at, resolved against the catalog."""

    attribute: Attribute
    sub: Attribute | None
    filter: Filter | None
    label: str  # the path as shown in error details


def apply_to_container(container: dict, op: str, target: Target, value: object,
                       matches: Matcher, rules: ValueRules) -> None:
    if target.filter is not None:
        _filtered(container, op, target, value, matches, rules)
    elif target.sub is not None:
        _sub_attribute(container, op, target, value, rules)
    else:
        _whole(container, op, target, value, rules)


# -- the whole attribute ------------------------------------------------------------------

def _whole(container: dict, op: str, target: Target, value: object, rules: ValueRules) -> None:
    attr = target.attribute
    if op == REMOVE:
        container.pop(attr.name, None)
        return
    if attr.multi_valued:
        values = _values(target, value, rules)
        if op == REPLACE:
            _store(container, attr.name, values)
        elif values:
            _append(container, attr, values)
    elif attr.type == COMPLEX:
        _merge_complex(container, target, value, rules)
    else:
        new = coerce_attribute_value(attr, value, path=target.label, rules=rules)
        check_unchanged(attr, container.get(attr.name), new, target.label)
        _store(container, attr.name, new)


def _append(container: dict, attr: Attribute, new: list) -> None:
    """RFC 7644 §3.5.2.1: add appends values; one already present is not added twice."""
    elements = list(container.get(attr.name) or [])
    for element in new:
        if element in elements:
            continue
        if _is_primary(element):
            _demote_primaries(elements)
        elements.append(element)
    container[attr.name] = elements


def _merge_complex(container: dict, target: Target, value: object, rules: ValueRules) -> None:
    """RFC 7644 §3.5.2.3: given sub-attributes replace, the others are left unchanged.

    A sub-attribute sent as null is cleared, and null for the whole attribute clears it (""
    too, under `empty-string-clears`).
    """
    attr = target.attribute
    new = cast("dict | None", coerce_attribute_value(attr, value, path=target.label, rules=rules))
    cleared = _explicitly_cleared(attr, value, rules)
    existing = container.get(attr.name)
    if new is None and not cleared:
        _check_immutable_subs(attr, existing, {}, target.label)
        container.pop(attr.name, None)
        return
    merged = {} if existing is None or _changes_reference(existing, new) else dict(existing)
    for name in cleared:
        merged.pop(name, None)
    merged.update(new or {})
    _check_immutable_subs(attr, existing, merged, target.label)
    _store(container, attr.name, merged or None)


def _explicitly_cleared(attr: Attribute, value: object, rules: ValueRules) -> list[str]:
    """Canonical names of the sub-attributes sent as clearing values (coercion drops them).

    Called after coercion accepted `value`, so a list here is a tolerated one-element list.
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        return []
    names = []
    for key, item in value.items():
        sub = attr.sub_attribute(key)
        if sub is not None and clears(item, rules):
            names.append(sub.name)
    return names


def _changes_reference(existing: dict, new: dict | None) -> bool:
    return new is not None and "value" in new and existing.get("value") not in (None, new["value"])


# -- a sub-attribute, no filter -----------------------------------------------------------

def _sub_attribute(container: dict, op: str, target: Target, value: object, rules: ValueRules) -> None:
    attr, sub = target.attribute, target.sub
    assert sub is not None
    if attr.multi_valued:
        _sub_of_every_element(container, op, target, value, rules)
        return
    parent = dict(container.get(attr.name) or {})
    if op == REMOVE:
        new = None
    else:
        new = coerce_attribute_value(sub, value, path=target.label, rules=rules)
        if sub.name == "value" and new != parent.get("value"):
            parent = {k: v for k, v in parent.items() if k == "value"}
    _set_sub(attr, parent, sub, new, target.label)
    _store(container, attr.name, parent or None)


def _sub_of_every_element(container: dict, op: str, target: Target, value: object,
                          rules: ValueRules) -> None:
    """`emails.value` without a filter addresses every element, or creates the first: the
    target does not exist, so the operation adds it (RFC 7644 §3.5.2.1, §3.5.2.3)."""
    attr, sub = target.attribute, target.sub
    assert sub is not None
    elements = list(container.get(attr.name) or [])
    new = None if op == REMOVE else coerce_attribute_value(sub, value, path=target.label, rules=rules)
    if not elements:
        if new is not None:
            container[attr.name] = [{sub.name: new}]
        return
    if sub.name == "primary" and new is True and len(elements) > 1:
        raise InvalidValue(f"'{target.label}' would make {len(elements)} values primary; "
                           "at most one may be.")
    for element in elements:
        _set_sub(attr, element, sub, new, target.label)
    _store(container, attr.name, [e for e in elements if _meaningful(attr, e)])


# -- elements selected by a filter --------------------------------------------------------

def _filtered(container: dict, op: str, target: Target, value: object, matches: Matcher,
              rules: ValueRules) -> None:
    attr = target.attribute
    if not (attr.multi_valued and attr.type == COMPLEX):
        raise InvalidPath(f"'{target.label}': only multi-valued complex attributes take a filter.")
    assert target.filter is not None
    elements = [dict(e) for e in container.get(attr.name) or []]
    hits = [i for i, e in enumerate(elements) if matches(target.filter, e)]
    if op == REMOVE:
        if not hits:
            raise NoTarget(f"No value of '{target.label}' matches the filter.")
        if target.sub is None:
            elements = [e for i, e in enumerate(elements) if i not in hits]
        else:
            for i in hits:
                _set_sub(attr, elements[i], target.sub, None, target.label)
            elements = _drop_emptied(attr, elements, hits)
    elif target.sub is None:
        elements = _write_elements(elements, hits, op, target, value, rules)
    else:
        elements = _write_sub_of_elements(elements, hits, target, value, rules)
    _store(container, attr.name, elements)


def _write_elements(elements: list[dict], hits: list[int], op: str, target: Target,
                    value: object, rules: ValueRules) -> list[dict]:
    """add merges into the selected elements, replace substitutes them (RFC 7644 §3.5.2.3)."""
    attr = target.attribute
    new = _one_element(target, value, rules)
    if not hits:
        seed = _upsert_seed(target, rules)
        if seed is None:
            raise NoTarget(f"No value of '{target.label}' matches the filter.")
        if new is None:
            return elements
        if _is_primary(new):
            _demote_primaries(elements)
        return [*elements, {**seed, **new}]
    if new is None:
        return [e for i, e in enumerate(elements) if i not in hits]
    if _is_primary(new) and len(hits) > 1:
        raise InvalidValue(f"'{target.label}' selects {len(hits)} values; only one may be primary.")
    for i in hits:
        replacement = {**elements[i], **new} if op == ADD else dict(new)
        _check_immutable_subs(attr, elements[i], replacement, target.label)
        elements[i] = replacement
    if _is_primary(new):
        _demote_primaries(elements, keep=elements[hits[0]])
    return elements


def _write_sub_of_elements(elements: list[dict], hits: list[int], target: Target,
                           value: object, rules: ValueRules) -> list[dict]:
    attr, sub = target.attribute, target.sub
    assert sub is not None
    new = coerce_attribute_value(sub, value, path=target.label, rules=rules)
    if not hits:
        seed = _upsert_seed(target, rules)
        if seed is None:
            raise NoTarget(f"No value of '{target.label}' matches the filter.")
        if new is None:
            return elements
        created = {**seed, sub.name: new}
        if _is_primary(created):
            _demote_primaries(elements)
        return [*elements, created]
    if sub.name == "primary" and new is True:
        if len(hits) > 1:
            raise InvalidValue(f"'{target.label}' selects {len(hits)} values; "
                               "only one may be primary.")
        _demote_primaries(elements)
    for i in hits:
        _set_sub(attr, elements[i], sub, new, target.label)
    return _drop_emptied(attr, elements, hits)


def _one_element(target: Target, value: object, rules: ValueRules) -> dict | None:
    """The single element a filtered path writes (an object), or None: clear the selected ones."""
    if clears(value, rules):
        return None
    element = coerce_element(target.attribute, value, path=target.label, rules=rules)
    return cast("dict | None", element)


def _upsert_seed(target: Target, rules: ValueRules) -> dict | None:
    """`{"type": literal}` under `type-filter-upsert` when the filter is `type eq "<literal>"`
    and the literal is one of the attribute's canonical types; None otherwise."""
    expression = target.filter
    if not (rules.allows(TYPE_FILTER_UPSERT) and isinstance(expression, Compare)
            and expression.op == EQ and expression.path.sub_attribute == "type"
            and isinstance(expression.value, str)):
        return None
    type_attr = target.attribute.sub_attribute("type")
    canonical = {name.lower() for name in (type_attr.canonical_values if type_attr else ())}
    return {"type": expression.value} if expression.value.lower() in canonical else None


def _drop_emptied(attr: Attribute, elements: list[dict], hits: list[int]) -> list[dict]:
    return [e for i, e in enumerate(elements) if i not in hits or _meaningful(attr, e)]


def _meaningful(attr: Attribute, element: dict) -> bool:
    """An element without its `value` (or with nothing at all) says nothing any more."""
    if attr.sub_attribute("value") is not None:
        return "value" in element
    return bool(element)


# -- shared helpers -----------------------------------------------------------------------

def _values(target: Target, value: object, rules: ValueRules) -> list | None:
    """The coerced values of the multi-valued target attribute (None: clear)."""
    return cast("list | None", coerce_attribute_value(target.attribute, value, path=target.label,
                                                      rules=rules))


def _set_sub(attr: Attribute, element: dict, sub: Attribute, new: object, label: str) -> None:
    check_unchanged(sub, element.get(sub.name), new, label)
    if new is None:
        element.pop(sub.name, None)
    else:
        element[sub.name] = new


def _check_immutable_subs(attr: Attribute, before: dict | None, after: dict | None,
                          label: str) -> None:
    for sub in attr.sub_attributes:
        if sub.mutability == IMMUTABLE and before and sub.name in before:
            check_unchanged(sub, before[sub.name], (after or {}).get(sub.name),
                             f"{label}.{sub.name}")


def _is_primary(element: object) -> bool:
    return isinstance(element, dict) and element.get("primary") is True


def _demote_primaries(elements: list, keep: dict | None = None) -> None:
    """RFC 7643 §2.4: "primary" true appears at most once, so the new primary demotes others."""
    for element in elements:
        if element is not keep and _is_primary(element):
            element["primary"] = False


def _store(container: dict, name: str, value: object) -> None:
    """Write a value; None or an empty list leaves the attribute unassigned (RFC 7644 §3.5.2.2)."""
    if value is None or value == []:
        container.pop(name, None)
    else:
        container[name] = value
