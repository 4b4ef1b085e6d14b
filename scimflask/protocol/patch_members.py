"""Group membership under PATCH, kept as deltas so a large group costs O(change).

A Group's `members` live outside `Resource.data` and storage changes them with set operations
(`Change.add_members` / `remove_members`) or, rarely, a full rewrite (`replace_members`). The
common PATCH forms -- add a batch, remove listed ids, remove `members[value eq "id"]`, remove
all, replace all -- need no knowledge of the current members, so `Membership` records them as
deltas. Forms that must look at existing members (other filters, sub-attribute paths) ask for
the full list: `elements()` raises `MembersRequired` until the caller loads it.
"""

from __future__ import annotations

from typing import cast

from ..errors import InvalidValue
from ..filter.ast import EQ, Compare, Filter, Or
from ..model import Member
from ..schema.catalog import Attribute
from ..schema.coerce import DEFAULT_RULES, ValueRules, coerce_attribute_value

MEMBERS = "members"


class MembersRequired(Exception):
    """The operation needs the group's full member list, which was not loaded.

    The caller loads the group with its members and applies the same operations again.
    """


def members_from_value(attr: Attribute, value: object,
                       rules: ValueRules = DEFAULT_RULES) -> list[Member]:
    """The members listed in an operation's `value`, an array (`"$ref": null` is unassigned).

    Duplicates within one value collapse to the first occurrence. Members are exempt from
    SCIM_MAX_MULTI_VALUES (the payload and Bulk limits bound them).
    """
    elements = cast("list[dict] | None", coerce_attribute_value(
        attr, value, path=MEMBERS, rules=rules, bounded=False)) or []
    members: dict[str, Member] = {}
    for element in elements:
        member = member_from_element(element)
        members.setdefault(member.value, member)
    return list(members.values())


def member_from_element(element: dict) -> Member:
    value = element.get("value")
    if not isinstance(value, str) or not value:
        raise InvalidValue("Each member needs a non-empty 'value' (the member's id).")
    return Member(value, _member_type(element.get("type")), element.get("display"))


def _member_type(value: str | None) -> str | None:
    """`User` / `Group` in canonical spelling; clients also send `user`."""
    if value is None:
        return None
    for canonical in ("User", "Group"):
        if value.lower() == canonical.lower():
            return canonical
    raise InvalidValue(f"Member type must be 'User' or 'Group', got {value!r}.")


def member_ids_of_filter(expression: Filter) -> list[str] | None:
    """The ids selected by `value eq "a"` (optionally or-ed), or None for any other filter."""
    if isinstance(expression, Compare):
        if expression.op == EQ and expression.path.sub_attribute == "value" \
                and isinstance(expression.value, str):
            return [expression.value]
        return None
    if isinstance(expression, Or):
        left = member_ids_of_filter(expression.left)
        right = member_ids_of_filter(expression.right)
        if left is None or right is None:
            return None
        return left + right
    return None


class Membership:
    """Membership changes of one PATCH request, in operation order.

    `loaded` is the stored member list, or None when it was not loaded. Until a replace, the
    result is a pair of deltas against the stored state; after one it is the full new list.
    """

    def __init__(self, loaded: list[Member] | None) -> None:
        self._stored_ids = None if loaded is None else {m.value for m in loaded}
        self._current: dict[str, Member] | None = None if loaded is None else {
            m.value: Member(m.value, m.type, m.display) for m in loaded
        }
        self._replaced = False
        self._adds: dict[str, Member] = {}
        self._removes: dict[str, None] = {}

    def add(self, members: list[Member]) -> None:
        """Add members; one already present stays as it is (set semantics)."""
        for member in members:
            if self._current is not None:
                self._current.setdefault(member.value, member)
            if not self._replaced:
                self._removes.pop(member.value, None)
                self._adds.setdefault(member.value, member)

    def remove(self, ids: list[str]) -> None:
        """Remove members by id; an id that is not a member is not an error (Entra sends it)."""
        for member_id in ids:
            if self._current is not None:
                self._current.pop(member_id, None)
            if not self._replaced:
                self._adds.pop(member_id, None)
                self._removes[member_id] = None

    def replace(self, members: list[Member]) -> None:
        self._replaced = True
        self._current = {}
        self._adds.clear()
        self._removes.clear()
        self.add(members)

    def elements(self) -> list[dict]:
        """The current members as SCIM elements, for operations that must inspect them."""
        if self._current is None:
            raise MembersRequired("this operation needs the group's current members")
        return [m.to_dict() for m in self._current.values()]

    def set_elements(self, elements: list[dict]) -> None:
        """Adopt the result of a general operation on `elements()`.

        When it only dropped members, that stays a delta; anything else rewrites the list.
        """
        assert self._current is not None
        before = {member_id: m.to_dict() for member_id, m in self._current.items()}
        after = {e["value"]: e for e in elements if isinstance(e.get("value"), str)}
        if len(after) == len(elements) and all(before.get(k) == e for k, e in after.items()):
            self.remove([member_id for member_id in before if member_id not in after])
        else:
            self.replace([member_from_element(e) for e in elements])

    def result(self) -> tuple[list[Member], list[str], list[Member] | None]:
        """(add_members, remove_members, replace_members) for `Change`.

        With the stored list known, adds of present members and removes of absent ones are
        dropped, so the result says exactly what changes.
        """
        if self._replaced:
            assert self._current is not None
            return [], [], list(self._current.values())
        adds = list(self._adds.values())
        removes = list(self._removes)
        if self._stored_ids is not None:
            adds = [m for m in adds if m.value not in self._stored_ids]
            removes = [i for i in removes if i in self._stored_ids]
        return adds, removes, None
