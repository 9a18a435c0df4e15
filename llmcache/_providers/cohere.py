"""Cohere: ``cohere``, ``ChatCohere`` of langchain-cohere.

- Built: ``ChatCohere(model=..., **kwargs)``, as LangChain builds it; then its clients are
  replaced before first use.
- Loop-local: langchain-cohere makes ``cohere.AsyncClient`` (a Fern SDK on plain ``httpx``) at
  validation, with an ``httpx.AsyncClient`` per model whose pooled connections belong to the
  first loop that used it. It overwrites ``client``/``async_client`` whatever the caller
  passes, so after the build the public field ``async_client`` gets ``cohere.AsyncClient`` with
  the parameters LangChain passes (key, ``user_agent`` as client name, ``timeout_seconds``,
  ``base_url``) and the SDK's public ``httpx_client=``: a loop-local client (no redirects, as
  the SDK's default). Public fields and parameters only; checked on langchain-cohere 0.6.0 with
  cohere 5.21.1.
- The sync ``client`` is made the same way on an ``httpx.Client`` of llmcache's, closed with
  the model (langchain-cohere never closes its per-model one).
- Closed: ``close``/``aclose`` close both; when the model is garbage, the same
  (``closed_when_collected``).
- ``per_loop``: no.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._loops import default_ssl_context, loop_local_async_client
from ._owned import own

__all__ = ["adapt_cohere"]


def adapt_cohere(make: Callable[..., Any], **kwargs: Any) -> Any:
    """``ChatCohere`` whose SDK clients send through clients of llmcache's."""
    model = make(**kwargs)
    import cohere
    import httpx  # what the cohere SDK builds its clients with

    secret = model.cohere_api_key
    params: dict[str, Any] = {
        "api_key": secret.get_secret_value() if secret is not None else None,
        "client_name": model.user_agent,
        "timeout": model.timeout_seconds,
        "base_url": model.base_url,
    }
    timeout = model.timeout_seconds if model.timeout_seconds is not None else 300
    client = loop_local_async_client(httpx, timeout=timeout, follow_redirects=False)
    sync_client = httpx.Client(timeout=timeout, verify=default_ssl_context(httpx))
    model.async_client = cohere.AsyncClient(**params, httpx_client=client)
    model.client = cohere.Client(**params, httpx_client=sync_client)
    own(model, loop_local=[client], sync=[sync_client.close])
    return model
