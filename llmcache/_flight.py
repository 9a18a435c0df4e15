"""A flight: one build of one key, shared by every caller that arrives while it runs.

Its outcome is one ``concurrent.futures.Future``, marked running when the flight is created so
nothing a waiter does can cancel it. Sync waiters block on ``result(timeout)``. Async waiters
of one event loop share one asyncio future of that loop, completed through
``call_soon_threadsafe`` when the build ends, and each awaits it under ``shield`` with its own
timeout: cancelling a waiter cancels only that wait, and nothing wakes before the build ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
import weakref
from typing import Any

from ._errors import BuildTimeoutError
from ._keys import CacheKey
from ._providers import Provider

__all__ = ["Flight"]


class Flight:
    """One build of one key."""

    __slots__ = ("_by_loop", "_lock", "detached", "epoch", "future", "key", "provider", "store_key")

    def __init__(self, key: CacheKey, store_key: Any, provider: Provider, epoch: int) -> None:
        self.key = key
        self.store_key = store_key
        self.provider = provider
        self.epoch = epoch
        self.detached = False  # its provider was replaced: answer its waiters, cache nothing
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.future.set_running_or_notify_cancel()  # from here on, cancel() is refused
        self._lock = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Future[Any]]
        self._by_loop = weakref.WeakKeyDictionary()

    def finish(self, model: Any, error: BaseException | None) -> None:
        """Answer every waiter, sync and async (called once, by the build)."""
        if error is None:
            self.future.set_result(model)
        else:
            self.future.set_exception(error)

    def wait(self, timeout: float | None) -> Any:
        """Block until the build ends (or ``timeout``); its model, or its error raised."""
        try:
            return self.future.result(timeout)
        except TimeoutError:
            if self.future.done():  # the factory's own TimeoutError, or it just finished
                return self.future.result()
            raise self._timeout(timeout) from None

    async def wait_async(self, limit: float | None) -> Any:
        """Like :meth:`wait`, awaited without blocking the loop; cancelling it cancels only
        this wait."""
        if self.future.done():
            return self.future.result()
        shared = self._loop_future(asyncio.get_running_loop())
        try:
            if limit is None:
                return await asyncio.shield(shared)
            return await asyncio.wait_for(asyncio.shield(shared), limit)
        except TimeoutError:
            if self.future.done():
                return self.future.result()
            raise self._timeout(limit) from None

    def loops_waiting(self) -> int:
        """How many event loops hold a shared future of this flight (one per loop, however
        many tasks wait there)."""
        with self._lock:
            return len(self._by_loop)

    def _loop_future(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Any]:
        with self._lock:
            shared = self._by_loop.get(loop)
            if shared is not None:
                return shared
            shared = self._by_loop[loop] = loop.create_future()
        # Runs at once (in this thread) if the build has just ended.
        self.future.add_done_callback(
            functools.partial(_deliver, weakref.ref(loop), weakref.ref(shared))
        )
        return shared

    def _timeout(self, timeout: float | None) -> BuildTimeoutError:
        return BuildTimeoutError(
            f"{self.key} was not built within build_timeout={timeout:g} s; "
            "the build goes on and its model will be cached when it arrives"
        )


def _deliver(
    loop_ref: weakref.ref[asyncio.AbstractEventLoop],
    shared_ref: weakref.ref[asyncio.Future[Any]],
    future: concurrent.futures.Future[Any],
) -> None:
    """In the build thread: hand the outcome to a loop's waiters, if that loop still runs."""
    loop, shared = loop_ref(), shared_ref()
    if loop is None or shared is None:
        return  # nobody waits there any more
    with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits there
        loop.call_soon_threadsafe(_copy_outcome, future, shared)


def _copy_outcome(future: concurrent.futures.Future[Any], shared: asyncio.Future[Any]) -> None:
    if shared.done():
        return
    error = future.exception()
    if error is not None:
        shared.set_exception(error)
        shared.exception()  # retrieved: no "never retrieved" log if every waiter gave up
    else:
        shared.set_result(future.result())
