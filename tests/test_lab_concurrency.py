"""The concurrency experiment's table: one row per scenario and design, from the raw outcomes."""

from __future__ import annotations

from typing import Any

from llmcache.lab import tables
from llmcache.lab.experiments import EXPERIMENTS, PROFILES


def _outcome(design: str, callers: int, **fields: Any) -> dict[str, Any]:
    outcome = {
        "design": design,
        "callers": callers,
        "constructions": 1,
        "distinct_instances": 1,
        "errors": [],
        "seconds": 1.0,
        "worst_gap": 0.005,
        "latencies": [1.0] * callers,
    }
    return {**outcome, **fields}


def _data() -> dict[str, Any]:
    result = {
        "callers": 3,
        "app_loop": {"model": "M", "build_seconds": 1.1, "worst_gap": 0.004},
        "scenarios": {
            "failing": [
                _outcome(
                    "asyncio.Lock",
                    2,
                    constructions=2,
                    errors=["DefaultCredentialsError: no", "DefaultCredentialsError: no"],
                    worst_gap=6.0,
                ),
            ],
            "threads": [_outcome("functools.cache", 3, constructions=3, worst_gap=None)],
            "keys": [_outcome("asyncio.Lock", 2, latencies=[2.2, 1.1])],
        },
        "two_loops": [
            {"design": "asyncio.Lock", "first_loop": "ok", "second_loop": "RuntimeError: bound"}
        ],
        "log": [],
    }
    return {"runs": [{"labels": {"callers": 3}, "result": result}, {"labels": {}, "error": "x"}]}


def test_every_scenario_gives_rows_with_its_own_figures() -> None:
    rows = tables.concurrency_table(_data())
    by = {(r["scenario"], r["design"]): r for r in rows}
    assert list(by) == [
        ("app loop", "llmcache"),
        ("failing", "asyncio.Lock"),
        ("threads", "functools.cache"),
        ("keys", "asyncio.Lock"),
        ("two loops", "asyncio.Lock"),
    ]  # the failed run gives none
    assert by["app loop", "llmcache"]["worst_gap_ms"] == 4.0
    failing = by["failing", "asyncio.Lock"]
    assert (failing["errors"], failing["error_types"]) == (2, "DefaultCredentialsError")
    assert failing["worst_gap_ms"] == 6000.0
    assert by["threads", "functools.cache"]["worst_gap_ms"] is None  # threads have no loop
    keys = by["keys", "asyncio.Lock"]
    assert (keys["first_served_s"], keys["second_served_s"]) == (1.1, 2.2)  # in serving order
    assert by["two loops", "asyncio.Lock"]["second_loop"] == "RuntimeError: bound"
    assert tables.TABLES["concurrency"] is tables.concurrency_table


def test_callers_are_a_profile_setting_of_one_in_process_task() -> None:
    for profile in PROFILES.values():
        (task,) = EXPERIMENTS["concurrency"](profile)
        assert task.labels == {"callers": profile.concurrency_callers}
        assert task.bench is not None and task.venv is None
        assert not task.waits  # it records loop gaps: it runs alone
