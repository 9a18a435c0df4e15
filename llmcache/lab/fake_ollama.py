"""A loopback Ollama server: ``POST /api/chat``, one JSON answer or NDJSON streaming.

langchain-ollama streams by default: one JSON object per line, the last with ``"done": true``.
Each answer waits the SIMULATED model latency first.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["OllamaServer", "ollama_chat_lines"]

_CREATED_AT = "2026-01-01T00:00:00.000000Z"


def ollama_chat_lines(model: str, text: str = "ok") -> list[dict[str, Any]]:
    """The objects of a streamed ``/api/chat`` answer; the last one alone is the plain answer
    (with the whole text)."""
    final = {
        "model": model,
        "created_at": _CREATED_AT,
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "total_duration": 1000,
        "load_duration": 1,
        "prompt_eval_count": 1,
        "prompt_eval_duration": 1,
        "eval_count": 1,
        "eval_duration": 1,
    }
    first = {
        "model": model,
        "created_at": _CREATED_AT,
        "message": {"role": "assistant", "content": text},
        "done": False,
    }
    return [first, final]


class _OllamaHandler(Handler):
    def do_POST(self) -> None:
        raw = self._read_body()
        if urlsplit(self.path).path.rstrip("/") != "/api/chat":
            self._send_json(404, {"error": f"no route {self.path}"})
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": "body is not JSON"})
            return
        owner = self.server.owner
        stream = request.get("stream", True) is not False  # Ollama streams unless told not to
        owner.count("chat.stream" if stream else "chat")
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        model = str(request.get("model", "llama3"))
        lines = ollama_chat_lines(model)
        if stream:
            body = "".join(json.dumps(line) + "\n" for line in lines).encode()
            self._send(200, body, content_type="application/x-ndjson")
        else:
            whole = {**lines[-1], "message": lines[0]["message"]}
            self._send_json(200, whole)


class OllamaServer(FakeHTTPServer):
    """Ollama ``/api/chat`` on loopback; point clients at ``url`` (``base_url=``)."""

    handler = _OllamaHandler
