"""Group membership as two set maps, so each add or remove costs O(1) whatever the group size."""

from __future__ import annotations

from scimflask.model import Member


class Membership:
    """`group id -> {member id: Member}` and its inverse `member id -> {group ids}`."""

    def __init__(self) -> None:
        self._members: dict[str, dict[str, Member]] = {}
        self._groups_of: dict[str, set[str]] = {}

    def add(self, group_id: str, member: Member) -> None:
        """Add `member` unless present (a re-add keeps the stored entry). The store keeps
        `member` itself: callers hand in their own copies (`MemoryStorage._checked`)."""
        members = self._members.setdefault(group_id, {})
        if member.value not in members:
            members[member.value] = member
            self._groups_of.setdefault(member.value, set()).add(group_id)

    def remove(self, group_id: str, member_id: str) -> None:
        """Remove one membership row; removing an absent member is a no-op."""
        members = self._members.get(group_id)
        if members is None or members.pop(member_id, None) is None:
            return
        groups = self._groups_of[member_id]
        groups.discard(group_id)
        if not groups:
            del self._groups_of[member_id]

    def replace(self, group_id: str, members: list[Member]) -> None:
        """Make `members` the complete member list, touching only the rows that change."""
        wanted = {m.value: m for m in members}
        for member_id in [m for m in self._members.get(group_id, {}) if m not in wanted]:
            self.remove(group_id, member_id)
        for member in wanted.values():
            self.add(group_id, member)

    def members(self, group_id: str) -> list[Member]:
        """Copies of the members of `group_id`, in the order they were added."""
        return [Member(m.value, m.type, m.display) for m in self._members.get(group_id, {}).values()]

    def count(self, group_id: str) -> int:
        return len(self._members.get(group_id, ()))

    def member_ids(self, group_id: str) -> set[str]:
        return set(self._members.get(group_id, ()))

    def group_ids(self, member_id: str) -> set[str]:
        return set(self._groups_of.get(member_id, ()))

    def forget(self, id: str) -> None:
        """Drop every row naming `id`, as a group and as a member."""
        for member_id in list(self._members.get(id, {})):
            self.remove(id, member_id)
        self._members.pop(id, None)
        for group_id in list(self._groups_of.get(id, ())):
            self.remove(group_id, id)
