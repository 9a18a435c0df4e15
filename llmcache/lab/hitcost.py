"""Cost of a cache hit, in ns per call, for each design, measured in this process.

Every design is called as an app calls it (a function taking model name and provider) after one
warm-up call, so each number is the price of the lookup path only. Async designs are awaited in a
tight loop inside one running event loop, which adds the await machinery they really cost.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import baselines
from ._fresh import run_fresh

__all__ = ["DESIGNS", "measure_hit_costs"]

DESIGNS = (
    "dict",
    "functools.cache",
    "asyncio.Lock design",
    "alru_cache (async-lru)",
    "llmcache get_model",
    "llmcache get_model_async",
)


def _sync_ns(fn: Callable[[], Any], number: int, repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter_ns() - start) / number)
    return runs


def _async_ns(fn: Callable[[], Awaitable[Any]], number: int, repeat: int) -> list[float]:
    async def main() -> list[float]:
        await fn()
        runs = []
        for _ in range(repeat):
            start = time.perf_counter_ns()
            for _ in range(number):
                await fn()
            runs.append((time.perf_counter_ns() - start) / number)
        return runs

    return run_fresh(main)


def measure_hit_costs(number: int = 100_000, repeat: int = 5) -> dict[str, list[float]]:
    """ns per hit for each of :data:`DESIGNS`: ``repeat`` runs of ``number`` calls each."""
    from async_lru import alru_cache

    import llmcache

    model = object()
    name, provider = "gemini-2.0-flash", "bench"
    baselines.FACTORIES[provider] = lambda _name: model
    baselines.reset()
    cache = llmcache.ModelCache({provider: lambda _name, **_kw: model})
    plain: dict[tuple[str, str], object] = {(provider, name): model}

    def dict_get(model_name: str, provider_name: str) -> object:
        return plain[(provider_name, model_name)]

    @alru_cache(maxsize=None)
    async def alru_get(model_name: str, provider_name: str) -> object:
        return model

    cache.get(name, provider)
    baselines.get_model_functools(name, provider)
    results = {
        "dict": _sync_ns(lambda: dict_get(name, provider), number, repeat),
        "functools.cache": _sync_ns(
            lambda: baselines.get_model_functools(name, provider), number, repeat
        ),
        "asyncio.Lock design": _async_ns(
            lambda: baselines.get_model_async_lock(name, provider), number, repeat
        ),
        "alru_cache (async-lru)": _async_ns(lambda: alru_get(name, provider), number, repeat),
        "llmcache get_model": _sync_ns(lambda: cache.get(name, provider), number, repeat),
        "llmcache get_model_async": _async_ns(lambda: cache.aget(name, provider), number, repeat),
    }
    baselines.reset()
    return results
