"""Loopback servers that speak the real wire formats, so the real SDKs run their real code.

- :class:`GeminiRestServer`: ``POST .../models/{model}:generateContent`` and
  ``:streamGenerateContent?alt=sse`` (Gemini Developer API and Vertex paths), for
  langchain-google-genai 4.x (google-genai).
- :class:`OpenAIServer`: ``POST /v1/chat/completions``, plain and streamed.
- :class:`MetadataServer`: a GCE metadata server in one of three modes, selected for google-auth
  through ``GCE_METADATA_HOST`` and ``GCE_METADATA_IP``: ``blackhole`` (accepts, never answers),
  ``refuse`` (nothing listens) and ``slow-valid`` (answers the real paths after a delay).
- The gRPC server for langchain-google-genai 3.x is :mod:`llmcache.lab.fake_grpc`, run by the
  3.x venv's Python (it needs that venv's generated protobuf classes).

Model servers wait ``simulated_model_latency`` seconds before answering: that part is simulated,
and every output of the lab says so. Everything binds 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Literal, Self

__all__ = [
    "GeminiRestServer",
    "MetadataMode",
    "MetadataServer",
    "OpenAIServer",
    "gemini_response",
]

DEFAULT_SIMULATED_MODEL_LATENCY = 2.5
"""Seconds, the issue's figure for a short Gemini answer; always labelled as simulated."""

MetadataMode = Literal["blackhole", "refuse", "slow-valid"]
METADATA_MODES: tuple[MetadataMode, ...] = ("blackhole", "refuse", "slow-valid")


def gemini_response(model: str, text: str = "ok") -> dict[str, Any]:
    """The smallest GenerateContentResponse that google-genai parses."""
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 4, "totalTokenCount": 5},
        "modelVersion": model,
    }


class _Handler(BaseHTTPRequestHandler):
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
    owner: _BaseServer


class _BaseServer:
    """A threaded HTTP server on 127.0.0.1 with start/stop and request counters."""

    handler: ClassVar[type[_Handler]]

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


_GEMINI_PATH = re.compile(
    r"^/.*models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)"
)


class _GeminiHandler(_Handler):
    def do_POST(self) -> None:
        self._read_body()
        match = _GEMINI_PATH.match(self.path)
        if match is None:
            self._send_json(404, {"error": {"code": 404, "message": f"no route {self.path}"}})
            return
        owner = self.server.owner
        owner.count(match["method"])
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        reply = gemini_response(match["model"])
        if match["method"] == "streamGenerateContent":
            self._send_sse([json.dumps(reply)])
        else:
            self._send_json(200, reply)


class GeminiRestServer(_BaseServer):
    """Gemini REST (``/v1beta/models/M:generateContent``, Vertex paths too), on loopback."""

    handler = _GeminiHandler


class _OpenAIHandler(_Handler):
    def do_POST(self) -> None:
        raw = self._read_body()
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "body is not JSON"}})
            return
        owner = self.server.owner
        stream = bool(request.get("stream"))
        owner.count("chat.completions.stream" if stream else "chat.completions")
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        model = str(request.get("model", "gpt-4o-mini"))
        created = int(time.time())
        if not stream:
            self._send_json(
                200,
                {
                    "id": "chatcmpl-lab",
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "ok"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )
            return
        chunk = {
            "id": "chatcmpl-lab",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        events = [
            json.dumps(
                {
                    **chunk,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": "ok"},
                            "finish_reason": None,
                        }
                    ],
                }
            ),
            json.dumps({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            "[DONE]",
        ]
        self._send_sse(events)


class OpenAIServer(_BaseServer):
    """OpenAI ``/v1/chat/completions`` on loopback; point clients at ``url + "/v1"``."""

    handler = _OpenAIHandler

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


class _MetadataHandler(_Handler):
    """The paths google-auth 2.63 reads (``compute_engine/_metadata.py``, ``credentials.py``)."""

    PROJECT = "llmcache-lab"
    EMAIL = "lab@llmcache-lab.iam.gserviceaccount.com"

    def do_GET(self) -> None:
        owner = self.server.owner
        assert isinstance(owner, MetadataServer)
        owner.count(self.path.split("?")[0])
        time.sleep(owner.delay)
        flavor = {"metadata-flavor": "Google"}
        if self.headers.get("metadata-flavor") != "Google":
            self._send(403, b"Missing Metadata-Flavor:Google header.", "text/html", flavor)
            return
        path = self.path.split("?")[0]
        if path in ("", "/"):
            self._send(200, b"computeMetadata/\n", "application/text", flavor)
        elif path.endswith("/project/project-id"):
            self._send(200, self.PROJECT.encode(), "application/text", flavor)
        elif path.endswith("/universe/universe-domain"):
            self._send(200, b"googleapis.com", "application/text", flavor)
        elif path.endswith("/token"):
            token = {"access_token": "lab-fake-token", "expires_in": 3599, "token_type": "Bearer"}
            self._send_json(200, token, flavor)
        elif "/service-accounts/" in path:
            info = {
                "aliases": ["default"],
                "email": self.EMAIL,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            }
            self._send_json(200, info, flavor)
        else:
            self._send(404, b"not found", "text/html", flavor)


class MetadataServer(_BaseServer):
    """A GCE metadata server on loopback, in one of :data:`METADATA_MODES`.

    ``env`` gives the variables that point google-auth at it. ``delay`` is the answer delay of
    ``slow-valid`` (a slow metadata server is a real condition, not a model latency).
    """

    handler = _MetadataHandler

    def __init__(self, mode: MetadataMode, *, delay: float = 0.0) -> None:
        if mode not in METADATA_MODES:
            raise ValueError(f"unknown metadata mode {mode!r}; expected one of {METADATA_MODES}")
        super().__init__()
        self.mode = mode
        self.delay = delay
        self._held: list[socket.socket] = []
        self._raw: socket.socket | None = None
        self._accepting = threading.Event()
        if mode != "slow-valid":
            self._httpd.server_close()
            self._raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._raw.bind(("127.0.0.1", 0))
            if mode == "blackhole":
                self._raw.listen(64)  # accepted, read never, answered never
            # "refuse": bound but not listening, so connects get RST at once

    @property
    def port(self) -> int:
        if self._raw is not None:
            return int(self._raw.getsockname()[1])
        return super().port

    @property
    def env(self) -> dict[str, str]:
        address = f"127.0.0.1:{self.port}"
        return {"GCE_METADATA_HOST": address, "GCE_METADATA_IP": address}

    def start(self) -> Self:
        if self.mode == "slow-valid":
            super().start()
        elif self.mode == "blackhole":
            self._accepting.set()
            threading.Thread(
                target=self._hold_forever, name="lab-metadata-blackhole", daemon=True
            ).start()
        return self

    def _hold_forever(self) -> None:
        assert self._raw is not None
        self._raw.settimeout(0.1)
        while self._accepting.is_set():
            try:
                conn, _ = self._raw.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.count("accepted")
            self._held.append(conn)

    def stop(self) -> None:
        if self.mode == "slow-valid":
            super().stop()
            return
        self._accepting.clear()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()
        if self._raw is not None:
            self._raw.close()
