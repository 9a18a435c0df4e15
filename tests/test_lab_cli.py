"""``python -m llmcache.lab``: results with metadata and raw runs, a summary, clear usage errors."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from llmcache.lab import designs, experiments
from llmcache.lab.loops import DESIGNS as LOOP_DESIGNS
from llmcache.lab.loops import VENVS as LOOP_VENVS


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
    cases = run["result"]["cases"]  # each design's APIs: tests/test_lab_hitcost.py
    assert set(cases) == {"no kwargs", "4 kwargs"}
    assert set(cases["4 kwargs"]) == set(cases["no kwargs"]) and len(cases["no kwargs"]) == 8
    assert all(len(v) == 9 and min(v) > 0 for apis in cases.values() for v in apis.values())
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
    # quick: the designs the notebooks assert on and compare; full: every design
    for app in ("app", "app_server"):
        app_designs = {t.labels["design"] for t in tasks if t.experiment == app}
        assert app_designs == {"no-cache", "llmcache", "llmcache-warmed"}, app
    loops = [t for t in tasks if t.experiment == "loops"]
    assert {t.labels["venv"] for t in loops} == set(LOOP_VENVS)
    assert all("llmcache" in t.config["designs"] for t in loops)
    full = experiments.plan(experiments.PROFILES["full"])
    for app in ("app", "app_server"):
        assert {t.labels["design"] for t in full if t.experiment == app} == set(
            designs.names(designs.APP)
        )
    assert all(t.config["designs"] == list(LOOP_DESIGNS) for t in full if t.experiment == "loops")


def test_negative_latency_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("run", "--only", "hit_cost", "--latency", "-1", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "--latency must be >= 0" in done.stderr


def test_unknown_app_auth_environment_is_a_usage_error(tmp_path: Path) -> None:
    done = _lab("run", "--only", "app", "--app-auth", "adc-teapot", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "unknown auth environment" in done.stderr


def test_waiting_measurements_overlap_and_the_rest_run_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcache.lab import cli

    together = threading.Barrier(2, timeout=30)
    running: list[str] = []
    alone: list[list[str]] = []

    def waiting(name: str) -> Callable[[], str]:
        def bench() -> str:
            running.append(name)
            together.wait()  # both waiting tasks are in flight at once, or this breaks
            running.remove(name)
            return name

        return bench

    def cpu() -> str:
        alone.append(list(running))
        return "cpu"

    def tasks(profile: experiments.Profile) -> list[experiments.Task]:
        return [
            experiments.Task("x", {"n": "cpu"}, bench=cpu),
            experiments.Task("x", {"n": "a"}, bench=waiting("a"), waits=True),
            experiments.Task("x", {"n": "b"}, bench=waiting("b"), waits=True),
        ]

    monkeypatch.setitem(experiments.EXPERIMENTS, "x", tasks)
    quick = dataclasses.replace(experiments.PROFILES["quick"], parallel_waits=2)
    monkeypatch.setitem(experiments.PROFILES, "quick", quick)
    log = io.StringIO()

    assert cli.run("quick", ["x"], tmp_path, log=log, show_summary=False) == 0

    runs = json.loads((tmp_path / "x.json").read_text())["runs"]
    assert [r["result"] for r in runs] == ["cpu", "a", "b"]  # kept in plan order
    assert [bool(r.get("overlapped")) for r in runs] == [False, True, True]
    assert alone == [[]]  # nothing else ran beside the CPU-bound one
    assert "seconds per experiment" in log.getvalue()


def test_overlapped_measurements_of_known_length_start_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmcache.lab import cli

    first_two = threading.Barrier(2, timeout=30)
    started: list[str] = []

    def bench(name: str) -> Callable[[], str]:
        def run() -> str:
            started.append(name)
            if name != "short 2":
                first_two.wait()  # the long one and the first short one run together
            return name

        return run

    def tasks(profile: experiments.Profile) -> list[experiments.Task]:
        return [
            experiments.Task("x", {"n": "short 1"}, bench=bench("short 1"), waits=True),
            experiments.Task("x", {"n": "short 2"}, bench=bench("short 2"), waits=True),
            experiments.Task("x", {"n": "long"}, bench=bench("long"), waits=True, seconds=60),
        ]

    monkeypatch.setitem(experiments.EXPERIMENTS, "x", tasks)
    quick = dataclasses.replace(experiments.PROFILES["quick"], parallel_waits=2)
    monkeypatch.setitem(experiments.PROFILES, "quick", quick)

    assert cli.run("quick", ["x"], tmp_path, log=io.StringIO(), show_summary=False) == 0

    assert started[-1] == "short 2" and set(started[:2]) == {"long", "short 1"}
    runs = json.loads((tmp_path / "x.json").read_text())["runs"]
    assert [r["result"] for r in runs] == ["short 1", "short 2", "long"]  # kept in plan order
