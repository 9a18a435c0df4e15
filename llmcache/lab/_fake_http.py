"""What the lab's loopback HTTP fakes share: a threaded server on 127.0.0.1 with counters.

The fakes speak the real wire formats, so the real SDKs run their real code:
:mod:`~llmcache.lab.fake_gemini_rest` (4.x), :mod:`~llmcache.lab.fake_openai`,
:mod:`~llmcache.lab.fake_metadata` (GCE metadata for google-auth) and, over gRPC for 3.x,
:mod:`~llmcache.lab.fake_gemini_grpc`. Model servers wait ``simulated_model_latency`` seconds
before answering: that part is simulated, and every output of the lab says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

__all__ = [
    "DEFAULT_SIMULATED_MODEL_LATENCY",
    "FakeHTTPServer",
    "Handler",
    "make_self_signed_cert",
    "wait_until_stopped",
]

DEFAULT_SIMULATED_MODEL_LATENCY = 2.5
"""Seconds, the issue's figure for a short Gemini answer; always labelled as simulated."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints
    disable_nagle_algorithm = True  # else each reply stalls ~40 ms on delayed ACKs
    server: _LabHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _send_sse(self, events: list[str]) -> None:
        body = "".join(f"data: {event}\r\n\r\n" for event in events).encode()
        self._send(200, body, content_type="text/event-stream")


class _LabHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 50 concurrent clients connect at once in the throughput run
    owner: FakeHTTPServer


class FakeHTTPServer:
    """A threaded HTTP server on 127.0.0.1 with start/stop and request counters."""

    handler: ClassVar[type[Handler]]

    def __init__(self, *, simulated_model_latency: float = 0.0, port: int = 0) -> None:
        if simulated_model_latency < 0:
            raise ValueError("simulated_model_latency must be >= 0")
        self.simulated_model_latency = simulated_model_latency
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._httpd = _LabHTTPServer(("127.0.0.1", port), self.handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, what: str) -> None:
        with self._lock:
            self.requests[what] += 1

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"lab-{type(self).__name__}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_stopped() -> None:
    """Block until SIGTERM, Ctrl-C, or the parent closing our standard input."""
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def until_stdin_closes() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()


def serve_generate_content(
    services: tuple[str, ...],
    generate: Callable[[bytes, Any], bytes],
    stream: Callable[[bytes, Any], Iterator[bytes]],
    *,
    cert: str,
    key: str,
    port: int = 0,
    max_workers: int = 32,
) -> tuple[Any, int]:
    """A gRPC server over TLS on 127.0.0.1 answering ``GenerateContent`` and
    ``StreamGenerateContent`` of each of ``services`` (the Gemini and Vertex AI fakes, raw
    bytes in and out); started: returns it and its port."""
    from concurrent import futures

    import grpc  # type: ignore[import-not-found, import-untyped, unused-ignore]

    methods = {
        "GenerateContent": grpc.unary_unary_rpc_method_handler(generate),
        "StreamGenerateContent": grpc.unary_stream_rpc_method_handler(stream),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers))
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(name, methods) for name in services]
    )
    with open(key, "rb") as k, open(cert, "rb") as c:
        credentials = grpc.ssl_server_credentials([(k.read(), c.read())])
    bound = server.add_secure_port(f"127.0.0.1:{port}", credentials)
    server.start()
    return server, int(bound)


def run_grpc_fake(
    argv: list[str] | None,
    *,
    prog: str,
    description: str | None,
    serve: Callable[[str, str, int, float], tuple[Any, int]],
) -> int:
    """A gRPC fake's command line: serve, print ``{"port": N, "pid": P}``, run until stopped."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
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


def make_self_signed_cert(cert: str, key: str) -> None:
    """A throwaway certificate for 127.0.0.1, made at run time, trusted only by this probe."""
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            key,
            "-out",
            cert,
        ],
        check=True,
        capture_output=True,
    )
