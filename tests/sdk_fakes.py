"""Shared by the lifecycle tests (loops, fork, close): the real SDKs' configurations against the
lab's loopback fakes (which server each provider talks to, the kwargs that point it there), an
echoing OpenAI fake, and a long-lived event loop in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llmcache.lab.servers import GeminiRestServer, OpenAIServer

FAKE_KEY = "test-fake-key"
WAIT = 20.0  # seconds: bounds every wait on another thread, so a regression fails, not hangs


@dataclass(frozen=True)
class SDK:
    """One built-in provider: its model name and how to point it at a fake."""

    provider: str
    model_name: str
    server_class: type[Any]

    def kwargs(self, server: Any) -> dict[str, Any]:
        if self.provider == "openai":
            return {"api_key": FAKE_KEY, "base_url": server.url + "/v1"}
        return {"google_api_key": FAKE_KEY, "base_url": server.url}


OPENAI = SDK("openai", "gpt-4o-mini", OpenAIServer)
GOOGLE = SDK("google", "gemini-2.5-flash", GeminiRestServer)
SDKS = {sdk.provider: sdk for sdk in (OPENAI, GOOGLE)}


class _EchoHandler(OpenAIServer.handler):  # type: ignore[valid-type,misc]
    """Answers each chat completion with the text of its last message."""

    def do_POST(self) -> None:
        request = json.loads(self._read_body() or b"{}")
        self.server.owner.count("chat.completions")
        self._send_json(
            200,
            {
                "id": "chatcmpl-echo",
                "object": "chat.completion",
                "created": 0,
                "model": str(request.get("model", "")),
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "echo: " + str(request["messages"][-1]["content"]),
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


class EchoOpenAIServer(OpenAIServer):
    """The OpenAI fake, echoing: a reply shows which request it answers."""

    handler = _EchoHandler


@contextlib.contextmanager
def loop_in_a_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """A long-lived event loop running in a thread (as Jupyter's or a worker's)."""
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_forever()
        # What asyncio.run does after its main task: async generators, then close.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(WAIT)
        assert not thread.is_alive(), "the thread's loop never stopped"
