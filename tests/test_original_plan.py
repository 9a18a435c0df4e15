"""Behaviour 12: the four tests of the original plan, against the real SDK classes, offline.

Constructing the clients with fake keys contacts nothing; the network guard would fail the test.
"""

from __future__ import annotations

import asyncio

from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI

import llmcache

FAKE_GOOGLE_KEY = "test-google-key-not-real"
FAKE_OPENAI_KEY = "sk-test-not-real"


async def test_async_call_returns_a_model() -> None:
    model = await llmcache.get_model_async("gemini-2.5-flash", google_api_key=FAKE_GOOGLE_KEY)
    assert isinstance(model, ChatGoogleGenerativeAI)
    assert model.model.endswith("gemini-2.5-flash")


async def test_two_calls_return_the_same_instance() -> None:
    first = await llmcache.get_model_async("gemini-2.5-flash", google_api_key=FAKE_GOOGLE_KEY)
    second = await llmcache.get_model_async("gemini-2.5-flash", google_api_key=FAKE_GOOGLE_KEY)
    assert first is second


async def test_ten_concurrent_calls_return_one_instance() -> None:
    models = await asyncio.gather(
        *(
            llmcache.get_model_async("gemini-2.5-flash", google_api_key=FAKE_GOOGLE_KEY)
            for _ in range(10)
        )
    )
    assert all(m is models[0] for m in models)
    assert llmcache.cache_stats().constructions == 1


async def test_two_different_models_are_different_instances() -> None:
    flash = await llmcache.get_model_async("gemini-2.5-flash", google_api_key=FAKE_GOOGLE_KEY)
    pro = await llmcache.get_model_async("gemini-2.5-pro", google_api_key=FAKE_GOOGLE_KEY)
    assert flash is not pro


async def test_openai_provider_builds_chat_openai() -> None:
    model = await llmcache.get_model_async(
        "gpt-4o-mini", api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1"
    )
    assert isinstance(model, ChatOpenAI)
    assert (
        llmcache.get_model("gpt-4o-mini", api_key=FAKE_OPENAI_KEY, base_url="http://127.0.0.1:9/v1")
        is model
    )
