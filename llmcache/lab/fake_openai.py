"""A loopback OpenAI server: ``POST /v1/chat/completions``, plain and streamed.

Each answer waits the SIMULATED model latency first.
"""

from __future__ import annotations

import json
import time

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["OpenAIServer"]


class _OpenAIHandler(Handler):
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


class OpenAIServer(FakeHTTPServer):
    """OpenAI ``/v1/chat/completions`` on loopback; point clients at ``url + "/v1"``."""

    handler = _OpenAIHandler

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"
