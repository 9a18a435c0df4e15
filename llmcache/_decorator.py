"""``@llmcache.cached``: keep your own model factory, get the cache's guarantees.

Each decorated function owns a :class:`ModelCache` whose only provider runs the function, so a
call gets everything the cache gives: one build per argument set across threads, tasks and
event loops, the build in a thread of the cache (never on the loop), failures not cached, and
``close``/``aclose``.

Arguments are bound to the signature with defaults applied, so ``f("x")`` and
``f("x", provider="google")`` (when that is the default) are one key. Values are compared the
way the cache compares kwargs: by value and type, with secret-named parameters masked wherever
the cache shows them. Builds are named by the function's qualified name, never by an argument.

Methods: ``self`` is an argument like any other. Instances with the default ``__eq__`` each
get their own models; the cache holds a strong reference to every ``self`` it saw until
``cache_clear()`` or ``close()``, as ``functools.cache`` does. Put ``@cached`` above
``@classmethod``/``@staticmethod``: since Python 3.13 a ``classmethod`` no longer passes ``cls``
through to what it wraps, so below it only plain calls would get ``cls``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from ._cache import DEFAULT_BUILD_TIMEOUT, CacheStats, ModelCache, ModelSpec
from ._providers import Provider

__all__ = ["BoundCached", "Cached", "cached"]

P = ParamSpec("P")
Q = ParamSpec("Q")
R = TypeVar("R")
S = TypeVar("S")

# Names of ModelCache.get's own parameters: a function's parameters of these names are renamed.
_RESERVED = frozenset({"self", "model_name", "provider"})

CallSpec = Any
"""One call for ``warm``: a tuple of positional arguments, a mapping of keyword arguments, or
any other value as the only positional argument."""


class Cached(Generic[P, R]):
    """A synchronous factory whose results are shared: see :func:`cached`."""

    __wrapped__: Callable[P, R]

    def __init__(
        self,
        func: Callable[P, R],
        *,
        maxsize: int | None = None,
        ttl: float | None = None,
        build_timeout: float | None = DEFAULT_BUILD_TIMEOUT,
        slow_threshold: float = 2.0,
        per_loop: bool = False,
        prepare: Callable[[Any], None] | None = None,
        close: Callable[[Any], None] | None = None,
        aclose: Callable[[Any], Awaitable[None]] | None = None,
    ) -> None:
        self._binds_class = isinstance(func, classmethod)
        self._binds_nothing = isinstance(func, staticmethod)
        if isinstance(func, classmethod | staticmethod):
            func = func.__func__
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"@cached needs a synchronous factory; {func.__qualname__} is async. "
                "The cache already runs the factory in a thread: make it a plain def."
            )
        if not callable(func):
            raise TypeError(f"@cached needs a callable, got {type(func).__name__}")
        functools.update_wrapper(self, func)
        self._signature = inspect.signature(func)
        self._fast = _FastBinder.of(self._signature)
        self._label, module = _name_of(func)
        self._provider = f"{module}.{self._label}"
        first = next(iter(self._signature.parameters), None)
        self._first_is_cls = first == "cls" and not self._binds_class
        provider = Provider(self._build, per_loop, prepare, close, aclose)
        self.cache = ModelCache(
            {self._provider: provider},
            slow_threshold=slow_threshold,
            maxsize=maxsize,
            ttl=ttl,
            build_timeout=build_timeout,
        )
        """The function's own cache (its only provider runs the function)."""

    def __repr__(self) -> str:
        return f"<llmcache.cached {self._label}>"

    # -- calls ------------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The shared result for these arguments; blocks while it is built."""
        arguments = self._bind(args, kwargs)
        return cast(R, self.cache.get(self._label, self._provider, **arguments))

    async def aget(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """The same store, awaited without blocking the event loop."""
        arguments = self._bind(args, kwargs)
        self._check_cls(arguments)
        return cast(R, await self.cache.aget(self._label, self._provider, **arguments))

    def warm(self, calls: Iterable[CallSpec]) -> list[R]:
        """Build the results of several calls concurrently; return them in order.

        Each call is a tuple of positional arguments, a mapping of keyword arguments, or a
        single positional argument. Failures are raised together in an ``ExceptionGroup``.
        """
        return cast(list[R], self.cache.warm(self._specs(calls)))

    async def awarm(self, calls: Iterable[CallSpec]) -> list[R]:
        """Like :meth:`warm`, awaited without blocking the event loop."""
        return cast(list[R], await self.cache.awarm(self._specs(calls)))

    # -- lifecycle --------------------------------------------------------------------------

    def cache_clear(self) -> None:
        """Drop every result and reset the counters."""
        self.cache.clear()

    def cache_info(self) -> CacheStats:
        """The counters of this function's cache."""
        return self.cache.stats()

    def close(self) -> None:
        """Drop every result, passing each to the ``close`` hook if one was given."""
        self.cache.close()

    async def aclose(self) -> None:
        """Like :meth:`close`, awaited, with the ``aclose`` hook (else ``close``)."""
        await self.cache.aclose()

    # -- methods ----------------------------------------------------------------------------

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Cached[P, R]: ...
    @overload
    def __get__(
        self: Cached[Concatenate[S, Q], R], instance: S, owner: type[Any] | None = None
    ) -> BoundCached[Q, R]: ...
    def __get__(self, instance: object, owner: type[Any] | None = None) -> Any:
        if self._binds_class:  # @cached above @classmethod
            return BoundCached(self, owner if owner is not None else type(instance))
        if instance is None or self._binds_nothing:  # (above @staticmethod)
            return self
        return BoundCached(self, instance)

    # -- internals --------------------------------------------------------------------------

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as the cache's kwargs, with defaults applied: the key.

        Flat, so a hit of plain values takes the cache's lock-free path; the names its own
        parameters use are renamed with a leading ``@``.
        """
        arguments = self._fast.bind(args, kwargs) if self._fast is not None else None
        if arguments is None:  # *args/**kwargs, or a call to reject with Python's own error
            bound = self._signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = {_key(name): value for name, value in bound.arguments.items()}
        return arguments

    def _check_cls(self, arguments: Mapping[str, Any]) -> None:
        """``@classmethod`` above ``@cached`` on Python 3.13+: ``aget``/``warm`` lose ``cls``."""
        if self._first_is_cls and not isinstance(arguments.get("cls"), type):
            raise TypeError(
                f"{self._label}: its first parameter, cls, got no class; put @llmcache.cached "
                "above @classmethod (since Python 3.13, a classmethod wrapping another object "
                "passes cls to plain calls only, not to .aget/.warm/.awarm)"
            )

    def _specs(self, calls: Iterable[CallSpec]) -> list[ModelSpec]:
        if isinstance(calls, str | Mapping):
            raise TypeError("calls must be an iterable of calls, e.g. a list: f.warm([('x',)])")
        specs = []
        for call in calls:
            if isinstance(call, tuple):
                args, kwargs = call, {}
            elif isinstance(call, Mapping):
                args, kwargs = (), dict(call)
            else:
                args, kwargs = (call,), {}
            arguments = self._bind(args, kwargs)
            self._check_cls(arguments)
            specs.append(ModelSpec(self._label, self._provider, arguments))
        return specs

    def _build(self, model_name: str, **arguments: Any) -> R:
        """The private provider: call the function with the arguments it was asked with."""
        named = {name.removeprefix("@"): value for name, value in arguments.items()}
        bound = inspect.BoundArguments(self._signature, named)
        return self.__wrapped__(*bound.args, **bound.kwargs)


def _name_of(func: Any) -> tuple[str, str]:
    """``(qualified name, module)`` of a factory: never its repr, which for a
    ``functools.partial`` holds the bound arguments (an API key, say)."""
    inner, partials = func, 0
    while isinstance(inner, functools.partial):
        inner, partials = inner.func, partials + 1
    name = getattr(inner, "__qualname__", None)
    if not isinstance(name, str):
        name = f"{type(inner).__qualname__} object"
    module = getattr(inner, "__module__", None)
    for _ in range(partials):
        name = f"partial({name})"
    return name, module if isinstance(module, str) else "?"


def _key(name: str) -> str:
    """A parameter's name as the cache's kwarg: ``@`` before the names ``get`` uses itself."""
    return f"@{name}" if name in _RESERVED else name


class _FastBinder:
    """``Signature.bind`` plus ``apply_defaults`` for plain signatures, several times faster.

    ``bind`` returns None for any call it is unsure of (an unknown or repeated name, a missing
    argument), and the caller then lets ``Signature.bind`` raise Python's own error.
    """

    __slots__ = ("count", "defaults", "keys", "positional")

    def __init__(self, signature: inspect.Signature) -> None:
        params = list(signature.parameters.values())
        self.positional = tuple(_key(p.name) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD)
        self.keys = {p.name: _key(p.name) for p in params}
        self.defaults = {_key(p.name): p.default for p in params if p.default is not p.empty}
        self.count = len(params)

    @classmethod
    def of(cls, signature: inspect.Signature) -> _FastBinder | None:
        plain = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        if all(p.kind in plain for p in signature.parameters.values()):
            return cls(signature)
        return None

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
        if len(args) > len(self.positional):
            return None
        arguments = dict(zip(self.positional, args, strict=False))
        for name, value in kwargs.items():
            key = self.keys.get(name)
            if key is None or key in arguments:
                return None
            arguments[key] = value
        if len(arguments) < self.count:
            for key, default in self.defaults.items():
                arguments.setdefault(key, default)
            if len(arguments) < self.count:
                return None
        return arguments


class BoundCached(Generic[P, R]):
    """A cached method bound to one instance: the same cache, ``self`` filled in."""

    __slots__ = ("__func__", "__self__")

    def __init__(self, func: Cached[Any, R], instance: object) -> None:
        self.__func__ = func
        self.__self__ = instance

    def __repr__(self) -> str:
        return f"<bound llmcache.cached {self.__func__._label} of {type(self.__self__).__name__}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.__func__(self.__self__, *args, **kwargs)

    async def aget(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.__func__.aget(self.__self__, *args, **kwargs)

    def warm(self, calls: Iterable[CallSpec]) -> list[R]:
        return self.__func__.warm(self._with_self(calls))

    async def awarm(self, calls: Iterable[CallSpec]) -> list[R]:
        return await self.__func__.awarm(self._with_self(calls))

    def cache_clear(self) -> None:
        self.__func__.cache_clear()

    def cache_info(self) -> CacheStats:
        return self.__func__.cache_info()

    def close(self) -> None:
        self.__func__.close()

    async def aclose(self) -> None:
        await self.__func__.aclose()

    @property
    def __wrapped__(self) -> Callable[..., R]:
        return self.__func__.__wrapped__

    @property
    def __name__(self) -> str:
        return self.__func__.__name__  # type: ignore[attr-defined, no-any-return]

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.__func__.__doc__

    def _with_self(self, calls: Iterable[CallSpec]) -> list[CallSpec]:
        """Prepend ``self`` to each call; a mapping call binds it by the first parameter's name."""
        if isinstance(calls, str | Mapping):
            raise TypeError("calls must be an iterable of calls, e.g. a list: f.warm([('x',)])")
        first = next(iter(self.__func__._signature.parameters))
        out: list[CallSpec] = []
        for call in calls:
            if isinstance(call, tuple):
                out.append((self.__self__, *call))
            elif isinstance(call, Mapping):
                out.append({first: self.__self__, **call})
            else:
                out.append((self.__self__, call))
        return out


@overload
def cached(func: Callable[P, R], /) -> Cached[P, R]: ...
@overload
def cached(
    *,
    maxsize: int | None = None,
    ttl: float | None = None,
    build_timeout: float | None = DEFAULT_BUILD_TIMEOUT,
    slow_threshold: float = 2.0,
    per_loop: bool = False,
    prepare: Callable[[Any], None] | None = None,
    close: Callable[[Any], None] | None = None,
    aclose: Callable[[Any], Awaitable[None]] | None = None,
) -> Callable[[Callable[P, R]], Cached[P, R]]: ...
def cached(
    func: Callable[P, R] | None = None,
    /,
    *,
    maxsize: int | None = None,
    ttl: float | None = None,
    build_timeout: float | None = DEFAULT_BUILD_TIMEOUT,
    slow_threshold: float = 2.0,
    per_loop: bool = False,
    prepare: Callable[[Any], None] | None = None,
    close: Callable[[Any], None] | None = None,
    aclose: Callable[[Any], Awaitable[None]] | None = None,
) -> Cached[P, R] | Callable[[Callable[P, R]], Cached[P, R]]:
    """Share what a synchronous model factory returns, per argument set, like ``functools.cache``.

    ``@cached``, or ``@cached(...)`` with :class:`ModelCache`'s options (``maxsize``, ``ttl``,
    ``build_timeout``, ``slow_threshold``) and a provider's hooks (``per_loop``, ``prepare``,
    ``close``, ``aclose``: see :meth:`ModelCache.register_provider`). ``f(...)`` returns the
    shared result, ``await f.aget(...)`` awaits it without blocking the loop; also
    ``f.warm``/``f.awarm``, ``f.cache_clear()``, ``f.cache_info()``,
    ``f.close()``/``await f.aclose()``.
    """

    def decorate(f: Callable[P, R]) -> Cached[P, R]:
        return Cached(
            f,
            maxsize=maxsize,
            ttl=ttl,
            build_timeout=build_timeout,
            slow_threshold=slow_threshold,
            per_loop=per_loop,
            prepare=prepare,
            close=close,
            aclose=aclose,
        )

    return decorate if func is None else decorate(func)
