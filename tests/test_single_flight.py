"""Behaviour 1 and 5: one build per key, whoever asks and from wherever; one shared store."""

from __future__ import annotations

import asyncio
import threading

from conftest import CountingFactory, wait_until

from llmcache import ModelCache


def _cache(factory: CountingFactory) -> ModelCache:
    return ModelCache({"fake": factory})


async def test_concurrent_tasks_build_once_and_share_the_instance() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = _cache(factory)

    tasks = [asyncio.create_task(cache.aget("m", "fake")) for _ in range(10)]
    # The build may end only once every task has asked (a late one could just get a hit).
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 10, "10 callers")
    gate.set()
    models = await asyncio.gather(*tasks)

    assert factory.calls == 1
    assert cache.stats().hits == 0
    assert all(m is models[0] for m in models)


def test_concurrent_threads_build_once_and_share_the_instance() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = _cache(factory)
    results: list[object] = []

    def call() -> None:
        results.append(cache.get("m", "fake"))

    threads = [threading.Thread(target=call) for _ in range(10)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.stats().misses == 10, "10 callers")
    gate.set()  # every caller is waiting on the one build: none of them can get a mere hit
    for t in threads:
        t.join(timeout=10)

    assert factory.calls == 1
    assert cache.stats().hits == 0
    assert len(results) == 10
    assert all(m is results[0] for m in results)


def test_threads_and_tasks_in_several_loops_build_once() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = _cache(factory)
    results: list[object] = []
    lock = threading.Lock()

    def sync_caller() -> None:
        model = cache.get("m", "fake")
        with lock:
            results.append(model)

    def loop_caller() -> None:
        async def main() -> list[object]:
            return list(await asyncio.gather(*(cache.aget("m", "fake") for _ in range(5))))

        models = asyncio.run(main())
        with lock:
            results.extend(models)

    threads = [threading.Thread(target=sync_caller) for _ in range(4)]
    threads += [threading.Thread(target=loop_caller) for _ in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: cache.stats().misses == 4 + 3 * 5, "every caller")
    gate.set()  # every caller is waiting on the one build: none of them can get a mere hit
    for t in threads:
        t.join(timeout=10)

    assert factory.calls == 1
    assert cache.stats().hits == 0
    assert len(results) == 4 + 3 * 5
    assert all(m is results[0] for m in results)


async def test_sync_and_async_calls_share_one_store() -> None:
    factory = CountingFactory()
    cache = _cache(factory)

    async_first = await cache.aget("a", "fake")
    sync_first = await asyncio.to_thread(cache.get, "b", "fake")

    assert await asyncio.to_thread(cache.get, "a", "fake") is async_first
    assert await cache.aget("b", "fake") is sync_first
    assert factory.calls == 2


def test_module_level_sync_and_async_functions_share_one_store() -> None:
    import llmcache

    factory = CountingFactory()
    llmcache.register_provider("fake-shared", factory)
    sync_model = llmcache.get_model("m", "fake-shared")
    async_model = asyncio.run(llmcache.get_model_async("m", "fake-shared"))

    assert sync_model is async_model
    assert factory.calls == 1
    stats = llmcache.cache_stats()
    assert (stats.hits, stats.misses, stats.constructions) == (1, 1, 1)
