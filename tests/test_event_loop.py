"""Behaviours 2 and 4: builds never run on an event loop, and no asyncio object outlives a loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

from conftest import CountingFactory, wait_until

import llmcache
from llmcache import ModelCache


async def _worst_heartbeat_gap(stop: asyncio.Event, interval: float = 0.001) -> float:
    worst = 0.0
    last = time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(interval)
        now = time.perf_counter()
        worst = max(worst, now - last)
        last = now
    return worst


async def test_loop_keeps_beating_while_a_blocking_factory_runs() -> None:
    factory = CountingFactory(delay=0.5)
    cache = ModelCache({"fake": factory})
    stop = asyncio.Event()
    heartbeat = asyncio.create_task(_worst_heartbeat_gap(stop))
    await asyncio.sleep(0.01)

    started = time.perf_counter()
    await cache.aget("m", "fake")
    elapsed = time.perf_counter() - started
    stop.set()
    worst_gap = await heartbeat

    assert elapsed >= 0.5  # the factory really blocked for 0.5 s ...
    # ... but not on this loop: run there, it would stall it the whole 0.5 s. (Half of that is
    # the margin: a loaded machine, free-threaded builds included, delays beats by tens of ms.)
    assert worst_gap < 0.25


async def test_factory_runs_in_a_cache_thread_not_on_the_loop_or_its_executor() -> None:
    seen: dict[str, object] = {}

    def factory(model_name: str) -> object:
        seen["thread"] = threading.current_thread().name
        try:
            asyncio.get_running_loop()
            seen["loop"] = True
        except RuntimeError:
            seen["loop"] = False
        return object()

    await ModelCache({"fake": factory}).aget("m", "fake")

    assert seen["loop"] is False
    assert str(seen["thread"]).startswith("llmcache-build")


def test_build_survives_the_end_of_the_loop_that_started_it() -> None:
    """asyncio.run shuts its default executor down; the cache's own thread goes on."""
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})

    async def start_then_leave() -> None:
        waiter = asyncio.create_task(cache.aget("m", "fake"))
        await asyncio.to_thread(factory.started.wait, 10)
        waiter.cancel()  # this loop gives up and ends while its build is held

    asyncio.run(start_then_leave())
    assert cache.stats().in_flight == 1  # the loop is gone; its build is not
    gate.set()
    model = asyncio.run(cache.aget("m", "fake"))

    assert factory.calls == 1
    assert cache.get("m", "fake") is model


def test_repeated_asyncio_run_calls_share_the_cache() -> None:
    factory = CountingFactory(delay=0.05)
    cache = ModelCache({"fake": factory})

    async def burst(name: str) -> list[object]:
        return list(await asyncio.gather(*(cache.aget(name, "fake") for _ in range(5))))

    first = asyncio.run(burst("a"))
    second = asyncio.run(burst("a"))
    third = asyncio.run(burst("b"))

    assert all(m is first[0] for m in first + second)
    assert all(m is third[0] for m in third)
    assert factory.calls == 2


def test_threads_each_running_their_own_loop_build_once() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    results: list[object] = []
    errors: list[BaseException] = []

    def run_loop() -> None:
        try:
            results.append(asyncio.run(cache.aget("m", "fake")))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run_loop) for _ in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.stats().misses == 4, "every loop to join the flight")
    gate.set()
    for t in threads:
        t.join(timeout=10)

    assert not errors
    assert not any(t.is_alive() for t in threads)
    assert factory.calls == 1
    assert len(results) == 4 and all(m is results[0] for m in results)


# pytest-asyncio gives each test its own loop: a module-level asyncio.Lock passes the first of
# these two tests and raises "bound to a different event loop" in the second.
async def _contend_on_default_cache() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    llmcache.register_provider("fake-loop", factory)
    calls = [asyncio.create_task(llmcache.get_model_async("m", "fake-loop")) for _ in range(5)]
    # All five wait on the one build (real contention), none arrives late to a mere hit.
    await asyncio.to_thread(wait_until, lambda: llmcache.cache_stats().misses == 5, "5 calls")
    gate.set()
    models = await asyncio.gather(*calls)
    assert factory.calls == 1
    assert all(m is models[0] for m in models)


async def test_contention_in_first_pytest_asyncio_loop() -> None:
    await _contend_on_default_cache()


async def test_contention_in_second_pytest_asyncio_loop() -> None:
    await _contend_on_default_cache()


def test_import_creates_no_asyncio_object() -> None:
    code = (
        "import asyncio, gc, llmcache\n"
        "kinds = (asyncio.AbstractEventLoop, asyncio.Future, asyncio.Lock, asyncio.Event,"
        " asyncio.Condition, asyncio.Semaphore, asyncio.Queue)\n"
        "found = [type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds)]\n"
        "print(found)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
