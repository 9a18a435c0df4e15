"""The waiters experiment measures both cases in one run, labels its build as simulated, and
rates llmcache against tasks awaiting a plain future."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcache.lab import report, tables, waiters


def test_both_cases_are_measured_and_rated_against_the_plain_future(tmp_path: Path) -> None:
    result = waiters.measure_waiters(repeat=2, tasks=200, seconds=0.2)
    assert result["simulated"].startswith("the build is simulated")
    assert result["tasks"] == 200

    rows = {r["design"]: r for r in tables.waiters_table({"runs": [{"result": result}]})}

    assert set(rows) == {"plain future", "llmcache"}
    for row in rows.values():
        assert row["repeats"] == 2
        assert row["wall_seconds"] >= 0.2  # every run waited for the whole build
        assert row["cpu_seconds"] > 0 and row["worst_gap_ms"] > 0
    assert rows["plain future"]["x_plain_cpu"] == 1
    expected = rows["llmcache"]["cpu_seconds"] / rows["plain future"]["cpu_seconds"]
    assert rows["llmcache"]["x_plain_cpu"] == pytest.approx(expected)

    (tmp_path / "waiters.json").write_text(json.dumps({"runs": [{"result": result}]}))
    (sentence,) = report._waiters_sentence(tmp_path)
    assert f"{rows['llmcache']['x_plain_cpu']:.2f}x" in sentence
    assert "simulated" in sentence
