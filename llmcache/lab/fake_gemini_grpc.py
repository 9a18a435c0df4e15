"""A Gemini gRPC server over TLS for langchain-google-genai 3.x, on loopback.

Run by the 3.x venv's Python (it needs that venv's grpcio and generated message classes)::

    python -m llmcache.lab.fake_gemini_grpc --cert CERT.pem --key KEY.pem [--port 0] [--latency S]

It implements ``google.ai.generativelanguage.v1beta.GenerativeService/GenerateContent`` and
``StreamGenerateContent``, waits ``--latency`` seconds (a SIMULATED model latency) before each
answer, prints one JSON line ``{"port": N, "pid": P}`` once serving, and serves until terminated
or until its standard input closes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from google.ai.generativelanguage_v1beta.types import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
    generative_service,
)

from ._fake_http import run_grpc_fake, serve_generate_content

SERVICE = "google.ai.generativelanguage.v1beta.GenerativeService"


def response_bytes(model: str) -> bytes:
    """The smallest GenerateContentResponse the 3.x client parses, serialized."""
    reply = generative_service.GenerateContentResponse(
        candidates=[
            {
                "content": {"parts": [{"text": "ok"}], "role": "model"},
                "finish_reason": "STOP",
                "index": 0,
            }
        ],
        usage_metadata={
            "prompt_token_count": 1,
            "candidates_token_count": 4,
            "total_token_count": 5,
        },
        model_version=model,
    )
    data: bytes = generative_service.GenerateContentResponse.serialize(reply)
    return data


def _model_of(request: bytes) -> str:
    parsed = generative_service.GenerateContentRequest.deserialize(request)
    name: str = parsed.model
    return name.removeprefix("models/") or "gemini"


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
        (SERVICE,),
        service.generate,
        service.stream,
        cert=cert,
        key=key,
        port=port,
        max_workers=64,
    )


def main(argv: list[str] | None = None) -> int:
    return run_grpc_fake(
        argv, prog="python -m llmcache.lab.fake_gemini_grpc", description=__doc__, serve=serve
    )


if __name__ == "__main__":
    raise SystemExit(main())
