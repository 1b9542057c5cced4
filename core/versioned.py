"""Caches that are only caches: emptied whenever the version of the truth they were read from moves."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """A mapping that empties itself whenever the generation moves on.

    A value is stored under the generation read *before* it was loaded, so a change committed
    while it was loading empties the cache on the next look instead of being masked."""

    def __init__(self, generation: Callable[[], object], max_items: int = 10_000):
        self._generation = generation
        self._max = max_items
        self._items: dict[K, V] = {}
        self._at: object = None
        self._lock = threading.Lock()

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, or ``load()`` stored under the generation read before loading."""
        value, at = self.lookup(key)
        if value is None:
            value = load()
            self.put(key, value, at)
        return value

    def lookup(self, key: K) -> tuple[V | None, object]:
        """(the cached value or None, the generation now): give that generation to :meth:`put`."""
        at = self._generation()
        with self._lock:
            if at != self._at:
                self._items.clear()
                self._at = at
            return self._items.get(key), at

    def put(self, key: K, value: V, at: object) -> None:
        """Store a value loaded at generation ``at``; dropped if the generation has moved since."""
        with self._lock:
            if self._at == at:
                if len(self._items) >= self._max:
                    self._items.clear()
                self._items[key] = value
