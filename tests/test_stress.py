"""Behaviour 13: 16 threads and 4 event loops, 200 calls each over 8 keys, mixed sync and async."""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from conftest import CountingFactory

from llmcache import ModelCache

KEYS = [f"model-{i}" for i in range(8)]
CALLS = 200


@pytest.mark.timeout(60)
def test_mixed_threads_and_loops_build_each_key_exactly_once() -> None:
    factory = CountingFactory(delay=0.02)
    cache = ModelCache({"fake": factory})
    seen: dict[str, set[int]] = {k: set() for k in KEYS}
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(20, timeout=10)

    def record(key: str, model: object) -> None:
        with lock:
            seen[key].add(id(model))

    def sync_worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(CALLS):
                key = rng.choice(KEYS)
                record(key, cache.get(key, "fake"))
        except BaseException as exc:
            errors.append(exc)

    def loop_worker(seed: int) -> None:
        rng = random.Random(seed)

        async def one(key: str) -> None:
            if rng.random() < 0.25:  # some sync calls from inside the loop, via a thread
                record(key, await asyncio.to_thread(cache.get, key, "fake"))
            else:
                record(key, await cache.aget(key, "fake"))

        async def main() -> None:
            await asyncio.gather(*(one(rng.choice(KEYS)) for _ in range(CALLS)))

        try:
            start.wait()
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync_worker, args=(i,)) for i in range(16)]
    threads += [threading.Thread(target=loop_worker, args=(100 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=50)

    assert not any(t.is_alive() for t in threads), "a caller hung"
    assert errors == []
    assert factory.calls == 8
    assert all(len(ids) == 1 for ids in seen.values())
    stats = cache.stats()
    assert stats.constructions == 8
    assert stats.hits + stats.misses == 20 * CALLS
