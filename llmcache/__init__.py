"""llmcache: one shared, single-flight cache of LLM chat-model clients for sync and async code.

``get_model`` and ``await get_model_async`` return one instance per configuration, built once
in a thread the cache owns (never on an event loop), whatever mix of threads, tasks and event
loops asks for it. Importing this package imports no LangChain or SDK module.
"""

from __future__ import annotations

import inspect
from collections.abc import Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

from ._cache import DEFAULT_BUILD_TIMEOUT, CacheStats, ModelCache, ModelSpec, WarmSpec
from ._decorator import Cached, cached
from ._errors import (
    BuildAbortedError,
    BuildStartError,
    BuildTimeoutError,
    CacheError,
    ProviderNotInstalledError,
    ReentrantBuildError,
    UnknownProviderError,
)
from ._keys import CacheKey
from ._langchain import init_chat_model
from ._loops import loop_local_async_client
from ._providers import Factory, Provider

if TYPE_CHECKING:  # the types of the providers' models; never imported at run time
    from langchain_anthropic import ChatAnthropic
    from langchain_baseten import ChatBaseten
    from langchain_cohere import ChatCohere
    from langchain_core.language_models import BaseChatModel
    from langchain_deepseek import ChatDeepSeek
    from langchain_fireworks import ChatFireworks
    from langchain_google_genai import ChatGoogleGenerativeAI
    from langchain_groq import ChatGroq
    from langchain_meta import ChatMetaModel
    from langchain_mistralai import ChatMistralAI
    from langchain_nvidia_ai_endpoints import ChatNVIDIA
    from langchain_ollama import ChatOllama
    from langchain_openai import AzureChatOpenAI, ChatOpenAI
    from langchain_openrouter import ChatOpenRouter
    from langchain_perplexity import ChatPerplexity
    from langchain_together import ChatTogether
    from langchain_xai import ChatXAI

__all__ = [
    "DEFAULT_BUILD_TIMEOUT",
    "BuildAbortedError",
    "BuildStartError",
    "BuildTimeoutError",
    "CacheError",
    "CacheKey",
    "CacheStats",
    "Cached",
    "Factory",
    "ModelCache",
    "ModelSpec",
    "Provider",
    "ProviderNotInstalledError",
    "ReentrantBuildError",
    "UnknownProviderError",
    "WarmSpec",
    "aclose_cache",
    "cache_stats",
    "cached",
    "clear_cache",
    "close_cache",
    "configure",
    "default_cache",
    "get_model",
    "get_model_async",
    "init_chat_model",
    "loop_local_async_client",
    "register_provider",
    "warm",
    "warm_async",
]

__version__ = "0.1.0"

default_cache = ModelCache()
"""The process-wide cache behind the module-level functions."""


# Typed returns: the class of each provider llmcache builds (the built-in ones and the LangChain
# providers it adapts), any LangChain chat model when inferred, and Any for a provider of your
# own (it may return anything).
@overload
def get_model(
    model_name: str, provider: Literal["google", "google_genai"], **kwargs: Any
) -> ChatGoogleGenerativeAI: ...
@overload
def get_model(model_name: str, provider: Literal["openai"], **kwargs: Any) -> ChatOpenAI: ...
@overload
def get_model(model_name: str, provider: Literal["anthropic"], **kwargs: Any) -> ChatAnthropic: ...
@overload
def get_model(
    model_name: str, provider: Literal["azure_openai"], **kwargs: Any
) -> AzureChatOpenAI: ...
@overload
def get_model(model_name: str, provider: Literal["baseten"], **kwargs: Any) -> ChatBaseten: ...
@overload
def get_model(model_name: str, provider: Literal["cohere"], **kwargs: Any) -> ChatCohere: ...
@overload
def get_model(model_name: str, provider: Literal["deepseek"], **kwargs: Any) -> ChatDeepSeek: ...
@overload
def get_model(model_name: str, provider: Literal["fireworks"], **kwargs: Any) -> ChatFireworks: ...
@overload
def get_model(model_name: str, provider: Literal["groq"], **kwargs: Any) -> ChatGroq: ...
@overload
def get_model(model_name: str, provider: Literal["mistralai"], **kwargs: Any) -> ChatMistralAI: ...
@overload
def get_model(model_name: str, provider: Literal["meta"], **kwargs: Any) -> ChatMetaModel: ...
@overload
def get_model(model_name: str, provider: Literal["nvidia"], **kwargs: Any) -> ChatNVIDIA: ...
@overload
def get_model(model_name: str, provider: Literal["ollama"], **kwargs: Any) -> ChatOllama: ...
@overload
def get_model(
    model_name: str, provider: Literal["openrouter"], **kwargs: Any
) -> ChatOpenRouter: ...
@overload
def get_model(
    model_name: str, provider: Literal["perplexity"], **kwargs: Any
) -> ChatPerplexity: ...
@overload
def get_model(model_name: str, provider: Literal["together"], **kwargs: Any) -> ChatTogether: ...
@overload
def get_model(model_name: str, provider: Literal["xai"], **kwargs: Any) -> ChatXAI: ...
@overload
def get_model(model_name: str, provider: None = None, **kwargs: Any) -> BaseChatModel: ...
@overload
def get_model(model_name: str, provider: str, **kwargs: Any) -> Any: ...
def get_model(model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
    """The shared chat model for this configuration; built once, blocking until it is ready."""
    return default_cache.get(model_name, provider, **kwargs)


@overload
async def get_model_async(
    model_name: str, provider: Literal["google", "google_genai"], **kwargs: Any
) -> ChatGoogleGenerativeAI: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["openai"], **kwargs: Any
) -> ChatOpenAI: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["anthropic"], **kwargs: Any
) -> ChatAnthropic: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["azure_openai"], **kwargs: Any
) -> AzureChatOpenAI: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["deepseek"], **kwargs: Any
) -> ChatDeepSeek: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["baseten"], **kwargs: Any
) -> ChatBaseten: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["cohere"], **kwargs: Any
) -> ChatCohere: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["fireworks"], **kwargs: Any
) -> ChatFireworks: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["groq"], **kwargs: Any
) -> ChatGroq: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["mistralai"], **kwargs: Any
) -> ChatMistralAI: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["meta"], **kwargs: Any
) -> ChatMetaModel: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["nvidia"], **kwargs: Any
) -> ChatNVIDIA: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["ollama"], **kwargs: Any
) -> ChatOllama: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["openrouter"], **kwargs: Any
) -> ChatOpenRouter: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["perplexity"], **kwargs: Any
) -> ChatPerplexity: ...
@overload
async def get_model_async(
    model_name: str, provider: Literal["together"], **kwargs: Any
) -> ChatTogether: ...
@overload
async def get_model_async(model_name: str, provider: Literal["xai"], **kwargs: Any) -> ChatXAI: ...
@overload
async def get_model_async(
    model_name: str, provider: None = None, **kwargs: Any
) -> BaseChatModel: ...
@overload
async def get_model_async(model_name: str, provider: str, **kwargs: Any) -> Any: ...
def get_model_async(
    model_name: str, provider: str | None = None, **kwargs: Any
) -> Coroutine[Any, Any, Any]:
    """The shared chat model for this configuration, awaited without blocking the event loop."""
    # A plain function returning the cache's coroutine: a hit then costs one coroutine, not two.
    return default_cache.aget(model_name, provider, **kwargs)


if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
    inspect.markcoroutinefunction(get_model_async)


def register_provider(name: str, factory: Factory | Provider, **options: Any) -> None:
    """Register ``factory(model_name, **kwargs)``; replacing one drops its cached models.

    ``options`` are :meth:`ModelCache.register_provider`'s: ``per_loop``, ``prepare``,
    ``close``, ``aclose``.
    """
    default_cache.register_provider(name, factory, **options)


def configure(**settings: Any) -> None:
    """Change the process-wide cache's settings: ``maxsize``, ``ttl``, ``build_timeout``,
    ``slow_threshold``, ``warn_above`` (see :class:`ModelCache`)."""
    default_cache.configure(**settings)


def close_cache() -> None:
    """Close every cached model's HTTP clients; later calls build anew."""
    default_cache.close()


async def aclose_cache() -> None:
    """Close every cached model's HTTP clients, each loop-bound one on its own loop."""
    await default_cache.aclose()


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
