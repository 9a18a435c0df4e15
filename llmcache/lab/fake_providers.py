"""Which loopback fake answers each LangChain provider, and the kwargs that point it there.

One table for the provider tests (``tests/test_providers_every_loop.py``) and the lab: every
provider llmcache covers, its model name, the fake of its wire API (Anthropic Messages, Cohere v2
chat, Ollama chat, or OpenAI-compatible chat completions under the provider's own path) and the
constructor kwargs LangChain's class takes to reach it, or the environment variable its SDK
reads where LangChain has no base URL parameter (Perplexity). No real key is used; nothing
leaves loopback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._fake_http import FakeHTTPServer
from .fake_anthropic import AnthropicServer
from .fake_chat_completions import ChatCompletionsServer
from .fake_cohere import CohereServer
from .fake_ollama import OllamaServer

__all__ = [
    "FAKE_KEY",
    "PROVIDER_FAKES",
    "SERVERS",
    "ProviderFake",
    "fake_environ",
    "provider_servers",
]

FAKE_KEY = "test-fake-key"

SERVERS: dict[str, type[FakeHTTPServer]] = {
    "anthropic": AnthropicServer,
    "chat": ChatCompletionsServer,
    "cohere": CohereServer,
    "ollama": OllamaServer,
}
"""The fakes by wire API: Anthropic Messages, OpenAI-compatible chat completions, Cohere v2
chat, Ollama."""


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
    env: tuple[tuple[str, str], ...] = ()
    """Environment variable -> path appended to the fake's URL, read by the SDK at build time."""
    key_param: str | None = "api_key"
    """The constructor kwarg of the (fake) key; None: the provider takes none."""

    def kwargs(self, servers: Mapping[str, FakeHTTPServer | str], **more: Any) -> dict[str, Any]:
        """Constructor kwargs for the fakes ``servers`` (started here, or their URLs, as
        ``python -m llmcache.lab.serve_fakes --providers`` prints them), plus ``more``."""
        url = self._url(servers)
        kwargs: dict[str, Any] = {name: url + path for name, path in self.base.items()}
        if self.key_param is not None:
            kwargs[self.key_param] = FAKE_KEY
        kwargs.update(self.extra)
        kwargs.update(more)
        return kwargs

    def environ(self, servers: Mapping[str, FakeHTTPServer | str]) -> dict[str, str]:
        """The environment the provider's SDK must find when the model is built."""
        url = self._url(servers)
        return {name: url + path for name, path in self.env}

    def _url(self, servers: Mapping[str, FakeHTTPServer | str]) -> str:
        server = servers[self.server]
        return server if isinstance(server, str) else server.url


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
        ProviderFake(
            "meta",
            "Llama-4-Maverick-17B-128E-Instruct-FP8",  # the Responses API, langchain-meta's default
            "chat",
            "langchain-meta",
            _V1,
        ),
        ProviderFake("mistralai", "mistral-large-latest", "chat", "langchain-mistralai", _V1),
        ProviderFake("baseten", "zai-org/GLM-5.2", "chat", "langchain-baseten", _V1),
        ProviderFake(
            "cohere",
            "command-r-plus",
            "cohere",
            "langchain-cohere",
            {"base_url": ""},
            retries=False,
            key_param="cohere_api_key",
        ),
        ProviderFake(
            "nvidia",
            "meta/llama-3.1-8b-instruct",  # also what the fake's GET /v1/models lists
            "chat",
            "langchain-nvidia-ai-endpoints",
            _V1,
            retries=False,
        ),
        ProviderFake(
            "ollama",
            "llama3.2",
            "ollama",
            "langchain-ollama",
            {"base_url": ""},
            retries=False,
            key_param=None,
        ),
        ProviderFake(
            "openrouter",
            "openai/gpt-4o-mini",
            "chat",
            "langchain-openrouter",
            {"base_url": "/api/v1"},
        ),
        ProviderFake(
            "perplexity",
            "sonar",
            "chat",
            "langchain-perplexity",
            {},
            env=(("PERPLEXITY_BASE_URL", ""),),
        ),
        ProviderFake(
            "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo", "chat", "langchain-together", _V1
        ),
        ProviderFake("xai", "grok-4", "chat", "langchain-xai", _V1),
    )
}
"""Every provider llmcache covers (``llmcache._providers.ADAPTERS`` and ``AS_BUILT``), pointed at
its fake."""


def fake_environ(servers: Mapping[str, FakeHTTPServer | str]) -> dict[str, str]:
    """Every provider's :meth:`ProviderFake.environ` for ``servers``, merged."""
    merged: dict[str, str] = {}
    for fake in PROVIDER_FAKES.values():
        merged.update(fake.environ(servers))
    return merged


@contextlib.contextmanager
def provider_servers(simulated_model_latency: float = 0.0) -> Iterator[dict[str, FakeHTTPServer]]:
    """Every fake of :data:`SERVERS`, started on loopback for the block."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(cls(simulated_model_latency=simulated_model_latency))
            for name, cls in SERVERS.items()
        }
