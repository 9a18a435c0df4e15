"""pytest plugin (registered as ``llmcache`` through the ``pytest11`` entry point).

Fixtures:

- ``llmcache_cache``: a fresh :class:`ModelCache` installed as ``llmcache.default_cache`` for
  one test, so ``get_model``/``get_model_async``/``init_chat_model`` in the code under test use
  it; the previous default comes back after the test, and the test's cache is closed. It starts
  with the previous default's providers and settings (what the app registered at import) and
  none of its models: models made in one test's event loop (pytest-asyncio gives each test its
  own) never reach another.
- ``llmcache_fake_provider``: ``llmcache_fake_provider("google", responses=["Paris"])``
  registers a fake provider in that cache (LangChain's ``FakeListChatModel`` answering the
  responses in turn, or ``factory=`` of your own) and returns a :class:`FakeProvider` that
  counts its builds.

pytest loads this module; ``import llmcache`` never does, so it never imports pytest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

import llmcache

from ._cache import ModelCache
from ._providers import Factory

__all__ = ["FakeProvider", "llmcache_cache", "llmcache_fake_provider"]


class FakeProvider:
    """A provider registered for one test: counts and records its builds."""

    def __init__(self, name: str, factory: Factory | None, responses: Sequence[str]) -> None:
        self.name = name
        self.responses = list(responses)
        self._factory = factory
        self._lock = threading.Lock()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        """``(model_name, kwargs)`` of every build, in order."""
        self.models: list[Any] = []
        """Every model built, in order."""

    @property
    def builds(self) -> int:
        """How many models this provider built."""
        with self._lock:
            return len(self.models)

    def __repr__(self) -> str:
        return f"<FakeProvider {self.name!r} builds={self.builds}>"

    def __call__(self, model_name: str, **kwargs: Any) -> Any:
        if self._factory is not None:
            model = self._factory(model_name, **kwargs)
        else:
            from langchain_core.language_models.fake_chat_models import FakeListChatModel

            model = FakeListChatModel(responses=self.responses)
        with self._lock:
            self.calls.append((model_name, kwargs))
            self.models.append(model)
        return model


@pytest.fixture
def llmcache_cache() -> Iterator[ModelCache]:
    """A fresh default cache for this test; the previous one is restored after it."""
    previous = llmcache.default_cache
    cache = _empty_copy(previous)
    llmcache.default_cache = cache
    try:
        yield cache
    finally:
        llmcache.default_cache = previous
        cache.close()


def _empty_copy(cache: ModelCache) -> ModelCache:
    """A cache with ``cache``'s providers and settings and none of its models or counters."""
    return ModelCache(
        cache.provider_specs(),
        slow_threshold=cache.slow_threshold,
        maxsize=cache.maxsize,
        ttl=cache.ttl,
        build_timeout=cache.build_timeout,
        warn_above=cache.warn_above,
    )


@pytest.fixture
def llmcache_fake_provider(
    llmcache_cache: ModelCache,
) -> Callable[..., FakeProvider]:
    """``register(name, factory=None, *, responses=("ok",)) -> FakeProvider`` for this test."""

    def register(
        name: str, factory: Factory | None = None, *, responses: Sequence[str] = ("ok",)
    ) -> FakeProvider:
        if isinstance(responses, str):
            raise TypeError("responses must be a sequence of strings, e.g. ['Paris']")
        fake = FakeProvider(name, factory, responses)
        llmcache_cache.register_provider(name, fake)
        return fake

    return register
