"""llmcache's own errors derive from ``llmcache.CacheError`` (and from the builtin older code
caught); a factory's or SDK's own errors reach every caller unchanged."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import CountingFactory, sync_callers, wait_until

import llmcache
from llmcache import ModelCache

# Each error, and the builtin that ``except`` clauses written before it still catch.
OWN_ERRORS = {
    "UnknownProviderError": ValueError,
    "ProviderNotInstalledError": ImportError,
    "ReentrantBuildError": RuntimeError,
    "BuildTimeoutError": TimeoutError,
    "BuildStartError": RuntimeError,
    "BuildAbortedError": Exception,
}


@pytest.mark.parametrize(("name", "builtin"), OWN_ERRORS.items())
def test_each_own_error_is_exported_and_a_cache_error(name: str, builtin: type) -> None:
    error = getattr(llmcache, name)
    assert name in llmcache.__all__
    assert issubclass(error, llmcache.CacheError)
    assert issubclass(error, builtin)


def test_cache_error_is_exported_and_catches_the_caches_own_failures() -> None:
    assert "CacheError" in llmcache.__all__
    cache = ModelCache({"fake": CountingFactory()})
    for call in (
        lambda: cache.get("m", "nope"),  # unknown provider
        lambda: cache.get("mystery-model"),  # no provider can be inferred
    ):
        with pytest.raises(llmcache.CacheError) as info:
            call()
        assert isinstance(info.value, llmcache.UnknownProviderError)
        assert isinstance(info.value, ValueError)


class SDKError(Exception):
    """Stands for an SDK's own exception type."""


def test_factory_errors_reach_sync_callers_unchanged() -> None:
    gate = threading.Event()
    original = SDKError("quota exceeded")
    cache = ModelCache({"fake": CountingFactory(gate=gate, fail=original)})
    threads, errors = sync_callers(cache, 3, "m", "fake")
    wait_until(lambda: cache.stats().misses == 3, "3 callers")
    gate.set()
    for t in threads:
        t.join(5.0)

    assert len(errors) == 3
    assert all(e is original for e in errors)  # the SDK's object itself, not a wrapper
    assert not isinstance(original, llmcache.CacheError)


async def test_factory_errors_reach_async_callers_and_warm_unchanged() -> None:
    original = SDKError("bad model name")
    cache = ModelCache({"fake": CountingFactory(fail=original)})

    with pytest.raises(SDKError) as info:
        await cache.aget("m", "fake")
    assert info.value is original
    with pytest.raises(ExceptionGroup) as group:
        await cache.awarm([("m", "fake")])
    assert group.value.exceptions == (original,)
    with pytest.raises(ExceptionGroup) as group:
        await asyncio.to_thread(cache.warm, [("m", "fake")])
    assert group.value.exceptions == (original,)
