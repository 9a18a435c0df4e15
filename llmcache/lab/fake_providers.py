"""Which loopback fake answers each LangChain provider, and the kwargs that point it there.

One table for the provider tests (``tests/test_providers_every_loop.py``) and the lab: every
provider llmcache covers, its model name, the fake of its wire API (Anthropic Messages, Cohere v2
chat, Ollama chat, or OpenAI-compatible chat completions under the provider's own path) and the
constructor kwargs LangChain's class takes to reach it, or the environment variable its SDK
reads where LangChain has no base URL parameter (Perplexity). No real key is used; nothing
leaves loopback.

``google_vertexai`` (:data:`OWN_VENV_FAKES`) runs in a venv of its own: its fake is Vertex AI's
gRPC PredictionService over TLS (:mod:`.fake_vertex_grpc`, started by :func:`vertex_server`),
and its model gets anonymous credentials, so that google-auth never looks for real ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ._fake_http import FakeHTTPServer, make_self_signed_cert
from .fake_anthropic import AnthropicServer
from .fake_chat_completions import ChatCompletionsServer
from .fake_cohere import CohereServer
from .fake_ollama import OllamaServer

__all__ = [
    "FAKE_KEY",
    "OWN_VENV_FAKES",
    "PROVIDER_FAKES",
    "SERVERS",
    "VERTEX_FAKE",
    "ProviderFake",
    "anonymous_credentials",
    "fake_environ",
    "provider_servers",
    "vertex_server",
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
    credentials: bool = False
    """Whether the class is given :func:`anonymous_credentials` as ``credentials``."""

    def kwargs(self, servers: Mapping[str, FakeHTTPServer | str], **more: Any) -> dict[str, Any]:
        """Constructor kwargs for the fakes ``servers`` (started here, or their URLs, as
        ``python -m llmcache.lab.serve_fakes --providers`` prints them), plus ``more``."""
        url = self._url(servers)
        kwargs: dict[str, Any] = {name: url + path for name, path in self.base.items()}
        if self.key_param is not None:
            kwargs[self.key_param] = FAKE_KEY
        if self.credentials:
            kwargs["credentials"] = anonymous_credentials()
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
"""Every provider llmcache covers (``llmcache._providers.ADAPTERS`` and ``AS_BUILT``) and measures
in the ``providers`` venv, pointed at its fake."""


def fake_environ(servers: Mapping[str, FakeHTTPServer | str]) -> dict[str, str]:
    """Every provider's :meth:`ProviderFake.environ` for ``servers``, merged."""
    merged: dict[str, str] = {}
    for fake in PROVIDER_FAKES.values():
        merged.update(fake.environ(servers))
    return merged


VERTEX_FAKE = ProviderFake(
    "google_vertexai",
    "gemini-2.0-flash",
    "vertex",
    "langchain-google-vertexai",
    {"base_url": ""},  # a gRPC target, 127.0.0.1:PORT
    (("project", "lab"), ("location", "us-central1")),
    key_param=None,
    credentials=True,
)
OWN_VENV_FAKES: dict[str, ProviderFake] = {VERTEX_FAKE.provider: VERTEX_FAKE}
"""Adapted providers measured in a venv of their own (``matrix.PROVIDER_VENV_OF``)."""

_credentials: list[Any] = []


def anonymous_credentials() -> Any:
    """One ``google.auth.credentials.AnonymousCredentials`` per process: the cache keys the
    object by identity, so every call must pass the same one; google-auth then never reads
    a credentials file nor probes the metadata server."""
    if not _credentials:
        from google.auth.credentials import AnonymousCredentials

        _credentials.append(AnonymousCredentials())  # type: ignore[no-untyped-call, unused-ignore]
    return _credentials[0]


@contextlib.contextmanager
def provider_servers(simulated_model_latency: float = 0.0) -> Iterator[dict[str, FakeHTTPServer]]:
    """Every fake of :data:`SERVERS`, started on loopback for the block."""
    with contextlib.ExitStack() as stack:
        yield {
            name: stack.enter_context(cls(simulated_model_latency=simulated_model_latency))
            for name, cls in SERVERS.items()
        }


@contextlib.contextmanager
def vertex_server(simulated_model_latency: float = 0.0) -> Iterator[dict[str, str]]:
    """The Vertex AI gRPC fake in a child process of this interpreter (a venv with
    google-cloud-aiplatform), with a throwaway certificate for 127.0.0.1: yields
    ``{"vertex": "127.0.0.1:PORT", "grpc_roots": CERT}``. Clients must trust ``CERT`` through
    ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, set before their first channel."""
    with tempfile.TemporaryDirectory(prefix="llmcache-vertex-") as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        make_self_signed_cert(cert, key)
        argv = [sys.executable, "-m", "llmcache.lab.fake_vertex_grpc", "--cert", cert]
        argv += ["--key", key, "--latency", str(simulated_model_latency)]
        fake = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert fake.stdout is not None
            port = json.loads(fake.stdout.readline())["port"]
            yield {"vertex": f"127.0.0.1:{port}", "grpc_roots": cert}
        finally:
            assert fake.stdin is not None and fake.stdout is not None
            fake.stdin.close()
            fake.stdout.close()
            try:
                fake.wait(timeout=5)
            except subprocess.TimeoutExpired:
                fake.kill()
                fake.wait()
