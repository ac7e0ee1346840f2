"""A bounded cache of decisions already made for a token, never kept past the token's expiry.

Keyed by the raw identity value and the method/route ARN, so a hit costs one dict lookup and
one clock read. When full, the oldest entry goes first. No lock: each dict operation is
atomic, and a race can only evict one entry too many.
"""

from __future__ import annotations

import contextlib
from typing import Any
from typing import Generic
from typing import TypeVar

V = TypeVar("V")


class DecisionCache(Generic[V]):
    """Map a key to a value until a deadline (seconds since the epoch)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: dict[Any, tuple[float, V]] = {}

    def get(self, key: Any, now: float) -> V | None:
        """Return the live value for `key`, or None (an expired entry is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry[0]:
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: Any, value: V, until: float) -> None:
        """Keep `value` for `key` until `until`; evict the oldest entry when full."""
        if self.max_entries <= 0:
            return
        entries = self._entries
        if len(entries) >= self.max_entries and key not in entries:
            # Another thread may evict the same entry first; popping a gone key is harmless.
            with contextlib.suppress(StopIteration, RuntimeError):
                entries.pop(next(iter(entries)), None)
        entries[key] = (until, value)

    def clear(self) -> None:
        """Forget every decision."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
