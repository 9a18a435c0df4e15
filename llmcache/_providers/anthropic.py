"""Anthropic: ``anthropic``, ``ChatAnthropic`` of langchain-anthropic.

- Built: ``ChatAnthropic(model=..., **kwargs)``, as LangChain builds it; then its async SDK
  client is given before first use.
- Loop-local: langchain-anthropic makes ``anthropic.AsyncClient`` (lazily, a
  ``functools.cached_property`` named ``_async_client``) on an async httpx client kept in a
  process-wide ``lru_cache`` (``_client_utils._get_default_async_httpx_client``): its pooled
  connections belong to the first loop that used them, whatever the model. ChatAnthropic takes
  no client parameter, so llmcache fills that cached property with
  ``anthropic.AsyncClient(**model._client_params, http_client=<loop-local>)``: the same
  parameters LangChain would pass (key, base URL, retries, headers, timeout), on the httpx
  flavour the anthropic SDK imports (``httpx2`` in anthropic 2.x, found from its public
  ``DefaultAsyncHttpxClient``), with the SDK's connection limits and LangChain's proxy.
  These two names are private: checked on langchain-anthropic 1.7.10 with anthropic 2.17.0.
  If either moves, the model is built as LangChain builds it, a WARNING says so, and
  ``tests/test_providers_every_loop.py`` fails loudly. The sync client is LangChain's
  process-wide one (not loop-bound, not per model): left alone.
- Closed: ``close``/``aclose`` close the loop-local client; ``closed_when_collected``.
- ``per_loop``: no.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from ._owned import own
from .openai_compatible import sdk_loop_local_client

__all__ = ["adapt_anthropic"]

logger = logging.getLogger("llmcache")


def adapt_anthropic(make: Callable[..., Any], **kwargs: Any) -> Any:
    """``ChatAnthropic`` whose async SDK client sends through a loop-local httpx client."""
    model = make(**kwargs)
    cls = type(model)
    cached = getattr(cls, "_async_client", None)
    params = getattr(model, "_client_params", None)
    if not isinstance(cached, functools.cached_property) or not isinstance(params, dict):
        logger.warning(
            "%s no longer has the _async_client cached property and _client_params llmcache "
            "fills: built as LangChain builds it (its async client is bound to one event loop)",
            cls.__qualname__,
        )
        return model
    import anthropic

    proxy = getattr(model, "anthropic_proxy", None)
    client = sdk_loop_local_client(anthropic, **({"proxy": proxy} if proxy else {}))
    model.__dict__["_async_client"] = anthropic.AsyncClient(**params, http_client=client)
    own(model, loop_local=[client])
    return model
