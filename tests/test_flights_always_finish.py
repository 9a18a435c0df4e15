"""Every waiter of a build, sync or async, gets the model or an error it can catch: never a hang,
never an error that stops its event loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CountingFactory, sync_callers, wait_until

import llmcache
from llmcache import ModelCache

# A regression hangs: fail it instead of stalling the suite.
pytestmark = pytest.mark.timeout(30)

ANSWER_WITHIN = 5.0  # seconds a waiter may take before the test calls it hung


def _join_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(ANSWER_WITHIN)
    hung = sum(t.is_alive() for t in threads)
    assert hung == 0, f"{hung} of {len(threads)} callers never got an answer"


def _assert_wrapped(error: object, original: BaseException) -> None:
    assert isinstance(error, llmcache.BuildAbortedError), repr(error)
    assert type(original).__name__ in str(error)
    assert error.__cause__ is original


# -- StopIteration, SystemExit, KeyboardInterrupt from a factory ------------------------------


async def test_stop_iteration_reaches_every_async_waiter_wrapped() -> None:
    gate = threading.Event()
    original = StopIteration("exhausted")
    cache = ModelCache({"fake": CountingFactory(gate=gate, fail=original)})

    tasks = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(5)]
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 5, "5 waiters")
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), ANSWER_WITHIN)

    for result in results:
        _assert_wrapped(result, original)


async def test_stop_iteration_reaches_awarm_wrapped() -> None:
    original = StopIteration()
    cache = ModelCache({"fake": CountingFactory(fail=original), "ok": CountingFactory()})

    with pytest.raises(ExceptionGroup) as group:
        await asyncio.wait_for(cache.awarm([("m", "fake"), ("m", "ok")]), ANSWER_WITHIN)

    (error,) = group.value.exceptions
    _assert_wrapped(error, original)
    assert cache.stats().size == 1  # the other model was still built and cached


def test_stop_iteration_reaches_sync_get_and_warm_wrapped() -> None:
    original = StopIteration()
    cache = ModelCache({"fake": CountingFactory(fail=original)})

    with pytest.raises(llmcache.BuildAbortedError) as info:
        cache.get("m", "fake")
    _assert_wrapped(info.value, original)
    with pytest.raises(ExceptionGroup) as group:
        cache.warm([("m", "fake")])
    assert isinstance(group.value.exceptions[0], llmcache.BuildAbortedError)


@pytest.mark.parametrize("original", [SystemExit(3), KeyboardInterrupt()], ids=type)
def test_exit_from_a_factory_reaches_async_waiters_wrapped_and_the_loop_runs_on(
    original: BaseException,
) -> None:
    gate = threading.Event()
    cache = ModelCache({"bad": CountingFactory(gate=gate, fail=original), "ok": CountingFactory()})

    async def main() -> tuple[list[Any], Any]:
        tasks = [asyncio.create_task(cache.aget("m", "bad")) for _ in range(3)]
        await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 3, "3 waiters")
        gate.set()
        results = await asyncio.wait_for(
            asyncio.gather(*tasks, return_exceptions=True), ANSWER_WITHIN
        )
        return results, await cache.aget("m", "ok")  # the same loop still serves requests

    try:
        results, other = asyncio.run(main())
    except BaseException as exc:
        pytest.fail(f"the event loop stopped with {type(exc).__name__}", pytrace=False)

    for result in results:
        _assert_wrapped(result, original)
    assert other is cache.get("m", "ok")


@pytest.mark.parametrize("original", [SystemExit(3), KeyboardInterrupt()], ids=type)
def test_exit_from_a_factory_reaches_sync_waiters_wrapped(original: BaseException) -> None:
    gate = threading.Event()
    cache = ModelCache({"bad": CountingFactory(gate=gate, fail=original)})

    threads, outcomes = sync_callers(cache, 3, "m", "bad")
    wait_until(lambda: cache.stats().misses == 3, "3 waiters")
    gate.set()
    _join_all(threads)

    assert len(outcomes) == 3
    for outcome in outcomes:
        _assert_wrapped(outcome, original)


# -- a logging handler or filter that raises -------------------------------------------------


class _RaisingHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("this log handler is broken")


class _RaisingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        raise RuntimeError("this log filter is broken")


@pytest.fixture(params=["handler", "filter"])
def broken_logging(request: pytest.FixtureRequest) -> Iterator[None]:
    """The cache's logger with a handler (or a filter) that raises on every record."""
    log = logging.getLogger("llmcache")
    level = log.level
    log.setLevel(logging.DEBUG)
    if request.param == "handler":
        handler = _RaisingHandler()
        log.addHandler(handler)
    else:
        log_filter = _RaisingFilter()
        log.addFilter(log_filter)
    try:
        yield
    finally:
        if request.param == "handler":
            log.removeHandler(handler)
        else:
            log.removeFilter(log_filter)
        log.setLevel(level)


@pytest.mark.usefixtures("broken_logging")
@pytest.mark.parametrize("fails", [False, True], ids=["built", "failed"])
def test_raising_logging_leaves_no_sync_waiter_hanging(fails: bool) -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate, fail=OSError("down") if fails else None)
    cache = ModelCache({"fake": factory})

    threads, outcomes = sync_callers(cache, 4, "m", "fake")
    wait_until(lambda: cache.stats().misses == 4, "4 waiters")
    gate.set()
    _join_all(threads)

    assert len(outcomes) == 4
    if fails:
        assert all(isinstance(o, OSError) and str(o) == "down" for o in outcomes)
    else:
        assert all(o is outcomes[0] for o in outcomes)
        assert cache.get("m", "fake") is outcomes[0]
    assert factory.calls == 1


@pytest.mark.usefixtures("broken_logging")
@pytest.mark.parametrize("fails", [False, True], ids=["built", "failed"])
async def test_raising_logging_leaves_no_async_waiter_hanging(fails: bool) -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate, fail=OSError("down") if fails else None)
    cache = ModelCache({"fake": factory})

    tasks = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(4)]
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 4, "4 waiters")
    gate.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), ANSWER_WITHIN)

    if fails:
        assert all(isinstance(r, OSError) and str(r) == "down" for r in results)
    else:
        assert all(r is results[0] and not isinstance(r, BaseException) for r in results)
    assert factory.calls == 1


# -- a build thread that cannot start -------------------------------------------------------


def test_a_build_thread_that_cannot_start_rolls_the_flight_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    factory = CountingFactory()
    cache = ModelCache({"fake": factory})
    go = threading.Event()
    outcomes: list[Any] = []
    lock = threading.Lock()

    def sync_joiner() -> None:
        assert go.wait(ANSWER_WITHIN)
        try:
            model = cache.get("m", "fake")
        except BaseException as exc:
            model = exc
        with lock:
            outcomes.append(model)

    def loop_joiner() -> None:
        assert go.wait(ANSWER_WITHIN)

        async def main() -> list[Any]:
            calls = (cache.aget("m", "fake") for _ in range(2))
            return list(await asyncio.gather(*calls, return_exceptions=True))

        results = asyncio.run(main())
        with lock:
            outcomes.extend(results)

    joiners = [threading.Thread(target=sync_joiner, daemon=True) for _ in range(3)]
    joiners.append(threading.Thread(target=loop_joiner, daemon=True))
    for t in joiners:
        t.start()

    start = threading.Thread.start
    refused: list[str] = []

    def start_or_refuse(thread: threading.Thread) -> None:
        if thread.name.startswith("llmcache-build") and not refused:
            refused.append(thread.name)
            go.set()  # let the other callers join the flight whose thread is starting
            wait_until(lambda: cache.stats().misses == 6, "5 callers joining the flight")
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_or_refuse)

    try:
        first: Any = cache.get("m", "fake")
    except BaseException as exc:
        first = exc
    _join_all(joiners)

    assert refused, "the cache never tried to start a build thread"
    assert isinstance(first, llmcache.BuildStartError), repr(first)
    assert isinstance(first.__cause__, RuntimeError)
    assert len(outcomes) == 5
    assert all(isinstance(o, llmcache.BuildStartError) for o in outcomes), outcomes
    assert cache.stats().in_flight == 0

    model = cache.get("m", "fake")  # the key is not stuck: the next caller builds it

    assert factory.calls == 1
    assert cache.get("m", "fake") is model
    stats = cache.stats()
    assert (stats.in_flight, stats.size, stats.constructions) == (0, 1, 1)
