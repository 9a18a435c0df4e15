"""Built-in providers and provider inference.

Each factory imports its SDK on first use, inside the cache's worker thread, so that
``import llmcache`` stays cheap and the ~1 s SDK import never runs on an event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["BUILTIN_PROVIDERS", "Factory", "build_google", "build_openai", "infer_provider"]

Factory = Callable[..., Any]
"""``factory(model_name, **kwargs) -> model``: synchronous, may block, runs in a worker thread."""


def build_google(model_name: str, **kwargs: Any) -> Any:
    """``langchain_google_genai.ChatGoogleGenerativeAI`` (4.x, REST through google-genai)."""
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(model=model_name, **kwargs)


def build_openai(model_name: str, **kwargs: Any) -> Any:
    """``langchain_openai.ChatOpenAI``."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model=model_name, **kwargs)


BUILTIN_PROVIDERS: dict[str, Factory] = {"google": build_google, "openai": build_openai}

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gemini-", "google"),
    ("models/gemini-", "google"),
    ("gpt-", "openai"),
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
