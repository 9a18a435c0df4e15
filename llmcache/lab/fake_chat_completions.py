"""A loopback server for every OpenAI-compatible chat API: any ``POST .../chat/completions``.

The providers LangChain builds on OpenAI's wire format post to different paths under their base
URL: ``/v1/chat/completions`` (OpenAI, DeepSeek, xAI, Together, Mistral), ``/openai/v1/...``
(Groq), ``/inference/v1/...`` (Fireworks), ``/openai/deployments/{d}/chat/completions?api-version=``
(Azure OpenAI), ``/api/v1/...`` (OpenRouter). This fake answers them all, plain and streamed
(SSE), and counts requests by path. Each answer waits the SIMULATED model latency first.
``GET .../models`` lists :data:`LISTED_MODELS` (NVIDIA's integration lists a self-hosted
endpoint's models for ``available_models``, and to pick one when built without a model name).
``POST .../responses`` answers OpenAI's Responses API unstreamed (langchain-meta's default); a
streamed one is refused with a 400.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from ._fake_http import FakeHTTPServer, Handler

__all__ = [
    "LISTED_MODELS",
    "ChatCompletionsServer",
    "chat_completion",
    "chat_completion_chunks",
    "response_object",
]

LISTED_MODELS = ("meta/llama-3.1-8b-instruct",)
"""The models ``GET .../models`` lists."""


def chat_completion(model: str, text: str = "ok") -> dict[str, Any]:
    """A chat completion every OpenAI-compatible SDK here parses (OpenRouter's typed models
    included: it wants ``system_fingerprint``)."""
    return {
        "id": "chatcmpl-lab",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_lab",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def chat_completion_chunks(model: str, text: str = "ok") -> list[str]:
    """The SSE ``data:`` payloads of a streamed answer, ``[DONE]`` last."""
    chunk = {
        "id": "chatcmpl-lab",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_lab",
    }
    first = {"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}
    last = {"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}
    usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return [
        json.dumps({**chunk, "choices": [first]}),
        json.dumps({**chunk, "choices": [last], "usage": usage}),
        "[DONE]",
    ]


def response_object(model: str, text: str = "ok") -> dict[str, Any]:
    """A Responses API answer (``object: response``) the openai SDK and LangChain parse."""
    return {
        "id": "resp_lab",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "msg_lab",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 1,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2,
        },
    }


class _ChatCompletionsHandler(Handler):
    def do_GET(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if not path.endswith("/models"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        self.server.owner.count(path)
        data = [{"id": m, "object": "model", "owned_by": "lab"} for m in LISTED_MODELS]
        self._send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        raw = self._read_body()
        path = urlsplit(self.path).path.rstrip("/")
        if path.endswith("/responses"):
            self._answer_response(path, raw)
            return
        if not path.endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "body is not JSON"}})
            return
        owner = self.server.owner
        stream = bool(request.get("stream"))
        owner.count(path + (" stream" if stream else ""))
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        model = str(request.get("model", "model"))
        if stream:
            self._send_sse(chat_completion_chunks(model))
        else:
            self._send_json(200, chat_completion(model))

    def _answer_response(self, path: str, raw: bytes) -> None:
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_json(400, {"error": {"message": "body is not JSON"}})
            return
        if request.get("stream"):
            self._send_json(400, {"error": {"message": "the fake streams chat completions only"}})
            return
        owner = self.server.owner
        owner.count(path)
        if owner.simulated_model_latency:
            time.sleep(owner.simulated_model_latency)
        self._send_json(200, response_object(str(request.get("model", "model"))))


class ChatCompletionsServer(FakeHTTPServer):
    """OpenAI-compatible chat completions under any base path, on loopback."""

    handler = _ChatCompletionsHandler

    @property
    def calls(self) -> int:
        """Answers so far, plain and streamed, on every path (not listings)."""
        return sum(n for path, n in self.requests.items() if not path.endswith("/models"))
