"""Derived tables pair each SDK's throughput with the capacity of the fake it talked to."""

from __future__ import annotations

from typing import Any

from llmcache.lab import tables


def _run(mode: str, fake: str, calls: int, seconds: float, **labels: str) -> dict[str, Any]:
    result = {
        "config": {"mode": mode},
        "fake": fake,
        "client": "aiohttp",
        "calls": calls,
        "concurrency": 10,
        "wall_seconds": seconds,
        "latencies": [0.01] * calls,
        "error_count": 0,
    }
    return {"labels": {"venv": "v", "label": "l", **labels}, "result": result}


def test_throughput_rows_carry_their_fakes_capacity_and_the_ratio() -> None:
    data = {
        "runs": [
            _run("throughput", "gemini-rest", 100, 1.0),
            _run("throughput", "openai", 100, 2.0),
            _run("capacity", "gemini-rest", 400, 1.0),
        ]
    }
    rest, openai = tables.throughput_table(data)
    assert rest["requests_per_s"] == 100
    assert rest["fake_capacity_per_s"] == 400
    assert rest["capacity_over_sdk"] == 4
    assert openai["fake_capacity_per_s"] is None  # not measured: no ratio is made up
    assert openai["capacity_over_sdk"] is None
    (capacity,) = tables.fake_capacity_table(data)
    assert capacity["fake"] == "gemini-rest"
    assert capacity["requests_per_s"] == 400
