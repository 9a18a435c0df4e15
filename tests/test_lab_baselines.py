"""The specimens behave as the issue measured them, so the lab compares against the real thing."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import CountingFactory

from llmcache.lab import baselines
from llmcache.lab.measure import Heartbeat

pytestmark = pytest.mark.usefixtures("fresh_baselines")


def _install(factory: CountingFactory) -> None:
    baselines.FACTORIES["fake"] = lambda name: factory(name)


def test_functools_cache_builds_more_than_once_under_threads() -> None:
    factory = CountingFactory(delay=0.2)
    _install(factory)
    barrier = threading.Barrier(10)

    def call() -> None:
        barrier.wait()
        baselines.get_model_functools("m", "fake")

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert factory.calls > 1


async def test_asyncio_lock_design_blocks_the_loop_for_the_whole_build() -> None:
    _install(CountingFactory(delay=0.3))
    async with Heartbeat() as beat:
        await baselines.get_model_async_lock("m", "fake")
    assert beat.worst >= 0.25


def test_asyncio_lock_design_fails_on_a_second_event_loop_once_awaited_in_a_thread() -> None:
    factory = CountingFactory(delay=0.1)
    _install(factory)

    async def contend(name: str) -> None:
        await asyncio.gather(
            *(baselines.get_model_async_lock_thread(name, "fake") for _ in range(3))
        )

    asyncio.run(contend("a"))
    with pytest.raises(RuntimeError, match="bound to a different event loop"):
        asyncio.run(contend("b"))
