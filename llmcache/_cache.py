"""The cache: one shared model per configuration, built once, in a thread the cache owns.

One ``threading.Lock`` guards the store (key -> built model), the flights (key -> build
running now) and the providers; it is held only for dict operations, never during a build.
A hit takes no lock: it builds the key (:mod:`llmcache._keys`) and looks it up. The first
caller of a missing key publishes a flight (:mod:`llmcache._flight`) and starts a build
thread (:mod:`llmcache._builder`); every other caller, sync or async, in any thread or event
loop, waits on that flight, for at most ``build_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ._builder import building, log_build, start_build
from ._errors import ReentrantBuildError
from ._flight import Flight
from ._keys import CacheKey, canonical_values, mask_url_credentials
from ._lifecycle import (
    DEFAULT_CLOSE_DROPPED_AFTER,
    aclose_entries,
    close_entries,
    retire,
    track_for_fork,
)
from ._providers import BUILTIN_PROVIDERS, Factory, Provider
from ._registry import Registry, check_call
from ._specs import ModelSpec, WarmSpec, parse_specs, results_or_group
from ._store import (
    MISSING,
    CacheStats,
    Entry,
    Store,
    check_count,
    check_number,
    key_of,
    loop_store_key,
)

__all__ = [
    "DEFAULT_BUILD_TIMEOUT",
    "DEFAULT_CLOSE_DROPPED_AFTER",
    "CacheStats",
    "ModelCache",
    "ModelSpec",
    "WarmSpec",
]

logger = logging.getLogger("llmcache")

DEFAULT_BUILD_TIMEOUT = 120.0
"""Seconds a caller waits for a build by default. A cold Gemini client on a machine probing a
silent metadata server takes about 20 s; a wait that can never end (a factory waiting, through
another thread, on its own model) ends here with an error naming the key."""

_UNCHANGED: Any = object()


class ModelCache:
    """A thread-safe, async-safe, single-flight cache of chat models with its own providers.

    ``get`` and ``aget`` share one store.

    - ``slow_threshold``: build seconds above which a build is logged at WARNING, not INFO.
    - ``maxsize``: keep at most this many models, dropping the least recently used.
    - ``ttl``: rebuild a configuration this many seconds after it was built (rotating
      credentials).
    - ``build_timeout``: a waiter gives up after this many seconds (default 120; ``None``: never)
      with :class:`~llmcache.BuildTimeoutError` naming the key; the build goes on, and a model
      that arrives late is cached and served to later callers.
    - ``warn_above``: when more configurations than this are held, log one WARNING naming the
      kwarg whose values vary most (usually a per-request value keyed by mistake).

    - ``close_dropped_after``: seconds a dropped model of a provider with ``close``/``aclose``
      hooks is left to the requests still using it before the hooks run (default 300;
      ``None``: never).

    Dropped models (``maxsize``, ``ttl``, ``clear``, a replaced provider, a build that ends
    after :meth:`close`) are closed once nobody can use them: the built-in providers' clients
    when the model is garbage (a request or stream in progress holds it), a provider's own
    hooks after ``close_dropped_after``. :meth:`close`/:meth:`aclose` close every model now.
    """

    def __init__(
        self,
        providers: Mapping[str, Factory | Provider] | None = None,
        *,
        slow_threshold: float = 2.0,
        maxsize: int | None = None,
        ttl: float | None = None,
        build_timeout: float | None = DEFAULT_BUILD_TIMEOUT,
        warn_above: int | None = 32,
        close_dropped_after: float | None = DEFAULT_CLOSE_DROPPED_AFTER,
    ) -> None:
        self._lock = threading.Lock()
        self._token = object()  # names this cache's builds in a build thread's keys
        self._registry = Registry()
        self._store = Store()
        self._flights: dict[Any, Flight] = {}
        self._in_flight = 0
        self._epoch = 0  # bumped by clear(): a build started before counts before it
        self.slow_threshold = 2.0
        self.build_timeout: float | None = DEFAULT_BUILD_TIMEOUT
        self.close_dropped_after: float | None = DEFAULT_CLOSE_DROPPED_AFTER
        self.configure(
            slow_threshold=slow_threshold,
            maxsize=maxsize,
            ttl=ttl,
            build_timeout=build_timeout,
            warn_above=warn_above,
            close_dropped_after=close_dropped_after,
        )
        for name, factory in (BUILTIN_PROVIDERS if providers is None else providers).items():
            self.register_provider(name, factory)
        track_for_fork(self)

    @property
    def maxsize(self) -> int | None:
        return self._store.maxsize

    @property
    def ttl(self) -> float | None:
        return self._store.ttl

    @property
    def warn_above(self) -> int | None:
        return self._store.warn_above

    def configure(
        self,
        *,
        slow_threshold: float = _UNCHANGED,
        maxsize: int | None = _UNCHANGED,
        ttl: float | None = _UNCHANGED,
        build_timeout: float | None = _UNCHANGED,
        warn_above: int | None = _UNCHANGED,
        close_dropped_after: float | None = _UNCHANGED,
    ) -> None:
        """Change settings (see the class docstring); arguments left out stay as they are."""
        if slow_threshold is not _UNCHANGED:
            check_number("slow_threshold", slow_threshold, allow_zero=True)
        for name, count in (("maxsize", maxsize), ("warn_above", warn_above)):
            if count is not _UNCHANGED:
                check_count(name, count)
        if ttl is not _UNCHANGED and ttl is not None:
            check_number("ttl", ttl)
        if build_timeout is not _UNCHANGED and build_timeout is not None:
            check_number("build_timeout", build_timeout)
        if close_dropped_after is not _UNCHANGED and close_dropped_after is not None:
            check_number("close_dropped_after", close_dropped_after, allow_zero=True)
        with self._lock:
            if slow_threshold is not _UNCHANGED:
                self.slow_threshold = slow_threshold
            if maxsize is not _UNCHANGED:
                self._store.set_maxsize(maxsize)
            if ttl is not _UNCHANGED:
                self._store.set_ttl(ttl)
            if build_timeout is not _UNCHANGED:
                self.build_timeout = build_timeout
            if warn_above is not _UNCHANGED:
                self._store.warn_above = warn_above
            if close_dropped_after is not _UNCHANGED:
                self.close_dropped_after = close_dropped_after
        self._retire_dropped()

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"<ModelCache size={s.size} in_flight={s.in_flight} providers={list(self.providers)}>"
        )

    # -- providers -------------------------------------------------------------------------

    @property
    def providers(self) -> tuple[str, ...]:
        """Names of the registered providers, sorted."""
        with self._lock:
            return tuple(sorted(self._registry.providers))

    def provider_specs(self) -> dict[str, Provider]:
        """The registered providers by name (a copy)."""
        with self._lock:
            return dict(self._registry.providers)

    def register_provider(
        self,
        name: str,
        factory: Factory | Provider,
        *,
        per_loop: bool = False,
        prepare: Any = None,
        close: Any = None,
        aclose: Any = None,
    ) -> None:
        """Register ``factory(model_name, **kwargs) -> model`` under ``name``.

        ``per_loop=True`` declares that the model's async transport is bound to the event loop
        that first uses it: the cache then keeps one model per configuration and loop (for
        calls made inside a running loop), dropped when the loop is gone. ``prepare(model)``
        runs in the build thread after construction; ``close(model)``/``aclose(model)`` release
        its clients on :meth:`close`/:meth:`aclose`. A :class:`Provider` may be passed instead.

        Re-registering a name (or registering one that was an alias, such as
        ``google_genai``) replaces the factory: that provider's cached models are dropped,
        and builds already running finish for the callers waiting on them but are not cached
        (later callers build with the new factory).
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"provider name must be a non-empty string, got {name!r}")
        if ":" in name:
            raise ValueError(f"provider name must not contain ':', got {name!r}")
        if isinstance(factory, Provider):
            provider = factory
        else:
            if not callable(factory):
                raise TypeError(f"factory for provider {name!r} must be callable")
            for hook_name, hook in (("prepare", prepare), ("close", close), ("aclose", aclose)):
                if hook is not None and not callable(hook):
                    raise TypeError(f"{hook_name} for provider {name!r} must be callable")
            provider = Provider(factory, per_loop, prepare, close, aclose)
        with self._lock:
            self._registry.register(name, provider)
            for store_key in [k for k in self._flights if key_of(k).provider == name]:
                self._flights.pop(store_key).detached = True
            self._store.drop_provider(name)
        self._retire_dropped()

    # -- lookups ---------------------------------------------------------------------------

    def get(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """The model for this configuration, building it once if needed (blocks meanwhile)."""
        # The plain hit, inlined (a call costs about as much as the lookup): see _lookup.
        try:
            route = self._registry.routes[model_name, provider, tuple(kwargs)]
            if kwargs:
                values = route.getter(kwargs)  # type: ignore[misc]
                if route.single:
                    values = (values,)
                entry = self._store.entries[route.prefix, values, tuple(map(type, values))]
            else:
                entry = self._store.entries[route.key]
            if entry.plain and not route.per_loop:
                self._store.hits.add()
                return entry.model
        except Exception:  # not a plain hit: the lookup below answers or rejects it
            pass
        found = self._lookup(model_name, provider, kwargs)
        if found is MISSING or type(found) is Flight:
            flight, found = self._flight(found, model_name, provider, kwargs)
            if flight is not None:
                if _running_loop() is not None:
                    logger.warning(
                        "get_model(%r) blocks a running event loop while %s is built; "
                        "use get_model_async()",
                        mask_url_credentials(flight.key.model_name),
                        flight.key,
                    )
                return flight.wait(self.build_timeout)
        return found

    async def aget(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """Like :meth:`get`, but waits without blocking the event loop.

        Cancelling this call (or timing it out) cancels only this wait: the build goes on and
        its model is cached for the other callers.
        """
        # The plain hit, inlined as in get.
        try:
            route = self._registry.routes[model_name, provider, tuple(kwargs)]
            if kwargs:
                values = route.getter(kwargs)  # type: ignore[misc]
                if route.single:
                    values = (values,)
                entry = self._store.entries[route.prefix, values, tuple(map(type, values))]
            else:
                entry = self._store.entries[route.key]
            if entry.plain and not route.per_loop:
                self._store.hits.add()
                return entry.model
        except Exception:  # not a plain hit: the lookup below answers or rejects it
            pass
        found = self._lookup(model_name, provider, kwargs)
        if found is MISSING or type(found) is Flight:
            flight, found = self._flight(found, model_name, provider, kwargs)
            if flight is not None:
                return await flight.wait_async(self.build_timeout)
        return found

    def warm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Build several models concurrently (e.g. at start-up); return them in order.

        Every build runs to its end; if any fail, an ``ExceptionGroup`` holds their errors.
        """
        joined = [self._join(s.model_name, s.provider, s.kwargs) for s in parse_specs(specs)]
        outcomes: list[tuple[Any, BaseException | None]] = []
        for flight, model in joined:
            if flight is None:
                outcomes.append((model, None))
                continue
            try:
                outcomes.append((flight.wait(self.build_timeout), None))
            except Exception as exc:
                outcomes.append((None, exc))
        return results_or_group(outcomes)

    async def awarm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Like :meth:`warm`, awaited without blocking the event loop."""
        joined = [self._join(s.model_name, s.provider, s.kwargs) for s in parse_specs(specs)]
        timeout = self.build_timeout

        async def one(flight: Flight | None, model: Any) -> Any:
            return model if flight is None else await flight.wait_async(timeout)

        results = await asyncio.gather(*(one(f, m) for f, m in joined), return_exceptions=True)
        outcomes: list[tuple[Any, BaseException | None]] = [
            (None, r) if isinstance(r, BaseException) else (r, None) for r in results
        ]
        for _, error in outcomes:
            if error is not None and not isinstance(error, Exception):
                raise error  # this task was cancelled: not a build's failure
        return results_or_group(outcomes)

    def clear(self) -> None:
        """Drop every cached model (without closing it) and reset the counters.

        Builds running now go on: callers arriving after ``clear()`` join them (one build per
        key still), their models are cached when they finish, and their counts belong to the
        time before ``clear()``.
        """
        with self._lock:
            taken = self._store.take_all()
            self._store.reset_counters()
            self._epoch += 1
        self._retire(taken)

    def close(self) -> None:
        """Close every cached model's HTTP clients and drop the models; later calls build anew.

        Loop-bound clients are closed on their own loop while it runs (waited for, unless it
        is this thread's loop: there, use :meth:`aclose`); a closed loop's are just dropped.
        Builds running now are not cached: their callers get the model, and it is closed as a
        dropped model.
        """
        with self._lock:
            taken = self._store.take_all()
            self._detach_flights()
        close_entries([entry for _, entry in taken])

    async def aclose(self) -> None:
        """Like :meth:`close`, awaited: each loop-bound client is closed on its own loop."""
        with self._lock:
            taken = self._store.take_all()
            self._detach_flights()
        entries: list[tuple[Entry, asyncio.AbstractEventLoop | None]] = []
        for store_key, entry in taken:
            if isinstance(store_key, CacheKey):
                entries.append((entry, None))
                continue
            loop = store_key[1]()
            if loop is not None:  # else its loop is gone: nothing left to close there
                entries.append((entry, loop))
        await aclose_entries(entries)

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            store = self._store
            return CacheStats(
                hits=store.hits.value(),
                misses=store.misses.value(),
                constructions=store.constructions,
                failures=store.failures,
                in_flight=self._in_flight,
                construct_seconds=store.construct_seconds,
                size=len(store.entries),
                evictions=store.evictions,
            )

    # -- internals ---------------------------------------------------------------------------

    def _lookup(self, model_name: Any, provider: Any, kwargs: dict[str, Any]) -> Any:
        """Without a lock: the model on a plain hit (no expiry, recency or loop), the flight to
        wait on when that key's build runs, else ``MISSING`` (the full path decides)."""
        try:
            route = self._registry.routes[model_name, provider, tuple(kwargs)]
            if kwargs:
                values = route.getter(kwargs)  # type: ignore[misc]
                if route.single:
                    values = (values,)
                key = (route.prefix, values, tuple(map(type, values)))
            else:
                key = route.key
            entry = self._store.entries.get(key)
        except Exception:  # a call the full path answers or rejects (unhashable, NaN...)
            return MISSING
        store = self._store
        if entry is None:
            flight = self._flights.get(key)
            if flight is None or route.per_loop:  # a per-loop caller's flight is its loop's
                return MISSING
            building_now = building()
            if building_now and (self._token, flight.store_key) in building_now:
                return MISSING  # a re-entrant request: the full path refuses it
            store.misses.add()
            return flight
        if not entry.plain or route.per_loop:
            return MISSING
        store.hits.add()
        return entry.model

    def _flight(
        self, found: Any, model_name: Any, provider: Any, kwargs: Mapping[str, Any]
    ) -> tuple[Flight | None, Any]:
        """After :meth:`_lookup` found a flight or nothing: ``(flight, None)`` to wait on, or
        ``(None, model)`` when the full path finds the model."""
        if found is MISSING:
            return self._join(model_name, provider, kwargs)
        return found, None

    def _join(
        self, model_name: Any, provider: Any, kwargs: Mapping[str, Any]
    ) -> tuple[Flight | None, Any]:
        """``(None, model)`` on a hit; else ``(flight, None)``, starting a build if none runs."""
        check_call(model_name, provider)
        try:
            return self._join_or_start(model_name, provider, kwargs)
        finally:
            self._retire_dropped()

    def _join_or_start(
        self, model_name: Any, provider: Any, kwargs: Mapping[str, Any]
    ) -> tuple[Flight | None, Any]:
        names = tuple(kwargs)
        while True:
            with self._lock:
                route = self._registry.routes.get((model_name, provider, names))
                if route is None:
                    route = self._registry.route(model_name, provider, names)
            values, types = canonical_values(kwargs, route.names)
            key = CacheKey((route.prefix, values, types))
            loop = _running_loop() if route.per_loop else None
            store_key = key if loop is None else loop_store_key(key, loop)
            with self._lock:
                if route.generation != self._registry.generation:
                    continue  # a provider was registered meanwhile: resolve again
                model = self._store.lookup(store_key)  # may drop it, expired
                if model is not MISSING:
                    return None, model
                if (self._token, store_key) in building():
                    raise ReentrantBuildError(
                        f"the factory building {key} asked the cache for the same model"
                    )
                self._store.misses.add()
                flight = self._flights.get(store_key)
                if flight is not None:
                    return flight, None
                flight = Flight(key, store_key, route.provider, self._epoch)
                self._flights[store_key] = flight
                self._in_flight += 1
            start_build(flight, self._token, route.prefix[1], dict(kwargs), self._finish)
            return flight, None

    def _finish(
        self, flight: Flight, model: Any, error: BaseException | None, seconds: float, ran: bool
    ) -> None:
        """Record the outcome, publish the model, then answer every waiter (never raises
        before that)."""
        warning = None
        with self._lock:
            self._in_flight -= 1
            store = self._store
            if ran and flight.epoch == self._epoch:
                if error is None:
                    store.constructions += 1
                else:
                    store.failures += 1
                store.construct_seconds += seconds
            stored = False
            if self._flights.get(flight.store_key) is flight:
                del self._flights[flight.store_key]
                if error is None and not flight.detached:
                    warning = store.put(flight.store_key, model, flight.provider)
                    stored = True
            dropped = store.take_dropped()
        if error is None and not stored:  # served to its callers, never cached: let it go
            dropped.append((flight.store_key, Entry(model, flight.provider, None)))
        with contextlib.suppress(Exception):  # never leave anyone waiting
            self._retire(dropped)
        try:
            if ran:
                log_build(flight.key, seconds, error, self.slow_threshold)
            if warning is not None:
                logger.warning(warning)
        except Exception:  # a raising log handler must not leave anyone waiting
            pass
        finally:
            flight.finish(model, error)

    def _detach_flights(self) -> None:
        """(Under the lock) builds running now end uncached: later calls build anew."""
        for flight in self._flights.values():
            flight.detached = True
        self._flights.clear()

    def _retire_dropped(self) -> None:
        if self._store.dropped:
            with self._lock:
                dropped = self._store.take_dropped()
            self._retire(dropped)

    def _retire(self, dropped: list[tuple[Any, Entry]]) -> None:
        """Hand models the cache let go to :func:`retire`, with the loop of a per-loop one."""
        entries: list[tuple[Entry, asyncio.AbstractEventLoop | None]] = []
        for store_key, entry in dropped:
            loop = None if isinstance(store_key, CacheKey) else store_key[1]()
            entries.append((entry, loop))
        retire(entries, self.close_dropped_after)

    def _reset_after_fork(self) -> None:
        """In a forked child: no build threads, no lock holder, no parent's clients."""
        self._lock = threading.Lock()
        self._store.after_fork()
        self._flights = {}
        self._in_flight = 0
        self._epoch += 1


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
