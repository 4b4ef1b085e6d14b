"""Query plans: the ids a filter may match, as index answers not yet combined.

A plan bounds its candidates before any set is intersected or joined, so the scan bound
(`Query.max_scan`) costs a few `len` calls and a refused filter combines nothing. Sets are
combined smallest first, and an `and` checks the larger side only against the smaller side's ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass


class Plan(ABC):
    """Candidate ids of a filter; `exact` when they are exactly its matches (else the evaluator
    checks each one)."""

    exact: bool

    @abstractmethod
    def bound(self) -> int:
        """The most ids `ids()` can give, known without combining anything."""

    @abstractmethod
    def ids(self) -> set[str]:
        """The candidates, as a set the caller owns (a plan gives them once)."""

    @abstractmethod
    def among(self, ids: set[str]) -> set[str]:
        """The candidates that are in `ids` (a new set): `ids` is the smaller side of an `and`."""


@dataclass(frozen=True)
class Answer(Plan):
    """An index answer already computed (`eq`, a prefix, a membership): a set of its own."""

    found: set[str]
    exact: bool = True

    def bound(self) -> int:
        return len(self.found)

    def ids(self) -> set[str]:
        return self.found

    def among(self, ids: set[str]) -> set[str]:
        return ids & self.found


@dataclass(frozen=True)
class Trigrams(Plan):
    """Ids in every posting of a substring pattern's trigrams: at most the smallest posting's."""

    postings: tuple[AbstractSet[str], ...]
    exact: bool = False

    def bound(self) -> int:
        return min(map(len, self.postings))

    def ids(self) -> set[str]:
        smallest, *rest = sorted(self.postings, key=len)
        return _narrow(set(smallest), rest)

    def among(self, ids: set[str]) -> set[str]:
        return _narrow(set(ids), sorted(self.postings, key=len))


@dataclass(frozen=True)
class Both(Plan):
    """`and` of two planned sides."""

    left: Plan
    right: Plan
    exact: bool

    def bound(self) -> int:
        return min(self.left.bound(), self.right.bound())

    def ids(self) -> set[str]:
        small, large = sorted((self.left, self.right), key=lambda plan: plan.bound())
        return large.among(small.ids())

    def among(self, ids: set[str]) -> set[str]:
        return self.right.among(self.left.among(ids))


@dataclass(frozen=True)
class Either(Plan):
    """`or` of two planned sides."""

    left: Plan
    right: Plan
    exact: bool

    def bound(self) -> int:
        return self.left.bound() + self.right.bound()

    def ids(self) -> set[str]:
        found = self.left.ids()
        found |= self.right.ids()
        return found

    def among(self, ids: set[str]) -> set[str]:
        return self.left.among(ids) | self.right.among(ids)


def _narrow(found: set[str], postings: Iterable[AbstractSet[str]]) -> set[str]:
    """`found` intersected in place with each posting in turn, stopping once it is empty."""
    for posting in postings:
        if not found:
            break
        found &= posting
    return found
