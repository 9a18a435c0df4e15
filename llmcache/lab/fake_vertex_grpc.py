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

import argparse
import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc  # type: ignore[import-not-found, import-untyped, unused-ignore]
from google.cloud.aiplatform_v1beta1.types import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    prediction_service,
)

from ._fake_http import wait_until_stopped

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
    handlers = [
        grpc.method_handlers_generic_handler(
            name,
            {
                "GenerateContent": grpc.unary_unary_rpc_method_handler(service.generate),
                "StreamGenerateContent": grpc.unary_stream_rpc_method_handler(service.stream),
            },
        )
        for name in SERVICES
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    server.add_generic_rpc_handlers(handlers)
    with open(key, "rb") as k, open(cert, "rb") as c:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    bound = server.add_secure_port(f"127.0.0.1:{port}", credentials)
    server.start()
    return server, int(bound)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmcache.lab.fake_vertex_grpc", description=__doc__
    )
    parser.add_argument("--cert", required=True, help="PEM certificate for 127.0.0.1")
    parser.add_argument("--key", required=True, help="PEM private key")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="simulated model latency, seconds"
    )
    args = parser.parse_args(argv)
    server, port = serve(args.cert, args.key, args.port, args.latency)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    wait_until_stopped()
    server.stop(grace=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
