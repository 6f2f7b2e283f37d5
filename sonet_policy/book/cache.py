"""One typed cache per rule book: what is derived from a book once and read many times.

A module that derives something from a book declares a :class:`Slot` for it, typed by what it holds, and asks
the book's cache for it with the function that builds it; the slot object is the key, so no two modules can
collide on a name and a type checker knows what comes back.

>>> COUNT: Slot[int] = Slot("count")
>>> cache = BookCache()
>>> cache.get(COUNT, lambda: 41 + 1), cache.get(COUNT, lambda: 0)
(42, 42)
>>> cache.peek(COUNT), cache.peek(Slot[int]("other"))
(42, None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """The key of one derived value (compared by identity; the name is for reading and repr)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class BookCache:
    """The derived values of one book, by slot. Built values are never invalidated: a book is immutable."""

    def __init__(self) -> None:
        self._values: dict[Slot[Any], Any] = {}

    def get(self, slot: Slot[T], build: Callable[[], T]) -> T:
        """The value of ``slot``, built by ``build()`` the first time (two threads may both build it; one wins)."""
        try:
            return self._values[slot]  # type: ignore[no-any-return]
        except KeyError:
            value = build()
            return self._values.setdefault(slot, value)  # type: ignore[no-any-return]

    def peek(self, slot: Slot[T]) -> T | None:
        """The value of ``slot`` if it was built, else ``None``."""
        return self._values.get(slot)

    def put(self, slot: Slot[T], value: T) -> T:
        """Set the value of ``slot`` (for a value built along with another); returns it."""
        self._values[slot] = value
        return value

    def clear(self) -> None:
        """Forget every derived value (a benchmark that times compiling again)."""
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
