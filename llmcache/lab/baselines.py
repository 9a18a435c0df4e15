"""The designs users wrote before llmcache, kept as they were written, to measure against it.

Do not fix anything here: these are the specimens. Each calls :func:`create_model_sync`, which the
lab points at a real SDK constructor (or a test factory) through :data:`FACTORIES`. The lab
names and binds them in :mod:`llmcache.lab.designs`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

__all__ = [
    "FACTORIES",
    "create_model_sync",
    "fresh_process",
    "get_model_async_lock",
    "get_model_async_lock_thread",
    "get_model_dict",
    "get_model_functools",
    "get_model_nocache",
    "reset",
]

FACTORIES: dict[str, Callable[..., Any]] = {}
"""provider -> ``factory(model_name, **kwargs)``; set by the lab before a run."""

# Model kwargs (``temperature=...``) are part of a configuration: the caches below key them in
# call order, as ``functools.cache`` does.


def create_model_sync(model_name: str, provider: str, **kwargs: Any) -> Any:
    """The blocking constructor every design wraps."""
    return FACTORIES[provider](model_name, **kwargs)


def get_model_nocache(model_name: str, provider: str, **kwargs: Any) -> Any:
    """No cache: a new client per request."""
    return create_model_sync(model_name, provider, **kwargs)


_DICT_CACHE: dict[tuple[Any, ...], Any] = {}


def get_model_dict(model_name: str, provider: str, **kwargs: Any) -> Any:
    """A plain dict, no lock: the simplest cache (and the floor of a hit's cost)."""
    key = (provider, model_name, *kwargs.items())
    try:
        return _DICT_CACHE[key]
    except KeyError:
        model = _DICT_CACHE[key] = create_model_sync(model_name, provider, **kwargs)
        return model


@functools.cache  # the legacy sync API
def get_model_functools(model_name: str, provider: str, **kwargs: Any) -> Any:
    return create_model_sync(model_name, provider, **kwargs)


_MODEL_CACHE: dict[tuple[Any, ...], Any] = {}
_MODEL_CACHE_LOCK = asyncio.Lock()  # module level, as in the widely copied fix


async def get_model_async_lock(model_name: str, provider: str, **kwargs: Any) -> Any:
    """The widely copied fix: a module-level ``asyncio.Lock`` around a blocking constructor."""
    key = (provider, model_name, *kwargs.items())
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    async with _MODEL_CACHE_LOCK:
        if key in _MODEL_CACHE:
            return _MODEL_CACHE[key]
        model = create_model_sync(model_name, provider, **kwargs)  # blocking, on the loop
        _MODEL_CACHE[key] = model
        return model


async def get_model_async_lock_thread(model_name: str, provider: str, **kwargs: Any) -> Any:
    """The next step users take: the same lock, with the construction awaited in a thread."""
    key = (provider, model_name, *kwargs.items())
    if key in _MODEL_CACHE:
        return _MODEL_CACHE[key]
    async with _MODEL_CACHE_LOCK:
        if key in _MODEL_CACHE:
            return _MODEL_CACHE[key]
        model = await asyncio.to_thread(create_model_sync, model_name, provider, **kwargs)
        _MODEL_CACHE[key] = model
        return model


def reset() -> None:
    """Empty every baseline cache (the module-level lock stays: that is the point)."""
    get_model_functools.cache_clear()
    _DICT_CACHE.clear()
    _MODEL_CACHE.clear()


def fresh_process() -> None:
    """State as right after import, lock included: one scenario = one fresh app process."""
    global _MODEL_CACHE_LOCK
    reset()
    _MODEL_CACHE_LOCK = asyncio.Lock()
