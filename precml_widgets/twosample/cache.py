"""A small least-recently-used cache with pinned entries, for the explorer's per-session
results (a served app keeps one explorer per browser session: its caches must stay bounded)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from precml_widgets._checks import require_int

__all__ = ["BoundedCache"]

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """At most ``size`` unpinned entries; the least recently used one leaves first.

    Pinned entries (e.g. the study every session of a server shares) never leave and do not
    count towards ``size``. Safe to use from a worker thread and the event loop at once.

    Example:
        >>> cache = BoundedCache(2)
        >>> cache.put("shared", 0, pin=True)
        >>> for key in "abc":
        ...     cache.put(key, ord(key))
        >>> sorted(cache.keys()), cache.get("a")
        (['b', 'c', 'shared'], None)
    """

    def __init__(self, size: int = 8) -> None:
        self.size = require_int("size", size, low=1)
        self._entries: OrderedDict[Hashable, V] = OrderedDict()
        self._pinned: dict[Hashable, V] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value of ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            if key in self._pinned:
                return self._pinned[key]
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: V, *, pin: bool = False) -> None:
        """Store ``value`` under ``key``; unpinned entries beyond ``size`` leave, oldest first."""
        with self._lock:
            if pin:
                self._entries.pop(key, None)
                self._pinned[key] = value
                return
            if key in self._pinned:
                self._pinned[key] = value
                return
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._pinned or key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._pinned) + len(self._entries)

    def keys(self) -> list[Hashable]:
        """Every key, pinned first."""
        with self._lock:
            return [*self._pinned, *self._entries]
