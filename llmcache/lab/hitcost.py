"""Cost of a cache hit, in ns per call, for each design of the hit-cost experiment.

Every design is called as an app calls it (its sync and/or async API, see
:mod:`llmcache.lab.designs`) after one warm-up call, so each number is the price of the lookup
path only. Async APIs are awaited in a tight loop inside one running event loop, which adds the
await machinery they really cost.
"""

from __future__ import annotations

import functools

from . import baselines, designs
from .measure import ans_per_call, ns_per_call

__all__ = ["measure_hit_costs"]

MODEL_NAME, PROVIDER = "gemini-2.0-flash", "bench"


def measure_hit_costs(number: int = 100_000, repeat: int = 5) -> dict[str, list[float]]:
    """ns per hit of each design's APIs (``NAME sync``/``NAME async`` when it has both):
    ``repeat`` runs of ``number`` calls each."""
    model = object()
    results: dict[str, list[float]] = {}
    for name in designs.names(designs.HIT_COST):
        bound = designs.bind(name, lambda _name: model, PROVIDER)
        both = bound.get is not None and bound.aget is not None
        if bound.get is not None:
            get = functools.partial(bound.get, MODEL_NAME)
            get()  # the miss, before timing hits
            results[f"{name} sync" if both else name] = ns_per_call(get, number, repeat)
        if bound.aget is not None:
            aget = functools.partial(bound.aget, MODEL_NAME)
            results[f"{name} async" if both else name] = ans_per_call(aget, number, repeat)
        baselines.reset()
    return results
