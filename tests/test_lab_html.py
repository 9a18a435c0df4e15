"""The shared HTML reports read offline (no script from a CDN) and carry the notebook's title."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from llmcache.lab import html


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · The *cold* start\n\nWhere do $x$ seconds go?"),
        nbformat.v4.new_code_cell(
            "print('hi')",
            outputs=[nbformat.v4.new_output("stream", name="stdout", text="hi\n")],
        ),
    ]
    path = tmp_path / "01_example.ipynb"
    nbformat.write(nb, path)
    return path


def test_report_html_is_offline_and_titled(notebook: Path, tmp_path: Path) -> None:
    out = html.convert(notebook, tmp_path / "out")
    text = out.read_text()
    assert out.name == "01_example.html"
    assert "<title>01 · The cold start</title>" in text
    assert '<script src="http' not in text
    assert "cdnjs" not in text and "require.js" not in text and "unpkg" not in text
    assert "hi" in text and "print(" not in text  # outputs kept, code left out


def test_first_heading_is_none_without_markdown() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# a comment, not a heading")]
    assert html.first_heading(nb) is None


def test_make_report_converts_with_the_offline_module() -> None:
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "-m llmcache.lab.html --output-dir" in makefile
    assert "nbconvert --to html" not in makefile
