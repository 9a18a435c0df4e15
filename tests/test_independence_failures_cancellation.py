"""Behaviours 3, 6 and 7: independent keys, one attempt per failure, cancellation-safe builds."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import CountingFactory, wait_until

from llmcache import ModelCache


async def test_slow_key_does_not_delay_another_key() -> None:
    gate = threading.Event()
    slow = CountingFactory(gate=gate)
    fast = CountingFactory()
    cache = ModelCache({"slow": slow, "fast": fast})

    slow_task = asyncio.create_task(cache.aget("a", "slow"))
    assert await asyncio.to_thread(slow.started.wait, 10)
    # "a" is still being built (its gate is shut); "b" must not wait for it.
    model_b = await asyncio.wait_for(cache.aget("b", "fast"), timeout=5)
    assert not slow_task.done()
    gate.set()
    model_a = await slow_task

    assert model_a is not model_b
    assert cache.stats().constructions == 2


def test_slow_key_does_not_delay_another_key_in_sync_callers() -> None:
    gate = threading.Event()
    slow = CountingFactory(gate=gate)
    cache = ModelCache({"slow": slow, "fast": CountingFactory()})
    waiter = threading.Thread(target=cache.get, args=("a", "slow"))
    waiter.start()
    assert slow.started.wait(timeout=10)

    cache.get("b", "fast")  # returns while "a" is blocked

    assert waiter.is_alive()
    gate.set()
    waiter.join(timeout=10)


async def test_failure_reaches_every_waiter_from_one_attempt_and_is_not_cached() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate, fail=RuntimeError("boom"))
    cache = ModelCache({"fake": factory})

    tasks = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(10)]
    thread_errors: list[BaseException] = []

    def sync_waiter() -> None:
        try:
            cache.get("m", "fake")
        except BaseException as exc:
            thread_errors.append(exc)

    threads = [threading.Thread(target=sync_waiter) for _ in range(3)]
    for t in threads:
        t.start()
    # Every caller has joined the one failing build before it may end.
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 13, "13 callers")
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for t in threads:
        t.join(timeout=10)

    assert factory.calls == 1
    assert all(isinstance(r, RuntimeError) and str(r) == "boom" for r in results)
    assert len(thread_errors) == 3
    assert all(isinstance(e, RuntimeError) for e in thread_errors)
    stats = cache.stats()
    assert (stats.failures, stats.constructions, stats.size, stats.in_flight) == (1, 0, 0, 0)

    factory.fail = None  # the next call tries again, and this time it is cached
    model = await cache.aget("m", "fake")
    assert factory.calls == 2
    assert await cache.aget("m", "fake") is model


async def test_timed_out_waiter_does_not_cancel_the_shared_build() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})

    patient = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(3)]
    scopes: list[asyncio.Timeout] = []

    async def impatient() -> None:
        async with asyncio.timeout(None) as scope:
            scopes.append(scope)
            await cache.aget("m", "fake")

    waiter = asyncio.create_task(impatient())
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 4, "4 callers")
    scopes[0].reschedule(asyncio.get_running_loop().time())  # it times out while joined
    with pytest.raises(TimeoutError):
        await waiter
    assert not any(p.done() for p in patient)
    gate.set()
    models = await asyncio.gather(*patient)

    assert factory.calls == 1
    assert all(m is models[0] for m in models)
    assert await cache.aget("m", "fake") is models[0]
    assert cache.stats().hits == 1


async def test_cancelling_every_waiter_still_caches_the_build() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})

    task = asyncio.create_task(cache.aget("m", "fake"))
    assert await asyncio.to_thread(factory.started.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.set()
    model = await cache.aget("m", "fake")

    assert factory.calls == 1
    assert cache.get("m", "fake") is model


def test_factory_asking_for_its_own_key_gets_an_error_not_a_deadlock() -> None:
    cache = ModelCache()

    def recursive(model_name: str) -> object:
        return cache.get(model_name, "self")

    cache.register_provider("self", recursive)
    with pytest.raises(RuntimeError, match="asked the cache for the same model"):
        cache.get("m", "self")
