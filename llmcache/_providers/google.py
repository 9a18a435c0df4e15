"""Google: ``google`` (LangChain's ``google_genai``), ``ChatGoogleGenerativeAI`` of
langchain-google-genai 4.x over google-genai.

- Built: ``ChatGoogleGenerativeAI(model=..., **kwargs)``, as LangChain builds it.
- Loop-local: google-genai already keeps one aiohttp session (or httpx client) per event loop.
  What llmcache adds is closing them: each per-loop session is closed on its own loop when
  that loop shuts down or when the model is garbage (google-genai forgets a closed loop's
  session without closing it). This wraps private methods of google-genai, checked on
  google-genai 3.6 (``_get_aiohttp_session``, ``_aiohttp_sessions``, the httpx client's
  ``_client_for_running_loop`` and ``_loop_clients``); if they move, nothing is wrapped and
  ``tests/test_dropped_models_closed.py`` fails.
- Closed: ``close`` closes the sync client and, outside a running loop, the per-loop sessions;
  ``aclose`` awaits google-genai's own ``aio.aclose()``. ``closed_when_collected``.
- ``per_loop``: no.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

from .._loops import close_at_loop_shutdown, close_with_owner

__all__ = ["aclose_google", "build_google", "close_google"]

logger = logging.getLogger("llmcache")


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
        # Weakly: a wrapper stored on ``api`` that held ``api`` would put it in a reference
        # cycle, and its TLS contexts (megabytes) would wait for a full collection.
        get_session_weakly = weakref.WeakMethod(get_session)

        async def get_session_closed_at_shutdown() -> Any:
            get = get_session_weakly()
            if get is None:
                raise RuntimeError("the google-genai client is gone")
            session = await get()
            if session is not None:
                close_at_loop_shutdown(session, "close")
            return session

        api._get_aiohttp_session = get_session_closed_at_shutdown
        if isinstance(sessions, dict):
            close_with_owner(model, sessions, "close")
    httpx_client: Any = getattr(api, "_async_httpx_client", None)
    inner_for_loop = getattr(httpx_client, "_client_for_running_loop", None)
    if callable(inner_for_loop):
        inner_for_loop_weakly = weakref.WeakMethod(inner_for_loop)  # (no cycle, as above)

        def inner_closed_at_shutdown() -> Any:
            get = inner_for_loop_weakly()
            if get is None:
                raise RuntimeError("the google-genai client is gone")
            inner = get()
            close_at_loop_shutdown(inner, "aclose")
            return inner

        httpx_client._client_for_running_loop = inner_closed_at_shutdown
        inner_clients = getattr(httpx_client, "_loop_clients", None)
        if isinstance(inner_clients, dict):
            close_with_owner(model, inner_clients, "aclose")


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
