"""Providers: a factory plus what the cache must know about the models it makes.

Each built-in factory imports its SDK on first use, inside the cache's build thread, so that
``import llmcache`` stays cheap and the ~1 s SDK import never runs on an event loop.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ._loops import (
    close_at_loop_shutdown,
    close_with_owner,
    is_loop_local_client,
    loop_local_async_client,
)

__all__ = [
    "BUILTIN_PROVIDERS",
    "Factory",
    "Provider",
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


# -- Google (langchain-google-genai 4.x; google-genai keeps one async session per loop) -------


def build_google(model_name: str, **kwargs: Any) -> Any:
    """``langchain_google_genai.ChatGoogleGenerativeAI`` (4.x, REST through google-genai)."""
    from langchain_google_genai import ChatGoogleGenerativeAI

    model = ChatGoogleGenerativeAI(model=model_name, **kwargs)
    _close_google_sessions_with_their_loop(model)
    return model


def _close_google_sessions_with_their_loop(model: Any) -> None:
    """Have each per-loop session google-genai opens closed on its own loop, when that loop
    shuts down or when the model is garbage, whichever comes first.

    google-genai keeps one aiohttp session (or httpx client) per event loop and forgets the
    ones whose loop has closed without closing them, so every ``asyncio.run`` would leave open
    sockets behind ("Unclosed client session"); its own ``__del__`` closes only the current
    loop's. Checked on google-genai 3.6: the private ``_get_aiohttp_session``,
    ``_aiohttp_sessions`` and the httpx client's ``_client_for_running_loop`` and
    ``_loop_clients``. If the SDK changes shape, nothing is wrapped (and the lifecycle tests
    say so).
    """
    api: Any = getattr(getattr(_google_client(model), "aio", None), "_api_client", None)
    if api is None:
        return
    get_session = getattr(api, "_get_aiohttp_session", None)
    options: Any = getattr(api, "_http_options", None)
    sessions = getattr(api, "_aiohttp_sessions", None)
    if callable(get_session) and not getattr(options, "aiohttp_client", None):

        async def get_session_closed_at_shutdown() -> Any:
            session = await get_session()
            if session is not None:
                close_at_loop_shutdown(session, "close")
            return session

        api._get_aiohttp_session = get_session_closed_at_shutdown
        if isinstance(sessions, dict):
            close_with_owner(api, sessions, "close")
    httpx_client: Any = getattr(api, "_async_httpx_client", None)
    inner_for_loop = getattr(httpx_client, "_client_for_running_loop", None)
    if callable(inner_for_loop):

        def inner_closed_at_shutdown() -> Any:
            inner = inner_for_loop()
            close_at_loop_shutdown(inner, "aclose")
            return inner

        httpx_client._client_for_running_loop = inner_closed_at_shutdown
        inner_clients = getattr(httpx_client, "_loop_clients", None)
        if isinstance(inner_clients, dict):
            close_with_owner(httpx_client, inner_clients, "aclose")


def _google_client(model: Any) -> Any:
    client: Any = getattr(model, "client", None)
    return client


def _mark_google_closed(model: Any) -> None:
    # langchain-google-genai's own cleanup would close again, from a GC callback.
    cleanup = getattr(model, "_client_cleanup", None)
    if cleanup is not None and hasattr(cleanup, "_closed"):
        cleanup._closed = True


def close_google(model: Any) -> None:
    client = _google_client(model)
    if client is not None:
        client.close()
        aio: Any = getattr(client, "aio", None)
        api: Any = getattr(aio, "_api_client", None)
        resources_closed = getattr(api, "_async_resources_are_closed", None)
        if aio is not None and callable(resources_closed) and not resources_closed():
            # Per-loop sessions: each closed on its own running loop (google-genai does this).
            import asyncio

            try:
                asyncio.get_running_loop()
            except RuntimeError:
                asyncio.run(aio.aclose())
            else:
                logger.debug("close() inside a running loop: use aclose() for async sessions")
    _mark_google_closed(model)


async def aclose_google(model: Any) -> None:
    client = _google_client(model)
    if client is not None:
        client.close()
        await client.aio.aclose()
    _mark_google_closed(model)


def _prepare_hook(name: str) -> Callable[[Any], None] | None:
    """``llmcache._prepare.<name>`` when that module exists (pre-pays first-call work)."""

    def prepare(model: Any) -> None:
        try:
            from . import _prepare
        except ImportError:
            return
        hook = getattr(_prepare, name, None)
        if hook is not None:
            hook(model)

    return prepare


# -- OpenAI (langchain-openai shares one process-wide async httpx client: loop-bound) --------

_owned_sync_clients: weakref.WeakSet[Any] = weakref.WeakSet()


def build_openai(model_name: str, **kwargs: Any) -> Any:
    """``langchain_openai.ChatOpenAI`` with HTTP clients of its own that work in every loop.

    Unless the caller passes its own clients (or a proxy), the model gets a sync httpx client
    and a loop-local async client, both owned (and closed) by the cache, instead of
    langchain-openai's process-wide cached ones, whose pooled connections belong to the first
    event loop that used them.
    """
    from langchain_openai import ChatOpenAI

    if not kwargs.get("openai_proxy") and kwargs.get("http_socket_options") is None:
        import openai
        from langchain_openai._compat import httpx
        from openai._constants import DEFAULT_CONNECTION_LIMITS

        if "http_async_client" not in kwargs and "async_client" not in kwargs:
            kwargs["http_async_client"] = loop_local_async_client(
                httpx, limits=DEFAULT_CONNECTION_LIMITS
            )
        if "http_client" not in kwargs and "client" not in kwargs:
            sync_client = openai.DefaultHttpxClient()
            _owned_sync_clients.add(sync_client)
            kwargs["http_client"] = sync_client
    model = ChatOpenAI(model=model_name, **kwargs)
    owned: Any = kwargs.get("http_client")
    if owned is not None and owned in _owned_sync_clients:
        weakref.finalize(model, _close_in_this_process(owned.close))
    return model


def _close_in_this_process(close: Callable[[], Any]) -> Callable[[], None]:
    """``close``, skipped in a forked child (closing there could write on the parent's
    connections)."""
    pid = os.getpid()

    def close_here() -> None:
        if os.getpid() == pid:
            close()

    return close_here


def close_openai(model: Any) -> None:
    sync_client = getattr(model, "http_client", None)
    if sync_client is not None and sync_client in _owned_sync_clients:
        sync_client.close()
    async_client: Any = getattr(model, "http_async_client", None)
    if is_loop_local_client(async_client):
        async_client.close_from_any_thread()


async def aclose_openai(model: Any) -> None:
    sync_client = getattr(model, "http_client", None)
    if sync_client is not None and sync_client in _owned_sync_clients:
        sync_client.close()
    async_client: Any = getattr(model, "http_async_client", None)
    if is_loop_local_client(async_client):
        await async_client.aclose()


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
        close=close_openai,
        aclose=aclose_openai,
        closed_when_collected=True,
    ),
}

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
