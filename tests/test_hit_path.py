"""The hit path: a call's route and key, one dict lookup and no lock; everything else (a miss,
an unhashable or NaN value, ``ttl``, ``maxsize``, per-loop models, a bad call) takes the full
path. Both must give the same answers, counters and errors."""

from __future__ import annotations

import math
from typing import Any

import pytest

import llmcache


class Factory:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model_name: str, **kwargs: Any) -> object:
        self.calls.append((model_name, kwargs))
        return object()


def make_cache(**options: Any) -> tuple[llmcache.ModelCache, Factory]:
    factory = Factory()
    return llmcache.ModelCache({"p": factory}, **options), factory


KWARGS = {"api_key": "sk-hit-path-secret", "temperature": 0.2, "max_retries": 2, "timeout": 30}


def test_hits_return_the_built_model_and_are_counted() -> None:
    cache, factory = make_cache()
    first = cache.get("m", "p", **KWARGS)
    for _ in range(3):
        assert cache.get("m", "p", **KWARGS) is first
    assert cache.get("m", provider="p", **KWARGS) is first  # provider by keyword: same key
    assert cache.get("m", "p", **dict(reversed(KWARGS.items()))) is first  # order: same key
    assert cache.get("p:m", **KWARGS) is first  # LangChain's "provider:model": same key
    assert cache.get("m", "p") is not first  # no kwargs: another configuration
    assert cache.get("m", "p") is cache.get("m", "p")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.constructions) == (8, 2, 2)
    assert len(factory.calls) == 2


def test_values_of_different_types_are_different_configurations() -> None:
    cache, factory = make_cache()
    models = {cache.get("m", "p", temperature=v) for v in (True, 1, 1.0)}
    assert len(models) == 3
    assert {cache.get("m", "p", temperature=v) for v in (True, 1, 1.0)} == models
    assert [type(kwargs["temperature"]) for _, kwargs in factory.calls] == [bool, int, float]
    assert cache.stats().hits == 3


def test_nan_equals_nan() -> None:
    cache, factory = make_cache()
    first = cache.get("m", "p", temperature=float("nan"))
    assert cache.get("m", "p", temperature=float("nan")) is first  # another NaN object
    assert cache.get("m", "p", temperature=math.nan) is first
    assert len(factory.calls) == 1 and cache.stats().hits == 2


def test_unhashable_values_are_compared_by_value() -> None:
    cache, factory = make_cache()
    first = cache.get("m", "p", stop=["a", "b"], headers={"x": "1"})
    assert cache.get("m", "p", stop=["a", "b"], headers={"x": "1"}) is first
    assert cache.get("m", "p", stop=["a"], headers={"x": "1"}) is not first
    assert cache.get("m", "p", stop=("a", "b"), headers={"x": "1"}) is not first  # a tuple
    assert len(factory.calls) == 3
    assert cache.stats().hits == 1


def test_clear_and_a_new_provider_are_seen_by_the_next_hit() -> None:
    cache, factory = make_cache()
    model = cache.get("m", "p", **KWARGS)
    cache.clear()
    assert cache.get("m", "p", **KWARGS) is not model
    replacement = Factory()
    cache.register_provider("p", replacement)
    cache.get("m", "p", **KWARGS)
    assert len(factory.calls) == 2 and len(replacement.calls) == 1


def test_ttl_maxsize_and_per_loop_take_the_full_path() -> None:
    cache, factory = make_cache(maxsize=1)
    a = cache.get("a", "p")
    assert cache.get("a", "p") is a
    cache.get("b", "p")  # evicts a
    assert cache.get("a", "p") is not a
    assert len(factory.calls) == 3
    assert cache.stats().hits == 1
    per_loop = Factory()
    cache.register_provider("loop", per_loop, per_loop=True)
    assert cache.get("m", "loop") is cache.get("m", "loop")  # one loop (none): one model


def test_errors_reach_the_caller_unchanged() -> None:
    cache, _ = make_cache()
    cache.get("m", "p")
    with pytest.raises(TypeError, match="model_name must be a str"):
        cache.get(123, "p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model_name must be a str"):
        cache.get(["m"], "p")  # type: ignore[arg-type]  # unhashable: no route lookup
    with pytest.raises(llmcache.UnknownProviderError):
        cache.get("m", "nowhere")
    with pytest.raises(TypeError, match=r"get\(\) takes from 2 to 3 positional arguments"):
        cache.get("m", "p", "extra")  # type: ignore[call-arg]
    assert cache.get(model_name="m", provider="p") is cache.get("m", "p")


def test_a_factory_error_reaches_every_caller() -> None:
    def failing(model_name: str, **kwargs: Any) -> object:
        raise ValueError("bad config")

    cache = llmcache.ModelCache({"p": failing})
    for _ in range(2):
        with pytest.raises(ValueError, match="bad config"):
            cache.get("m", "p", **KWARGS)
    assert cache.stats().failures == 2


def test_the_secret_stays_out_of_errors_and_reprs() -> None:
    cache, _ = make_cache()
    cache.get("m", "p", **KWARGS)
    with pytest.raises(TypeError) as raised:
        cache.get("m", "p", "extra", **KWARGS)  # type: ignore[call-arg]
    assert KWARGS["api_key"] not in str(raised.value)
    keys = list(cache._store.entries)
    assert KWARGS["api_key"] not in repr(keys) + str(keys)
    assert KWARGS["api_key"] not in repr(cache) + repr(cache.stats())


def test_a_subclass_that_overrides_get_keeps_its_own() -> None:
    seen: list[str] = []

    class Logged(llmcache.ModelCache):
        def get(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
            seen.append(model_name)
            return super().get(model_name, provider, **kwargs)

    cache = Logged({"p": Factory()})
    assert cache.get("m", "p") is cache.get("m", "p")
    assert seen == ["m", "m"]


def test_get_model_calls_whichever_process_wide_cache_is_installed() -> None:
    original = llmcache.default_cache
    mine, factory = make_cache()
    llmcache.default_cache = mine
    try:
        model = llmcache.get_model("m", "p", **KWARGS)
        assert llmcache.get_model("m", "p", **KWARGS) is model
    finally:
        llmcache.default_cache = original
    assert len(factory.calls) == 1 and mine.stats().hits == 1
    assert "p" not in original.providers
