"""Behaviour 10: ``import llmcache`` loads no SDK; providers import inside the worker thread."""

from __future__ import annotations

import json
import subprocess
import sys

SDK_PREFIXES = (
    "langchain",
    "langsmith",
    "google",
    "openai",
    "httpx",
    "aiohttp",
    "grpc",
    "pydantic",
)


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return out.stdout


def test_import_llmcache_loads_no_sdk_module() -> None:
    modules = json.loads(_run("import json, sys, llmcache; print(json.dumps(sorted(sys.modules)))"))
    loaded = [m for m in modules if m.split(".")[0].startswith(SDK_PREFIXES)]
    assert loaded == []
    assert "llmcache.lab" not in modules


def test_sdk_is_imported_lazily_inside_the_worker_thread() -> None:
    code = """
import importlib.abc, json, sys, threading
seen = {}
class Spy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "langchain_google_genai":
            seen["thread"] = threading.current_thread().name
        return None
sys.meta_path.insert(0, Spy())
import llmcache
before = "langchain_google_genai" in sys.modules
model = llmcache.get_model("gemini-2.5-flash", google_api_key="test-key-not-real")
print(json.dumps({"before": before, "thread": seen.get("thread"), "type": type(model).__name__}))
"""
    result = json.loads(_run(code))
    assert result["before"] is False
    assert result["thread"].startswith("llmcache-build")
    assert result["type"] == "ChatGoogleGenerativeAI"
