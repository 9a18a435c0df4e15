"""The SDK under test in a probe: its model name, fake key, constructor arguments against the
loopback fakes, and the versions present. Shared by every probe mode; imports no probe."""

from __future__ import annotations

import contextlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

__all__ = [
    "FAKE_GOOGLE_KEY",
    "FAKE_OPENAI_KEY",
    "MODEL",
    "google_generation",
    "model_factory",
    "model_kwargs",
    "sdk_module",
    "versions",
]

FAKE_GOOGLE_KEY = "lab-fake-google-key"
FAKE_OPENAI_KEY = "lab-fake-openai-key"
MODEL = {"google": "gemini-2.0-flash", "openai": "gpt-4o-mini"}
PACKAGES = (
    "langchain-google-genai",
    "google-genai",
    "google-ai-generativelanguage",
    "google-auth",
    "grpcio",
    "aiohttp",
    "httpx",
    "langchain-openai",
    "openai",
    "langchain-core",
    "langsmith",
    "blockbuster",
)


def versions() -> dict[str, str]:
    """Versions of every SDK package present in this interpreter."""
    found = {}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def google_generation() -> int:
    version = importlib.metadata.version("langchain-google-genai")
    return int(version.split(".")[0])


def sdk_module(sdk: str) -> str:
    return "langchain_google_genai" if sdk == "google" else "langchain_openai"


def model_factory(config: dict[str, Any], servers: dict[str, Any]) -> Callable[[], Any]:
    """A zero-argument constructor of the configured chat model, pointed at the fakes."""
    kwargs = {"model": MODEL[config["sdk"]], **model_kwargs(config, servers)}
    if config["sdk"] == "openai":
        from langchain_openai import ChatOpenAI

        return lambda: ChatOpenAI(**kwargs)

    from langchain_google_genai import ChatGoogleGenerativeAI

    return lambda: ChatGoogleGenerativeAI(**kwargs)


def model_kwargs(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """The configured model's keyword arguments but ``model`` (as an app passes them to
    ``llmcache.get_model``)."""
    sdk, auth = config["sdk"], config.get("auth", "api-key")
    if sdk == "openai":
        from pydantic import SecretStr

        return {"api_key": SecretStr(FAKE_OPENAI_KEY), "base_url": servers["openai_base_url"]}

    kwargs: dict[str, Any] = {}
    version = importlib.metadata.version("langchain-google-genai")
    if google_generation() < 4:
        kwargs["base_url"] = servers["grpc_endpoint"]
        if auth == "api-key":
            kwargs["google_api_key"] = FAKE_GOOGLE_KEY
    else:
        url = servers["gemini_url"]
        if version.startswith("4.0."):
            kwargs["client_options"] = {"api_endpoint": url}  # 4.0.x ignores base_url
        else:
            kwargs["base_url"] = url
        if auth == "api-key":
            kwargs["google_api_key"] = FAKE_GOOGLE_KEY
        else:
            # Vertex AI with ADC. With a custom base_url and no project, google-genai sends
            # unauthenticated requests to the bare URL, so the project is given.
            kwargs["vertexai"] = True
            kwargs["project"] = "llmcache-lab"
            kwargs["location"] = "us-central1"
    return kwargs
