"""Checked by mypy (``make typecheck``), never run: the public API's types as users see them.

``assert_type`` fails the check when a type changes; each ``# type: ignore[code]`` marks a
call that must stay an error (mypy --strict reports an ignore that is no longer needed).
"""

from __future__ import annotations

from typing import Any, assert_type

from langchain_anthropic import ChatAnthropic
from langchain_baseten import ChatBaseten
from langchain_cohere import ChatCohere
from langchain_core.language_models import BaseChatModel
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_groq import ChatGroq
from langchain_meta import ChatMetaModel
from langchain_mistralai import ChatMistralAI
from langchain_nvidia_ai_endpoints import ChatNVIDIA
from langchain_ollama import ChatOllama
from langchain_openai import AzureChatOpenAI, ChatOpenAI
from langchain_perplexity import ChatPerplexity

import llmcache
from llmcache import CacheStats


@llmcache.cached
def make(model_name: str, provider: str = "google", *, temperature: float = 0.0) -> ChatOpenAI:
    return ChatOpenAI(model=model_name, temperature=temperature)


@llmcache.cached(maxsize=8, ttl=60.0)
def make_with_options(model_name: str) -> ChatGoogleGenerativeAI:
    return ChatGoogleGenerativeAI(model=model_name)


class Client:
    @llmcache.cached
    def model(self, model_name: str) -> ChatOpenAI:
        return ChatOpenAI(model=model_name)


async def decorator() -> None:
    assert_type(make("gpt-4o-mini"), ChatOpenAI)
    assert_type(make("gpt-4o-mini", "openai", temperature=0.5), ChatOpenAI)
    assert_type(await make.aget("gpt-4o-mini"), ChatOpenAI)
    assert_type(make.warm(["a"]), list[ChatOpenAI])
    assert_type(await make.awarm(["a"]), list[ChatOpenAI])
    assert_type(make.cache_info(), CacheStats)
    assert_type(make_with_options("gemini-2.5-flash"), ChatGoogleGenerativeAI)
    make(1)  # type: ignore[arg-type]
    make("gpt-4o-mini", temperature="hot")  # type: ignore[arg-type]
    await make.aget("gpt-4o-mini", colour="red")  # type: ignore[call-arg]

    client = Client()
    assert_type(client.model("gpt-4o-mini"), ChatOpenAI)
    assert_type(await client.model.aget("gpt-4o-mini"), ChatOpenAI)
    assert_type(Client.model.cache_info(), CacheStats)
    client.model(2)  # type: ignore[arg-type]


def langchain_convention() -> None:
    assert_type(llmcache.init_chat_model("openai:gpt-4o-mini"), BaseChatModel)
    assert_type(
        llmcache.init_chat_model("gpt-4o-mini", model_provider="openai", temperature=0), ChatOpenAI
    )
    assert_type(
        llmcache.init_chat_model("gemini-2.5-flash", model_provider="google_genai"),
        ChatGoogleGenerativeAI,
    )
    assert_type(
        llmcache.init_chat_model("claude-sonnet-4-5", model_provider="anthropic"), ChatAnthropic
    )
    assert_type(llmcache.init_chat_model("gpt-4o", model_provider="azure_openai"), AzureChatOpenAI)
    assert_type(llmcache.init_chat_model("anthropic:claude-sonnet-4-5"), BaseChatModel)
    assert_type(llmcache.init_chat_model("command-r", model_provider="cohere"), ChatCohere)
    llmcache.init_chat_model(None)  # type: ignore[call-overload]


class Mine:
    """A model from a provider of your own."""


async def typed_returns() -> None:
    assert_type(llmcache.get_model("gemini-2.5-flash", "google"), ChatGoogleGenerativeAI)
    assert_type(
        llmcache.get_model("gemini-2.5-flash", provider="google_genai"), ChatGoogleGenerativeAI
    )
    assert_type(llmcache.get_model("gpt-4o-mini", provider="openai"), ChatOpenAI)
    assert_type(llmcache.get_model("gemini-2.5-flash"), BaseChatModel)
    assert_type(llmcache.get_model("openai:gpt-4o-mini", temperature=0), BaseChatModel)
    assert_type(llmcache.get_model("m", provider="mine"), Any)
    assert_type(
        await llmcache.get_model_async("gemini-2.5-flash", provider="google"),
        ChatGoogleGenerativeAI,
    )
    assert_type(await llmcache.get_model_async("gpt-4o-mini", "openai"), ChatOpenAI)
    assert_type(await llmcache.get_model_async("gpt-4o-mini"), BaseChatModel)
    assert_type(await llmcache.get_model_async("m", provider="mine"), Any)
    # LangChain providers llmcache adapts: their class when the provider is given, any LangChain
    # chat model when inferred from the name ("claude..." -> anthropic, "mistral..." -> mistralai).
    assert_type(llmcache.get_model("claude-sonnet-4-5", "anthropic"), ChatAnthropic)
    assert_type(llmcache.get_model("claude-sonnet-4-5"), BaseChatModel)
    assert_type(llmcache.get_model("mistral-large-latest", provider="mistralai"), ChatMistralAI)
    assert_type(llmcache.get_model("mistral-large-latest"), BaseChatModel)
    assert_type(await llmcache.get_model_async("llama3.2", "ollama"), ChatOllama)
    assert_type(await llmcache.get_model_async("llama-3.3-70b", provider="groq"), ChatGroq)
    assert_type(llmcache.get_model("sonar", "perplexity"), ChatPerplexity)
    assert_type(llmcache.get_model("sonar"), BaseChatModel)
    assert_type(await llmcache.get_model_async("command-r-plus", "cohere"), ChatCohere)
    assert_type(llmcache.get_model("meta/llama-3.1-8b-instruct", "nvidia"), ChatNVIDIA)
    assert_type(llmcache.get_model("zai-org/GLM-5.2", "baseten"), ChatBaseten)
    assert_type(await llmcache.get_model_async("Llama-4-Maverick", "meta"), ChatMetaModel)
    llmcache.get_model(42)  # type: ignore[call-overload]
    mine: Mine = llmcache.get_model("m", provider="mine")  # Any: a factory of your own
    del mine
