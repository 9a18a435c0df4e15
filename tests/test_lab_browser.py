"""The browser smoke test's own judgement, without a browser: which outputs count as text, how
figures are counted, and how a difference from the committed notebook is reported (make
browser-test runs the real thing)."""

from __future__ import annotations

from typing import Any

from llmcache.lab import browser


def _nb(*cells: dict[str, Any]) -> dict[str, Any]:
    return {"cells": list(cells)}


def _code(*outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": "", "outputs": list(outputs)}


def _stream(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


PNG = {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}}


def test_same_outputs_compare_equal() -> None:
    nb = _nb({"cell_type": "markdown", "source": "# t"}, _code(_stream("a\nb\n"), PNG))
    assert browser.compare_outputs(nb, nb) == []


def test_a_difference_names_the_cell_and_its_first_differing_line() -> None:
    committed = _nb({"cell_type": "markdown", "source": ""}, _code(_stream(["a\n", "b 1.0 s\n"])))
    ran = _nb({"cell_type": "markdown", "source": ""}, _code(_stream("a\nb 2.0 s\n")))
    [diff] = browser.compare_outputs(committed, ran)
    assert diff.startswith("cell 1, output line 3:"), diff
    assert "'b 1.0 s'" in diff and "'b 2.0 s'" in diff


def test_a_missing_or_extra_output_is_a_difference() -> None:
    committed = _nb(_code(_stream("a\n")))
    ran = _nb(_code(_stream("a\n"), _stream("oops\n", "stderr")))
    [diff] = browser.compare_outputs(committed, ran)
    assert "'<no more output>'" in diff and "'[stderr]'" in diff


def test_figures_are_counted_from_png_outputs_only() -> None:
    html = {"output_type": "execute_result", "data": {"text/html": "<table/>"}}
    assert browser.png_outputs(_nb(_code(PNG, html), _code(PNG), _code())) == 2


def test_an_error_output_counts_as_text() -> None:
    error = {"output_type": "error", "ename": "ValueError", "evalue": "no", "traceback": []}
    assert browser.text_outputs(_code(error)) == ["[error]\nValueError: no"]


def test_styler_ids_and_addresses_are_not_differences() -> None:
    def html(uuid: str, address: str) -> dict[str, Any]:
        table = f'<style>#T_{uuid}_row0_col0 {{}}</style><table id="T_{uuid}">{address}</table>'
        return {"output_type": "execute_result", "data": {"text/html": table}}

    committed = _nb(_code(html("1a2b3", "<obj at 0x7f3a2b1c0d90>")))
    ran = _nb(_code(html("9f8e7", "<obj at 0x7f0000000010>")))
    assert browser.compare_outputs(committed, ran) == []
    assert browser.compare_outputs(committed, _nb(_code(html("9f8e7", "other")))) != []


def test_a_free_port_is_on_loopback() -> None:
    assert 0 < browser.free_port() < 65536
