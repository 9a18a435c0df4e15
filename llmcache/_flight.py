"""A flight: one build of one key, shared by every caller that arrives while it runs.

Its outcome is one ``concurrent.futures.Future``, marked running when the flight is created so
nothing a waiter does can cancel it. Sync waiters block on ``result(timeout)``. Each async
waiter awaits a future of its own loop, kept in that loop's set; when the build ends, one
``call_soon_threadsafe`` per loop answers the whole set. A waiter that gives up (timeout,
cancellation) takes only its own future out: nothing it does reaches the build or the other
waiters, and nothing wakes before the build ends (or a waiter's own deadline).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import heapq
import math
import threading
import weakref
from typing import Any

from ._errors import BuildTimeoutError
from ._keys import CacheKey
from ._providers import Provider

__all__ = ["Flight"]


class Flight:
    """One build of one key."""

    __slots__ = (
        "_by_loop",
        "_claim",
        "_last",
        "_lock",
        "detached",
        "ended",
        "epoch",
        "future",
        "key",
        "provider",
        "store_key",
    )

    def __init__(self, key: CacheKey, store_key: Any, provider: Provider, epoch: int) -> None:
        self.key = key
        self.store_key = store_key
        self.provider = provider
        self.epoch = epoch
        self.detached = False  # its provider was replaced: answer its waiters, cache nothing
        self.ended = False  # set once the future holds the outcome
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.future.set_running_or_notify_cancel()  # from here on, cancel() is refused
        self._lock = threading.Lock()
        self._claim = threading.Lock()  # held by whoever finishes it: the build, or its starter
        # Each loop's waiting futures; a loop that is gone takes its set with it.
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopWaiters]
        self._by_loop = weakref.WeakKeyDictionary()
        self._last: _LoopWaiters | None = None  # strong only while the flight lives

    def claim(self) -> bool:
        """Whether the caller is the one to run and finish this flight (true once only)."""
        return self._claim.acquire(blocking=False)

    def finish(self, model: Any, error: BaseException | None) -> None:
        """Answer every waiter, sync and async (called once, by the build)."""
        if error is None:
            self.future.set_result(model)
        else:
            self.future.set_exception(error)
        self.ended = True

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
        if self.ended:  # (future.done() takes the future's Condition: slower)
            return self.future.result()
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[Any] = loop.create_future()
        waiters = self._loop_waiters(loop)
        waiters.add(mine, limit)
        try:
            if self.future.done():
                # It ended after the check above: this loop's set may have been answered
                # before ``mine`` joined it, and a set is answered once.
                return self.future.result()
            return await mine
        except _Expired:
            if self.future.done():
                return self.future.result()
            raise self._timeout(limit) from None
        finally:
            waiters.leave(mine)

    def waiting(self) -> int:
        """How many async waiters this flight holds now, in every loop."""
        with self._lock:
            return sum(len(waiters.futures) for waiters in self._by_loop.values())

    def _loop_waiters(self, loop: asyncio.AbstractEventLoop) -> _LoopWaiters:
        last = self._last
        if last is not None and last.loop is loop:  # most waiters: the loop of the one before
            return last
        with self._lock:
            waiters = self._by_loop.get(loop)
            if waiters is not None:
                self._last = waiters
                return waiters
            waiters = self._by_loop[loop] = _LoopWaiters(loop)
        self._last = waiters
        # Runs at once, in this thread, if the build has just ended.
        self.future.add_done_callback(
            functools.partial(_deliver, weakref.ref(loop), weakref.ref(waiters))
        )
        return waiters

    def _timeout(self, limit: float | None) -> BuildTimeoutError:
        return BuildTimeoutError(
            f"{self.key} was not built within build_timeout={limit:g} s; "
            "the build goes on and its model will be cached when it arrives"
        )


class _Expired(Exception):
    """A waiter's own timeout (told apart from a factory's ``TimeoutError``)."""


class _LoopWaiters:
    """One loop's waiters of one flight, and their deadlines.

    The deadlines are a heap of ``(deadline, order, future)`` with one loop timer, for the
    earliest: a loop timer per waiter would cost each one a heap push of a handle compared in
    Python. The heap drops waiters that left once they are most of it. Used from the loop's
    thread only.
    """

    __slots__ = ("__weakref__", "_deadlines", "_order", "_timer", "_timer_at", "futures", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.futures: set[asyncio.Future[Any]] = set()
        self._deadlines: list[tuple[float, int, asyncio.Future[Any]]] = []
        self._order = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf

    def add(self, mine: asyncio.Future[Any], limit: float | None) -> None:
        self.futures.add(mine)
        if limit is None:
            return
        deadline = self.loop.time() + limit
        self._order += 1
        heapq.heappush(self._deadlines, (deadline, self._order, mine))
        if deadline < self._timer_at:
            self._schedule()

    def leave(self, mine: asyncio.Future[Any]) -> None:
        """A waiter is done (answered, expired or cancelled)."""
        self.futures.discard(mine)
        if len(self._deadlines) > 2 * len(self.futures) + 4:  # mostly waiters gone: compact
            self._deadlines = [entry for entry in self._deadlines if not entry[2].done()]
            heapq.heapify(self._deadlines)

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = self._deadlines[0][0]
        self._timer = self.loop.call_at(self._timer_at, self._expire_due)

    def _expire_due(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = self.loop.time()
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, mine = heapq.heappop(self._deadlines)
            if not mine.done():
                mine.set_exception(_Expired())
        if self._deadlines:
            self._schedule()

    def answer(self, future: concurrent.futures.Future[Any]) -> None:
        """In the loop: answer every waiter still there; no deadline is left to watch."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf
        self._deadlines.clear()
        error = future.exception()
        for mine in list(self.futures):
            if mine.done():
                continue
            if error is not None:
                mine.set_exception(error)
            else:
                mine.set_result(future.result())


def _deliver(
    loop_ref: weakref.ref[asyncio.AbstractEventLoop],
    waiters_ref: weakref.ref[_LoopWaiters],
    future: concurrent.futures.Future[Any],
) -> None:
    """In the build thread: hand the outcome to a loop's waiters, if that loop still runs."""
    loop, waiters = loop_ref(), waiters_ref()
    if loop is None or waiters is None:
        return  # nobody waits there any more
    with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits there
        loop.call_soon_threadsafe(waiters.answer, future)
