"""Mistral AI: ``mistralai``, ``ChatMistralAI`` of langchain-mistralai.

- Built: ``ChatMistralAI(model=..., **kwargs)``, as LangChain builds it.
- Loop-local: langchain-mistralai talks to the API with plain httpx clients of its own (no
  SDK): the public fields ``client`` (sync) and ``async_client``, made at validation with the
  base URL, the ``Authorization`` header and the timeout. ``async_client`` is then replaced by
  a loop-local client with the same base URL, headers and timeout, on the httpx module the
  integration imports (found from the client it made) and its TLS context
  (``langchain_mistralai.chat_models.global_ssl_context`` when present). Left alone when the
  caller passes ``async_client``. Public fields only; checked on langchain-mistralai 1.1.6.
- Closed: ``close``/``aclose`` close the loop-local client and the model's own sync
  ``client`` (per model, never closed by LangChain); when the model is garbage, the same
  (``closed_when_collected``).
- ``per_loop``: no.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .._loops import loop_local_async_client
from ._owned import own
from .openai_compatible import httpx_module_of

__all__ = ["adapt_mistralai"]


def adapt_mistralai(make: Callable[..., Any], **kwargs: Any) -> Any:
    """``ChatMistralAI`` whose ``async_client`` is loop-local."""
    model = make(**kwargs)
    sync = [] if "client" in kwargs else [model.client.close]
    if "async_client" in kwargs:
        own(model, sync=sync)
        return model
    made = model.async_client
    tls = getattr(sys.modules.get(type(model).__module__), "global_ssl_context", None)
    client = loop_local_async_client(
        httpx_module_of(type(made)),
        base_url=made.base_url,
        headers=made.headers,
        timeout=made.timeout,
        **({"verify": tls} if tls is not None else {}),
    )
    model.async_client = client
    own(model, loop_local=[client], sync=sync)
    return model
