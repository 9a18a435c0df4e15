"""Keys compare by value and by type: equal configurations share one model, values of different
types never do, and objects with no value semantics keep their identity."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from conftest import CountingFactory
from langchain_core.callbacks import BaseCallbackHandler
from pydantic import BaseModel

from llmcache import ModelCache


def _cache() -> tuple[ModelCache, CountingFactory]:
    factory = CountingFactory()
    return ModelCache({"fake": factory}), factory


def _models(cache: ModelCache, *kwargs_list: dict[str, Any]) -> list[Any]:
    return [cache.get("m", "fake", **kwargs) for kwargs in kwargs_list]


def test_true_one_and_one_point_zero_give_three_models_each_built_with_its_value() -> None:
    cache, factory = _cache()

    models = _models(cache, {"temperature": True}, {"temperature": 1}, {"temperature": 1.0})

    assert factory.calls == 3
    assert [type(m.kwargs["temperature"]) for m in models] == [bool, int, float]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"stop": {1: "x"}}, {"stop": {True: "x"}}),
        ({"api_key": "k"}, {"api_key": b"k"}),
        ({"stop": [1]}, {"stop": [True]}),
        ({"stop": (1,)}, {"stop": (1.0,)}),
        ({"stop": ["a"]}, {"stop": ("a",)}),
        ({"stop": {"a": 1}}, {"stop": [("a", 1)]}),
    ],
    ids=["dict-keys", "str-bytes-secret", "list-items", "tuple-items", "list-tuple", "dict-pairs"],
)
def test_values_of_different_types_never_share_a_model(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    cache, factory = _cache()

    a, b = _models(cache, first, second)

    assert a is not b
    assert factory.calls == 2
    assert _models(cache, first, second) == [a, b]  # and each is then a hit


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ({"temperature": True}, [{"temperature": 1}, {"temperature": 1.0}]),
        ({"temperature": 1}, [{"temperature": True}, {"temperature": 1.0}]),
        ({"seed": 0}, [{"seed": False}, {"seed": 0.0}]),
        ({"stop": (1,)}, [{"stop": (True,)}]),
    ],
)
async def test_a_lock_free_hit_never_mixes_types(
    first: dict[str, Any], later: list[dict[str, Any]]
) -> None:
    cache, factory = _cache()
    model = cache.get("m", "fake", **first)
    assert cache.get("m", "fake", **first) is model  # a hit on the lock-free path
    assert await cache.aget("m", "fake", **first) is model

    for kwargs in later:
        (name, value), *_ = kwargs.items()
        other = cache.get("m", "fake", **kwargs)
        assert other is not model
        assert type(other.kwargs[name]) is type(value)
        assert await cache.aget("m", "fake", **kwargs) is other
    assert factory.calls == 1 + len(later)


class SafetyConfig(BaseModel):
    threshold: str = "BLOCK_NONE"
    categories: list[str] = []


@dataclasses.dataclass
class RetryPolicy:
    attempts: int
    backoff: list[float]


@pytest.mark.parametrize(
    "make",
    [
        lambda: SafetyConfig(categories=["harassment"]),
        lambda: RetryPolicy(3, [0.5, 1.0]),
        lambda: float("nan"),
        lambda: [float("nan"), {"x": [1, 2]}],
        lambda: ["\n", "END"],
        lambda: {"b": [1, 2], "a": {"x": None}},
        lambda: {1, 2, 3},
    ],
    ids=["pydantic", "dataclass", "nan", "nested-nan", "list", "dict", "set"],
)
async def test_equal_values_in_new_objects_share_one_model(make: Any) -> None:
    cache, factory = _cache()

    models = [cache.get("m", "fake", config=make()) for _ in range(3)]
    models.append(await cache.aget("m", "fake", config=make()))

    assert factory.calls == 1
    assert all(m is models[0] for m in models)


def test_different_pydantic_and_dataclass_values_give_different_models() -> None:
    cache, factory = _cache()

    _models(
        cache,
        {"config": SafetyConfig(categories=["a"])},
        {"config": SafetyConfig(categories=["b"])},
        {"config": RetryPolicy(3, [0.5])},
        {"config": RetryPolicy(4, [0.5])},
    )

    assert factory.calls == 4


class Handler(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[Any] = []


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("callbacks", lambda: [Handler()]),
        ("http_client", httpx.Client),
        ("http_async_client", httpx.AsyncClient),
    ],
)
def test_objects_without_value_semantics_keep_their_identity(name: str, make: Any) -> None:
    cache, factory = _cache()
    first, second = make(), make()
    try:
        a = cache.get("m", "fake", **{name: first})
        b = cache.get("m", "fake", **{name: second})

        assert a is not b  # two equal-looking instances are two configurations
        assert cache.get("m", "fake", **{name: first}) is a
        assert factory.calls == 2
    finally:
        for client in (first, second):
            if isinstance(client, httpx.Client):
                client.close()
            elif isinstance(client, httpx.AsyncClient):
                asyncio.run(client.aclose())
