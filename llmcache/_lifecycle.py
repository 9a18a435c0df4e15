"""Closing models' clients, and starting empty after ``os.fork()``.

A model the cache lets go (``ttl``, ``maxsize``, ``clear``, a replaced provider, a build that
ends after ``close``) may still be in use: a request or a stream holds it. Its clients are
closed once nobody can use it any more:

- the built-in providers' clients close themselves when the model is garbage, each loop-bound
  pool on its own loop (:mod:`llmcache._loops`): exact, nothing to wait for;
- a provider of your own with ``close``/``aclose`` hooks is closed by :func:`retire` after a
  drain period (``close_dropped_after``, default 300 s), by one daemon thread for the process.
  The cache cannot see who still holds your model; a request outliving the period may fail.

After a fork the child has none of its parent's build threads, and must not share its parent's
HTTP clients and sockets, so every cache in the child drops them (never closed: closing could
write on the parent's connections). One at-fork hook serves every cache, through a ``WeakSet``:
creating and dropping any number of caches leaves fork time and memory flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import os
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ._builder import forget_builds
from ._store import Entry

__all__ = [
    "DEFAULT_CLOSE_DROPPED_AFTER",
    "aclose_entries",
    "close_entries",
    "retire",
    "track_for_fork",
]

DEFAULT_CLOSE_DROPPED_AFTER = 300.0
"""Seconds a dropped model of a provider with ``close``/``aclose`` hooks is left to the requests
still using it before its hooks run."""

logger = logging.getLogger("llmcache")


class _Forkable(Protocol):
    def _reset_after_fork(self) -> None: ...


_caches: weakref.WeakSet[Any] = weakref.WeakSet()
_caches_lock = threading.Lock()


def track_for_fork(cache: _Forkable) -> None:
    """Reset ``cache`` in every child forked while it exists."""
    with _caches_lock:
        _caches.add(cache)


def _reset_in_child() -> None:
    global _caches_lock, _drain
    _caches_lock = threading.Lock()  # the parent's may have been held by another thread
    _inherited_drains.append(_drain)  # the parent's models: kept, never closed here
    _drain = _Drain()  # its thread is the parent's; the models are the parent's to close
    forget_builds()
    for cache in list(_caches):
        cache._reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def close_entries(entries: list[Entry]) -> None:
    """Close each model with its provider's ``close`` hook; a failure is logged, not raised."""
    for entry in entries:
        hook = entry.provider.close
        if hook is not None:
            try:
                hook(entry.model)
            except Exception as exc:
                logger.warning("closing a model failed: %s", type(exc).__name__)


async def aclose_entries(entries: list[tuple[Entry, asyncio.AbstractEventLoop | None]]) -> None:
    """Close each model with ``aclose`` on its own loop (``None``: this one), else ``close``.

    A loop-bound model whose loop is closed is only dropped: nothing is left to close there.
    """
    current = asyncio.get_running_loop()
    for entry, bound_to in entries:
        provider = entry.provider
        try:
            if provider.aclose is None:
                if provider.close is not None:
                    provider.close(entry.model)
                continue
            loop = current if bound_to is None else bound_to
            if loop.is_closed():
                continue
            if loop is current:
                await provider.aclose(entry.model)
            elif loop.is_running():
                future = asyncio.run_coroutine_threadsafe(
                    _as_coroutine(provider.aclose(entry.model)), loop
                )
                await asyncio.wait_for(asyncio.wrap_future(future), 5.0)
        except Exception as exc:
            logger.warning("closing a model failed: %s", type(exc).__name__)


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


class _Drain:
    """Closes retired models when their drain period ends, in one daemon thread.

    The thread starts with the first model to close and ends once none is left: a process
    whose caches drop nothing (or only built-in models) never has it.
    """

    def __init__(self) -> None:
        self._ready = threading.Condition(threading.Lock())
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        with self._ready:
            heapq.heappush(self._due, (time.monotonic() + delay, next(self._order), action))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="llmcache-close-dropped", daemon=True
                )
                self._thread.start()
            else:
                self._ready.notify()

    def pending(self) -> int:
        with self._ready:
            return len(self._due)

    def _run(self) -> None:
        while True:
            with self._ready:
                while True:
                    if not self._due:
                        self._thread = None
                        return
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, action = heapq.heappop(self._due)
                        break
                    self._ready.wait(wait)
            with contextlib.suppress(Exception):
                action()


_drain = _Drain()
_inherited_drains: list[_Drain] = []


def retire(
    entries: list[tuple[Entry, asyncio.AbstractEventLoop | None]], after: float | None
) -> None:
    """Close dropped models once their drain period (``after`` seconds) ends; ``None``: never.

    Models whose clients close when collected need nothing. A per-loop model's ``aclose`` runs
    on its own loop if that loop still runs; otherwise ``close`` runs in the drain thread.
    """
    if after is None:
        return
    for entry, loop in entries:
        provider = entry.provider
        if provider.closed_when_collected or (provider.close is None and provider.aclose is None):
            continue
        loop_ref = None if loop is None else weakref.ref(loop)
        _drain.schedule(after, functools.partial(_close_retired, entry, loop_ref))


def _close_retired(entry: Entry, loop_ref: weakref.ref[asyncio.AbstractEventLoop] | None) -> None:
    provider = entry.provider
    loop = None if loop_ref is None else loop_ref()
    try:
        if provider.aclose is not None and loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(_as_coroutine(provider.aclose(entry.model)), loop)
        elif provider.close is not None:
            provider.close(entry.model)
        elif provider.aclose is not None and loop is None:
            asyncio.run(_as_coroutine(provider.aclose(entry.model)))
    except Exception as exc:
        logger.warning("closing a dropped model failed: %s", type(exc).__name__)
