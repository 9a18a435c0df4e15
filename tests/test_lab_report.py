"""The report's README and the project's findings block are generated from the raw data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmcache.lab import REPO_ROOT, report

DATA = REPO_ROOT / "reports" / "data"


@pytest.mark.skipif(not (DATA / "auth.json").exists(), reason="no committed report data")
def test_report_readme_and_findings_come_from_the_committed_data(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    shutil.copytree(DATA, report_dir / "data")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.START}\nOLD-PLACEHOLDER\n{report.END}\n\nrest\n")

    written = report.write_report_readme(report_dir)
    report.update_readme(readme, report_dir)

    text = written.read_text()
    assert "**First request" in text
    assert "simulated model latency" in text
    updated = readme.read_text()
    assert "OLD-PLACEHOLDER" not in updated
    assert "In short:" in updated
    assert updated.endswith("rest\n")
    # the committed findings page carries exactly what the committed data gives, its figures
    # linked through docs/figures (a link to reports/figures, inside the docs site)
    committed = (REPO_ROOT / "docs" / "findings.md").read_text()
    assert report.headline(DATA, "figures") in committed
    assert (REPO_ROOT / "docs" / "figures").resolve() == (DATA.parent / "figures").resolve()


def test_update_readme_refuses_a_file_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):
        report.update_readme(readme, tmp_path)


# A small results folder in the lab's raw format: figures chosen so each appears once in the text.
META = {
    "date_utc": "2026-01-02T03:04:05+00:00",
    "cpu_model": "Test CPU",
    "cpu_count": 2,
    "memory_gib": 8,
    "python": "3.11.0",
    "profile": "quick",
    "git_commit": "0123456789abcdef",
    "isolation": "none",
    "hostname": "host",
    "platform": "Linux",
    "profile_settings": {"app_concurrency": 3},
}


def _call(seconds: float, gap: float = 0.001, error: str | None = None) -> dict[str, Any]:
    return {"seconds": seconds, "worst_gap": gap, **({"error": error} if error else {})}


def _auth_runs() -> list[dict[str, Any]]:
    runs = []
    for venv, scale in (("lcgg-3.2.0", 1.0), ("lcgg-4.x", 1.1)):
        for env, first, error in (
            ("api-key", 0.01, None),
            ("adc-blackhole", 11.0, "DefaultCredentialsError: none"),
            ("adc-blackhole NO_GCE_CHECK=true", 0.02, "DefaultCredentialsError: none"),
            ("adc-blackhole NO_GCE_CHECK=True", 10.5, "DefaultCredentialsError: none"),
        ):
            gap = first * scale if venv == "lcgg-3.2.0" else 0.002
            runs.append(
                {
                    "labels": {"venv": venv, "auth_env": env},
                    "result": {
                        "import": {"seconds": 0.5},
                        "construct_1": _call(0.0, gap),
                        "ainvoke_1": _call(first * scale, 0.001, error),
                        "ainvoke_2": _call(0.005),
                    },
                }
            )
    return runs


def _app_runs() -> list[dict[str, Any]]:
    runs = []
    for venv in ("lcgg-3.2.0", "lcgg-4.x"):
        for env, design, slowest, builds in (
            ("api-key", "no-cache", 2.71, 3),
            ("api-key", "llmcache", 2.61, 1),
            ("adc-refuse", "functools.cache", 8.4, 3),
            ("adc-refuse", "llmcache", 9.3 if venv == "lcgg-4.x" else 2.9, 1),
            ("adc-refuse", "no-cache", 3.8, 3),
        ):
            error = {"error": "DefaultCredentialsError"} if env != "api-key" else {}
            runs.append(
                {
                    "labels": {"venv": venv, "auth_env": env, "design": design},
                    "result": {
                        "requests": [{"seconds": slowest, **error}, {"seconds": 1.0, **error}],
                        "startup_seconds": 1.0,
                        "constructions": builds,
                        "worst_gap": 0.004 if design == "llmcache" else slowest,
                        "simulated_model_latency": 2.5,
                    },
                }
            )
    return runs


def _sdk_runs() -> list[dict[str, Any]]:
    return [
        {
            "labels": {"venv": venv, "label": venv},
            "result": {
                "versions": {},
                "import": {"seconds": imported},
                "construct_1": _call(built),
                "construct_2": _call(built / 2),
                "construct_via_thread": _call(built),
                "ainvoke_1": _call(0.04),
                "ainvoke_2": _call(0.004),
            },
        }
        for venv, imported, built in (
            ("lcgg-3.2.0", 0.81, 0.006),
            ("lcgg-4.x", 0.93, 0.087),
            ("lcgg-4.x-nobytecode", 2.11, 0.121),
        )
    ]


def _app_server_runs() -> list[dict[str, Any]]:
    runs = []
    for env, workers, design, slowest, gap, startup_builds, failed in (
        ("api-key", 1, "no-cache", 0.66, 0.603, 0, False),
        ("api-key", 1, "llmcache", 2.64, 0.164, 0, False),
        ("api-key", 1, "llmcache-warmed", 0.037, 0.0146, 1, False),
        ("api-key", 2, "llmcache-warmed", 0.054, 0.0171, 1, False),
        ("adc-refuse", 1, "no-cache", 3.73, 0.285, 0, True),
        ("adc-refuse", 1, "llmcache-warmed", 9.06, 0.0207, 1, True),
    ):
        error = {"error": "DefaultCredentialsError: no ADC"} if failed else {}
        runs.append(
            {
                "labels": {"auth_env": env, "workers": workers, "design": design},
                "result": {
                    "accept_seconds": 3.86,
                    "requests": [
                        {"seconds": s, "since_launch": 3.86 + s, **error}
                        for s in (slowest, slowest / 2, slowest / 3)
                    ],
                    "workers": [
                        {
                            "serving_worst_gap": gap,
                            "startup_worst_gap": 0.2,
                            "startup_constructions": startup_builds,
                            "constructions": 1,
                        }
                    ]
                    * workers,
                    "simulated_model_latency": 0.0,
                },
            }
        )
    return runs


def _throughput_runs() -> list[dict[str, Any]]:
    def run(mode: str, fake: str, calls: int, wall: float, **extra: Any) -> dict[str, Any]:
        return {
            "labels": {"venv": extra.pop("venv", fake), "label": extra.pop("label", fake)},
            "result": {
                "config": {"mode": mode},
                "fake": fake,
                "calls": calls,
                "concurrency": 50,
                "wall_seconds": wall,
                "latencies": [0.1, 0.2],
                "error_count": 0,
                **extra,
            },
        }

    return [
        run("throughput", "gemini-grpc", 482, 1.0, venv="lcgg-3.2.0", label="3.2.0 (gRPC)"),
        run("throughput", "gemini-rest", 151, 1.0, venv="lcgg-4.x", label="4.x (REST)"),
        run("capacity", "gemini-grpc", 1515, 1.0, client="grpc.aio"),
        run("capacity", "gemini-rest", 1657, 1.0, client="aiohttp"),
    ]


def _first_call_runs() -> list[dict[str, Any]]:
    return [
        {
            "labels": {"venv": "lcgg-4.x", "prepare": prepare, "attribute": False},
            "result": {
                "request_1": _call(0.1, first),
                "request_2": _call(0.01, 0.0036),
                **({"prepare_seconds": 0.13} if prepare else {}),
            },
        }
        for prepare, first in ((False, 0.0731), (True, 0.0054))
    ]


def _loops_runs() -> list[dict[str, Any]]:
    def pattern(design: str, outcomes: list[str]) -> dict[str, Any]:
        calls = [{"outcome": o} for o in outcomes]
        return {"design": design, "pattern": "asyncio.run x5", "calls": calls, "builds": 1}

    return [
        {
            "labels": {"venv": "openai"},
            "result": {
                "runs": [
                    pattern("llmcache", ["ok"] * 5),
                    pattern("asyncio.Lock", ["ok", "ok", "RuntimeError", "ok", "RuntimeError"]),
                ]
            },
        },
        {"labels": {"venv": "lcgg-4.x"}, "error": "probe crashed"},
    ]


def _results(folder: Path, *, new: bool = True) -> Path:
    """Write the fixture's experiments (only the three older ones when ``new`` is false)."""
    folder.mkdir(parents=True)
    experiments = {"auth": _auth_runs, "app": _app_runs, "sdk": _sdk_runs}
    if new:
        experiments |= {
            "app_server": _app_server_runs,
            "throughput": _throughput_runs,
            "first_call": _first_call_runs,
            "loops": _loops_runs,
        }
    for name, runs in experiments.items():
        doc = {"experiment": name, "metadata": META, "runs": runs()}
        (folder / f"{name}.json").write_text(json.dumps(doc))
    return folder


def test_the_findings_state_every_experiment_from_its_data(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    _results(report_dir / "data")
    (report_dir / "figures").mkdir()
    (report_dir / "figures" / f"{report.APP_SERVER_FIGURE}.png").write_bytes(b"png")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.START}\nOLD-PLACEHOLDER\n{report.END}\n")

    report.update_readme(readme, report_dir)
    findings = readme.read_text()
    short = findings.split("In short:")[1].split("\n\n**")[0]

    # the app server leads, per worker count, with the design that stalls the loop most
    served = short.split("\n- ")[1]
    assert served.startswith("As a user sees it")
    assert "0.04 s with 1 worker" in served and "0.05 s with 2 workers" in served
    assert "up to 2.64 s (llmcache, 1 worker)" in served
    assert "up to 603 ms (no-cache, 1 worker)" in served
    # the shared client without credentials: in one process and through uvicorn
    assert "the slowest takes 9.3 s against 3.8 s with no cache" in short
    assert "is slower too: its slowest first response takes 9.1 s against 3.7 s" in short
    # each fake's capacity beside the SDK rates, and the smallest margin
    assert "lcgg-3.2.0 482, lcgg-4.x 151" in short
    assert "gemini-rest fake 1657 req/s (aiohttp)" in short and "3.1x or more" in short
    # the first call after warm, before and after pre-paying
    assert "73 ms against 4 ms (20.3x)" in short and "5 ms against 4 ms (1.5x)" in short
    # loops: failed calls per design; the probe that failed as a whole is said
    assert "llmcache 0 of 5; asyncio.Lock 2 of 5 (1 SDK probe(s) failed as a whole)" in short

    # the tables, and the plot linked from where the README is
    assert "| api-key | 2 | llmcache-warmed | 3.86 | 0.05 | 17 | 2 / 0 | 0 of 3 |" in findings
    assert "| 3 of 3 (DefaultCredentialsError) |" in findings
    assert (
        f"![First request as a user sees it](reports/figures/{report.APP_SERVER_FIGURE}.png)"
        in (findings)
    )
    assert "| 3.2.0 (gRPC) | 482 | 150 | 199 | 0 | gemini-grpc | 1515 | 3.1x |" in findings
    assert "| lcgg-4.x | yes (`warm` now) | 1 | 5.4 | 3.6 | 1.5x, 1.5x | 0 |" in findings
    assert "| asyncio.Lock | 2 / 5 | probe failed | RuntimeError 2 |" in findings

    page = report.write_report_readme(report_dir).read_text()
    assert f"![First request as a user sees it](figures/{report.APP_SERVER_FIGURE}.png)" in page
    assert report.headline(report_dir / "data", "figures") in page


def test_the_findings_leave_out_what_a_run_did_not_measure(tmp_path: Path) -> None:
    data = _results(tmp_path / "data", new=False)
    text = report.headline(data, "figures")
    assert "In short:" in text and "the slowest takes 9.3 s" in text
    for absent in ("As a user sees it", "Throughput", "after `warm`", "event loop, thread"):
        assert absent not in text
