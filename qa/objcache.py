"""Values worked out once per live object: a scorecard rule's prepared phrases, a rule's languages, a model's
compiled arrays. Keyed by identity (a pydantic rule with list fields cannot be hashed), and holding the object, so
that its id is not reused by another object while the value is kept."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class PerObject(Generic[V]):
    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._values: dict[int, tuple[object, Hashable, V]] = {}

    def get(self, obj: object, make: Callable[[], V], key: Hashable = None) -> V:
        """The value for ``obj`` (and ``key``: what else it depends on), made by ``make()`` the first time."""
        hit = self._values.get(id(obj))
        if hit is None or hit[0] is not obj or hit[1] != key:
            if hit is None and len(self._values) >= self.limit:  # a new object, and full: start again
                self._values.clear()
            hit = self._values[id(obj)] = (obj, key, make())
        return hit[2]
