"""Pre-pay, off the event loop, the once-per-process work of a model's first call.

Even after the model is built, the first ``ainvoke`` in a process runs SDK work on the event
loop that later calls skip: LangChain imports its tracers (and langsmith), httpcore imports
anyio's asyncio backend, and google-genai and openai build the pydantic schemas of their
request and response types on first use (``defer_build``). Each ``prepare_*`` function does
that work in the calling thread (the cache's build thread) through a dry request conversion
and a dry parse of a canned reply: nothing is sent, no client or socket is opened.

They never raise: each step that fails (an SDK that moved an internal) is logged at DEBUG and
skipped, since preparing is an optimisation and the real call still works without it.
SDK modules are imported inside the functions, so ``import llmcache`` imports none.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["prepare_google", "prepare_openai"]

logger = logging.getLogger("llmcache.prepare")

LAZY_MODULES = (
    # langchain_core defers these to the first call (callback manager and runnable config).
    "langsmith.run_helpers",
    "langchain_core.tracers.context",
    "langchain_core.tracers.langchain",
    "langchain_core.tracers.stdout",
    "langchain_core.tracers.run_collector",
    "langchain_core.messages.block_translators.langchain_v0",
    "langchain_core.messages.block_translators.openai",
    # httpcore (under httpx/httpx2) picks its async backend at the first request.
    "anyio._backends._asyncio",
)
"""Modules a first ``ainvoke`` imports on the loop, found by recording its imports."""

_PROBE_TEXT = "llmcache prepare"

_GEMINI_REPLY: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "ok"}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
}

_OPENAI_REPLY: dict[str, Any] = {
    "id": "chatcmpl-llmcache-prepare",
    "object": "chat.completion",
    "created": 0,
    "model": "prepare",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def _step(what: str, action: Callable[[], object]) -> bool:
    """Run one preparation step; on any error log it at DEBUG and report False."""
    try:
        action()
    except Exception as exc:  # an optimisation must never break the build
        logger.debug("prepare: %s skipped (%s: %.200s)", what, type(exc).__name__, exc)
        return False
    return True


def _import_lazy_modules() -> None:
    for name in LAZY_MODULES:
        _step(f"import {name}", functools.partial(importlib.import_module, name))


def prepare_google(model: Any) -> None:
    """Pre-pay a ``ChatGoogleGenerativeAI`` (4.x) first call: imports, request and response
    schemas, through the SDK's own conversions of a dry message and a canned reply."""
    _import_lazy_modules()
    _step("google request and response", lambda: _google_dry_call(model))


def _google_dry_call(model: Any) -> None:
    from google.genai import _common, types
    from google.genai import models as genai_models
    from langchain_google_genai import chat_models

    # What ``_agenerate`` does before sending: LangChain's conversion, then google-genai's.
    request = model._prepare_request(_dry_messages())
    config = request.get("config")
    if isinstance(config, dict):
        config = types.GenerateContentConfig(**config)
    params = types._GenerateContentParameters(
        model=request["model"], contents=request["contents"], config=config
    )
    api_client = model.client._api_client
    vertex = bool(getattr(api_client, "vertexai", False))
    to_wire = (
        genai_models._GenerateContentParameters_to_vertex
        if vertex
        else genai_models._GenerateContentParameters_to_mldev
    )
    body = to_wire(api_client, params, None, params)
    _common.encode_unserializable_types(_common.convert_to_dict(body))
    types.HttpResponse(headers={}, body="")

    # What it does with the reply: google-genai's parse, then LangChain's.
    from_wire = (
        genai_models._GenerateContentResponse_from_vertex
        if vertex
        else genai_models._GenerateContentResponse_from_mldev
    )
    reply = from_wire(_deep_copy(_GEMINI_REPLY), None, params)
    response = types.GenerateContentResponse._from_response(
        response=reply, kwargs={"model": request["model"], "config": config}
    )
    chat_models._response_to_result(response)


def prepare_openai(model: Any) -> None:
    """Pre-pay a ``ChatOpenAI`` first call: imports, the request conversion (LangChain's, then
    openai's typed-dict transform), and the response types' schemas through the SDK's own
    parse of a canned reply."""
    _import_lazy_modules()
    _step("openai request", lambda: _openai_dry_request(model))
    _step("openai response", lambda: _openai_dry_response(model))


def _dry_messages() -> list[Any]:
    """A system and a user message: the two conversions every chat app runs."""
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(content=_PROBE_TEXT), HumanMessage(content=_PROBE_TEXT)]


def _openai_dry_request(model: Any) -> None:
    from openai._utils import maybe_transform
    from openai.types.chat import completion_create_params

    payload = model._get_request_payload(_dry_messages())
    payload.pop("stream", None)
    maybe_transform(payload, completion_create_params.CompletionCreateParamsNonStreaming)


def _openai_dry_response(model: Any) -> None:
    from openai._models import construct_type
    from openai.types.chat import ChatCompletion

    response = construct_type(value=_deep_copy(_OPENAI_REPLY), type_=ChatCompletion)
    model._create_chat_result(response)


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy: the SDKs' parsers edit the dict they are given."""
    import copy

    return copy.deepcopy(data)
