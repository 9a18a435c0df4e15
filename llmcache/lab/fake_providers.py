"""Which loopback fake answers each LangChain provider, and the kwargs that point it there.

One table for the provider tests (``tests/test_providers_every_loop.py``) and the lab: every
provider llmcache adapts, its model name, the fake of its wire API (Anthropic Messages, Ollama
chat, or OpenAI-compatible chat completions under the provider's own path) and the constructor
kwargs LangChain's class takes to reach it. No real key is used; nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._fake_http import FakeHTTPServer
from .fake_anthropic import AnthropicServer
from .fake_chat_completions import ChatCompletionsServer
from .fake_ollama import OllamaServer

__all__ = ["FAKE_KEY", "PROVIDER_FAKES", "SERVERS", "ProviderFake", "provider_servers"]

FAKE_KEY = "test-fake-key"

SERVERS: dict[str, type[FakeHTTPServer]] = {
    "anthropic": AnthropicServer,
    "chat": ChatCompletionsServer,
    "ollama": OllamaServer,
}
"""The fakes by wire API: Anthropic Messages, OpenAI-compatible chat completions, Ollama."""


@dataclass(frozen=True)
class ProviderFake:
    """One provider pointed at its fake."""

    provider: str
    model_name: str
    server: str
    """Key of :data:`SERVERS`."""
    package: str
    base: dict[str, str]
    """Constructor kwarg -> path appended to the fake's URL (``""``: the URL itself)."""
    extra: tuple[tuple[str, Any], ...] = ()
    retries: bool = True
    """Whether the class takes ``max_retries`` (0 in the failure controls, to fail fast)."""

    def kwargs(self, servers: Mapping[str, FakeHTTPServer | str], **more: Any) -> dict[str, Any]:
        """Constructor kwargs for the fakes ``servers`` (started here, or their URLs, as
        ``python -m llmcache.lab.serve_fakes --providers`` prints them), plus ``more``."""
        server = servers[self.server]
        url = server if isinstance(server, str) else server.url
        kwargs: dict[str, Any] = {name: url + path for name, path in self.base.items()}
        if self.server != "ollama":
            kwargs["api_key"] = FAKE_KEY
        kwargs.update(self.extra)
        kwargs.update(more)
        return kwargs


_V1 = {"base_url": "/v1"}
PROVIDER_FAKES: dict[str, ProviderFake] = {
    fake.provider: fake
    for fake in (
        ProviderFake(
            "anthropic", "claude-sonnet-4-5", "anthropic", "langchain-anthropic", {"base_url": ""}
        ),
        ProviderFake(
            "azure_openai",
            "gpt-4o",
            "chat",
            "langchain-openai",
            {"azure_endpoint": ""},
            (("api_version", "2024-10-21"),),
        ),
        ProviderFake("deepseek", "deepseek-chat", "chat", "langchain-deepseek", _V1),
        ProviderFake(
            "fireworks",
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "chat",
            "langchain-fireworks",
            {"base_url": ""},
        ),
        ProviderFake("groq", "llama-3.3-70b-versatile", "chat", "langchain-groq", {"base_url": ""}),
        ProviderFake("mistralai", "mistral-large-latest", "chat", "langchain-mistralai", _V1),
        ProviderFake(
            "ollama", "llama3.2", "ollama", "langchain-ollama", {"base_url": ""}, retries=False
        ),
        ProviderFake(
            "openrouter",
            "openai/gpt-4o-mini",
            "chat",
            "langchain-openrouter",
            {"base_url": "/api/v1"},
        ),
        ProviderFake(
            "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "chat", "langchain-together", _V1
        ),
        ProviderFake("xai", "grok-4", "chat", "langchain-xai", _V1),
    )
}
"""Every provider llmcache adapts (``llmcache._providers.ADAPTERS``), pointed at its fake."""


@contextlib.contextmanager
def provider_servers(simulated_model_latency: float = 0.0) -> Iterator[dict[str, FakeHTTPServer]]:
    """Every fake of :data:`SERVERS`, started on loopback for the block."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(cls(simulated_model_latency=simulated_model_latency))
            for name, cls in SERVERS.items()
        }
