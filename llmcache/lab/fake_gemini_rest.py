"""A loopback Gemini REST server for langchain-google-genai 4.x (google-genai).

``POST .../models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``, on the Gemini
Developer API and Vertex paths alike. Each answer waits the SIMULATED model latency first.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["GeminiRestServer", "gemini_response"]


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


_GEMINI_PATH = re.compile(
    r"^/.*models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)"
)


class _GeminiHandler(Handler):
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


class GeminiRestServer(FakeHTTPServer):
    """Gemini REST (``/v1beta/models/M:generateContent``, Vertex paths too), on loopback."""

    handler = _GeminiHandler
