"""The OpenAI-compatible family: openai (built in), azure_openai, deepseek, xai, together,
baseten, meta, groq, fireworks, openrouter, perplexity.

Their async clients are httpx clients whose pooled connections belong to the first event loop
that used them: langchain-openai shares one process-wide client (an ``lru_cache``); deepseek,
xai, together, azure, baseten, meta and groq make one per model; fireworks' is aiohttp-backed
(httpx-aiohttp) and made at validation; openrouter's is made by its SDK; perplexity's is its
SDK's own, per model. Reused from another loop they fail (``RuntimeError: Event loop is
closed``, or a connection error after the SDK's retries).

What llmcache does, per provider (``per_loop`` is never needed; every one is
``closed_when_collected``: see :mod:`._owned`):

- **openai, azure_openai, deepseek, xai, together, baseten, meta** (subclasses of
  langchain-openai's ``BaseChatOpenAI``; meta's default is the Responses API, on the same
  client): the public ``http_async_client=`` gets a loop-local client on the httpx flavour the
  openai SDK imports (``httpx2`` for openai 3.x, found from the SDK's public
  ``DefaultAsyncHttpxClient``) with the SDK's ``DEFAULT_CONNECTION_LIMITS``, and ``http_client=``
  the SDK's ``DefaultHttpxClient``, owned and closed with the model. Left alone when the caller
  passes its own clients (``http_client``/``http_async_client``/``client``/``async_client``),
  or a proxy (``openai_proxy``, ``http_socket_options``), which LangChain applies to clients it
  builds itself.
- **groq**: the same public ``http_async_client=``/``http_client=`` of ``ChatGroq``, on the
  groq SDK's httpx (plain ``httpx``) and limits; left alone with ``groq_proxy``.
- **fireworks**: LangChain passes no client to ``AsyncFireworks``; after the build, the public
  field ``async_client`` is replaced by ``AsyncFireworks(..., http_client=<loop-local>)
  .chat.completions``, made from the model's public fields as langchain-fireworks makes it
  (``max_retries=0``: LangChain retries). The transport is httpx per loop instead of the SDK's
  default aiohttp. Left alone when the caller passes ``async_client``.
- **openrouter**: ``ChatOpenRouter`` builds an ``openrouter.OpenRouter`` SDK (Speakeasy) with
  an ``httpx.AsyncClient`` of its own; after the build, that SDK's configuration object
  (``model.client.sdk_configuration.async_client``, an attribute without an underscore but no
  constructor parameter of LangChain's) gets a loop-local client with the same headers,
  marked as supplied (so the SDK never closes ours); its per-model sync client is closed
  with the model (under ``-X dev`` it was otherwise left open). Checked on openrouter 0.10.8 with
  langchain-openrouter 0.2.9; ``tests/test_providers_every_loop.py`` fails loudly if it moves.
  Left alone when the caller passes ``client``.
- **perplexity**: ``ChatPerplexity`` makes ``AsyncPerplexity``/``Perplexity`` (Stainless SDKs
  on plain ``httpx``) at validation, with no client or base URL parameter of LangChain's (the
  SDK reads ``PERPLEXITY_BASE_URL``). After the build, the public field ``async_client`` gets
  the SDK's public ``copy(http_client=<loop-local>)`` of the client LangChain made (same key,
  base URL, timeout, retries and headers); the per-model sync ``client`` is closed with the
  model. Left alone when the caller passes ``async_client``. Public API only; checked on
  langchain-perplexity 1.4.2 with perplexityai 0.46.1.

Closed: ``close``/``aclose`` close the loop-local client (each loop's pool on its own loop) and
the sync clients llmcache made; a model llmcache did not give clients to is left as it is.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from .._loops import default_ssl_context, loop_local_async_client
from ._owned import aclose_owned, close_owned, own

__all__ = [
    "aclose_openai",
    "adapt_fireworks",
    "adapt_groq",
    "adapt_openai_family",
    "adapt_openrouter",
    "adapt_perplexity",
    "build_openai",
    "close_openai",
    "httpx_module_of",
    "sdk_loop_local_client",
]

Make = Callable[..., Any]
"""LangChain's own build of the model, its model name bound: ``make(**kwargs) -> model``."""


def httpx_module_of(client_class: type[Any]) -> ModuleType:
    """The httpx flavour (``httpx`` or ``httpx2``) whose ``AsyncClient`` (or ``Client``)
    ``client_class`` is."""
    for base in client_class.__mro__:
        module = sys.modules.get(base.__module__.split(".", 1)[0])
        if (
            base.__name__ in ("AsyncClient", "Client")
            and getattr(module, base.__name__, None) is base
        ):
            assert module is not None
            return module
    raise TypeError(f"{client_class.__qualname__} is not an httpx client")


def sdk_loop_local_client(sdk: ModuleType, **kwargs: Any) -> Any:
    """A loop-local client for a Stainless-made SDK (openai, anthropic, groq, fireworks): on the
    httpx flavour its public ``DefaultAsyncHttpxClient`` is, with its connection limits."""
    httpx = httpx_module_of(sdk.DefaultAsyncHttpxClient)
    return loop_local_async_client(httpx, limits=sdk.DEFAULT_CONNECTION_LIMITS, **kwargs)


def _clients_from(
    sdk: ModuleType, kwargs: dict[str, Any], *, proxied: bool
) -> tuple[list[Any], list[Callable[[], Any]]]:
    """Put a loop-local ``http_async_client`` and an owned ``http_client`` into ``kwargs``
    unless the caller gave clients (or a proxy); return what was made."""
    loop_local: list[Any] = []
    sync: list[Callable[[], Any]] = []
    if proxied:
        return loop_local, sync
    if "http_async_client" not in kwargs and "async_client" not in kwargs:
        kwargs["http_async_client"] = client = sdk_loop_local_client(sdk)
        loop_local.append(client)
    if "http_client" not in kwargs and "client" not in kwargs:
        # The process's shared TLS context: the model's SDK client sits in reference cycles, so
        # a context of its own would stay in memory until a full collection.
        verify = default_ssl_context(httpx_module_of(sdk.DefaultHttpxClient))
        kwargs["http_client"] = sync_client = sdk.DefaultHttpxClient(verify=verify)
        sync.append(sync_client.close)
    return loop_local, sync


def adapt_openai_family(make: Make, **kwargs: Any) -> Any:
    """A ``BaseChatOpenAI`` subclass (ChatOpenAI, AzureChatOpenAI, ChatDeepSeek, ChatXAI,
    ChatTogether, ChatBaseten, ChatMetaModel) with a loop-local async client and a sync client
    of its own."""
    import openai

    proxied = bool(kwargs.get("openai_proxy")) or kwargs.get("http_socket_options") is not None
    loop_local, sync = _clients_from(openai, kwargs, proxied=proxied)
    model = make(**kwargs)
    own(model, loop_local=loop_local, sync=sync)
    return model


def build_openai(model_name: str, **kwargs: Any) -> Any:
    """``langchain_openai.ChatOpenAI`` with HTTP clients of its own that work in every loop."""
    from langchain_openai import ChatOpenAI

    def make(**kw: Any) -> Any:
        return ChatOpenAI(model=model_name, **kw)

    return adapt_openai_family(make, **kwargs)


close_openai = close_owned
aclose_openai = aclose_owned


def adapt_groq(make: Make, **kwargs: Any) -> Any:
    """``ChatGroq`` with a loop-local ``http_async_client`` and an owned ``http_client``."""
    import groq

    proxied = bool(kwargs.get("groq_proxy"))
    loop_local, sync = _clients_from(groq, kwargs, proxied=proxied)
    model = make(**kwargs)
    own(model, loop_local=loop_local, sync=sync)
    return model


def adapt_fireworks(make: Make, **kwargs: Any) -> Any:
    """``ChatFireworks`` whose ``async_client`` is an ``AsyncFireworks`` on a loop-local client."""
    model = make(**kwargs)
    if "async_client" in kwargs:
        return model
    import fireworks

    timeout: Any = model.request_timeout
    if isinstance(timeout, tuple):  # as langchain-fireworks normalises 0.x's (connect, read)
        connect, read = timeout
        timeout = httpx_module_of(fireworks.DefaultAsyncHttpxClient).Timeout(read, connect=connect)
    client = sdk_loop_local_client(fireworks)
    sdk = fireworks.AsyncFireworks(
        api_key=model.fireworks_api_key.get_secret_value(),
        base_url=model.fireworks_api_base,
        timeout=timeout,
        max_retries=0,  # LangChain's retry decorator retries, as langchain-fireworks sets it
        http_client=client,
    )
    model.async_client = sdk.chat.completions
    own(model, loop_local=[client])
    return model


def adapt_openrouter(make: Make, **kwargs: Any) -> Any:
    """``ChatOpenRouter`` whose SDK sends async requests through a loop-local client."""
    model = make(**kwargs)
    if "client" in kwargs:
        return model
    config = model.client.sdk_configuration
    old = config.async_client
    client = loop_local_async_client(
        httpx_module_of(type(old)), headers=old.headers, follow_redirects=old.follow_redirects
    )
    config.async_client = client
    config.async_client_supplied = True  # ours: the SDK's own finalizer leaves it alone
    sync = config.client  # the SDK's (or LangChain's) per-model sync client, closed with it
    own(model, loop_local=[client], sync=[sync.close] if sync is not None else [])
    return model


def adapt_perplexity(make: Make, **kwargs: Any) -> Any:
    """``ChatPerplexity`` whose ``async_client`` sends through a loop-local client."""
    model = make(**kwargs)
    sync = [] if "client" in kwargs else [model.client.close]
    if "async_client" in kwargs:
        own(model, sync=sync)
        return model
    import perplexity

    client = sdk_loop_local_client(perplexity)
    model.async_client = model.async_client.copy(http_client=client)
    own(model, loop_local=[client], sync=sync)
    return model
