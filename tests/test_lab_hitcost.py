"""The hit-cost experiment measures every design without and with the four model kwargs, and
rates each API against its baseline in the same case."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from llmcache.lab import baselines, hitcost, report, tables

pytestmark = pytest.mark.usefixtures("fresh_baselines")


def test_every_design_is_measured_in_both_cases_and_rated_against_its_baseline() -> None:
    result = hitcost.measure_hit_costs(number=50, repeat=2)
    table = tables.hit_cost_table({"runs": [{"labels": {}, "result": result}]})
    rows = {row["design"]: row for row in table}

    assert set(rows) == {
        "dict",
        "functools.cache",
        "asyncio.Lock",
        "alru_cache (async-lru)",
        "llmcache sync",
        "llmcache async",
        "get_model",
        "get_model_async",
    }
    assert all(row["ns_no_kwargs"] > 0 and row["ns_4_kwargs"] > 0 for row in rows.values())
    assert {row["repeats"] for row in rows.values()} == {2}
    assert rows["llmcache sync"]["baseline"] == "functools.cache"
    assert rows["llmcache async"]["baseline"] == "asyncio.Lock"
    for case in ("no_kwargs", "4_kwargs"):
        for api, baseline in (
            ("llmcache sync", "functools.cache"),
            ("llmcache async", "asyncio.Lock"),
            ("get_model", "functools.cache"),
            ("get_model_async", "asyncio.Lock"),
        ):
            expected = rows[api][f"ns_{case}"] / rows[baseline][f"ns_{case}"]
            assert rows[api][f"x_baseline_{case}"] == pytest.approx(expected)
        assert rows["functools.cache"][f"x_baseline_{case}"] == 1
    assert result["kwargs"]["4 kwargs"] == [
        "google_api_key",
        "max_retries",
        "temperature",
        "timeout",
    ]
    assert "lab-fake-google-key" not in str(result)  # kwarg names only, never the key


def test_the_baselines_key_each_configuration_with_its_kwargs() -> None:
    built: list[dict[str, object]] = []
    baselines.FACTORIES["fake"] = lambda name, **kwargs: built.append(kwargs) or object()
    kwargs = hitcost.KWARGS_CASES["4 kwargs"]

    plain = baselines.get_model_functools("m", "fake")
    tuned = baselines.get_model_functools("m", "fake", **kwargs)
    assert plain is not tuned and baselines.get_model_functools("m", "fake", **kwargs) is tuned

    locked = asyncio.run(baselines.get_model_async_lock("m", "fake", **kwargs))
    assert asyncio.run(baselines.get_model_async_lock("m", "fake", **kwargs)) is locked
    assert asyncio.run(baselines.get_model_async_lock("m", "fake")) is not locked
    assert baselines.get_model_dict("m", "fake", **kwargs) is baselines.get_model_dict(
        "m", "fake", **kwargs
    )
    assert built == [{}, kwargs, kwargs, {}, kwargs]


def test_the_report_states_the_hit_costs_the_data_gives(tmp_path: Path) -> None:
    result = hitcost.measure_hit_costs(number=50, repeat=1)
    (tmp_path / "hit_cost.json").write_text(
        json.dumps({"runs": [{"labels": {}, "result": result}]})
    )
    rows = {r["design"]: r for r in tables.hit_cost_table(tables.load(tmp_path, "hit_cost"))}

    (sentence,) = report._hit_cost_sentence(tmp_path)
    for api in ("llmcache sync", "llmcache async", "functools.cache", "asyncio.Lock"):
        assert f"{rows[api]['ns_4_kwargs'] / 1e3:.2f} us" in sentence
        assert f"{rows[api]['ns_no_kwargs'] / 1e3:.2f} us" in sentence
    assert f"({rows['llmcache sync']['x_baseline_4_kwargs']:.1f}x)" in sentence
    for api in ("get_model", "get_model_async"):
        assert f"{rows[api]['ns_4_kwargs'] / 1e3:.2f} us" in sentence
    assert "pure Python" in sentence

    old = {"runs": [{"labels": {}, "result": {"llmcache get_model": [1000.0]}}]}
    (tmp_path / "hit_cost.json").write_text(json.dumps(old))  # made before the kwargs case
    assert report._hit_cost_sentence(tmp_path) == []
