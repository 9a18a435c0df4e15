"""A FastAPI app that answers with Gemini through llmcache, the way the README recommends.

    GOOGLE_API_KEY=... uvicorn examples.app:app --workers 2
    curl -X POST 'http://127.0.0.1:8000/ask?question=Hello'

Each worker process builds its model once, in the lifespan, in a thread (never on the event
loop), before it serves; it closes the model's clients at shutdown. Without ``GOOGLE_API_KEY``
the app uses Vertex AI with Application Default Credentials (``GOOGLE_CLOUD_PROJECT``).
``GEMINI_BASE_URL`` points the SDK at another server (the lab's loopback fake).

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

import llmcache

MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
SETTINGS: dict[str, Any] = {}  # constructor keyword arguments (part of the cache key)
if os.environ.get("GOOGLE_API_KEY"):
    SETTINGS["google_api_key"] = os.environ["GOOGLE_API_KEY"]
else:  # Vertex AI, Application Default Credentials
    SETTINGS.update(
        vertexai=True,
        project=os.environ.get("GOOGLE_CLOUD_PROJECT"),
        location=os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1"),
    )
if os.environ.get("GEMINI_BASE_URL"):
    SETTINGS["base_url"] = os.environ["GEMINI_BASE_URL"]
DESIGN = os.environ.get("LLMCACHE_APP_DESIGN", "llmcache-warmed")


if DESIGN in ("llmcache", "llmcache-warmed"):

    async def get_model() -> Any:
        return await llmcache.get_model_async(MODEL, **SETTINGS)

else:  # the lab's comparison, not part of the recipe
    from langchain_google_genai import ChatGoogleGenerativeAI  # at import, as those apps do

    from llmcache.lab import designs

    def _build(model_name: str) -> Any:
        return ChatGoogleGenerativeAI(model=model_name, **SETTINGS)

    _bound = designs.bind(DESIGN, _build, "google")

    async def get_model() -> Any:
        return await _bound.model(MODEL)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if DESIGN == "llmcache-warmed":
        await llmcache.warm_async([{"model_name": MODEL, **SETTINGS}])
    yield
    await llmcache.aclose_cache()


app = FastAPI(lifespan=lifespan)


@app.post("/ask")
async def ask(question: str) -> dict[str, str]:
    model = await get_model()
    reply = await model.ainvoke(question)
    return {"answer": reply.text}
