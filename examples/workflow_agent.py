"""A LangGraph workflow agent that answers with Gemini (or OpenAI) through llmcache.

    cd examples && GOOGLE_API_KEY=... langgraph dev --no-browser
    curl -X POST http://127.0.0.1:2024/runs/wait -H 'content-type: application/json' \
        -d '{"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "Hi"}]}}'

One node calls the model. The node awaits its model from llmcache, which builds it once, in a
thread of its own, so nothing blocks the server's event loop (``langgraph dev`` raises
``BlockingError`` at the first blocking call in a run). The server's lifespan (``http.app`` in
``langgraph.json``) warms the model before the first run and closes its clients at shutdown.

Environment: ``LLMCACHE_AGENT_PROVIDER`` (``google``, the default, or ``openai``, which reads
``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``). Without ``GOOGLE_API_KEY`` Gemini goes through
Vertex AI with Application Default Credentials (``GOOGLE_CLOUD_PROJECT``); ``GEMINI_BASE_URL``
points the SDK at another server (the lab's loopback fake).

``LLMCACHE_AGENT_DESIGN`` swaps in another way to get the model, so the lab can compare them in
this very agent: ``llmcache`` (the same cache, not warmed), or one of the designs users wrote
before llmcache (``no-cache``, ``functools.cache``, ``asyncio.Lock``; see
:mod:`llmcache.lab.designs`). Unset, or ``llmcache-warmed``: the recipe above.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.graph import END, START, MessagesState, StateGraph
from starlette.applications import Starlette

import llmcache

PROVIDER = os.environ.get("LLMCACHE_AGENT_PROVIDER", "google")
SETTINGS: dict[str, Any] = {}  # constructor keyword arguments (part of the cache key)
if PROVIDER == "openai":
    MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
else:
    MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")
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
DESIGN = os.environ.get("LLMCACHE_AGENT_DESIGN", "llmcache-warmed")


if DESIGN in ("llmcache", "llmcache-warmed"):

    async def get_model() -> Any:
        return await llmcache.get_model_async(MODEL, PROVIDER, **SETTINGS)

else:  # the lab's comparison, not part of the recipe
    from llmcache.lab import designs

    if PROVIDER == "openai":
        from langchain_openai import ChatOpenAI as _Chat  # at import, as those agents do
    else:
        from langchain_google_genai import ChatGoogleGenerativeAI as _Chat

    def _build(model_name: str) -> Any:
        return _Chat(model=model_name, **SETTINGS)

    _bound = designs.bind(DESIGN, _build, PROVIDER)

    async def get_model() -> Any:
        return await _bound.model(MODEL)


async def call_model(state: MessagesState) -> dict[str, Any]:
    model = await get_model()
    reply = await model.ainvoke(state["messages"])
    return {"messages": [reply]}


builder = StateGraph(MessagesState)
builder.add_node("model", call_model)
builder.add_edge(START, "model")
builder.add_edge("model", END)
graph = builder.compile()


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    if DESIGN == "llmcache-warmed":
        await llmcache.warm_async([{"model_name": MODEL, "provider": PROVIDER, **SETTINGS}])
    yield
    await llmcache.aclose_cache()


app = Starlette(lifespan=lifespan)
"""Served beside the graph by ``langgraph dev`` (``http.app``): only its lifespan matters."""
