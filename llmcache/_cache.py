"""The cache: one shared model per configuration, built once, in a thread the cache owns.

Design, in one paragraph: a single ``threading.Lock`` guards two dicts, key -> built model and
key -> *flight*. A flight is a ``concurrent.futures.Future`` plus the thread that fulfils it.
The first caller of a key creates the flight and starts a daemon thread that runs the factory;
every other caller, sync or async, in any thread or event loop, waits on that same future. Sync
callers block on ``Future.result()``; async callers get a future of their own loop, completed
through ``call_soon_threadsafe``, so no asyncio object is shared between loops or made at import,
a cancelled waiter never cancels the build, and the loop never runs the factory. The lock is held
only for dict operations, never during a build, so keys are independent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._keys import CacheKey
from ._providers import BUILTIN_PROVIDERS, Factory, infer_provider

__all__ = ["CacheStats", "ModelCache", "ModelSpec", "WarmSpec"]

logger = logging.getLogger("llmcache")


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counters of one cache. ``hits``/``misses`` count calls; the rest count builds."""

    hits: int
    """Calls answered by an already-built model."""
    misses: int
    """Calls that had to wait for a build (the one that started it and any that joined it)."""
    constructions: int
    """Factory runs that returned a model."""
    failures: int
    """Factory runs that raised."""
    in_flight: int
    """Builds running now."""
    construct_seconds: float
    """Total seconds spent in factory runs, successful or not."""
    size: int
    """Models held now."""


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model to build in :meth:`ModelCache.warm`."""

    model_name: str
    provider: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # kwargs may hold an API key: show only their names.
        names = sorted(self.kwargs)
        return f"ModelSpec({self.model_name!r}, provider={self.provider!r}, kwargs={names})"


WarmSpec = str | tuple[str, str | None] | Mapping[str, Any] | ModelSpec
"""A model name, a ``(model_name, provider)`` tuple, a mapping
``{"model_name": ..., "provider": ..., **kwargs}``, or a :class:`ModelSpec`."""


_MISSING = object()


class _Flight:
    """One build of one key, shared by every caller that arrives while it runs."""

    __slots__ = ("builder", "future", "key")

    def __init__(self, key: CacheKey) -> None:
        self.key = key
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.future.set_running_or_notify_cancel()  # a running future cannot be cancelled
        self.builder: int | None = None


class ModelCache:
    """A thread-safe, async-safe, single-flight cache of chat models with its own providers.

    ``get`` and ``aget`` share one store. ``slow_threshold`` is the build time in seconds above
    which a build is logged at WARNING instead of INFO.
    """

    def __init__(
        self,
        providers: Mapping[str, Factory] | None = None,
        *,
        slow_threshold: float = 2.0,
    ) -> None:
        if slow_threshold < 0:
            raise ValueError(f"slow_threshold must be >= 0, got {slow_threshold!r}")
        self.slow_threshold = slow_threshold
        self._lock = threading.Lock()
        self._providers: dict[str, Factory] = {}
        self._flights: dict[CacheKey, _Flight] = {}  # builds running now
        self._models: dict[CacheKey, Any] = {}  # built models
        self._in_flight = 0
        self._reset_counters()
        for name, factory in (BUILTIN_PROVIDERS if providers is None else providers).items():
            self.register_provider(name, factory)

    def _reset_counters(self) -> None:
        self._hits = 0
        self._misses = 0
        self._constructions = 0
        self._failures = 0
        self._construct_seconds = 0.0

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
            return tuple(sorted(self._providers))

    def register_provider(self, name: str, factory: Factory) -> None:
        """Register ``factory(model_name, **kwargs) -> model`` under ``name``.

        Re-registering a name replaces the factory and drops that provider's cached models
        (builds already running finish for their callers but are not cached).
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"provider name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise TypeError(f"factory for provider {name!r} must be callable")
        with self._lock:
            self._providers[name] = factory
            for store in (self._flights, self._models):
                for key in [k for k in store if k.provider == name]:
                    del store[key]

    # -- lookups ---------------------------------------------------------------------------

    def get(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """The model for this configuration, building it once if needed (blocks meanwhile)."""
        flight, model = self._join(model_name, provider, kwargs)
        if flight is None:
            return model
        if flight.builder == threading.get_ident():
            raise RuntimeError(
                f"the factory building {flight.key} asked the cache for the same model"
            )
        if _running_loop() is not None:
            logger.warning(
                "get_model(%r) blocks a running event loop while %s is built; "
                "use get_model_async()",
                model_name,
                flight.key,
            )
        return flight.future.result()

    async def aget(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """Like :meth:`get`, but waits without blocking the event loop.

        Cancelling this call (or timing it out) cancels only this wait: the build goes on and
        its model is cached for the other callers.
        """
        flight, model = self._join(model_name, provider, kwargs)
        if flight is None:
            return model
        return await _await_in_loop(flight.future)

    def warm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Build several models concurrently (e.g. at start-up); return them in order.

        Every build runs to its end; if any fail, an ``ExceptionGroup`` holds their errors.
        """
        futures = self._futures_for(specs)
        concurrent.futures.wait(futures)
        return _results_or_group(futures)

    async def awarm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Like :meth:`warm`, awaited without blocking the event loop."""
        futures = self._futures_for(specs)
        await asyncio.gather(*(_await_in_loop(f) for f in futures), return_exceptions=True)
        return _results_or_group(futures)

    def clear(self) -> None:
        """Drop every cached model and reset the counters (running builds are not cached)."""
        with self._lock:
            self._flights.clear()
            self._models.clear()
            self._reset_counters()

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            size = len(self._models)
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                constructions=self._constructions,
                failures=self._failures,
                in_flight=self._in_flight,
                construct_seconds=self._construct_seconds,
                size=size,
            )

    # -- internals -------------------------------------------------------------------------

    def _futures_for(self, specs: Iterable[WarmSpec]) -> list[concurrent.futures.Future[Any]]:
        """One future per spec: a running build's, or a done one for a model already built."""
        futures = []
        for spec in _parse_specs(specs):
            flight, model = self._join(spec.model_name, spec.provider, spec.kwargs)
            if flight is None:
                done: concurrent.futures.Future[Any] = concurrent.futures.Future()
                done.set_result(model)
                futures.append(done)
            else:
                futures.append(flight.future)
        return futures

    def _join(
        self, model_name: str, provider: str | None, kwargs: Mapping[str, Any]
    ) -> tuple[_Flight | None, Any]:
        """``(None, model)`` on a hit; else ``(flight, None)``, starting a build if none runs."""
        provider = self._provider_for(model_name, provider)
        key = CacheKey.build(provider, model_name, kwargs)
        with self._lock:
            model = self._models.get(key, _MISSING)
            if model is not _MISSING:
                self._hits += 1
                return None, model
            flight = self._flights.get(key)
            factory = self._providers.get(provider)
            if factory is not None:
                self._misses += 1
                if flight is not None:
                    return flight, None
                flight = _Flight(key)
                self._flights[key] = flight
                self._in_flight += 1
        if factory is None or flight is None:
            raise self._unknown_provider(provider)
        thread = threading.Thread(
            target=self._build,
            args=(flight, factory, model_name, dict(kwargs)),
            name=f"llmcache-build[{key}]",
            daemon=True,
        )
        thread.start()
        return flight, None

    def _provider_for(self, model_name: object, provider: object) -> str:
        """Validate the input; return the provider name (given or inferred)."""
        if not isinstance(model_name, str):
            raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
        if not model_name.strip():
            raise ValueError("model_name must not be empty")
        if provider is None:
            inferred = infer_provider(model_name)
            if inferred is None:
                raise ValueError(
                    f"cannot infer the provider of model {model_name!r}; pass provider=, "
                    f"one of {list(self.providers)}"
                )
            provider = inferred
        if not isinstance(provider, str):
            raise TypeError(f"provider must be a str or None, got {type(provider).__name__}")
        return provider

    def _unknown_provider(self, provider: str) -> ValueError:
        return ValueError(
            f"unknown provider {provider!r}; registered providers: {list(self.providers)}"
        )

    def _build(
        self, flight: _Flight, factory: Factory, model_name: str, kwargs: dict[str, Any]
    ) -> None:
        """Run in the cache's own thread: call the factory, record, fulfil the flight."""
        flight.builder = threading.get_ident()
        key = flight.key
        start = time.perf_counter()
        try:
            model = factory(model_name, **kwargs)
        except BaseException as exc:
            seconds = time.perf_counter() - start
            with self._lock:
                self._in_flight -= 1
                self._failures += 1
                self._construct_seconds += seconds
                if self._flights.get(key) is flight:
                    del self._flights[key]  # not cached: the next call tries again
            logger.warning(
                "building %s model %r failed after %.3f s: %s",
                key.provider,
                model_name,
                seconds,
                type(exc).__name__,
            )
            flight.future.set_exception(exc)
            return
        seconds = time.perf_counter() - start
        with self._lock:
            self._in_flight -= 1
            self._constructions += 1
            self._construct_seconds += seconds
            if self._flights.get(key) is flight:  # else cleared or re-registered meanwhile
                del self._flights[key]
                self._models[key] = model
        level = logging.WARNING if seconds > self.slow_threshold else logging.INFO
        logger.log(
            level,
            "built %s model %r in %.3f s%s",
            key.provider,
            model_name,
            seconds,
            f" (slower than {self.slow_threshold:g} s: warm it at start-up)"
            if level == logging.WARNING
            else "",
        )
        flight.future.set_result(model)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _await_in_loop(future: concurrent.futures.Future[Any]) -> Any:
    """Await a thread's future from this loop, without ever cancelling the thread's future.

    (``asyncio.wrap_future`` would propagate a waiter's cancellation to the shared future.)
    """
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()

    def transfer(done: concurrent.futures.Future[Any]) -> None:
        if waiter.cancelled():
            return
        exc = done.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(done.result())

    def on_done(done: concurrent.futures.Future[Any]) -> None:
        # RuntimeError: that loop has closed, so nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(transfer, done)

    future.add_done_callback(on_done)
    return await waiter


def _parse_specs(specs: Iterable[WarmSpec]) -> list[ModelSpec]:
    if isinstance(specs, str | Mapping | ModelSpec):
        raise TypeError(
            "specs must be an iterable of specs, e.g. a list: warm(['gemini-2.5-flash'])"
        )
    parsed = []
    for spec in specs:
        if isinstance(spec, ModelSpec):
            parsed.append(spec)
        elif isinstance(spec, str):
            parsed.append(ModelSpec(spec))
        elif isinstance(spec, tuple) and len(spec) == 2:
            parsed.append(ModelSpec(spec[0], spec[1]))
        elif isinstance(spec, Mapping):
            rest = dict(spec)
            if "model_name" not in rest:
                raise ValueError(f"a spec mapping needs 'model_name'; got keys {sorted(rest)}")
            name = rest.pop("model_name")
            parsed.append(ModelSpec(name, rest.pop("provider", None), rest))
        else:
            raise TypeError(
                "each spec must be a model name, a (model_name, provider) tuple, a mapping "
                f"with 'model_name', or a ModelSpec; got {type(spec).__name__}"
            )
    return parsed


def _results_or_group(futures: list[concurrent.futures.Future[Any]]) -> list[Any]:
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} of {len(futures)} models failed to build", errors)
    return [f.result() for f in futures]
