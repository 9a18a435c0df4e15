"""A Vertex AI PredictionService gRPC server over TLS for ChatVertexAI, on loopback.

Run by the ``providers-vertex`` venv's Python (it needs that venv's grpcio and
google-cloud-aiplatform message classes)::

    python -m llmcache.lab.fake_vertex_grpc --cert CERT.pem --key KEY.pem [--port 0] [--latency S]

It implements ``GenerateContent`` and ``StreamGenerateContent`` of
``google.cloud.aiplatform.v1beta1.PredictionService`` and of ``...v1.PredictionService``
(langchain-google-vertexai's ``endpoint_version``), waits ``--latency`` seconds (a SIMULATED
model latency) before each answer, prints one JSON line ``{"port": N, "pid": P}`` once serving,
and serves until terminated or until its standard input closes. Clients trust the throwaway
certificate through ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``; ``ChatVertexAI`` reaches it with
``base_url="127.0.0.1:PORT"``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from google.cloud.aiplatform_v1beta1.types import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    prediction_service,
)

from ._fake_http import run_grpc_fake, serve_generate_content

SERVICES = (
    "google.cloud.aiplatform.v1beta1.PredictionService",
    "google.cloud.aiplatform.v1.PredictionService",
)
"""Both endpoint versions: v1 and v1beta1 messages share their wire format for these fields."""


def response_bytes(model: str) -> bytes:
    """The smallest GenerateContentResponse ChatVertexAI parses, serialized (text ``ok``)."""
    reply = prediction_service.GenerateContentResponse(
        candidates=[
            {
                "content": {"parts": [{"text": "ok"}], "role": "model"},
                "finish_reason": "STOP",
                "index": 0,
            }
        ],
        usage_metadata={
            "prompt_token_count": 1,
            "candidates_token_count": 1,
            "total_token_count": 2,
        },
        model_version=model,
    )
    data: bytes = prediction_service.GenerateContentResponse.serialize(reply)
    return data


def _model_of(request: bytes) -> str:
    parsed = prediction_service.GenerateContentRequest.deserialize(request)
    name: str = parsed.model  # projects/P/locations/L/publishers/google/models/M
    return name.rsplit("/", 1)[-1] or "gemini"


class _Service:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self._lock = threading.Lock()

    def _count(self) -> None:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)  # simulated model latency

    def generate(self, request: bytes, context: Any) -> bytes:
        self._count()
        return response_bytes(_model_of(request))

    def stream(self, request: bytes, context: Any) -> Iterator[bytes]:
        self._count()
        yield response_bytes(_model_of(request))


def serve(cert: str, key: str, port: int = 0, latency: float = 0.0) -> tuple[Any, int]:
    """Start the server on 127.0.0.1; return it and its port."""
    service = _Service(latency)
    return serve_generate_content(
        SERVICES,
        service.generate,
        service.stream,
        cert=cert,
        key=key,
        port=port,
        max_workers=32,
    )


def main(argv: list[str] | None = None) -> int:
    return run_grpc_fake(
        argv, prog="python -m llmcache.lab.fake_vertex_grpc", description=__doc__, serve=serve
    )


if __name__ == "__main__":
    raise SystemExit(main())
