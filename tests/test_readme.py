"""The README's and the docs/ pages' Python examples run as written, against the loopback fakes.

Each ```python block runs on its own, in a fresh namespace (top-level ``await`` allowed), with
Google's and OpenAI's endpoints pointed at the lab's fake servers through the SDKs' own
environment variables and fake keys in ``GOOGLE_API_KEY``/``OPENAI_API_KEY``. An HTML comment
right above a block changes what happens to it:

- ``<!-- readme-test: file NAME -->``: the block is a module of an example: it is written to
  NAME (importable by the other blocks) and not run by itself;
- ``<!-- readme-test: pytest NAME -->``: the block is a test file: it is written to NAME and
  pytest runs it, with this package's pytest plugin, and must pass;
- ``<!-- readme-test: request METHOD PATH -->``: after the block runs, its FastAPI ``app`` is
  started (lifespan included) and answers METHOD PATH with status 200;
- ``<!-- readme-test: skip REASON -->``: not run (keep these few).
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from llmcache.lab.servers import GeminiRestServer, OpenAIServer

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?^```python\n(?P<code>.*?)^```",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    code: str
    action: str
    arg: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}" + (f"-{self.action}" if self.action != "run" else "")


def _blocks() -> list[Block]:
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for match in _BLOCK.finditer(text):
            action, _, arg = (match["directive"] or "run").partition(" ")
            line = text.count("\n", 0, match.start("code"))
            name = page.relative_to(ROOT).as_posix()
            blocks.append(Block(name, line, match["code"], action, arg.strip()))
    return blocks


BLOCKS = _blocks()


def test_the_readme_and_docs_have_python_examples_and_known_directives() -> None:
    assert len(BLOCKS) >= 5
    assert any(b.page == "README.md" for b in BLOCKS)
    assert {b.action for b in BLOCKS} <= {"run", "file", "pytest", "request", "skip"}
    assert all(b.arg for b in BLOCKS if b.action != "run")
    assert sum(b.action == "skip" for b in BLOCKS) <= 2  # keep these few


@pytest.fixture
def fakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fakes as the SDKs' endpoints; the example modules written to an importable folder."""
    with GeminiRestServer() as gemini, OpenAIServer() as openai:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini.url)
        monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
        monkeypatch.setenv("GOOGLE_API_KEY", "readme-fake-key")
        monkeypatch.setenv("OPENAI_API_KEY", "readme-fake-key")
        for block in BLOCKS:
            if block.action == "file":
                (tmp_path / block.arg).write_text(block.code)
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.chdir(tmp_path)
        yield tmp_path
    for name in [b.arg.removesuffix(".py") for b in BLOCKS if b.action == "file"]:
        sys.modules.pop(name, None)


def _run(block: Block) -> dict[str, Any]:
    code = compile(block.code, block.id, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    result = eval(code, namespace)  # top-level await makes the block a coroutine
    if asyncio.iscoroutine(result):
        asyncio.run(result)
    return namespace


@pytest.mark.parametrize(
    "block", [b for b in BLOCKS if b.action in {"run", "request"}], ids=lambda b: b.id
)
def test_example_runs(block: Block, fakes: Path) -> None:
    namespace = _run(block)
    if block.action == "request":
        from fastapi.testclient import TestClient

        method, path = block.arg.split(maxsplit=1)
        with TestClient(namespace["app"]) as client:  # runs the lifespan too
            response = client.request(method, path)
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.action == "pytest"], ids=lambda b: b.id)
def test_example_test_file_passes(block: Block, fakes: Path, pytester: pytest.Pytester) -> None:
    for other in BLOCKS:
        if other.action == "file":
            pytester.path.joinpath(other.arg).write_text(other.code)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.path.joinpath(block.arg).write_text(block.code)

    result = pytester.runpytest("-p", "no:cacheprovider", block.arg)

    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 2 and set(outcomes) <= {"passed", "warnings"}, outcomes


def test_the_readmes_relative_links_exist() -> None:
    """The landing page links into docs/, reports/ and notebooks/ (mkdocs checks the docs')."""
    text = (ROOT / "README.md").read_text()
    links = [m for m in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text) if "://" not in m]
    assert len(links) >= 10
    assert [link for link in links if not (ROOT / link).exists()] == []
    assert len(text.splitlines()) <= 200
