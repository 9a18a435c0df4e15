"""Vertex AI: ``google_vertexai``, ``ChatVertexAI`` of langchain-google-vertexai.

- Built: ``ChatVertexAI(model=..., **kwargs)``, as LangChain builds it; then its public field
  ``async_client`` is given before first use.
- Loop-local: ChatVertexAI calls Vertex AI over gRPC (google-cloud-aiplatform's
  ``PredictionServiceAsyncClient``, a ``grpc.aio`` channel, bound to the loop it was made on).
  langchain-google-vertexai keeps a client per loop, but the model's ``async_prediction_client``
  stores the first one in ``async_client`` and uses it from every loop after that (``RuntimeError:
  Event loop is closed`` from the second). llmcache sets ``async_client`` to a
  :class:`~llmcache._loops.LoopLocal`: each loop gets its own ``PredictionServiceAsyncClient``
  (v1 or v1beta1, as ``endpoint_version``) with the model's credentials and ``client_options``,
  on the ``grpc_asyncio`` transport, which LangChain picks for Google's endpoints; for other
  endpoints it hands the async client the sync ``grpc`` transport, and every ``ainvoke`` fails
  (``object GenerateContentResponse can't be used in 'await' expression``). Left alone when
  the caller passes ``async_client``, or a transport other than ``grpc``/``grpc_asyncio`` (a
  custom transport, or ``rest`` towards a non-Google endpoint, which LangChain keeps as REST).
  The user agent is LangChain's (its private ``_utils.get_client_info`` and the model's
  ``_user_agent``, checked on langchain-google-vertexai 3.2.5 with google-cloud-aiplatform
  2.7.0; ``tests/test_vertexai_every_loop.py`` fails loudly if they move; without them the
  client library's default). Without ``credentials=``, each loop's client resolves Google's
  default credentials when made, as LangChain's per-loop clients do.
- The sync client is LangChain's process-wide ``lru_cache`` one (a sync gRPC channel, not
  loop-bound): left alone.
- Closed: each loop's channel on its own loop (``transport.close()``): at that loop's shutdown,
  when the model is garbage, or by ``close``/``aclose``; ``closed_when_collected``.
- ``per_loop``: no.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .._loops import LoopLocal
from ._owned import own

__all__ = ["adapt_vertexai"]

logger = logging.getLogger("llmcache")

_GOOGLE_HOST = "aiplatform.googleapis.com"


def _is_google_endpoint(endpoint: str | None) -> bool:
    """As langchain-google-vertexai decides: ``aiplatform.googleapis.com`` or a regional one."""
    if not endpoint:
        return True
    url = endpoint if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"
    try:
        host = urlparse(url).hostname or ""
    except ValueError:
        return False
    return host == _GOOGLE_HOST or host.endswith(f"-{_GOOGLE_HOST}")


def _async_transport(model: Any) -> str | None:
    """``grpc_asyncio`` where llmcache gives per-loop clients, else None (left alone)."""
    transport = model.api_transport
    if transport in (None, "grpc", "grpc_asyncio"):
        return "grpc_asyncio"
    options = model.client_options
    if transport == "rest" and _is_google_endpoint(getattr(options, "api_endpoint", None)):
        return "grpc_asyncio"  # LangChain's own choice there
    return None


def _client_info(model: Any) -> Any:
    try:
        from langchain_google_vertexai._utils import get_client_info  # type: ignore[import-not-found, import-untyped, unused-ignore]

        return get_client_info(module=model._user_agent)
    except (ImportError, AttributeError):
        from google.api_core.gapic_v1.client_info import ClientInfo  # type: ignore[import-not-found, import-untyped, unused-ignore]

        return ClientInfo()


def _client_class(endpoint_version: str) -> type[Any]:
    if endpoint_version == "v1":
        from google.cloud.aiplatform_v1.services.prediction_service import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
            PredictionServiceAsyncClient,
        )
    else:
        from google.cloud.aiplatform_v1beta1.services.prediction_service import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
            PredictionServiceAsyncClient,
        )
    cls: type[Any] = PredictionServiceAsyncClient
    return cls


async def _close_client(client: Any) -> None:
    await client.transport.close()


def adapt_vertexai(make: Callable[..., Any], **kwargs: Any) -> Any:
    """``ChatVertexAI`` whose ``async_client`` makes one gRPC client per event loop."""
    model = make(**kwargs)
    if "async_client" in kwargs or model.async_client is not None:
        return model
    transport = _async_transport(model)
    if transport is None:
        return model
    cls = _client_class(model.endpoint_version)
    # The factory holds the model's settings, never the model: the model holds it.
    settings = {
        "credentials": model.credentials,
        "client_options": model.client_options,
        "client_info": _client_info(model),
        "transport": transport,
    }

    def per_loop_client() -> Any:
        return cls(**settings)

    client = LoopLocal(per_loop_client, _close_client)
    model.async_client = client
    own(model, loop_local=[client])
    return model
