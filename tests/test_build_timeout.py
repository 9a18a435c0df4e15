"""``build_timeout`` bounds every wait for a build; a waiter that gives up (a timeout, a
cancellation) leaves nothing behind on the build it waited for."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CountingFactory, sync_callers, wait_until

import llmcache
from llmcache import ModelCache

pytestmark = pytest.mark.timeout(30)

LIMIT = 0.2  # build_timeout under test, in seconds


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """Holds the factory until the test sets it (and always releases it at the end)."""
    event = threading.Event()
    yield event
    event.set()


def _late_model_is_cached(
    cache: ModelCache, factory: CountingFactory, gate: threading.Event
) -> None:
    """Documented behaviour: the build goes on, and its late model is cached and served."""
    gate.set()
    wait_until(lambda: cache.stats().size == 1, "the late model to be cached")
    model = cache.get("m", "fake")
    assert cache.get("m", "fake") is model
    assert factory.calls == 1
    assert cache.stats().hits == 2


def test_sync_get_gives_up_with_build_timeout_error(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)

    start = time.monotonic()
    with pytest.raises(llmcache.BuildTimeoutError) as info:
        cache.get("m", "fake")
    waited = time.monotonic() - start

    assert isinstance(info.value, TimeoutError)
    assert LIMIT / 2 <= waited < 5.0
    _late_model_is_cached(cache, factory, gate)


def test_every_sync_waiter_gives_up(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)
    threads, errors = sync_callers(cache, 4, "m", "fake")
    for t in threads:
        t.join(5.0)

    assert len(errors) == 4
    assert all(isinstance(e, llmcache.BuildTimeoutError) for e in errors)
    assert factory.calls == 1
    _late_model_is_cached(cache, factory, gate)


async def test_aget_gives_up_with_build_timeout_error(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)

    with pytest.raises(llmcache.BuildTimeoutError):
        await asyncio.wait_for(cache.aget("m", "fake"), 5.0)

    await asyncio.to_thread(_late_model_is_cached, cache, factory, gate)


def test_warm_gives_up_with_build_timeout_error(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)

    with pytest.raises(ExceptionGroup) as group:
        cache.warm([("m", "fake")])

    assert [type(e) for e in group.value.exceptions] == [llmcache.BuildTimeoutError]
    _late_model_is_cached(cache, factory, gate)


async def test_awarm_gives_up_with_build_timeout_error(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)

    with pytest.raises(ExceptionGroup) as group:
        await asyncio.wait_for(cache.awarm([("m", "fake")]), 5.0)

    assert [type(e) for e in group.value.exceptions] == [llmcache.BuildTimeoutError]
    await asyncio.to_thread(_late_model_is_cached, cache, factory, gate)


def test_configure_sets_the_default_caches_build_timeout(gate: threading.Event) -> None:
    factory = CountingFactory(gate=gate)
    llmcache.register_provider("held", factory)
    llmcache.configure(build_timeout=LIMIT)
    try:
        with pytest.raises(llmcache.BuildTimeoutError):
            llmcache.get_model("m", "held")
    finally:
        llmcache.configure(build_timeout=None)
        gate.set()


def test_timeout_stays_a_model_kwarg(gate: threading.Event) -> None:
    """``timeout=`` is the SDKs' own request timeout: it reaches the factory, never the wait."""
    gate.set()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=LIMIT)

    model = cache.get("m", "fake", timeout=30)

    assert model.kwargs == {"timeout": 30}


def _track_futures(loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make ``loop.create_future`` remember a weak reference to each future it makes."""
    created: list[weakref.ref[asyncio.Future[Any]]] = []
    create = loop.create_future

    def tracked() -> asyncio.Future[Any]:
        future = create()
        created.append(weakref.ref(future))
        return future

    monkeypatch.setattr(loop, "create_future", tracked)
    return created


async def test_a_thousand_timed_out_waiters_leave_nothing_on_the_flight(
    gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    patient = asyncio.create_task(cache.aget("m", "fake"))
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 1, "the first waiter")
    created = _track_futures(asyncio.get_running_loop(), monkeypatch)
    scopes: list[asyncio.Timeout] = []

    async def impatient() -> None:
        async with asyncio.timeout(None) as scope:
            scopes.append(scope)
            await cache.aget("m", "fake")

    tasks = [asyncio.create_task(impatient()) for _ in range(1000)]
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 1001, "1,000 waiters")
    now = asyncio.get_running_loop().time()
    for scope in scopes:
        scope.reschedule(now)  # every waiter times out, while the build still runs
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(r, TimeoutError) for r in results)
    assert not patient.done()
    tasks.clear()
    results.clear()
    scopes.clear()
    await asyncio.sleep(0)  # the loop drops its handle on the finished gather
    gc.collect()
    alive = sum(ref() is not None for ref in created)
    assert len(created) >= 1000
    assert alive < 10, f"{alive} futures of waiters that gave up are kept alive"
    (flight,) = cache._flights.values()
    assert flight.waiting() == 1  # only the patient waiter
    gate.set()
    assert await asyncio.wait_for(patient, 5.0) is cache.get("m", "fake")
    assert factory.calls == 1


async def test_cancelled_waiters_leave_nothing_on_the_flight(
    gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    created = _track_futures(asyncio.get_running_loop(), monkeypatch)
    tasks = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(100)]
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 100, "100 waiters")

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    tasks.clear()
    await asyncio.sleep(0)

    gc.collect()
    alive = sum(ref() is not None for ref in created)
    assert len(created) >= 100
    assert alive < 10, f"{alive} futures of cancelled waiters are kept alive"
    (flight,) = cache._flights.values()
    assert flight.waiting() == 0
    gate.set()
    await asyncio.to_thread(wait_until, lambda: cache.stats().size == 1, "the build to end")
    assert factory.calls == 1


async def test_a_later_waiter_with_a_shorter_timeout_gives_up_first(gate: threading.Event) -> None:
    """Waiters of one loop share one timer, set for the earliest deadline, not the first's."""
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory}, build_timeout=30)
    patient = asyncio.create_task(cache.aget("m", "fake"))
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 1, "the first waiter")
    cache.configure(build_timeout=0.05)

    with pytest.raises(llmcache.BuildTimeoutError, match=r"build_timeout=0\.05"):
        await asyncio.wait_for(cache.aget("m", "fake"), 10)  # would fail after 10 s, not 30

    assert not patient.done()
    gate.set()
    assert await asyncio.wait_for(patient, 5.0) is cache.get("m", "fake")
