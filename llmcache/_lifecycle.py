"""Closing models' clients, and starting empty after ``os.fork()``.

After a fork the child has none of its parent's build threads, and must not share its parent's
HTTP clients and sockets, so every cache in the child drops them (never closed: closing could
write on the parent's connections). One at-fork hook serves every cache, through a ``WeakSet``:
creating and dropping any number of caches leaves fork time and memory flat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Awaitable
from typing import Any, Protocol

from ._builder import forget_builds
from ._store import Entry

__all__ = ["aclose_entries", "close_entries", "track_for_fork"]

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
    global _caches_lock
    _caches_lock = threading.Lock()  # the parent's may have been held by another thread
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
