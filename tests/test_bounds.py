"""Bounds on the store: ``maxsize`` drops the least recently used configuration, ``ttl``
rebuilds an old one, neither closes what it drops; too many configurations log one WARNING
naming the kwarg that varies most."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import CountingFactory

import llmcache
from llmcache import ModelCache, _store


class Clock:
    """``time`` as ``llmcache._store`` sees it, with a ``monotonic`` moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_store, "time", fake)
    return fake


def _bounded_cache(**settings: Any) -> tuple[ModelCache, CountingFactory, list[Any]]:
    closed: list[Any] = []
    factory = CountingFactory()
    cache = ModelCache({}, **settings)
    cache.register_provider("fake", factory, close=closed.append)
    return cache, factory, closed


def test_maxsize_evicts_the_least_recently_used_and_a_hit_refreshes_it() -> None:
    cache, factory, _ = _bounded_cache(maxsize=2)
    a = cache.get("a", "fake")
    cache.get("b", "fake")
    assert cache.get("a", "fake") is a  # a hit: "a" is now the most recently used

    cache.get("c", "fake")  # one too many: "b" goes

    assert cache.stats().size == 2
    assert cache.stats().evictions == 1
    assert cache.get("a", "fake") is a
    assert factory.calls == 3
    cache.get("b", "fake")  # built again
    assert factory.calls == 4


async def test_maxsize_counts_async_hits_as_uses_too() -> None:
    cache, factory, _ = _bounded_cache(maxsize=2)
    a = await cache.aget("a", "fake")
    await cache.aget("b", "fake")
    assert await cache.aget("a", "fake") is a

    await cache.aget("c", "fake")

    assert await cache.aget("a", "fake") is a
    assert factory.calls == 3


def test_an_evicted_model_is_dropped_not_closed() -> None:
    cache, _, closed = _bounded_cache(maxsize=1)
    in_use = cache.get("a", "fake")  # a request still holds it

    cache.get("b", "fake")

    assert cache.stats().evictions == 1
    assert closed == []
    assert cache.get("a", "fake") is not in_use


def test_ttl_rebuilds_a_configuration_after_that_many_seconds(clock: Clock) -> None:
    cache, factory, closed = _bounded_cache(ttl=60)
    first = cache.get("m", "fake")

    clock.now += 59.9
    assert cache.get("m", "fake") is first
    clock.now += 0.1
    second = cache.get("m", "fake")

    assert second is not first
    assert factory.calls == 2
    assert cache.stats().evictions == 1
    assert closed == []  # dropped, not closed
    clock.now += 59.9
    assert cache.get("m", "fake") is second  # the new model's own ttl


async def test_ttl_applies_to_async_calls(clock: Clock) -> None:
    cache, factory, _ = _bounded_cache(ttl=5)
    first = await cache.aget("m", "fake")
    clock.now += 5
    assert await cache.aget("m", "fake") is not first
    assert factory.calls == 2


@pytest.fixture
def default_cache_settings() -> Iterator[None]:
    yield
    llmcache.configure(maxsize=None, ttl=None)


@pytest.mark.usefixtures("default_cache_settings")
def test_configure_bounds_the_default_cache(clock: Clock) -> None:
    factory = CountingFactory()
    llmcache.register_provider("bounds-fake", factory)
    llmcache.configure(maxsize=1, ttl=30)

    a = llmcache.get_model("a", "bounds-fake")
    llmcache.get_model("b", "bounds-fake")  # "a" goes: maxsize=1
    assert llmcache.get_model("a", "bounds-fake") is not a
    assert factory.calls == 3

    again = llmcache.get_model("a", "bounds-fake")
    clock.now += 30  # too old now
    assert llmcache.get_model("a", "bounds-fake") is not again
    assert factory.calls == 4
    assert llmcache.cache_stats().evictions == 3


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "llmcache" and r.levelno == logging.WARNING
    ]


def test_holding_more_than_32_configurations_logs_one_warning_naming_the_varying_kwarg(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, _, _ = _bounded_cache()
    with caplog.at_level(logging.WARNING, logger="llmcache"):
        for i in range(32):
            cache.get("m", "fake", temperature=i / 100, max_tokens=100 + i % 2)
        assert _warnings(caplog) == []  # 32 is the default limit

        for i in range(32, 40):
            cache.get("m", "fake", temperature=i / 100, max_tokens=100 + i % 2)

    warnings = _warnings(caplog)
    assert len(warnings) == 1  # once, not on every configuration after the 32nd
    assert "temperature took 33 values" in warnings[0]  # counted when the 33rd arrived
    assert "bind it per call" in warnings[0]
    assert cache.stats().size == 40  # a warning only: nothing is dropped


def test_the_warning_counts_what_the_cache_holds_at_its_threshold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, _, _ = _bounded_cache(warn_above=39)
    with caplog.at_level(logging.WARNING, logger="llmcache"):
        for i in range(40):
            cache.get("m", "fake", temperature=i / 100)

    assert len(_warnings(caplog)) == 1
    assert "temperature took 40 values" in _warnings(caplog)[0]


def test_the_warning_never_shows_a_secret_that_varies(caplog: pytest.LogCaptureFixture) -> None:
    cache, _, _ = _bounded_cache(warn_above=2)
    keys = [f"sk-secret-{i}" for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="llmcache"):
        for key in keys:
            cache.get("m", "fake", api_key=key)

    [warning] = _warnings(caplog)
    assert "a secret took 3 values" in warning
    assert not any(key in warning or "api_key" in warning for key in keys)
