"""The store: built models by key, with their bounds (``maxsize``, ``ttl``), per-loop keys, and
the counters :meth:`ModelCache.stats` reports.

``entries`` is a plain dict, read by hits without the lock (a dict lookup is atomic on every
CPython, free-threaded too) and changed only under the cache's lock. Its order is recency
when ``maxsize`` is set: a hit moves its key to the end. Hits are counted by an
``itertools.count``, whose ``next()`` is atomic (one C call under the GIL; a compare-and-swap
on free-threaded builds), so a hit takes no lock; so are the misses of callers that join a
running build.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ._keys import CacheKey, is_secret_name
from ._providers import Provider

__all__ = ["CacheStats", "Entry", "Store", "key_of"]

MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache. ``hits``/``misses`` count calls; the rest count builds."""

    hits: int
    """Calls answered by an already-built model."""
    misses: int
    """Calls that had to wait for a build (the one that started it and any that joined it)."""
    constructions: int
    """Factory runs that returned a model."""
    failures: int
    """Factory runs that raised."""
    in_flight: int
    """Builds running now (counted even across :meth:`ModelCache.clear`)."""
    construct_seconds: float
    """Total seconds spent in factory runs, successful or not."""
    size: int
    """Models held now."""
    evictions: int = 0
    """Models dropped by ``maxsize`` (least recently used) or ``ttl`` (expired)."""


class Counter:
    """A count that threads bump without a lock: ``itertools.count``'s ``next()`` is atomic."""

    __slots__ = ("_count", "_reads", "add")

    def __init__(self) -> None:
        self._count = itertools.count()
        self._reads = 0  # next() calls that read the count rather than add to it
        self.add: Any = self._count.__next__  # bound once: a call costs one C call

    def value(self) -> int:
        """The count (call it under a lock: reading takes one ``next()`` too)."""
        count = next(self._count) - self._reads
        self._reads += 1
        return count


class Entry:
    """A built model in the store. ``plain``: a hit needs no expiry check and no recency
    update (no ``ttl``, no ``maxsize``), so it may be served without the lock."""

    __slots__ = ("expires", "model", "plain", "provider")

    def __init__(self, model: Any, provider: Provider, expires: float | None) -> None:
        self.model = model
        self.provider = provider
        self.expires = expires
        self.plain = False


def key_of(store_key: Any) -> CacheKey:
    """The configuration of a store key (a per-loop key is ``(key, loop_ref)``)."""
    return store_key if isinstance(store_key, CacheKey) else store_key[0]


class Store:
    """Models and counters of one cache. Methods expect the cache's lock held."""

    def __init__(self) -> None:
        self.entries: dict[Any, Entry] = {}
        self.maxsize: int | None = None
        self.ttl: float | None = None
        self.warn_above: int | None = 32
        self._loop_keys: set[Any] = set()  # store keys bound to an event loop
        self.dropped: list[tuple[Any, Entry]] = []  # let go, not yet handed to retire()
        self.reset_counters()

    def reset_counters(self) -> None:
        self.hits = Counter()
        self.misses = Counter()
        self.constructions = 0
        self.failures = 0
        self.evictions = 0
        self.construct_seconds = 0.0
        self._warned = False

    def lookup(self, store_key: Any) -> Any:
        """The model (counting a hit, refreshing recency), or ``MISSING``; drops it if expired."""
        if self._loop_keys:
            self._drop_dead_loops()
        entry = self.entries.get(store_key)
        if entry is None:
            return MISSING
        if entry.expires is not None and time.monotonic() >= entry.expires:
            self.drop(store_key)
            return MISSING
        self.hits.add()
        self.touch(store_key)
        return entry.model

    def touch(self, store_key: Any) -> None:
        """Mark a key most recently used (only ``maxsize`` needs the order)."""
        if self.maxsize is not None:
            entry = self.entries.pop(store_key, None)
            if entry is not None:
                self.entries[store_key] = entry

    def put(self, store_key: Any, model: Any, provider: Provider) -> str | None:
        """Store a built model; return a warning to log, if any."""
        now = time.monotonic()
        expires = None if self.ttl is None else now + self.ttl
        if self.ttl is not None:  # keys never asked for again (rotated credentials) go too
            for expired in [
                k for k, e in self.entries.items() if e.expires is not None and now >= e.expires
            ]:
                self.drop(expired)
        self.entries.pop(store_key, None)  # a rebuilt key goes to the end
        entry = self.entries[store_key] = Entry(model, provider, expires)
        entry.plain = expires is None and self.maxsize is None
        if isinstance(store_key, tuple) and not isinstance(store_key, CacheKey):
            self._loop_keys.add(store_key)
        self.evict_over_maxsize()
        if self.warn_above is None or self._warned or len(self.entries) <= self.warn_above:
            return None
        self._warned = True
        return varying_kwarg_warning([key_of(k) for k in self.entries])

    def drop(self, store_key: Any, *, evicted: bool = True, retire: bool = True) -> None:
        """Remove a model; unless ``retire`` is false, keep it in :attr:`dropped` for the cache
        to close once nobody can use it (a request may be using it now)."""
        entry = self.entries.pop(store_key, None)
        self._loop_keys.discard(store_key)
        if entry is None:
            return
        if evicted:
            self.evictions += 1
        if retire:
            self.dropped.append((store_key, entry))

    def drop_provider(self, name: str) -> None:
        """A replaced provider's models: dropped, not evicted (no bound pushed them out)."""
        for store_key in [k for k in self.entries if key_of(k).provider == name]:
            self.drop(store_key, evicted=False)

    def take_dropped(self) -> list[tuple[Any, Entry]]:
        dropped, self.dropped = self.dropped, []
        return dropped

    def take_all(self) -> list[tuple[Any, Entry]]:
        """Remove and return every model, with its store key (and those already dropped)."""
        entries = self.take_dropped() + list(self.entries.items())
        self.entries.clear()
        self._loop_keys.clear()
        return entries

    def set_ttl(self, ttl: float | None) -> None:
        self.ttl = ttl
        expires = None if ttl is None else time.monotonic() + ttl
        for entry in self.entries.values():
            entry.expires = expires
        self.mark_plain()

    def set_maxsize(self, maxsize: int | None) -> None:
        self.maxsize = maxsize
        self.mark_plain()
        self.evict_over_maxsize()

    def mark_plain(self) -> None:
        plain = self.ttl is None and self.maxsize is None
        for entry in self.entries.values():
            entry.plain = plain

    def evict_over_maxsize(self) -> None:
        while self.maxsize is not None and len(self.entries) > self.maxsize:
            self.drop(next(iter(self.entries)))

    def _drop_dead_loops(self) -> None:
        for store_key in list(self._loop_keys):
            loop: asyncio.AbstractEventLoop | None = store_key[1]()
            if loop is None or loop.is_closed():  # its loop's shutdown closed its clients
                self.drop(store_key, evicted=False, retire=False)

    def after_fork(self) -> None:
        """In a forked child: forget the parent's models and its counts. The models are kept
        alive, never closed nor collected: a client's destructor closing its transports would
        unregister their sockets from the event loop's epoll set, which the child shares with
        the parent, and the parent's next request on them would never see its answer."""
        INHERITED.append((self.entries, self.dropped))
        self.entries = {}
        self._loop_keys = set()
        self.dropped = []
        self.reset_counters()


INHERITED: list[Any] = []
"""In a forked child, what the parent held: kept for the child's life, never released."""


def loop_store_key(key: Any, loop: asyncio.AbstractEventLoop) -> tuple[Any, Any]:
    """The store key of a per-loop model: dropped when the loop is gone."""
    return (key, weakref.ref(loop))


def check_number(name: str, value: Any, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def check_count(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")


def varying_kwarg_warning(keys: list[CacheKey]) -> str:
    """Name the kwarg whose values vary most: usually a per-request value keyed by mistake."""
    values: dict[str, set[Any]] = {}
    for key in keys:
        for name, value, kind in zip(key.names, key[1], key[2], strict=True):
            values.setdefault(name, set()).add((kind, value))
    if values:
        name, seen = max(values.items(), key=lambda item: len(item[1]))
        if len(seen) > 1:
            shown = "a secret" if is_secret_name(name) else name
            return (
                f"llmcache holds {len(keys)} model configurations; {shown} took {len(seen)} "
                "values: bind it per call instead of keying the cache on it"
            )
    return (
        f"llmcache holds {len(keys)} model configurations "
        f"({len({k.model_name for k in keys})} model names)"
    )
