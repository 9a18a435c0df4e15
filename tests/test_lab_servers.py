"""The lab's loopback servers speak the real protocols: the real SDKs and google-auth use them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI

from llmcache.lab.fake_gemini_rest import GeminiRestServer
from llmcache.lab.fake_metadata import MetadataServer
from llmcache.lab.fake_openai import OpenAIServer
from llmcache.lab.isolation import guarded_env


async def test_gemini_rest_server_answers_the_real_sdk_plain_and_streamed() -> None:
    with GeminiRestServer() as server:
        model = ChatGoogleGenerativeAI(
            model="gemini-2.0-flash", google_api_key="lab-fake", base_url=server.url
        )
        reply = await model.ainvoke("hello")
        chunks = [chunk.content async for chunk in model.astream("hello")]
        assert model.invoke("hello").content == "ok"

    assert reply.content == "ok"
    assert "ok" in chunks
    assert server.requests == {"generateContent": 2, "streamGenerateContent": 1}


async def test_openai_server_answers_the_real_sdk_plain_and_streamed() -> None:
    with OpenAIServer() as server:
        model = ChatOpenAI(model="gpt-4o-mini", api_key="lab-fake", base_url=server.base_url)
        reply = await model.ainvoke("hello")
        chunks = [chunk.content async for chunk in model.astream("hello")]

    assert reply.content == "ok"
    assert "".join(str(c) for c in chunks) == "ok"
    assert server.requests == {"chat.completions": 1, "chat.completions.stream": 1}


async def test_cohere_server_answers_the_real_sdk_plain_and_streamed() -> None:
    from langchain_cohere import ChatCohere

    from llmcache.lab.fake_cohere import CohereServer

    with CohereServer() as server:
        model = ChatCohere(model="command-r-plus", cohere_api_key="lab-fake", base_url=server.url)
        reply = await model.ainvoke("hello")
        chunks = [chunk.content async for chunk in model.astream("hello")]

    assert reply.content == "ok"
    assert "".join(str(c) for c in chunks) == "ok"
    assert server.requests == {"chat": 1, "chat.stream": 1}


async def test_chat_completions_server_lists_models_and_answers_responses_unstreamed() -> None:
    """What NVIDIA lists (GET .../models: ``available_models``, or a build without a model
    name) and langchain-meta's default API."""
    from langchain_nvidia_ai_endpoints import ChatNVIDIA

    from llmcache.lab.fake_chat_completions import LISTED_MODELS, ChatCompletionsServer

    with ChatCompletionsServer() as server:
        nvidia = ChatNVIDIA(model=LISTED_MODELS[0], api_key="lab-fake", base_url=server.url + "/v1")
        chunks = [chunk.content async for chunk in nvidia.astream("hello")]
        listed = [m.id for m in nvidia.available_models]
        responses = ChatOpenAI(
            model="gpt-4o-mini",
            api_key="lab-fake",
            base_url=server.url + "/v1",
            use_responses_api=True,
        )
        reply = await responses.ainvoke("hello")

    assert "".join(str(c) for c in chunks) == "ok"
    assert listed == list(LISTED_MODELS)
    assert reply.text == "ok"
    assert server.requests == {
        "/v1/models": 1,
        "/v1/chat/completions stream": 1,
        "/v1/responses": 1,
    }
    assert server.calls == 2  # answers, not listings


async def test_simulated_model_latency_delays_each_answer() -> None:
    with GeminiRestServer(simulated_model_latency=0.3) as server:
        model = ChatGoogleGenerativeAI(
            model="gemini-2.0-flash", google_api_key="lab-fake", base_url=server.url
        )
        await model.ainvoke("warm the connection")
        start = time.perf_counter()
        await model.ainvoke("hello")
        elapsed = time.perf_counter() - start
    assert 0.3 <= elapsed < 1.5


def test_unknown_metadata_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown metadata mode"):
        MetadataServer("teapot")  # type: ignore[arg-type]


ADC = """
import json, time
import google.auth
start = time.perf_counter()  # after the import: its seconds depend on the machine's load
try:
    _, project = google.auth.default()
    result = {"project": project}
except Exception as exc:
    result = {"error": type(exc).__name__}
result["seconds"] = time.perf_counter() - start
print(json.dumps(result))
"""


def _adc(server: MetadataServer, **env: str) -> dict[str, object]:
    """google.auth.default() in a fresh process (google-auth reads its settings at import)."""
    done = subprocess.run(
        [sys.executable, "-c", ADC],
        env=guarded_env({**server.env, **env}),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_blackhole_metadata_with_timeout_1_and_1_attempt_costs_about_1_s() -> None:
    with MetadataServer("blackhole") as server:
        result = _adc(server, GCE_METADATA_TIMEOUT="1", GCE_METADATA_DETECT_RETRIES="1")
        assert server.requests["accepted"] == 1
    assert result["error"] == "DefaultCredentialsError"
    assert 0.9 <= float(result["seconds"]) < 3.0  # type: ignore[arg-type]


def test_refused_metadata_fails_after_google_auths_backoff() -> None:
    with MetadataServer("refuse") as server:
        one = _adc(server, GCE_METADATA_DETECT_RETRIES="1")
        two = _adc(server, GCE_METADATA_DETECT_RETRIES="2")
    assert one["error"] == two["error"] == "DefaultCredentialsError"
    # refused at once; the second attempt waits google-auth's ~1 s backoff first
    assert float(one["seconds"]) < 1.0  # type: ignore[arg-type]
    assert float(two["seconds"]) - float(one["seconds"]) >= 0.8  # type: ignore[arg-type]


def test_slow_valid_metadata_gives_credentials_and_project_through_the_real_paths() -> None:
    with MetadataServer("slow-valid", delay=0.2) as server:
        result = _adc(server)
        paths = set(server.requests)
    assert result["project"] == "llmcache-lab"
    assert float(result["seconds"]) >= 0.4  # type: ignore[arg-type]  # ping + project id
    assert {"/", "/computeMetadata/v1/project/project-id"} <= paths


def test_no_gce_check_true_skips_the_probe_but_capitalised_true_does_not() -> None:
    with MetadataServer("blackhole") as server:
        skipped = _adc(server, NO_GCE_CHECK="true")
        assert server.requests["accepted"] == 0
        probed = _adc(
            server, NO_GCE_CHECK="True", GCE_METADATA_TIMEOUT="1", GCE_METADATA_DETECT_RETRIES="1"
        )
        assert server.requests["accepted"] == 1
    assert float(skipped["seconds"]) < 0.9  # type: ignore[arg-type]
    assert float(probed["seconds"]) >= 0.9  # type: ignore[arg-type]
