"""``python -m llmcache.lab``: results with metadata and raw runs, a summary, clear usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from llmcache.lab import experiments


def _lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmcache.lab", *args], capture_output=True, text=True, timeout=300
    )


def test_run_writes_raw_results_with_machine_metadata_and_a_summary(tmp_path: Path) -> None:
    done = _lab("run", "--profile", "quick", "--only", "hit_cost", "--out", str(tmp_path))

    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "hit_cost.json").read_text())
    assert data["complete"] is True
    metadata = data["metadata"]
    for field in ("date_utc", "cpu_count", "cpu_model", "python", "git_commit", "profile"):
        assert metadata[field], field
    assert metadata["profile"] == "quick"
    (run,) = data["runs"]
    cases = run["result"]["cases"]
    assert set(cases) == {"no kwargs", "4 kwargs"}
    for apis in cases.values():
        assert set(apis) == {
            "dict",
            "functools.cache",
            "asyncio.Lock",
            "alru_cache (async-lru)",
            "llmcache sync",
            "llmcache async",
        }
        assert all(len(v) == 5 and min(v) > 0 for v in apis.values())
    assert "## hit_cost" in done.stdout
    assert "SIMULATED model latency" in done.stdout
    assert "1/1" in done.stderr  # progress


def test_unknown_experiment_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("run", "--only", "nonsense", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "invalid choice" in done.stderr


def test_summary_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("summary", str(tmp_path / "absent"))
    assert done.returncode == 2


def test_quick_profile_covers_every_experiment_and_auth_environment() -> None:
    tasks = experiments.plan(experiments.PROFILES["quick"])
    assert {t.experiment for t in tasks} == set(experiments.EXPERIMENTS)
    auth_envs = {t.labels["auth_env"] for t in tasks if t.experiment == "auth"}
    assert auth_envs == set(experiments.AUTH_ENVS)
    app_designs = {t.labels["design"] for t in tasks if t.experiment == "app"}
    assert app_designs == {
        "no-cache",
        "functools.cache",
        "asyncio.Lock",
        "llmcache",
        "llmcache-warmed",
    }


def test_negative_latency_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("run", "--only", "hit_cost", "--latency", "-1", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--latency must be >= 0" in done.stderr


def test_unknown_app_auth_environment_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("run", "--only", "app", "--app-auth", "adc-teapot", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "unknown auth environment" in done.stderr
