"""Cost of a cache hit, in ns per call, for each design of the hit-cost experiment.

Every design is called as an app calls it (its sync and/or async API, see
:mod:`llmcache.lab.designs`) after one warm-up call, so each number is the price of the lookup
path only. Async APIs are awaited in a tight loop inside one running event loop, which adds the
await machinery they really cost.

Two cases: no model kwargs, and the four a real app passes (:data:`KWARGS_CASES`), where the key
of each configuration must include them. Repeats are interleaved across designs and cases, so a
change in the machine's load hits all of them alike and their ratios hold.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from . import baselines, designs
from .measure import ans_per_call, ns_per_call

__all__ = ["BASELINES", "KWARGS_CASES", "measure_hit_costs"]

MODEL_NAME, PROVIDER = "gemini-2.0-flash", "bench"

KWARGS_CASES: dict[str, dict[str, Any]] = {
    "no kwargs": {},
    "4 kwargs": {
        "google_api_key": "lab-fake-google-key",
        "temperature": 0.2,
        "max_retries": 2,
        "timeout": 30,
    },
}
"""The model kwargs of each case (the API key is a fake: the lab has no real one)."""

BASELINES = {"sync": "functools.cache", "async": "asyncio.Lock"}
"""What each kind of API is compared with: ``functools.cache`` for a sync call, the asyncio.Lock
design (a dict lookup behind an await) for an async one."""


def measure_hit_costs(number: int = 100_000, repeat: int = 5) -> dict[str, Any]:
    """ns per hit of each design's APIs (``NAME sync``/``NAME async`` when it has both) in each
    case: ``{"cases": {case: {api: [ns per run] * repeat}}, "kinds": {api: "sync"|"async"},
    "baselines": BASELINES, "kwargs": {case: [names]}}``."""
    import llmcache

    model = object()

    def construct(_name: str, **_kwargs: Any) -> Any:
        return model

    apis: list[tuple[str, str, Callable[..., Any]]] = []
    for name in designs.names(designs.HIT_COST):
        bound = designs.bind(name, construct, PROVIDER)
        both = bound.get is not None and bound.aget is not None
        if bound.get is not None:
            apis.append((f"{name} sync" if both else name, "sync", bound.get))
        if bound.aget is not None:
            apis.append((f"{name} async" if both else name, "async", bound.aget))
    # The module-level API an app calls, on a fresh process-wide cache for the bench.
    apis.append(("get_model", "sync", functools.partial(llmcache.get_model, provider=PROVIDER)))
    aget = functools.partial(llmcache.get_model_async, provider=PROVIDER)
    apis.append(("get_model_async", "async", aget))
    cases: dict[str, dict[str, list[float]]] = {case: {} for case in KWARGS_CASES}
    previous = llmcache.default_cache
    llmcache.default_cache = llmcache.ModelCache({PROVIDER: construct})
    try:
        with warnings.catch_warnings():
            # async-lru clears itself (and says so) in each new loop: the warm-up call refills it
            warnings.filterwarnings("ignore", message="alru_cache detected event loop change")
            _measure(apis, cases, number, repeat)
    finally:
        llmcache.default_cache = previous
    baselines.reset()
    return {
        "cases": cases,
        "kinds": {label: kind for label, kind, _ in apis},
        "baselines": BASELINES,
        "kwargs": {case: sorted(kwargs) for case, kwargs in KWARGS_CASES.items()},
    }


def _measure(
    apis: list[tuple[str, str, Callable[..., Any]]],
    cases: dict[str, dict[str, list[float]]],
    number: int,
    repeat: int,
) -> None:
    for _ in range(repeat):
        for case, kwargs in KWARGS_CASES.items():
            for label, kind, api in apis:
                call = functools.partial(api, MODEL_NAME, **kwargs)
                if kind == "sync":
                    call()  # the miss (or a hit already), before timing hits
                    runs = ns_per_call(call, number, 1)
                else:
                    runs = ans_per_call(call, number, 1)  # warms up in its own loop first
                cases[case].setdefault(label, []).extend(runs)
