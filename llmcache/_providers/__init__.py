"""Providers: a factory plus what the cache must know about the models it makes.

One module per provider family says how its models are built, which of their clients llmcache
makes loop-local and how, how they are closed, and whether the family needs ``per_loop``:

- :mod:`.google`: ``google`` (LangChain's ``google_genai``), built in;
- :mod:`.openai_compatible`: ``openai`` (built in), ``azure_openai``, ``deepseek``, ``xai``,
  ``together``, ``baseten``, ``meta``, ``groq``, ``fireworks``, ``openrouter``, ``perplexity``;
- :mod:`.anthropic`, :mod:`.cohere`, :mod:`.mistralai`, :mod:`.ollama`, :mod:`.vertexai`
  (``google_vertexai``);
- :mod:`._owned`: the record of the clients an adapter made, closed with the model.

:data:`ADAPTERS` names the LangChain providers llmcache adapts: each is built by LangChain's
own class (found through LangChain's provider table, so a missing package still raises
``ProviderNotInstalledError``), given loop-local clients, and closed when garbage.
:data:`AS_BUILT` names those measured to work from every loop as LangChain builds them. LangChain's
other providers are built exactly as LangChain builds them, unmeasured.

Every factory imports its SDK on first use, inside the cache's build thread, so that
``import llmcache`` stays cheap and the ~1 s SDK import never runs on an event loop.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._owned import aclose_owned, close_owned

__all__ = [
    "ADAPTERS",
    "AS_BUILT",
    "BUILTIN_PROVIDERS",
    "Factory",
    "Provider",
    "adapted_provider",
    "build_google",
    "build_openai",
    "infer_provider",
]

logger = logging.getLogger("llmcache")

Factory = Callable[..., Any]
"""``factory(model_name, **kwargs) -> model``: synchronous, may block, runs in a build thread."""


@dataclass(frozen=True, slots=True)
class Provider:
    """A factory and its model's lifecycle hooks.

    ``per_loop``: the model's async transport is bound to the event loop that first used it
    and the factory cannot be told otherwise, so the cache keeps one model per configuration
    *and event loop* (asked for inside a running loop), dropped when that loop is gone.
    ``prepare(model)`` runs in the build thread after construction (work the first request
    would otherwise do on the loop). ``close(model)``/``aclose(model)`` release the model's
    HTTP clients.

    ``closed_when_collected``: the model's clients close themselves once the model is garbage
    (the built-in providers arrange it), so a model the cache drops needs no hook call; else
    the cache calls ``close``/``aclose`` on a dropped model after its drain period.
    """

    factory: Factory
    per_loop: bool = False
    prepare: Callable[[Any], None] | None = None
    close: Callable[[Any], None] | None = None
    aclose: Callable[[Any], Awaitable[None]] | None = None
    closed_when_collected: bool = False


def _prepare_hook(name: str) -> Callable[[Any], None] | None:
    """``llmcache._prepare.<name>`` when that module exists (pre-pays first-call work)."""

    def prepare(model: Any) -> None:
        try:
            from .. import _prepare
        except ImportError:
            return
        hook = getattr(_prepare, name, None)
        if hook is not None:
            hook(model)

    return prepare


def build_google(model_name: str, **kwargs: Any) -> Any:
    """``ChatGoogleGenerativeAI`` (see :mod:`.google`)."""
    from .google import build_google as build

    return build(model_name, **kwargs)


def build_openai(model_name: str, **kwargs: Any) -> Any:
    """``ChatOpenAI`` with clients of its own (see :mod:`.openai_compatible`)."""
    from .openai_compatible import build_openai as build

    return build(model_name, **kwargs)


def close_google(model: Any) -> None:
    from .google import close_google as close

    close(model)


async def aclose_google(model: Any) -> None:
    from .google import aclose_google as aclose

    await aclose(model)


BUILTIN_PROVIDERS: dict[str, Provider] = {
    "google": Provider(
        build_google,
        prepare=_prepare_hook("prepare_google"),
        close=close_google,
        aclose=aclose_google,
        closed_when_collected=True,
    ),
    "openai": Provider(
        build_openai,
        prepare=_prepare_hook("prepare_openai"),
        close=close_owned,
        aclose=aclose_owned,
        closed_when_collected=True,
    ),
}

ADAPTERS: dict[str, tuple[str, str]] = {
    "anthropic": ("anthropic", "adapt_anthropic"),
    "azure_openai": ("openai_compatible", "adapt_openai_family"),
    "baseten": ("openai_compatible", "adapt_openai_family"),
    "cohere": ("cohere", "adapt_cohere"),
    "deepseek": ("openai_compatible", "adapt_openai_family"),
    "fireworks": ("openai_compatible", "adapt_fireworks"),
    "google_vertexai": ("vertexai", "adapt_vertexai"),
    "groq": ("openai_compatible", "adapt_groq"),
    "meta": ("openai_compatible", "adapt_openai_family"),
    "mistralai": ("mistralai", "adapt_mistralai"),
    "ollama": ("ollama", "adapt_ollama"),
    "openrouter": ("openai_compatible", "adapt_openrouter"),
    "perplexity": ("openai_compatible", "adapt_perplexity"),
    "together": ("openai_compatible", "adapt_openai_family"),
    "xai": ("openai_compatible", "adapt_openai_family"),
}
"""LangChain provider name -> (module of this package, its ``adapt(make, **kwargs)``)."""

AS_BUILT: frozenset[str] = frozenset({"nvidia"})
"""LangChain providers that need no adapter, measured by ``tests/test_providers_every_loop.py``:
langchain-nvidia-ai-endpoints opens an aiohttp session per async request and closes it after
(a ``requests.Session`` per sync request), so nothing pooled outlives the loop that used it."""


def adapted_provider(name: str) -> Provider | None:
    """The provider of one of LangChain's names that llmcache adapts, else None.

    Its factory builds LangChain's class through LangChain's table (``make``, the model name
    bound) and hands it to the family's ``adapt`` function, which gives it loop-local clients
    and records them, so the model is closed when it is garbage.
    """
    where = ADAPTERS.get(name)
    if where is None:
        return None
    from .._langchain import langchain_factory

    plain = langchain_factory(name)
    if plain is None:
        return None
    module_name, function_name = where

    def build(model_name: str, **kwargs: Any) -> Any:
        import importlib

        module = importlib.import_module(f"{__name__}.{module_name}")
        adapt = getattr(module, function_name)
        return adapt(functools.partial(plain, model_name), **kwargs)

    build.__qualname__ = build.__name__ = f"build_{name}"
    return Provider(build, close=close_owned, aclose=aclose_owned, closed_when_collected=True)


_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gemini-", "google"),
    ("models/gemini-", "google"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
)


def infer_provider(model_name: str) -> str | None:
    """The provider a name implies: ``gemini-*`` -> google; ``gpt-*``, ``o1*``... -> openai."""
    lowered = model_name.lower()
    for prefix, provider in _PREFIXES:
        if lowered.startswith(prefix):
            return provider
    return None
