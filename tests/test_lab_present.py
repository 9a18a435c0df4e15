"""The notebooks' tables: what a reader sees, and saved outputs that do not change on re-run."""

from __future__ import annotations

import pandas as pd
import pytest

from llmcache.lab import present


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"design": ["llmcache", "no-cache"], "first_s": [0.05, None]})


def test_a_table_shows_human_headers_no_index_and_no_nan() -> None:
    html = present.table(_frame(), {"design": "design", "first_s": "first request (s)"}).to_html()
    assert "first request (s)" in html and "first_s" not in html
    assert "nan" not in html.lower()
    assert "0.05" in html
    assert 'class="row_heading' not in html  # no index column


def test_the_same_data_gives_the_same_saved_output() -> None:
    columns = {"design": "design", "first_s": "first request (s)"}
    first, second = present.table(_frame(), columns), present.table(_frame(), columns)
    assert first.to_html() == second.to_html()
    assert repr(first) == repr(second)
    assert " at 0x" not in repr(first)  # the default Styler's plain text names its address


def test_an_unknown_column_is_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="first_ms"):
        present.table(_frame(), {"first_ms": "first request (ms)"})


def test_the_cli_summary_shows_columns_only_later_rows_have() -> None:
    from llmcache.lab.tables import format_table

    text = format_table(
        [{"design": "llmcache"}, {"design": "asyncio.Lock", "error": "RuntimeError"}]
    )
    assert "RuntimeError" in text.splitlines()[-1]
