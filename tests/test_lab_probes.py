"""Fresh-process probes against the loopback fakes, in every venv of the SDK matrix.

The venvs are built by ``make test`` beforehand (``python -m llmcache.lab venvs``); here
``ensure_venv`` only checks them. Each probe runs in a private network namespace when the
platform allows it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmcache.lab import matrix
from llmcache.lab.isolation import guarded_env, isolated, netns_available
from llmcache.lab.probe_runner import ProbeError, run_probe


def _python(name: str) -> Path:
    return matrix.ensure_venv(matrix.spec_named(name))


def _probe(name: str, **config: Any) -> dict[str, Any]:
    spec = matrix.spec_named(name)
    return run_probe(_python(name), {"sdk": spec.sdk, **config}, env=spec.run_env, timeout=240)


@pytest.mark.parametrize("venv", [spec.name for spec in matrix.MATRIX])
def test_every_sdk_configuration_completes_ainvoke_against_its_fake(venv: str) -> None:
    result = _probe(venv, mode="auth", auth="api-key")
    assert "error" not in result["ainvoke_1"], result["ainvoke_1"]
    assert "error" not in result["ainvoke_2"], result["ainvoke_2"]
    assert result["netguard_violations"] == []


@pytest.mark.parametrize("venv", ["lcgg-3.2.0", "lcgg-4.x", "openai"])
def test_sdk_probe_reports_the_documented_fields(venv: str) -> None:
    result = _probe(venv, mode="sdk", auth="api-key")

    for step in ("import", "construct_1", "construct_2", "construct_via_thread"):
        assert result[step]["seconds"] > 0, step
    # Built on the loop: the loop ran nothing else for the whole construction.
    assert result["construct_1"]["worst_gap"] >= result["construct_1"]["seconds"]
    assert result["construct_via_thread"]["worst_gap"] > 0  # the heartbeat really beat
    assert isinstance(result["blocking_calls"], list)
    assert result["ainvoke_1"]["seconds"] > 0
    assert result["ainvoke_2"]["seconds"] > 0
    assert result["reply"] == "ok"
    assert result["simulated_model_latency"] == 0.0
    assert result["isolation"] == ("netns" if netns_available() else "guard")
    sdk_package = "langchain-openai" if venv == "openai" else "langchain-google-genai"
    assert sdk_package in result["versions"]


def test_app_probe_counts_constructions_per_design() -> None:
    common = {"mode": "app", "auth": "api-key", "concurrency": 4, "latency": 0.2}
    cached = _probe("lcgg-4.x", design="llmcache", **common)
    uncached = _probe("lcgg-4.x", design="no-cache", **common)

    assert cached["constructions"] == 1
    assert uncached["constructions"] == 4
    for result in (cached, uncached):
        assert len(result["requests"]) == 4
        assert all("error" not in r and r["seconds"] >= 0.2 for r in result["requests"])
        assert result["worst_gap"] > 0  # the heartbeat really beat


def test_throughput_probe_records_every_latency() -> None:
    result = _probe("lcgg-4.x", mode="throughput", calls=40, concurrency=8, auth="api-key")
    assert result["error_count"] == 0
    assert len(result["latencies"]) == 40
    assert result["wall_seconds"] > 0


def test_probe_with_unknown_mode_fails_clearly() -> None:
    with pytest.raises(ProbeError, match="unknown mode"):
        _probe("openai", mode="nonsense")


@pytest.mark.skipif(not netns_available(), reason="no private network namespace here")
def test_isolated_process_cannot_reach_any_other_address() -> None:
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
    )
    env = guarded_env({"LLMCACHE_NETGUARD": "0"})  # the namespace alone must stop it
    done = subprocess.run(
        isolated([sys.executable, "-c", code]), env=env, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.strip() == "101"  # ENETUNREACH: the namespace has nothing but lo


def test_blocking_recorder_lists_every_blocking_call_instead_of_stopping_at_the_first() -> None:
    import time

    from llmcache.lab.measure import record_blocking_calls

    def blocking() -> None:
        time.sleep(0.001)
        time.sleep(0.001)
        Path(__file__).stat()

    calls = record_blocking_calls(blocking)
    sleeps = [c for c in calls if c["call"] == "time.sleep"]
    assert sum(c["count"] for c in sleeps) == 2  # one per call site, both recorded
    assert all("test_lab_probes.py" in c["where"] for c in sleeps)
    assert any(c["call"] == "os.stat" for c in calls)


def test_matrix_venvs_are_reused_when_their_spec_is_unchanged() -> None:
    logged: list[str] = []
    for spec in matrix.MATRIX:
        matrix.ensure_venv(spec, log=logged.append)
    logged.clear()
    for spec in matrix.MATRIX:
        matrix.ensure_venv(spec, log=logged.append)
    assert logged == []  # nothing rebuilt


def test_3x_with_valid_adc_probes_in_the_constructor_and_again_at_the_first_call() -> None:
    result = _probe(
        "lcgg-3.2.0", mode="auth", auth="adc", metadata="slow-valid", metadata_delay=0.3
    )
    assert "error" not in result["ainvoke_1"], result["ainvoke_1"]
    assert result["construct_1"]["seconds"] >= 0.5  # ping + project id, 0.3 s each
    assert result["ainvoke_1"]["seconds"] >= 0.5  # google.auth.default() again, then a token
    assert result["ainvoke_2"]["seconds"] < 0.3


@pytest.mark.parametrize(
    ("venv", "sdk", "fake"),
    [("lcgg-4.x", "google", "gemini-rest"), ("lcgg-3.2.0", "google", "gemini-grpc")],
)
def test_capacity_probe_measures_the_fake_with_a_raw_client(venv: str, sdk: str, fake: str) -> None:
    python = _python(venv)
    config = {"sdk": sdk, "mode": "capacity", "calls": 40, "concurrency": 8, "latency": 0.0}
    result = run_probe(python, config, timeout=240)
    assert result["fake"] == fake
    assert result["error_count"] == 0, result["errors"]
    assert len(result["latencies"]) == 40
    assert result["sdk_loaded"] is False  # the fake's own capacity: no SDK code ran
