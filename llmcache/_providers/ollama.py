"""Ollama: ``ollama``, ``ChatOllama`` of langchain-ollama.

- Built: ``ChatOllama(model=..., **kwargs)``, with transports of llmcache's own passed through
  its public ``async_client_kwargs`` and ``sync_client_kwargs`` (merged over ``client_kwargs``
  and given by the ollama SDK to ``httpx.AsyncClient``/``httpx.Client``).
- Loop-local: langchain-ollama keeps a private ``ollama.AsyncClient`` per model whose
  ``httpx.AsyncClient`` pools connections of the first loop that used it. Its transport is
  llmcache's: each request goes through ``loop_local_async_client`` (one inner httpx client per
  loop, the one mechanism), while ollama's own client keeps its base URL, headers and timeout.
  Transport options given in ``client_kwargs``/``async_client_kwargs`` (``verify``, ``cert``,
  ``proxy``, ``limits``, ``http2``...) go to the per-loop clients. Left alone when the caller
  passes a ``transport`` of its own. Public parameters only; checked on langchain-ollama 1.1.0
  with ollama 0.6.3.
- The sync client gets an ``httpx.HTTPTransport`` of llmcache's, so that it is closed with the
  model (langchain-ollama never closes its per-model sync client).
- Closed: ``close``/``aclose`` close both; when the model is garbage, the same
  (``closed_when_collected``).
- ``per_loop``: no.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._loops import loop_local_async_client
from ._owned import own

__all__ = ["adapt_ollama"]

_TRANSPORT_OPTIONS = frozenset({"verify", "cert", "trust_env", "http1", "http2", "limits", "proxy"})
"""``httpx.AsyncClient`` options that configure its transport (ignored beside ``transport=``)."""


def adapt_ollama(make: Callable[..., Any], **kwargs: Any) -> Any:
    """``ChatOllama`` whose async and sync httpx clients send through transports of ours."""
    shared = dict(kwargs.get("client_kwargs") or {})
    given_async = dict(kwargs.get("async_client_kwargs") or {})
    given_sync = dict(kwargs.get("sync_client_kwargs") or {})
    if "transport" in {**shared, **given_async}:
        return make(**kwargs)
    import httpx  # what the ollama SDK builds its clients with

    options = {k: v for k, v in {**shared, **given_async}.items() if k in _TRANSPORT_OPTIONS}
    client = loop_local_async_client(httpx, follow_redirects=False, **options)
    sync_options = {k: v for k, v in {**shared, **given_sync}.items() if k in _TRANSPORT_OPTIONS}
    sync_transport = None
    if "transport" not in {**shared, **given_sync}:
        sync_transport = httpx.HTTPTransport(**sync_options)
        given_sync["transport"] = sync_transport
    given_async["transport"] = _loop_local_transport(httpx, client)
    model = make(**{**kwargs, "async_client_kwargs": given_async, "sync_client_kwargs": given_sync})
    own(model, loop_local=[client], sync=[sync_transport.close] if sync_transport else [])
    return model


def _loop_local_transport(httpx: Any, client: Any) -> Any:
    """An ``httpx.AsyncBaseTransport`` sending each request through ``client`` (loop-local)."""

    class LoopLocalTransport(httpx.AsyncBaseTransport):  # type: ignore[misc]
        async def handle_async_request(self, request: Any) -> Any:
            return await client.send(request, stream=True)

        async def aclose(self) -> None:
            await client.aclose()

    return LoopLocalTransport()
