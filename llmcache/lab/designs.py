"""The registry of cache designs: every way an app gets its chat model that the lab compares.

One :class:`Design` per entry of :data:`REGISTRY`, in the order tables and plots show them. An
experiment asks :func:`names` for the designs it shows and :func:`bind` for a design wired to a
constructor; it never branches on a design's name.

To add a design, touch this file only:

1. write its getter (a specimen users wrote goes in :mod:`llmcache.lab.baselines`, as written);
2. add ``Design(name, summary, binder, shown_in={...})`` to :data:`REGISTRY`, where ``binder``
   returns a :class:`Bound` (the sync API, the async API, and a start-up step if it has one);
3. put in ``shown_in`` the experiments that should show it: :data:`APP` (fresh SDK processes,
   N concurrent first requests), :data:`SCENARIOS` (in-process tasks, threads and loops of
   notebook 03; threads need a sync API), :data:`HIT_COST` (ns per hit of each API it has) and
   :data:`SOAK` (the example app under uvicorn for minutes, with churn: its API must take the
   model's kwargs).

Runs, tables, notebooks and the CLI pick it up from here. Baselines keep module-level state
(as the specimens do), so one binding of them is live at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import baselines

__all__ = [
    "APP",
    "HIT_COST",
    "REGISTRY",
    "SCENARIOS",
    "SOAK",
    "Bound",
    "Constructor",
    "Design",
    "bind",
    "design",
    "names",
]

APP = "app"
SCENARIOS = "scenarios"
HIT_COST = "hit_cost"
SOAK = "soak"

Constructor = Callable[..., Any]
"""``construct(model_name, **kwargs)``: the blocking build every design wraps (the model kwargs
of the app's call; only the hit-cost experiment passes any)."""


@dataclass(frozen=True)
class Bound:
    """A design wired to a constructor: what an app calls."""

    get: Callable[..., Any] | None
    """The sync API, ``get(model_name, **kwargs)``; None when the design is async only."""
    aget: Callable[..., Awaitable[Any]] | None
    """The async API, ``await aget(model_name, **kwargs)``; None when the design is sync only."""
    startup: Callable[[str], Awaitable[Any]] | None = None
    """What the app does in its lifespan before serving (warming), if anything."""

    async def model(self, model_name: str, **kwargs: Any) -> Any:
        """The model, as an async request handler gets it (a sync-only design is called inline,
        as such apps do); ``kwargs`` are the constructor's (part of the design's key)."""
        if self.aget is not None:
            return await self.aget(model_name, **kwargs)
        assert self.get is not None
        return self.get(model_name, **kwargs)


@dataclass(frozen=True)
class Design:
    name: str
    summary: str
    binder: Callable[[Constructor, str], Bound]
    shown_in: frozenset[str]


def _baseline(
    get: Callable[..., Any] | None = None,
    aget: Callable[..., Awaitable[Any]] | None = None,
) -> Callable[[Constructor, str], Bound]:
    """Bind a specimen of :mod:`baselines`, ``get(model_name, provider)`` (or ``aget``)."""

    def binder(construct: Constructor, provider: str) -> Bound:
        baselines.FACTORIES[provider] = construct
        baselines.fresh_process()  # state as right after import, as in a fresh app
        return Bound(
            get=functools.partial(get, provider=provider) if get else None,
            aget=functools.partial(aget, provider=provider) if aget else None,
        )

    return binder


def _alru_cache(construct: Constructor, provider: str) -> Bound:
    from async_lru import alru_cache  # a dev dependency: hit cost only, in the main venv

    @alru_cache(maxsize=None)
    async def aget(model_name: str, **kwargs: Any) -> Any:
        return construct(model_name, **kwargs)

    return Bound(get=None, aget=aget)


def _llmcache(*, warmed: bool) -> Callable[[Constructor, str], Bound]:
    def binder(construct: Constructor, provider: str) -> Bound:
        import llmcache

        cache = llmcache.ModelCache({provider: construct})

        async def startup(model_name: str) -> Any:
            return await cache.awarm([(model_name, provider)])

        return Bound(
            get=functools.partial(cache.get, provider=provider),
            aget=functools.partial(cache.aget, provider=provider),
            startup=startup if warmed else None,
        )

    return binder


REGISTRY: dict[str, Design] = {
    d.name: d
    for d in (
        Design(
            "dict",
            "a plain dict, no lock: the floor of a hit's cost",
            _baseline(get=baselines.get_model_dict),
            frozenset({HIT_COST}),
        ),
        Design(
            "no-cache",
            "a new client per request",
            _baseline(get=baselines.get_model_nocache),
            frozenset({APP, SOAK}),
        ),
        Design(
            "functools.cache",
            "the legacy sync API: builds on the caller's thread, once per racing thread",
            _baseline(get=baselines.get_model_functools),
            frozenset({APP, SCENARIOS, HIT_COST, SOAK}),
        ),
        Design(
            "asyncio.Lock",
            "the widely copied fix: a module-level asyncio.Lock around a blocking build",
            _baseline(aget=baselines.get_model_async_lock),
            frozenset({APP, SCENARIOS, HIT_COST, SOAK}),
        ),
        Design(
            "asyncio.Lock + to_thread",
            "the same lock, the build awaited in a thread",
            _baseline(aget=baselines.get_model_async_lock_thread),
            frozenset({SCENARIOS}),
        ),
        Design(
            "alru_cache (async-lru)",
            "async-lru's decorator around the blocking build",
            _alru_cache,
            frozenset({HIT_COST}),
        ),
        Design(
            "llmcache",
            "llmcache: single flight, built in a thread the cache owns",
            _llmcache(warmed=False),
            frozenset({APP, SCENARIOS, HIT_COST, SOAK}),
        ),
        Design(
            "llmcache-warmed",
            "llmcache, warmed in the app's start-up (warm_async) before serving",
            _llmcache(warmed=True),
            frozenset({APP}),
        ),
    )
}


def names(experiment: str) -> tuple[str, ...]:
    """The designs ``experiment`` shows, in registry order."""
    return tuple(d.name for d in REGISTRY.values() if experiment in d.shown_in)


def design(name: str) -> Design:
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown design {name!r}; expected one of {list(REGISTRY)}") from None


def bind(name: str, construct: Constructor, provider: str = "lab") -> Bound:
    """Design ``name`` wired to ``construct``, with fresh state."""
    return design(name).binder(construct, provider)
