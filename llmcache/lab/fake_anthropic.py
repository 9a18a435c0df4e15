"""A loopback Anthropic Messages server: ``POST /v1/messages``, JSON and SSE streaming.

The streamed answer is the event sequence the anthropic SDK parses (``message_start``,
``content_block_start``, ``content_block_delta``, ``content_block_stop``, ``message_delta``,
``message_stop``), each as ``event:`` and ``data:`` lines. Each answer waits the SIMULATED model
latency first.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["AnthropicServer", "anthropic_message", "anthropic_stream_events"]


def anthropic_message(model: str, text: str = "ok") -> dict[str, Any]:
    """The smallest Messages API answer the anthropic SDK parses."""
    return {
        "id": "msg_lab",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def anthropic_stream_events(model: str, text: str = "ok") -> list[tuple[str, dict[str, Any]]]:
    """``(event, data)`` pairs of a streamed answer."""
    start = {**anthropic_message(model, ""), "content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": 1, "output_tokens": 0}
    return [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": text},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


class _AnthropicHandler(Handler):
    def do_POST(self) -> None:
        raw = self._read_body()
        if urlsplit(self.path).path.rstrip("/") != "/v1/messages":
            error = {"type": "not_found_error", "message": f"no route {self.path}"}
            self._send_json(404, {"type": "error", "error": error})
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            error = {"type": "invalid_request_error", "message": "body is not JSON"}
            self._send_json(400, {"type": "error", "error": error})
            return
        owner = self.server.owner
        stream = bool(request.get("stream"))
        owner.count("messages.stream" if stream else "messages")
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        model = str(request.get("model", "claude"))
        if not stream:
            self._send_json(200, anthropic_message(model))
            return
        body = "".join(
            f"event: {event}\r\ndata: {json.dumps(data)}\r\n\r\n"
            for event, data in anthropic_stream_events(model)
        ).encode()
        self._send(200, body, content_type="text/event-stream")


class AnthropicServer(FakeHTTPServer):
    """Anthropic ``/v1/messages`` on loopback; point clients at ``url`` (``base_url=``)."""

    handler = _AnthropicHandler
