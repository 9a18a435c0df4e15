"""llmcache: one shared, single-flight cache of LLM chat-model clients for sync and async code.

``get_model`` and ``await get_model_async`` return one instance per configuration, built once
in a thread the cache owns (never on an event loop), whatever mix of threads, tasks and event
loops asks for it. Importing this package imports no LangChain or SDK module.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._cache import CacheStats, ModelCache, ModelSpec, WarmSpec
from ._keys import CacheKey
from ._providers import Factory

__all__ = [
    "CacheKey",
    "CacheStats",
    "Factory",
    "ModelCache",
    "ModelSpec",
    "WarmSpec",
    "cache_stats",
    "clear_cache",
    "default_cache",
    "get_model",
    "get_model_async",
    "register_provider",
    "warm",
    "warm_async",
]

__version__ = "0.1.0"

default_cache = ModelCache()
"""The process-wide cache behind the module-level functions."""


def get_model(model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
    """The shared chat model for this configuration; built once, blocking until it is ready."""
    return default_cache.get(model_name, provider, **kwargs)


async def get_model_async(model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
    """The shared chat model for this configuration, awaited without blocking the event loop."""
    return await default_cache.aget(model_name, provider, **kwargs)


def register_provider(name: str, factory: Factory) -> None:
    """Register ``factory(model_name, **kwargs)``; replacing one drops its cached models."""
    default_cache.register_provider(name, factory)


def clear_cache() -> None:
    """Drop every cached model and reset the counters."""
    default_cache.clear()


def cache_stats() -> CacheStats:
    """Counters of the process-wide cache."""
    return default_cache.stats()


def warm(specs: Iterable[WarmSpec]) -> list[Any]:
    """Build several models concurrently, e.g. at application start."""
    return default_cache.warm(specs)


async def warm_async(specs: Iterable[WarmSpec]) -> list[Any]:
    """Build several models concurrently from async code, e.g. in a FastAPI lifespan."""
    return await default_cache.awarm(specs)
