"""The cache: one shared model per configuration, built once, in a thread the cache owns.

Design: one ``threading.Lock`` guards the store (key -> built model) and the *flights*
(key -> build running now). The first caller of a key publishes a flight and starts a daemon
thread that runs the factory; every other caller, sync or async, in any thread or event loop,
waits on that flight. The lock is held only for dict operations, never during a build.

Every waiter always gets an answer: the flight is completed in a ``finally``; errors that must
not be re-raised in every waiter (``SystemExit``, ``StopIteration``...) arrive wrapped in
:class:`~llmcache.BuildAbortedError`; a flight whose thread cannot start is rolled back;
waits that could never end (a factory asking, directly or through other builds and threads,
for a model that waits on it) raise :class:`~llmcache.ReentrantBuildError`; and
``build_timeout`` bounds every wait. Async waiters get a future of their own loop, completed
through ``call_soon_threadsafe`` and removed when they give up, so no asyncio object is shared
between loops, a cancelled waiter never cancels the build, and the loop never runs a factory.

A hit first looks up the call's raw arguments (with their types) in a memo, so the common case
costs about what ``functools.cache`` does; the memo is only an index into the store.

After ``os.fork()`` the child starts empty: its parent's build threads do not exist in it, and
its parent's HTTP clients and sockets must not be shared, so they are dropped (never closed,
since closing could write on the parent's connections).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import (
    BuildAbortedError,
    BuildStartError,
    BuildTimeoutError,
    ReentrantBuildError,
    UnknownProviderError,
)
from ._keys import CacheKey, is_secret_name
from ._langchain import (
    infer_langchain_provider,
    langchain_factory,
    resolve_provider,
    split_model,
    unknown_provider_error,
)
from ._providers import BUILTIN_PROVIDERS, Factory, Provider, infer_provider

# The hit path in C (ModelCache.get, llmcache.get_model), compiled at install time where a C
# compiler is; else pure Python: the same answers, a slower hit.
_CHitPath: Any = None
_CCallDefault: Any = None
if not os.environ.get("LLMCACHE_NO_EXTENSIONS"):
    with contextlib.suppress(ImportError):
        from ._hitpath import CallDefault as _CCallDefault  # noqa: F401  # for get_model
        from ._hitpath import HitPath as _CHitPath

__all__ = ["CacheStats", "ModelCache", "ModelSpec", "WarmSpec"]

logger = logging.getLogger("llmcache")

# Keys whose builds the current thread or task is part of: a request for one of them can never
# be answered. Build threads inherit the chain of the request that started them.
_BUILD_CHAIN: contextvars.ContextVar[frozenset[tuple[int, Any]]] = contextvars.ContextVar(
    "llmcache_build_chain", default=frozenset()
)
# Raw argument types a memoised hit may be keyed on: their == is value equality within a type.
_MEMO_TYPES = frozenset({str, int, float, bool, type(None), bytes})
_MEMO_LIMIT = 4096
_FIRST_CHECK_SECONDS = 0.02
_MAX_CHECK_SECONDS = 0.5
_UNCHANGED: Any = object()


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
    """Builds running now (counted even across :meth:`ModelCache.clear`)."""
    construct_seconds: float
    """Total seconds spent in factory runs, successful or not."""
    size: int
    """Models held now."""
    evictions: int = 0
    """Models dropped by ``maxsize`` (least recently used) or ``ttl`` (expired)."""


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


class _Entry:
    """A built model in the store."""

    __slots__ = ("expires", "loop_ref", "memoizable", "model", "provider")

    def __init__(
        self,
        model: Any,
        provider: Provider,
        expires: float | None,
        loop_ref: weakref.ref[asyncio.AbstractEventLoop] | None,
    ) -> None:
        self.model = model
        self.provider = provider
        self.expires = expires
        self.loop_ref = loop_ref
        # A memoised hit skips the lock: only for entries with no recency, expiry or loop.
        self.memoizable = expires is None and loop_ref is None


class _Flight:
    """One build of one key, shared by every caller that arrives while it runs."""

    __slots__ = (
        "async_waiters",
        "builder",
        "chain",
        "detached",
        "done",
        "epoch",
        "error",
        "key",
        "loop_ref",
        "model",
        "provider",
        "settled",
        "store_key",
    )

    def __init__(
        self,
        key: CacheKey,
        store_key: Any,
        provider: Provider,
        epoch: int,
        chain: frozenset[tuple[int, Any]],
        loop_ref: weakref.ref[asyncio.AbstractEventLoop] | None,
    ) -> None:
        self.key = key
        self.store_key = store_key
        self.provider = provider
        self.epoch = epoch
        self.chain = chain
        self.loop_ref = loop_ref
        self.done = threading.Event()
        self.settled = False
        self.model: Any = None
        self.error: BaseException | None = None
        self.builder: int | None = None  # the build thread's ident, once it runs
        self.detached = False  # its provider was replaced: answer its waiters, cache nothing
        self.async_waiters: dict[object, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]]
        self.async_waiters = {}

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.model


class ModelCache:
    """A thread-safe, async-safe, single-flight cache of chat models with its own providers.

    ``get`` and ``aget`` share one store.

    - ``slow_threshold``: build seconds above which a build is logged at WARNING, not INFO.
    - ``maxsize``: keep at most this many models, dropping the least recently used.
    - ``ttl``: rebuild a configuration this many seconds after it was built (rotating
      credentials).
    - ``build_timeout``: a waiter gives up after this many seconds with
      :class:`~llmcache.BuildTimeoutError`; the build goes on, and a model that arrives late
      is cached and served to later callers.
    - ``warn_above``: when more configurations than this are held, log one WARNING naming the
      kwarg whose values vary most (usually a per-request value keyed by mistake).

    Dropped models (``maxsize``, ``ttl``, ``clear``, a replaced provider) are not closed: a
    request may still be using them. :meth:`close`/:meth:`aclose` close them.
    """

    def __init__(
        self,
        providers: Mapping[str, Factory | Provider] | None = None,
        *,
        slow_threshold: float = 2.0,
        maxsize: int | None = None,
        ttl: float | None = None,
        build_timeout: float | None = None,
        warn_above: int | None = 32,
    ) -> None:
        self._lock = threading.Lock()
        self._providers: dict[str, Provider] = {}
        self._flights: dict[Any, _Flight] = {}  # builds running now
        self._models: OrderedDict[Any, _Entry] = OrderedDict()  # built models, oldest first
        # Raw call arguments, typed (True, 1 and 1.0 differ) -> entry, keyed in C.
        self._memo = functools.lru_cache(maxsize=None, typed=True)(self._fill_memo)
        # Calls without kwargs: model_name and provider can only be str/None, so untyped.
        self._memo_no_kwargs = functools.lru_cache(maxsize=None)(self._fill_memo)
        self._hits_before = 0
        self._loop_keys: set[Any] = set()  # store keys bound to an event loop
        self._waiting: dict[int, list[_Flight]] = {}  # thread ident -> flights it waits on
        self._in_flight = 0
        self._epoch = 0
        self._warned = False
        self.slow_threshold = 2.0
        self.maxsize: int | None = None
        self.ttl: float | None = None
        self.build_timeout: float | None = None
        self.warn_above: int | None = 32
        self.configure(
            slow_threshold=slow_threshold,
            maxsize=maxsize,
            ttl=ttl,
            build_timeout=build_timeout,
            warn_above=warn_above,
        )
        self._reset_counters()
        for name, factory in (BUILTIN_PROVIDERS if providers is None else providers).items():
            self.register_provider(name, factory)
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(ref))
        # Shadows the method with the same logic, the hit in C (not a subclass's own get).
        if _CHitPath is not None and type(self).get is ModelCache.get:
            self.__dict__["get"] = _CHitPath(
                self._memo, self._memo_no_kwargs, self._after_memo, self.get
            )

    def configure(
        self,
        *,
        slow_threshold: float = _UNCHANGED,
        maxsize: int | None = _UNCHANGED,
        ttl: float | None = _UNCHANGED,
        build_timeout: float | None = _UNCHANGED,
        warn_above: int | None = _UNCHANGED,
    ) -> None:
        """Change settings (see the class docstring); arguments left out stay as they are."""
        if slow_threshold is not _UNCHANGED:
            _check_number("slow_threshold", slow_threshold, allow_zero=True)
            self.slow_threshold = slow_threshold
        for name, count in (("maxsize", maxsize), ("warn_above", warn_above)):
            if count is not _UNCHANGED and count is not None and not _positive_int(count):
                raise ValueError(f"{name} must be a positive int or None, got {count!r}")
        if ttl is not _UNCHANGED and ttl is not None:
            _check_number("ttl", ttl)
        if build_timeout is not _UNCHANGED and build_timeout is not None:
            _check_number("build_timeout", build_timeout)
        with self._lock:
            if maxsize is not _UNCHANGED:
                self.maxsize = maxsize
                self._evict_over_maxsize()
            if ttl is not _UNCHANGED:
                self.ttl = ttl
                expires = None if ttl is None else time.monotonic() + ttl
                for entry in self._models.values():
                    entry.expires = expires
                    entry.memoizable = expires is None and entry.loop_ref is None
            if build_timeout is not _UNCHANGED:
                self.build_timeout = build_timeout
            if warn_above is not _UNCHANGED:
                self.warn_above = warn_above
            self._clear_memo()  # memoised hits assume no maxsize/ttl bookkeeping

    def _reset_counters(self) -> None:
        # Hits are the memo's own count (kept by functools in C) plus the slow path's.
        self._hits_before = -self._memo_hits()
        self._misses = 0
        self._constructions = 0
        self._failures = 0
        self._evictions = 0
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

        Re-registering a name replaces the factory: that provider's cached models are dropped,
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
            self._providers[name] = provider
            for skey in [k for k in self._flights if _key_of(k).provider == name]:
                self._flights.pop(skey).detached = True
            for skey in [k for k in self._models if _key_of(k).provider == name]:
                self._drop(skey)

    # -- lookups ---------------------------------------------------------------------------

    def get(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """The model for this configuration, building it once if needed (blocks meanwhile)."""
        # Where the C hit path is compiled, an instance's ``get`` is that: the same lookup in
        # C, then :meth:`_after_memo` for everything but a plain hit.
        try:
            entry = (
                self._memo(model_name, provider, **kwargs)
                if kwargs
                else self._memo_no_kwargs(model_name, provider)
            )
        except Exception as error:
            return self._after_memo(None, error, model_name, provider, **kwargs)
        if entry.memoizable:  # the memo counted this hit
            return entry.model
        return self._after_memo(entry, None, model_name, provider, **kwargs)

    def _after_memo(
        self,
        found: _Entry | None,
        error: Exception | None,
        /,
        model_name: str,
        provider: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """:meth:`get` after the memo answered with an entry dropped since (``found``) or
        raised ``error``: a miss, an unhashable argument, or the caller's mistake."""
        flight, model = self._join_after_memo(error, model_name, provider, kwargs)
        if flight is None:
            return model
        if _running_loop() is not None:
            logger.warning(
                "get_model(%r) blocks a running event loop while %s is built; "
                "use get_model_async()",
                flight.key.model_name,
                flight.key,
            )
        return self._wait(flight)

    def _join_after_memo(
        self, error: Exception | None, model_name: Any, provider: Any, kwargs: Mapping[str, Any]
    ) -> tuple[_Flight | None, Any]:
        """What :meth:`_join` answers once the memo raised ``error`` (None: it returned an
        entry dropped since it was memoised)."""
        if isinstance(error, _Unmemoized):  # _fill_memo already joined
            flight, model = error.args
            return flight, model
        if isinstance(error, TypeError):  # an unhashable argument: only the full key compares it
            return self._join(model_name, provider, kwargs)
        if error is not None:
            raise error
        # the memo counted a hit for an entry dropped since
        return self._join(model_name, provider, kwargs, memo_hit=True)

    async def aget(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
        """Like :meth:`get`, but waits without blocking the event loop.

        Cancelling this call (or timing it out) cancels only this wait: the build goes on and
        its model is cached for the other callers.
        """
        # The memo lookup is repeated from get() rather than shared: one more call with
        # **kwargs on every hit would cost about a third of the hit.
        try:
            entry = (
                self._memo(model_name, provider, **kwargs)
                if kwargs
                else self._memo_no_kwargs(model_name, provider)
            )
        except Exception as error:
            flight, model = self._join_after_memo(error, model_name, provider, kwargs)
        else:
            if entry.memoizable:  # the memo counted this hit
                return entry.model
            flight, model = self._join_after_memo(None, model_name, provider, kwargs)
        if flight is None:
            return model
        return await self._await(flight)

    def warm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Build several models concurrently (e.g. at start-up); return them in order.

        Every build runs to its end; if any fail, an ``ExceptionGroup`` holds their errors.
        """
        joined = [self._join(s.model_name, s.provider, s.kwargs) for s in _parse_specs(specs)]
        outcomes: list[tuple[Any, BaseException | None]] = []
        for flight, model in joined:
            if flight is None:
                outcomes.append((model, None))
                continue
            try:
                outcomes.append((self._wait(flight), None))
            except Exception as exc:
                outcomes.append((None, exc))
        return _results_or_group(outcomes)

    async def awarm(self, specs: Iterable[WarmSpec]) -> list[Any]:
        """Like :meth:`warm`, awaited without blocking the event loop."""
        joined = [self._join(s.model_name, s.provider, s.kwargs) for s in _parse_specs(specs)]

        async def one(flight: _Flight | None, model: Any) -> Any:
            return model if flight is None else await self._await(flight)

        results = await asyncio.gather(*(one(f, m) for f, m in joined), return_exceptions=True)
        outcomes: list[tuple[Any, BaseException | None]] = [
            (None, r) if isinstance(r, BaseException) else (r, None) for r in results
        ]
        for _, error in outcomes:
            if error is not None and not isinstance(error, Exception):
                raise error  # this task was cancelled: not a build's failure
        return _results_or_group(outcomes)

    def clear(self) -> None:
        """Drop every cached model (without closing it) and reset the counters.

        Builds running now go on: callers arriving after ``clear()`` join them (one build per
        key still), their models are cached when they finish, and their counts belong to the
        time before ``clear()``.
        """
        with self._lock:
            for skey in list(self._models):
                self._drop(skey, evicted=False)
            self._clear_memo()
            self._epoch += 1
            self._warned = False
            self._reset_counters()

    def close(self) -> None:
        """Close every cached model's HTTP clients and drop the models; later calls build anew.

        Loop-bound clients are closed on their own loop while it runs (waited for, unless it
        is this thread's loop: there, use :meth:`aclose`); a closed loop's are just dropped.
        """
        for entry in self._take_all():
            hook = entry.provider.close
            if hook is not None:
                try:
                    hook(entry.model)
                except Exception as exc:
                    logger.warning("closing a model failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        """Like :meth:`close`, awaited: each loop-bound client is closed on its own loop."""
        current = asyncio.get_running_loop()
        for entry in self._take_all():
            provider = entry.provider
            try:
                if provider.aclose is None:
                    if provider.close is not None:
                        provider.close(entry.model)
                    continue
                loop = entry.loop_ref() if entry.loop_ref is not None else current
                if loop is None or loop.is_closed():
                    continue  # its loop is gone: nothing left to close there
                if loop is current:
                    await provider.aclose(entry.model)
                elif loop.is_running():
                    future = asyncio.run_coroutine_threadsafe(
                        _as_coroutine(provider.aclose(entry.model)), loop
                    )
                    await asyncio.wait_for(asyncio.wrap_future(future), 5.0)
            except Exception as exc:
                logger.warning("closing a model failed: %s", type(exc).__name__)

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            return CacheStats(
                hits=self._hits_before + self._memo_hits(),
                misses=self._misses,
                constructions=self._constructions,
                failures=self._failures,
                in_flight=self._in_flight,
                construct_seconds=self._construct_seconds,
                size=len(self._models),
                evictions=self._evictions,
            )

    # -- internals: joining a flight ---------------------------------------------------------

    def _memo_hits(self) -> int:
        memo: Any = self.__dict__.get("_memo")  # None while __init__ runs
        if memo is None:
            return 0
        return int(memo.cache_info().hits + self._memo_no_kwargs.cache_info().hits)

    def _clear_memo(self) -> None:
        """Forget every memoised call (lock held), keeping the hits it counted."""
        self._hits_before += self._memo_hits()
        self._memo.cache_clear()
        self._memo_no_kwargs.cache_clear()

    def _fill_memo(self, model_name: Any, provider: Any = None, **kwargs: Any) -> _Entry:
        """Called by the memo on a raw-argument miss: the entry to remember for these raw
        arguments, or :class:`_Unmemoized` carrying what :meth:`_join` found."""
        flight, found = self._join(model_name, provider, kwargs, for_memo=True)
        if isinstance(found, _Entry):
            if self._memo.cache_info().currsize >= _MEMO_LIMIT:
                self._clear_memo()
            return found
        raise _Unmemoized(flight, found)

    def _join(
        self,
        model_name: Any,
        provider: Any,
        kwargs: Mapping[str, Any],
        *,
        for_memo: bool = False,
        memo_hit: bool = False,
    ) -> tuple[_Flight | None, Any]:
        """``(None, model)`` on a hit; else ``(flight, None)``, starting a build if none runs.

        ``for_memo``: on a hit that may be memoised, return ``(None, entry)``.
        """
        provider_name, model_name = self._resolve(model_name, provider)
        key = CacheKey.build(provider_name, model_name, kwargs)
        chain = _BUILD_CHAIN.get()
        with self._lock:
            if memo_hit:  # the memo counted a hit for an entry dropped since: not a hit
                self._hits_before -= 1
            spec = self._providers.get(provider_name)
            if spec is None:  # one of LangChain's providers: registered on first use
                factory = langchain_factory(provider_name)
                if factory is None:
                    raise self._unknown_provider(provider_name, locked=True)
                spec = self._providers[provider_name] = Provider(factory)
            loop_ref = _running_loop_ref() if spec.per_loop else None
            skey = key if loop_ref is None else (key, loop_ref)
            if self._loop_keys:
                self._drop_dead_loops()
            entry = self._models.get(skey)
            if entry is not None:
                if entry.expires is not None and time.monotonic() >= entry.expires:
                    self._drop(skey)
                else:
                    if self.maxsize is not None:
                        self._models.move_to_end(skey)
                    self._hits_before += 1
                    memoize = for_memo and self.maxsize is None and entry.memoizable
                    if memoize and _memoizable(kwargs):
                        return None, entry
                    return None, entry.model
            if (id(self), skey) in chain:
                raise ReentrantBuildError(
                    f"the factory building {key} asked the cache for the same model"
                )
            self._misses += 1
            flight = self._flights.get(skey)
            if flight is not None:
                return flight, None
            flight = _Flight(key, skey, spec, self._epoch, chain | {(id(self), skey)}, loop_ref)
            self._flights[skey] = flight
            self._in_flight += 1
        self._start(flight, model_name, dict(kwargs))
        return flight, None

    def _resolve(self, model_name: object, provider: object) -> tuple[str, str]:
        """Validate the input; return ``(provider, model_name)`` (given, parsed or inferred)."""
        if not isinstance(model_name, str):
            raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
        if not model_name.strip():
            raise ValueError("model_name must not be empty")
        if provider is not None and not isinstance(provider, str):
            raise TypeError(f"provider must be a str or None, got {type(provider).__name__}")
        if provider is None:  # "provider:model", LangChain's convention
            model_name, provider = split_model(model_name, None, self._providers)
        if provider is None:
            inferred = infer_provider(model_name) or infer_langchain_provider(model_name)
            if inferred is None:
                raise UnknownProviderError(
                    f"cannot infer the provider of model {model_name!r}; pass provider=, "
                    f"one of {list(self.providers)}"
                )
            provider = inferred
        assert isinstance(provider, str)
        return resolve_provider(provider, self._providers), model_name

    def _unknown_provider(self, provider: str, *, locked: bool = False) -> UnknownProviderError:
        names = sorted(self._providers) if locked else list(self.providers)
        return unknown_provider_error(provider, names)

    # -- internals: building ------------------------------------------------------------------

    def _start(self, flight: _Flight, model_name: str, kwargs: dict[str, Any]) -> None:
        thread = threading.Thread(
            target=self._build,
            args=(flight, model_name, kwargs),
            name=f"llmcache-build[{flight.key}]",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException as exc:
            error = BuildStartError(
                f"could not start the thread that builds {flight.key}: {type(exc).__name__}"
            )
            error.__cause__ = exc
            self._finish(flight, None, error, 0.0, ran=False)
            raise error from exc

    def _build(self, flight: _Flight, model_name: str, kwargs: dict[str, Any]) -> None:
        """Run in the cache's own thread: call the factory, record, answer every waiter."""
        flight.builder = threading.get_ident()
        _BUILD_CHAIN.set(flight.chain)
        model: Any = None
        error: BaseException | None = None
        start = time.perf_counter()
        try:
            try:
                model = flight.provider.factory(model_name, **kwargs)
            except BaseException as exc:
                error = _deliverable(exc, flight.key)
            else:
                if flight.provider.prepare is not None:
                    try:
                        flight.provider.prepare(model)
                    except Exception as exc:  # an optimisation only: never fail the build
                        logger.debug("preparing %s failed: %r", flight.key, type(exc).__name__)
        finally:
            seconds = time.perf_counter() - start
            self._finish(flight, model, error, seconds)

    def _finish(
        self,
        flight: _Flight,
        model: Any,
        error: BaseException | None,
        seconds: float,
        *,
        ran: bool = True,
    ) -> None:
        """Record the outcome, publish the model, and wake every waiter (never raises first)."""
        warning = None
        with self._lock:
            self._in_flight -= 1
            if ran and flight.epoch == self._epoch:
                if error is None:
                    self._constructions += 1
                else:
                    self._failures += 1
                self._construct_seconds += seconds
            if self._flights.get(flight.store_key) is flight:
                del self._flights[flight.store_key]
                if error is None and not flight.detached:
                    warning = self._store(flight, model)
            flight.model, flight.error = model, error
            flight.settled = True  # from here on, new waiters read the outcome directly
            waiters = list(flight.async_waiters.values())
            flight.async_waiters.clear()
        try:
            if ran:
                self._log_build(flight, seconds)
            if warning is not None:
                logger.warning(warning)
        except Exception:  # a raising log handler must not leave anyone waiting
            pass
        finally:
            flight.done.set()
            for loop, waiter in waiters:
                with contextlib.suppress(RuntimeError):  # that loop closed: nobody waits there
                    loop.call_soon_threadsafe(_answer, waiter, flight)

    def _store(self, flight: _Flight, model: Any) -> str | None:
        """Put a built model in the store (lock held); return a warning to log, if any."""
        expires = None if self.ttl is None else time.monotonic() + self.ttl
        self._models[flight.store_key] = _Entry(model, flight.provider, expires, flight.loop_ref)
        if flight.loop_ref is not None:
            self._loop_keys.add(flight.store_key)
        self._evict_over_maxsize()
        if self.warn_above is None or self._warned or len(self._models) <= self.warn_above:
            return None
        self._warned = True
        return _varying_kwarg_warning([_key_of(k) for k in self._models])

    def _log_build(self, flight: _Flight, seconds: float) -> None:
        key = flight.key
        if flight.error is not None:
            logger.warning(
                "building %s model %r failed after %.3f s: %s",
                key.provider,
                key.model_name,
                seconds,
                type(flight.error).__name__,
            )
            return
        level = logging.WARNING if seconds > self.slow_threshold else logging.INFO
        logger.log(
            level,
            "built %s model %r in %.3f s%s",
            key.provider,
            key.model_name,
            seconds,
            f" (slower than {self.slow_threshold:g} s: warm it at start-up)"
            if level == logging.WARNING
            else "",
        )

    # -- internals: the store -----------------------------------------------------------------

    def _drop(self, skey: Any, *, evicted: bool = True) -> None:
        """Remove a model from the store (lock held); it is not closed."""
        entry = self._models.pop(skey, None)
        self._loop_keys.discard(skey)
        if entry is not None:
            entry.memoizable = False
            self._clear_memo()
            if evicted:
                self._evictions += 1

    def _evict_over_maxsize(self) -> None:
        while self.maxsize is not None and len(self._models) > self.maxsize:
            self._drop(next(iter(self._models)))

    def _drop_dead_loops(self) -> None:
        for skey in list(self._loop_keys):
            loop = skey[1]()
            if loop is None or loop.is_closed():
                self._drop(skey, evicted=False)

    def _take_all(self) -> list[_Entry]:
        with self._lock:
            entries = list(self._models.values())
            for skey in list(self._models):
                self._drop(skey, evicted=False)
            self._clear_memo()
        return entries

    def _reset_after_fork(self) -> None:
        """In a forked child: no build threads, no lock holder, no parent's clients."""
        self._lock = threading.Lock()
        for entry in self._models.values():
            entry.memoizable = False
        self._models = OrderedDict()
        self._flights = {}
        self._clear_memo()
        self._loop_keys = set()
        self._waiting = {}
        self._in_flight = 0
        self._epoch += 1
        self._warned = False
        self._reset_counters()

    # -- internals: waiting -------------------------------------------------------------------

    def _wait(self, flight: _Flight) -> Any:
        """Block until the flight ends; detect waits that can never end; honour the timeout."""
        me = threading.get_ident()
        deadline = None if self.build_timeout is None else time.monotonic() + self.build_timeout
        self._enter_wait(me, flight)
        try:
            pause = _FIRST_CHECK_SECONDS
            while True:
                self._check_cycle(flight, me)
                if flight.done.wait(_pause_until(pause, deadline)):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timeout(flight)
                pause = min(pause * 2, _MAX_CHECK_SECONDS)
        finally:
            self._leave_wait(me, flight)
        return flight.outcome()

    async def _await(self, flight: _Flight) -> Any:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        token = object()
        with self._lock:
            if flight.settled:
                return flight.outcome()
            flight.async_waiters[token] = (loop, waiter)
        me = threading.get_ident()
        deadline = None if self.build_timeout is None else time.monotonic() + self.build_timeout
        self._enter_wait(me, flight)
        try:
            pause = _FIRST_CHECK_SECONDS
            while True:
                self._check_cycle(flight, me)
                done, _ = await asyncio.wait({waiter}, timeout=_pause_until(pause, deadline))
                if done:
                    return waiter.result()
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timeout(flight)
                pause = min(pause * 2, _MAX_CHECK_SECONDS)
        finally:
            self._leave_wait(me, flight)
            with self._lock:
                flight.async_waiters.pop(token, None)
            if not waiter.done():
                waiter.cancel()

    def _timeout(self, flight: _Flight) -> BuildTimeoutError:
        return BuildTimeoutError(
            f"{flight.key} was not built within build_timeout={self.build_timeout:g} s; "
            "the build goes on and its model will be cached when it arrives"
        )

    def _enter_wait(self, me: int, flight: _Flight) -> None:
        with self._lock:
            self._waiting.setdefault(me, []).append(flight)

    def _leave_wait(self, me: int, flight: _Flight) -> None:
        with self._lock:
            flights = self._waiting.get(me)
            if flights is not None:
                with contextlib.suppress(ValueError):
                    flights.remove(flight)
                if not flights:
                    del self._waiting[me]

    def _check_cycle(self, flight: _Flight, me: int) -> None:
        """Raise if the thread building ``flight`` waits, through our flights or its own
        threads, on this thread: that wait could never end."""
        if flight.done.is_set() or flight.builder is None:
            return
        with self._lock:
            waiting = {ident: list(flights) for ident, flights in self._waiting.items()}
        seen: set[int] = set()
        stack = [flight.builder]
        while stack:
            ident = stack.pop()
            if ident == me:
                raise ReentrantBuildError(
                    f"waiting for {flight.key} would never end: its build waits, through "
                    "other builds or threads, for this caller"
                )
            if ident in seen:
                continue
            seen.add(ident)
            stack.extend(f.builder for f in waiting.get(ident, ()) if f.builder is not None)
            stack.extend(_threads_awaited_by(ident))


# -- helpers ----------------------------------------------------------------------------------


class _Unmemoized(Exception):
    """Raised through the memo so that it remembers nothing: ``args`` = ``_join``'s answer."""


def _memoizable(kwargs: Mapping[str, Any]) -> bool:
    # The memo tags only top-level types: inside containers, 1 and True would collide.
    return all(type(v) in _MEMO_TYPES for v in kwargs.values())


def _key_of(skey: Any) -> CacheKey:
    return skey if isinstance(skey, CacheKey) else skey[0]


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_number(name: str, value: Any, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _pause_until(pause: float, deadline: float | None) -> float:
    if deadline is None:
        return pause
    return max(0.0, min(pause, deadline - time.monotonic()))


def _deliverable(exc: BaseException, key: CacheKey) -> BaseException:
    """The error every waiter gets: the factory's own, unless re-raising it would stop a loop
    or break a coroutine (``StopIteration``) in each waiter."""
    if isinstance(exc, Exception) and not isinstance(exc, StopIteration | StopAsyncIteration):
        return exc
    wrapped = BuildAbortedError(f"the factory building {key} raised {type(exc).__name__}")
    wrapped.__cause__ = exc
    return wrapped


def _answer(waiter: asyncio.Future[Any], flight: _Flight) -> None:
    if waiter.done():
        return
    if flight.error is not None:
        waiter.set_exception(flight.error)
    else:
        waiter.set_result(flight.model)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _running_loop_ref() -> weakref.ref[asyncio.AbstractEventLoop] | None:
    loop = _running_loop()
    return None if loop is None else weakref.ref(loop)


async def _as_coroutine(awaitable: Any) -> Any:
    return await awaitable


_JOIN_CODES = frozenset(
    getattr(threading.Thread, name).__code__
    for name in ("join", "_wait_for_tstate_lock")
    if hasattr(threading.Thread, name)
)
_RESULT_CODE = concurrent.futures.Future.result.__code__


def _threads_awaited_by(ident: int) -> list[int]:
    """Threads that thread ``ident`` is blocked on now: one it joins, or the executor worker
    running a future whose result it waits for (read from its current stack)."""
    frames = sys._current_frames()
    frame = frames.get(ident)
    joined: list[int] = []
    depth = 0
    while frame is not None and depth < 12:
        code = frame.f_code
        if code in _JOIN_CODES or code is _RESULT_CODE:
            target = frame.f_locals.get("self")
            if isinstance(target, threading.Thread) and target.ident is not None:
                joined.append(target.ident)
            elif isinstance(target, concurrent.futures.Future):
                joined.extend(_workers_running(target, frames))
            break
        frame = frame.f_back
        depth += 1
    return joined


def _workers_running(future: concurrent.futures.Future[Any], frames: dict[int, Any]) -> list[int]:
    workers = []
    for ident, frame in frames.items():
        while frame is not None:
            if (
                frame.f_code.co_name == "run"
                and getattr(frame.f_locals.get("self"), "future", None) is future
            ):
                workers.append(ident)
                break
            frame = frame.f_back
    return workers


def _varying_kwarg_warning(keys: list[CacheKey]) -> str:
    values: dict[str, set[Any]] = {}
    for key in keys:
        for name, frozen in key.kwargs:
            values.setdefault(name, set()).add(frozen)
    if values:
        name, seen = max(values.items(), key=lambda item: len(item[1]))
        if len(seen) > 1:
            shown = "a secret" if is_secret_name(name) else name
            return (
                f"llmcache holds {len(keys)} model configurations; {shown} took {len(seen)} "
                "values: bind it per call instead of keying the cache on it"
            )
    return (
        f"llmcache holds {len(keys)} model configurations "
        f"({len({k.model_name for k in keys})} model names)"
    )


def _reset_in_child(ref: weakref.ref[ModelCache]) -> None:
    cache = ref()
    if cache is not None:
        cache._reset_after_fork()
    _BUILD_CHAIN.set(frozenset())


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


def _results_or_group(outcomes: list[tuple[Any, BaseException | None]]) -> list[Any]:
    errors = [error for _, error in outcomes if error is not None]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} of {len(outcomes)} models failed to build", errors)
    return [model for model, _ in outcomes]
