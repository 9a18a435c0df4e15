"""Behaviour 11: clear errors for bad input, SDK errors unchanged, nothing cached."""

from __future__ import annotations

import pytest
from conftest import CountingFactory

import llmcache
from llmcache import ModelCache


def test_unknown_provider_names_the_registered_ones() -> None:
    cache = ModelCache({"fake": CountingFactory(), "other": CountingFactory()})
    with pytest.raises(ValueError, match=r"unknown provider 'nope'.*\['fake', 'other'\]"):
        cache.get("m", "nope")
    assert cache.stats().size == 0


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_model_name_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="model_name must not be empty"):
        ModelCache({"fake": CountingFactory()}).get(name, "fake")


@pytest.mark.parametrize("name", [None, 3, b"gemini"])
async def test_non_string_model_name_is_a_type_error(name: object) -> None:
    cache = ModelCache({"fake": CountingFactory()})
    with pytest.raises(TypeError, match="model_name must be a str"):
        await cache.aget(name, "fake")  # type: ignore[arg-type]


def test_non_string_provider_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="provider must be a str"):
        ModelCache().get("gemini-2.5-flash", 42)  # type: ignore[arg-type]


def test_uninferable_model_name_asks_for_a_provider() -> None:
    with pytest.raises(ValueError, match="cannot infer the provider of model 'llama-3'"):
        llmcache.get_model("llama-3")


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gemini-2.5-flash", "google"),
        ("models/gemini-2.0-flash", "google"),
        ("gpt-4o-mini", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
    ],
)
def test_provider_is_inferred_from_the_model_name(model: str, provider: str) -> None:
    factory = CountingFactory()
    cache = ModelCache({provider: factory})
    cache.get(model)
    assert factory.calls == 1


@pytest.mark.parametrize(
    ("bad_name", "bad_factory", "error"),
    [("", CountingFactory(), ValueError), ("x", "not callable", TypeError)],
)
def test_register_provider_rejects_bad_input(
    bad_name: str, bad_factory: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ModelCache().register_provider(bad_name, bad_factory)  # type: ignore[arg-type]


def test_google_without_api_key_raises_the_sdks_own_error_and_caches_nothing() -> None:
    # The SDK is there in `make test`; the interpreter matrix runs the core without SDKs.
    genai = pytest.importorskip("langchain_google_genai")
    ChatGoogleGenerativeAI = genai.ChatGoogleGenerativeAI

    with pytest.raises(Exception) as direct:
        ChatGoogleGenerativeAI(model="gemini-2.5-flash")
    with pytest.raises(type(direct.value)) as through_cache:
        llmcache.get_model("gemini-2.5-flash")

    assert str(through_cache.value) == str(direct.value)
    assert llmcache.cache_stats().size == 0
    assert llmcache.cache_stats().failures == 1


def test_sdk_validation_error_propagates_without_the_key() -> None:
    pytest.importorskip("langchain_openai")
    secret = "sk-test-not-a-real-key-0123456789abcdef"
    with pytest.raises(Exception) as failed:
        llmcache.get_model("gpt-4o-mini", api_key=secret, temperature="very hot")
    assert type(failed.value).__name__ == "ValidationError"
    assert secret not in str(failed.value)
    assert llmcache.cache_stats().size == 0
