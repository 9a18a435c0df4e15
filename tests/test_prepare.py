"""``prepare_google`` / ``prepare_openai``: no network, never raise, and the first call's lazy
work (imports, pydantic schema builds, type hints) really done before the first ``ainvoke``."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any

import pytest

from llmcache import _prepare
from llmcache.lab import REPO_ROOT
from llmcache.lab.isolation import guarded_env


def _google_model() -> Any:
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model="gemini-2.0-flash", google_api_key="test-fake-key", base_url="http://127.0.0.1:9"
    )


def _google_vertex_model() -> Any:
    """4.x's ADC path: credentials are looked up at the first call, not by prepare."""
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model="gemini-2.0-flash",
        vertexai=True,
        project="llmcache-test",
        location="us-central1",
        base_url="http://127.0.0.1:9",
    )


def _openai_model() -> Any:
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model="gpt-4o-mini", api_key="test-fake-key", base_url="http://127.0.0.1:9/v1"
    )


CASES = {
    "google": (_google_model, _prepare.prepare_google),
    "openai": (_openai_model, _prepare.prepare_openai),
    "google-vertex": (_google_vertex_model, _prepare.prepare_google),
}


@pytest.fixture
def socket_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connect or name lookup attempted, loopback included, refused and listed."""
    calls: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name}{args[1:] if name.startswith('socket.') else args}")
            raise OSError(f"test: {name} during prepare")

        return refused

    for attr in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, attr, refuse(f"socket.{attr}"))
    for attr in ("getaddrinfo", "create_connection", "gethostbyname"):
        monkeypatch.setattr(socket, attr, refuse(attr))
    return calls


@pytest.mark.parametrize("sdk", list(CASES))
def test_prepare_opens_no_connection_and_resolves_no_name(
    sdk: str, socket_calls: list[str]
) -> None:
    make, prepare = CASES[sdk]
    model = make()
    prepare(model)
    assert socket_calls == []


@pytest.mark.parametrize("sdk", ["google", "openai"])
@pytest.mark.parametrize(
    "model",
    [object(), types.SimpleNamespace(client=None, _prepare_request=None)],
    ids=["object", "namespace-without-methods"],
)
def test_prepare_never_raises_on_a_model_missing_attributes(
    sdk: str, model: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmcache.prepare")
    assert CASES[sdk][1](model) is None
    assert any("skipped" in r.getMessage() for r in caplog.records)


def test_prepare_logs_a_failed_step_at_debug_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def _prepare_request(self, *_: object) -> None:
            raise RuntimeError("internal moved")

    caplog.set_level(logging.DEBUG, logger="llmcache.prepare")
    _prepare.prepare_google(Broken())
    skipped = [(r.levelno, r.getMessage()) for r in caplog.records if "google" in r.getMessage()]
    assert skipped == [
        (
            logging.DEBUG,
            "prepare: google request and response skipped (RuntimeError: internal moved)",
        )
    ]


# A fresh interpreter: these caches are per process, and this test process has used the SDKs.
_FIRST_CALL = """
import asyncio, json, sys
from llmcache.lab import netguard
netguard.install()
from llmcache import _prepare
from llmcache.lab.first_call import LazyWorkRecorder
from llmcache.lab.servers import GeminiRestServer, OpenAIServer

sdk = sys.argv[1]
if sdk == "google":
    from google.genai import types as lazy
    from langchain_google_genai import ChatGoogleGenerativeAI
    server = GeminiRestServer().start()
    model = ChatGoogleGenerativeAI(
        model="gemini-2.0-flash", google_api_key="test-fake-key", base_url=server.url
    )
    classes = [lazy.GenerateContentConfig, lazy.Part, lazy.GenerateContentResponse, lazy.Candidate]
    prepare = _prepare.prepare_google
else:
    from langchain_openai import ChatOpenAI
    from openai.types import chat as lazy
    server = OpenAIServer().start()
    model = ChatOpenAI(model="gpt-4o-mini", api_key="test-fake-key", base_url=server.base_url)
    classes = [lazy.ChatCompletion, lazy.ChatCompletionMessage]
    prepare = _prepare.prepare_openai

out = {
    "built_before": [c.__name__ for c in classes if c.__pydantic_complete__],
    "modules_before": [m for m in _prepare.LAZY_MODULES if m in sys.modules],
}
prepare(model)
out["built_after"] = [c.__name__ for c in classes if c.__pydantic_complete__]
out["modules_after"] = [m for m in _prepare.LAZY_MODULES if m in sys.modules]

recorder = LazyWorkRecorder().install()

async def first() -> None:
    with recorder.record() as events:
        reply = await model.ainvoke("hello")
    out["reply"] = str(reply.content)
    out["lazy_work"] = [e["kind"] + " " + e["what"] for e in events]

asyncio.run(first())
out["violations"] = netguard.take_violations()
server.stop()
print(json.dumps(out))
"""


@pytest.mark.parametrize("sdk", ["google", "openai"])
def test_after_prepare_the_first_ainvoke_builds_no_schema_and_imports_nothing(sdk: str) -> None:
    env = guarded_env()
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL, sdk],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["violations"] == []
    assert out["reply"]  # the real call went through the fake server
    # these were lazy (deferred schemas, modules not yet imported) and prepare did the work
    assert out["built_before"] == []
    assert len(out["built_after"]) == len(out["built_before"]) + (4 if sdk == "google" else 2)
    assert set(out["modules_after"]) == set(_prepare.LAZY_MODULES)
    assert set(out["modules_before"]) < set(out["modules_after"])
    # and the first real call on the loop found nothing left to import or build
    assert [w for w in out["lazy_work"] if w.split()[0] in ("import", "schema")] == []
