"""A FastAPI app that answers with Gemini through llmcache, the way the README recommends.

    GOOGLE_API_KEY=... uvicorn examples.app:app --workers 2
    curl -X POST 'http://127.0.0.1:8000/ask?question=Hello'
    curl -X POST 'http://127.0.0.1:8000/stream?question=Hello'   # the answer as it comes

Each worker process builds its model once, in the lifespan, in a thread (never on the event
loop), before it serves; it closes the model's clients at shutdown. Without ``GOOGLE_API_KEY``
the app uses Vertex AI with Application Default Credentials (``GOOGLE_CLOUD_PROJECT``).
``GEMINI_BASE_URL`` points the SDK at another server (the lab's loopback fake).

Settings the lab uses (unset, the app is the recipe above):

- ``LLMCACHE_APP_PROVIDER=openai``: answer with ``ChatOpenAI`` (``OPENAI_API_KEY``,
  ``OPENAI_MODEL``, ``OPENAI_BASE_URL``) instead of Gemini.
- ``LLMCACHE_TTL``, ``LLMCACHE_MAXSIZE``: passed to ``llmcache.configure`` (rebuild a model
  after that many seconds; keep at most that many models).
- ``?tenant=N`` on a request: each tenant calls the model with its own API key, so each tenant
  is a cache key (and a model) of its own. The key here is ``f"{key}-tenant-{N}"``, a stand-in
  for a secret looked up per tenant. Without an API key (Vertex AI, ADC) tenants share the
  model.

``LLMCACHE_APP_DESIGN`` swaps in another way to get the model, so the lab can compare them on
this very app: ``llmcache`` (the same cache, not warmed), or one of the designs users wrote
before llmcache (``functools.cache``, ``asyncio.Lock``, ``no-cache``; see
:mod:`llmcache.lab.designs`). Unset, or ``llmcache-warmed``: the recipe above.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import llmcache

PROVIDER = os.environ.get("LLMCACHE_APP_PROVIDER", "google")
SETTINGS: dict[str, Any] = {}  # constructor keyword arguments (part of the cache key)
KEY_ARGUMENT: str | None = None  # the one that holds the API key, if any
if PROVIDER == "openai":
    MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    SETTINGS["api_key"] = os.environ["OPENAI_API_KEY"]
    KEY_ARGUMENT = "api_key"
    if os.environ.get("OPENAI_BASE_URL"):
        SETTINGS["base_url"] = os.environ["OPENAI_BASE_URL"]
else:
    MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
    if os.environ.get("GOOGLE_API_KEY"):
        SETTINGS["google_api_key"] = os.environ["GOOGLE_API_KEY"]
        KEY_ARGUMENT = "google_api_key"
    else:  # Vertex AI, Application Default Credentials
        SETTINGS.update(
            vertexai=True,
            project=os.environ.get("GOOGLE_CLOUD_PROJECT"),
            location=os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1"),
        )
    if os.environ.get("GEMINI_BASE_URL"):
        SETTINGS["base_url"] = os.environ["GEMINI_BASE_URL"]
DESIGN = os.environ.get("LLMCACHE_APP_DESIGN", "llmcache-warmed")


def settings_for(tenant: int | None) -> dict[str, Any]:
    """The model's keyword arguments for a request: a tenant's own API key, if it names one."""
    if tenant is None or KEY_ARGUMENT is None:
        return SETTINGS
    return {**SETTINGS, KEY_ARGUMENT: f"{SETTINGS[KEY_ARGUMENT]}-tenant-{tenant}"}


if DESIGN in ("llmcache", "llmcache-warmed"):
    limits: dict[str, Any] = {}
    if os.environ.get("LLMCACHE_TTL"):
        limits["ttl"] = float(os.environ["LLMCACHE_TTL"])
    if os.environ.get("LLMCACHE_MAXSIZE"):
        limits["maxsize"] = int(os.environ["LLMCACHE_MAXSIZE"])
    if limits:
        llmcache.configure(**limits)

    async def get_model(tenant: int | None = None) -> Any:
        return await llmcache.get_model_async(MODEL, **settings_for(tenant))

else:  # the lab's comparison, not part of the recipe
    from llmcache.lab import designs

    if PROVIDER == "openai":  # at import, as those apps do
        from langchain_openai import ChatOpenAI as ChatModel
    else:
        from langchain_google_genai import ChatGoogleGenerativeAI as ChatModel

    def _build(model_name: str, **kwargs: Any) -> Any:
        return ChatModel(model=model_name, **kwargs)

    _bound = designs.bind(DESIGN, _build, PROVIDER)

    async def get_model(tenant: int | None = None) -> Any:
        return await _bound.model(MODEL, **settings_for(tenant))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if DESIGN == "llmcache-warmed":
        await llmcache.warm_async([{"model_name": MODEL, **SETTINGS}])
    yield
    await llmcache.aclose_cache()


app = FastAPI(lifespan=lifespan)


@app.post("/ask")
async def ask(question: str, tenant: int | None = None) -> dict[str, str]:
    model = await get_model(tenant)
    reply = await model.ainvoke(question)
    return {"answer": reply.text}


@app.post("/stream")
async def stream(question: str, tenant: int | None = None) -> StreamingResponse:
    model = await get_model(tenant)

    async def chunks() -> AsyncIterator[str]:
        async for chunk in model.astream(question):
            yield chunk.text

    return StreamingResponse(chunks(), media_type="text/plain")
