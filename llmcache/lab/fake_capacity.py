"""How many requests per second each loopback fake serves a raw client: the ceiling of any SDK
measured against it.

Run as the probe mode ``capacity`` (inside the same namespace as its fake, with the same calls
and concurrency as the SDK throughput runs): ``aiohttp`` posts the Gemini REST or OpenAI request
body and reads the answer, ``grpc.aio`` sends serialized ``GenerateContent`` requests over the
same TLS channel set-up as 3.x and reads the bytes. No SDK code runs, so an SDK's throughput
divided by its fake's capacity says how much of the gap is the fake's.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from .measure import run_calls

__all__ = ["FAKES", "fake_of", "measure_capacity"]

FAKES = {
    "gemini-rest": ("lcgg-4.x", "google", "aiohttp"),
    "openai": ("lcgg-4.x", "openai", "aiohttp"),
    "gemini-grpc": ("lcgg-3.2.0", "google", "grpc.aio"),
}
"""fake -> (venv whose Python runs the raw client, ``sdk`` that makes the probe start that fake,
client)."""

API_KEY = "lab-fake-key"
MODEL = "gemini-2.0-flash"


async def _rest(
    url: str, body: dict[str, Any], headers: dict[str, str], calls: int, concurrency: int
) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call() -> bytes:
            async with session.post(url, json=body, headers=headers) as response:
                response.raise_for_status()
                return await response.read()

        await call()  # connection set-up is not throughput
        return await run_calls(call, calls, concurrency)


async def _grpc(endpoint: str, roots: bytes, calls: int, concurrency: int) -> dict[str, Any]:
    import grpc  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from google.ai.generativelanguage_v1beta.types import (  # type: ignore[import-not-found, import-untyped, unused-ignore]
        generative_service,
    )

    from .fake_gemini_grpc import SERVICE

    request = generative_service.GenerateContentRequest(
        model=f"models/{MODEL}", contents=[{"parts": [{"text": "hello"}], "role": "user"}]
    )
    payload = generative_service.GenerateContentRequest.serialize(request)
    credentials = grpc.ssl_channel_credentials(root_certificates=roots)
    async with grpc.aio.secure_channel(endpoint, credentials) as channel:
        method = channel.unary_unary(f"/{SERVICE}/GenerateContent")
        metadata = (("x-goog-api-key", API_KEY),)

        async def call() -> Any:
            return await method(payload, metadata=metadata)

        await call()
        return await run_calls(call, calls, concurrency)


def fake_of(servers: dict[str, Any]) -> str:
    """Which fake a probe's model talks to: ``gemini-grpc``, ``gemini-rest`` or ``openai``."""
    if "grpc_endpoint" in servers:
        return "gemini-grpc"
    return "gemini-rest" if "gemini_url" in servers else "openai"


def measure_capacity(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """Requests served to a raw client by the fake this probe started (see :data:`FAKES`)."""
    calls, concurrency = int(config.get("calls", 1000)), int(config.get("concurrency", 50))
    fake = fake_of(servers)
    client = FAKES[fake][2]
    if fake == "gemini-grpc":
        with open(servers["grpc_roots"], "rb") as file:
            roots = file.read()
        run = _grpc(servers["grpc_endpoint"], roots, calls, concurrency)
    elif fake == "gemini-rest":
        url = f"{servers['gemini_url']}/v1beta/models/{MODEL}:generateContent"
        body: dict[str, Any] = {"contents": [{"parts": [{"text": "hello"}], "role": "user"}]}
        run = _rest(url, body, {"x-goog-api-key": API_KEY}, calls, concurrency)
    else:
        url = f"{servers['openai_base_url']}/chat/completions"
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
        run = _rest(url, body, {"authorization": f"Bearer {API_KEY}"}, calls, concurrency)
    measured = asyncio.run(run)
    sdk_loaded = any(m in sys.modules for m in ("langchain_google_genai", "langchain_openai"))
    return {"fake": fake, "client": client, "sdk_loaded": sdk_loaded, **measured}
