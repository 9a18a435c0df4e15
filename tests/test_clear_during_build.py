"""``clear()`` and ``register_provider()`` while a build runs: single flight and consistent
counters hold, and a replaced provider's running build is answered but never cached."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import CountingFactory, wait_until

from llmcache import ModelCache

pytestmark = pytest.mark.timeout(30)

ANSWER_WITHIN = 5.0


def _callers(
    cache: ModelCache, threads: int, tasks: int
) -> tuple[list[threading.Thread], list[Any]]:
    """``threads`` sync callers and one event loop with ``tasks`` async callers of ``m``."""
    results: list[Any] = []
    lock = threading.Lock()

    def sync_caller() -> None:
        model = cache.get("m", "fake")
        with lock:
            results.append(model)

    def loop_caller() -> None:
        async def main() -> list[Any]:
            return list(await asyncio.gather(*(cache.aget("m", "fake") for _ in range(tasks))))

        models = asyncio.run(main())
        with lock:
            results.extend(models)

    started = [threading.Thread(target=sync_caller, daemon=True) for _ in range(threads)]
    if tasks:
        started.append(threading.Thread(target=loop_caller, daemon=True))
    for t in started:
        t.start()
    return started, results


def _join_all(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(ANSWER_WITHIN)
    assert not any(t.is_alive() for t in threads), "a caller never got an answer"


def test_callers_arriving_after_clear_join_the_running_build() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    first, first_result = _callers(cache, threads=1, tasks=0)
    assert factory.started.wait(ANSWER_WITHIN)

    cache.clear()
    later, later_results = _callers(cache, threads=3, tasks=2)
    wait_until(lambda: cache.stats().misses == 5, "5 callers after clear()")
    gate.set()  # only now may the build end: every caller above arrived while it ran
    _join_all(first + later)

    assert factory.calls == 1
    models = first_result + later_results
    assert len(models) == 6
    assert all(m is models[0] for m in models)
    assert cache.get("m", "fake") is models[0]  # the build was cached after clear()


def test_counters_stay_consistent_through_clear_during_a_build() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    callers, _ = _callers(cache, threads=2, tasks=0)
    wait_until(lambda: cache.stats().misses == 2, "2 callers")

    cache.clear()
    during = cache.stats()
    gate.set()
    _join_all(callers)
    after = cache.stats()

    assert (during.misses, during.in_flight, during.size) == (0, 1, 0)
    # No build is counted without a miss counted since the same clear().
    assert after.constructions + after.failures <= after.misses
    assert after.in_flight == 0
    cache.get("m", "fake")
    assert cache.stats().hits == 1


def test_replacing_a_provider_during_a_build_answers_its_waiters_and_caches_nothing() -> None:
    gate = threading.Event()
    old = CountingFactory(gate=gate)
    cache = ModelCache({"fake": old})
    callers, old_models = _callers(cache, threads=2, tasks=2)
    wait_until(lambda: cache.stats().misses == 4, "4 callers of the old provider")

    new = CountingFactory()
    cache.register_provider("fake", new)
    fresh = cache.get("m", "fake")  # arrives after the replacement: built by the new factory
    gate.set()
    _join_all(callers)

    assert (old.calls, new.calls) == (1, 1)
    assert len(old_models) == 4
    assert all(m is old_models[0] for m in old_models)
    assert fresh is not old_models[0]
    assert cache.get("m", "fake") is fresh  # the old build, finished later, was not cached


def test_a_replaced_providers_late_model_is_not_cached() -> None:
    gate = threading.Event()
    old = CountingFactory(gate=gate)
    cache = ModelCache({"fake": old})
    callers, old_models = _callers(cache, threads=1, tasks=0)
    assert old.started.wait(ANSWER_WITHIN)

    new = CountingFactory()
    cache.register_provider("fake", new)
    gate.set()
    _join_all(callers)
    wait_until(lambda: cache.stats().in_flight == 0, "the old build to end")

    assert cache.stats().size == 0
    assert cache.get("m", "fake") is not old_models[0]
    assert new.calls == 1
