"""A loopback Cohere v2 Chat server: ``POST /v2/chat``, JSON and SSE streaming.

The streamed answer is the event sequence the cohere SDK (v2 ``chat_stream``) parses:
``message-start``, ``content-start``, ``content-delta``, ``content-end``, ``message-end``, each a
``data:`` line whose JSON carries its ``type``. Each answer waits the SIMULATED model latency
first.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["CohereServer", "cohere_chat", "cohere_stream_events"]

_USAGE = {
    "billed_units": {"input_tokens": 1, "output_tokens": 1},
    "tokens": {"input_tokens": 1, "output_tokens": 1},
}


def cohere_chat(text: str = "ok") -> dict[str, Any]:
    """The smallest v2 chat answer the cohere SDK parses."""
    return {
        "id": "cohere-lab",
        "finish_reason": "COMPLETE",
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
        "usage": _USAGE,
    }


def cohere_stream_events(text: str = "ok") -> list[dict[str, Any]]:
    """The events of a streamed answer, in order."""
    return [
        {
            "type": "message-start",
            "id": "cohere-lab",
            "delta": {"message": {"role": "assistant", "content": []}},
        },
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
        {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": text}}}},
        {"type": "content-end", "index": 0},
        {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": _USAGE}},
    ]


class _CohereHandler(Handler):
    def do_POST(self) -> None:
        raw = self._read_body()
        if urlsplit(self.path).path.rstrip("/") != "/v2/chat":
            self._send_json(404, {"message": f"no route {self.path}"})
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"message": "body is not JSON"})
            return
        owner = self.server.owner
        stream = bool(request.get("stream"))
        owner.count("chat.stream" if stream else "chat")
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        if stream:
            self._send_sse([json.dumps(event) for event in cohere_stream_events()])
        else:
            self._send_json(200, cohere_chat())


class CohereServer(FakeHTTPServer):
    """Cohere v2 ``/v2/chat`` on loopback; point clients at ``url`` (``base_url=``)."""

    handler = _CohereHandler
