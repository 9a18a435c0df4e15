"""The SDK matrix: one uv-made venv per SDK configuration, cached under ``.lab/venvs``.

Each venv is rebuilt only when its specification changes (a stamp file holds it). The newest 4.x
is resolved when the venv is built; the versions actually installed are read back by every probe
and kept in the results.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import REPO_ROOT

__all__ = [
    "ALL_VENVS",
    "MATRIX",
    "PROVIDER_VENVS",
    "PROVIDER_VENV_OF",
    "SERVER_VENVS",
    "VENV_ROOT",
    "VenvSpec",
    "ensure_venv",
    "find_uv",
    "spec_named",
]

VENV_ROOT = REPO_ROOT / ".lab" / "venvs"
_COMMON = ("blockbuster>=1.5",)  # every probe records blocking calls


@dataclass(frozen=True)
class VenvSpec:
    """One SDK configuration of the matrix."""

    name: str
    sdk: str  # "google", "openai", or "providers" (every adapted integration)
    requirements: tuple[str, ...]
    label: str
    compile_bytecode: bool = True
    run_env: dict[str, str] = field(default_factory=dict)
    """Variables every probe in this venv gets (the no-bytecode variant's)."""

    @property
    def path(self) -> Path:
        return VENV_ROOT / self.name

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


_NEWEST_4X = ("langchain-google-genai>=4.1,<5", "google-genai[aiohttp]")
MATRIX: tuple[VenvSpec, ...] = (
    VenvSpec("lcgg-3.2.0", "google", ("langchain-google-genai==3.2.0",), "3.2.0 (gRPC)"),
    VenvSpec(
        "lcgg-3.2.0-nobytecode",
        "google",
        ("langchain-google-genai==3.2.0",),
        "3.2.0, no bytecode, PYTHONDONTWRITEBYTECODE=1",
        compile_bytecode=False,
        run_env={"PYTHONDONTWRITEBYTECODE": "1"},
    ),
    VenvSpec("lcgg-4.0.0", "google", ("langchain-google-genai==4.0.0",), "4.0.0 (REST, httpx)"),
    VenvSpec("lcgg-4.x", "google", _NEWEST_4X, "4.x newest (REST, aiohttp)"),
    VenvSpec(
        "lcgg-4.x-httpx",
        "google",
        ("langchain-google-genai>=4.1,<5",),
        "4.x newest (REST, httpx: no aiohttp extra)",
    ),
    VenvSpec(
        "lcgg-4.x-nobytecode",
        "google",
        _NEWEST_4X,
        "4.x newest, no bytecode, PYTHONDONTWRITEBYTECODE=1",
        compile_bytecode=False,
        run_env={"PYTHONDONTWRITEBYTECODE": "1"},
    ),
    VenvSpec("openai", "openai", ("langchain-openai>=1,<2",), "langchain-openai"),
)
"""The SDK matrix: every SDK experiment may measure each of these."""

_LANGGRAPH_DEV = "langgraph-cli[inmem]"  # the dev server users run, newest from PyPI
SERVER_VENVS: tuple[VenvSpec, ...] = (
    VenvSpec(
        "langgraph-3.2.0",
        "google",
        ("langchain-google-genai==3.2.0", _LANGGRAPH_DEV),
        "3.2.0 (gRPC) under langgraph dev",
    ),
    VenvSpec(
        "langgraph-4.x",
        "google",
        (*_NEWEST_4X, "langchain-openai>=1,<2", _LANGGRAPH_DEV),
        "4.x newest and langchain-openai under langgraph dev",
    ),
)
"""Venvs of an app server (not SDK measurements): the ``langgraph`` experiment's."""

# The integrations llmcache adapts (pyproject's dev extra, same bounds), for the ``providers``
# experiment: one venv, every provider, each probe importing only its own.
PROVIDER_REQUIREMENTS = (
    *_NEWEST_4X,
    "langchain-openai>=1,<2",
    "langchain-anthropic>=1.7",
    "langchain-deepseek>=1.1",
    "langchain-fireworks>=1.7",
    "langchain-groq>=1.1",
    "langchain-mistralai>=1.1",
    "langchain-ollama>=1.1",
    "langchain-openrouter>=0.2",
    "openrouter<0.11",  # 0.11 requires pydantic<2.13 (as in pyproject)
    "langchain-together>=0.4",
    "langchain-xai>=1.3",
    "langchain-cohere>=0.6",
    "langchain-nvidia-ai-endpoints>=1.5",
    "langchain-perplexity>=1.4",
    "langchain-baseten>=0.2",
    "langchain-meta>=0.5",
)
PROVIDER_VENVS: tuple[VenvSpec, ...] = (
    VenvSpec(
        "providers",
        "providers",
        PROVIDER_REQUIREMENTS,
        "every LangChain integration llmcache adapts, newest",
    ),
    VenvSpec(
        "providers-vertex",
        "providers",
        ("langchain-google-vertexai>=3.2",),
        "langchain-google-vertexai, newest (google-cloud-aiplatform, google-genai<3)",
    ),
)
"""The ``providers`` experiment's venvs: every covered integration, one process per provider.
``providers-vertex`` holds langchain-google-vertexai alone: its google-cloud-aiplatform requires
google-genai<3, which the ``google`` provider's langchain-google-genai 4.x cannot run on."""

PROVIDER_VENV_OF: dict[str, str] = {"google_vertexai": "providers-vertex"}
"""A provider whose integration conflicts with the others -> its own venv (else ``providers``)."""

ALL_VENVS = MATRIX + SERVER_VENVS + PROVIDER_VENVS


def spec_named(name: str) -> VenvSpec:
    for spec in ALL_VENVS:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown venv {name!r}; expected one of {[s.name for s in ALL_VENVS]}")


def find_uv() -> str:
    """uv from this interpreter's venv (a dev dependency), else from PATH."""
    beside = Path(sys.executable).parent / "uv"
    if beside.exists():
        return str(beside)
    found = shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: run `make setup` (it installs uv into .venv)")
    return found


def _stamp(spec: VenvSpec) -> dict[str, object]:
    data = asdict(spec)
    data["base_python"] = sys.version.split()[0]
    roundtrip: dict[str, object] = json.loads(json.dumps(data))  # tuples become lists, as on disk
    return roundtrip


def ensure_venv(spec: VenvSpec, log: Callable[[str], None] = print) -> Path:
    """Build ``spec``'s venv unless an identical one is there; return its python."""
    stamp_file = spec.path / "llmcache-spec.json"
    fresh = spec.python.exists() and stamp_file.exists()
    if fresh and json.loads(stamp_file.read_text()) == _stamp(spec):
        return spec.python
    log(f"building venv {spec.name} ({', '.join(spec.requirements)}) with uv")
    if spec.path.exists():
        shutil.rmtree(spec.path)
    uv = find_uv()
    base = str(Path(sys.base_prefix) / "bin" / "python3")
    subprocess.run([uv, "venv", "--quiet", "--python", base, str(spec.path)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(spec.python)]
    install.append("--compile-bytecode" if spec.compile_bytecode else "--no-compile-bytecode")
    subprocess.run([*install, *spec.requirements, *_COMMON], check=True)
    if not spec.compile_bytecode:  # nothing may have left bytecode behind
        for cache in spec.path.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
    stamp_file.write_text(json.dumps(_stamp(spec), indent=1))
    return spec.python
