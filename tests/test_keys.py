"""Behaviour 8: the key is provider + model + every kwarg, by value and type, secrets masked."""

from __future__ import annotations

import logging

import pytest
from conftest import CountingFactory
from pydantic import SecretStr

from llmcache import CacheKey, ModelCache

SECRET = "AIzaSy-TEST-not-a-real-key-1234567890"


def test_kwargs_order_does_not_change_the_key() -> None:
    a = CacheKey.build("google", "gemini-2.5-flash", {"temperature": 0.1, "top_k": 3})
    b = CacheKey.build("google", "gemini-2.5-flash", {"top_k": 3, "temperature": 0.1})
    assert a == b and hash(a) == hash(b)


def test_every_kwarg_is_part_of_the_key() -> None:
    base = CacheKey.build("google", "gemini-2.5-flash", {"temperature": 0.1})
    assert base != CacheKey.build("google", "gemini-2.5-flash", {"temperature": 0.2})
    assert base != CacheKey.build("google", "gemini-2.5-pro", {"temperature": 0.1})
    assert base != CacheKey.build("openai", "gemini-2.5-flash", {"temperature": 0.1})
    assert base != CacheKey.build("google", "gemini-2.5-flash", {})


def test_unhashable_kwargs_are_frozen_deterministically() -> None:
    kwargs_a = {"safety_settings": {"b": [1, 2], "a": {"x": None}}, "stop": ["\n", "END"]}
    kwargs_b = {"stop": ["\n", "END"], "safety_settings": {"a": {"x": None}, "b": [1, 2]}}
    a = CacheKey.build("google", "m", kwargs_a)
    b = CacheKey.build("google", "m", kwargs_b)
    assert a == b and hash(a) == hash(b)
    assert a != CacheKey.build("google", "m", {**kwargs_a, "stop": ["END", "\n"]})
    assert {a: 1}[b] == 1


def test_unhashable_objects_compare_by_identity() -> None:
    class Client:
        __hash__ = None  # type: ignore[assignment]

    shared = Client()
    assert CacheKey.build("p", "m", {"client": shared}) == CacheKey.build(
        "p", "m", {"client": shared}
    )
    assert CacheKey.build("p", "m", {"client": shared}) != CacheKey.build(
        "p", "m", {"client": Client()}
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"google_api_key": SECRET},
        {"api_key": SecretStr(SECRET)},
        {"headers": {"authorization": SECRET}},
        {"default_headers": {"x": SecretStr(SECRET)}},
        {"access_token": SECRET},
        {"client_secret": [SECRET]},
        {"password": SECRET.encode()},
        {"credentials": {"private_key": SECRET}},
    ],
)
def test_secrets_never_appear_in_the_key(kwargs: dict[str, object]) -> None:
    key = CacheKey.build("google", "gemini-2.5-flash", kwargs)
    assert SECRET not in repr(key)
    assert SECRET not in str(key)
    assert SECRET not in repr(key.kwargs)
    assert SECRET.encode() not in repr(key).encode()


def test_equal_secrets_give_equal_keys_and_different_secrets_different_keys() -> None:
    a = CacheKey.build("google", "m", {"google_api_key": SECRET})
    b = CacheKey.build("google", "m", {"google_api_key": SecretStr(SECRET)})
    c = CacheKey.build("google", "m", {"google_api_key": SECRET + "x"})
    assert a == b
    assert a != c


def test_secret_never_leaks_into_logs_stats_or_cache_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmcache")
    factory = CountingFactory(fail=ValueError("bad config"))
    cache = ModelCache({"fake": factory}, slow_threshold=0)

    with pytest.raises(ValueError, match="bad config") as failed:
        cache.get("m", "fake", api_key=SECRET)
    factory.fail = None
    cache.get("m", "fake", api_key=SECRET)
    with pytest.raises(ValueError, match="unknown provider") as unknown:
        cache.get("m", "nope", api_key=SECRET)
    with pytest.raises(ValueError, match="cannot infer") as uninferable:
        cache.get("mystery-model", api_key=SECRET)

    texts = [caplog.text, repr(cache.stats()), repr(cache), str(unknown.value)]
    texts += [str(uninferable.value), str(failed.value)]
    assert caplog.records  # something was logged, and none of it holds the key
    for text in texts:
        assert SECRET not in text
