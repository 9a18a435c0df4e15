"""``llmcache doctor``: flags each trap in an environment that has it, stays quiet otherwise."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmcache._doctor import metadata_probe_seconds
from llmcache.lab.isolation import guarded_env
from llmcache.lab.servers import MetadataServer

SECRET = "AIza-doctor-test-secret-0123456789"
TRAP_VARS = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "NO_GCE_CHECK",
    "GCE_METADATA_TIMEOUT",
    "GCE_METADATA_DETECT_RETRIES",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
)


def _doctor(*args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """Run the doctor with a crafted environment; return (exit status, JSON, raw text)."""
    base = {k: v for k, v in os.environ.items() if k not in TRAP_VARS}
    base["CLOUDSDK_CONFIG"] = "/nonexistent-gcloud-config"
    done = subprocess.run(
        [sys.executable, "-m", "llmcache", "doctor", "--json", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, report, done.stdout + done.stderr


def _finding(report: dict[str, Any], check: str) -> dict[str, Any] | None:
    return next((f for f in report["findings"] if f["check"] == check), None)


def test_quiet_in_an_environment_without_traps() -> None:
    status, report, text = _doctor(GOOGLE_API_KEY=SECRET)
    assert status == 0, text
    assert all(f["status"] == "OK" for f in report["findings"]), report
    assert "GOOGLE_API_KEY" in text  # the name is reported ...
    assert SECRET not in text  # ... never the value


def test_missing_key_flags_the_metadata_probe_with_google_auths_worst_case() -> None:
    status, report, _ = _doctor()
    probe = _finding(report, "metadata probe")
    assert status == 1
    assert probe is not None and probe["status"] == "FAIL"
    assert probe["seconds"] == pytest.approx(12.0)  # 3 x 3 s timeouts + 1 s + 2 s backoff


@pytest.mark.parametrize("value", ["True", "1", "yes"])
def test_no_gce_check_values_google_auth_ignores_are_flagged(value: str) -> None:
    status, report, _ = _doctor(NO_GCE_CHECK=value)
    trap = _finding(report, "NO_GCE_CHECK")
    assert trap is not None and trap["status"] == "WARN"
    assert "== 'true'" in trap["message"]
    assert _finding(report, "metadata probe") is not None  # the probe still happens
    assert status == 1


def test_no_gce_check_true_removes_the_probe() -> None:
    status, report, _ = _doctor(NO_GCE_CHECK="true")
    assert _finding(report, "metadata probe") is None
    assert _finding(report, "NO_GCE_CHECK") is None
    assert status == 0


def test_short_metadata_timeout_brings_the_worst_case_to_one_second() -> None:
    status, report, _ = _doctor(GCE_METADATA_TIMEOUT="1", GCE_METADATA_DETECT_RETRIES="1")
    probe = _finding(report, "metadata probe")
    assert probe is not None
    assert probe["seconds"] == pytest.approx(1.0)
    assert status == 0  # nothing costs more than 1 s


def test_missing_adc_file_is_a_failure() -> None:
    status, report, _ = _doctor(GOOGLE_APPLICATION_CREDENTIALS="/nonexistent/adc.json")
    credentials = _finding(report, "credentials")
    assert credentials is not None and credentials["status"] == "FAIL"
    assert status == 1


def _fake_sdk_without_bytecode(root: Path) -> Path:
    package = root / "langchain_google_genai"
    package.mkdir()
    for name in ("__init__", "chat_models", "_common"):
        (package / f"{name}.py").write_text("VALUE = 1\n")
    return root


def test_site_packages_without_bytecode_under_dontwritebytecode_fail(tmp_path: Path) -> None:
    site = _fake_sdk_without_bytecode(tmp_path)
    status, report, _ = _doctor(
        GOOGLE_API_KEY=SECRET, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1"
    )
    bytecode = _finding(report, "bytecode")
    assert bytecode is not None and bytecode["status"] == "FAIL"
    assert "langchain_google_genai (3/3 modules)" in bytecode["message"]
    assert "compileall" in bytecode["fix"]
    assert status == 1


def test_site_packages_without_bytecode_only_warn_when_python_may_write_it(tmp_path: Path) -> None:
    site = _fake_sdk_without_bytecode(tmp_path)
    env = {"GOOGLE_API_KEY": SECRET, "PYTHONPATH": str(site)}
    _, report, _ = _doctor(**env)
    bytecode = _finding(report, "bytecode")
    assert bytecode is not None and bytecode["status"] == "WARN"


def test_openai_provider_checks_its_own_key() -> None:
    status, report, _ = _doctor("--provider", "openai")
    credentials = _finding(report, "credentials")
    assert credentials is not None and "OPENAI_API_KEY" in credentials["message"]
    status, report, text = _doctor("--provider", "openai", OPENAI_API_KEY=SECRET)
    assert status == 0
    assert SECRET not in text


def test_measure_times_the_real_import_and_construction() -> None:
    _, report, text = _doctor("--measure", GOOGLE_API_KEY=SECRET)
    measured = _finding(report, "measured start")
    assert measured is not None, text
    assert measured["seconds"] > 0
    assert "import" in measured["message"]
    assert _finding(report, "blocking calls") is not None


@pytest.mark.parametrize("args", [["doctor", "--provider", "azure"], ["nonsense"], []])
def test_bad_usage_exits_2(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmcache", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2


ADC = (
    "import time, google.auth\n"
    "start = time.perf_counter()\n"
    "try:\n"
    "    google.auth.default()\n"
    "except Exception:\n"
    "    pass\n"
    "print(time.perf_counter() - start)\n"
)


@pytest.mark.parametrize(
    ("mode", "settings", "estimate"),
    [
        ("blackhole", {"GCE_METADATA_TIMEOUT": "1", "GCE_METADATA_DETECT_RETRIES": "1"}, 1),
        ("refuse", {"GCE_METADATA_DETECT_RETRIES": "2"}, 0),
        ("blackhole", {"GCE_METADATA_TIMEOUT": "1", "GCE_METADATA_DETECT_RETRIES": "2"}, 1),
    ],
)
def test_estimates_agree_with_google_auth_against_the_lab_metadata_server(
    mode: str, settings: dict[str, str], estimate: int
) -> None:
    """Within a factor of two of what google-auth really spends against our loopback server."""
    refused, silent = metadata_probe_seconds(settings)
    expected = (refused, silent)[estimate]
    with MetadataServer(mode) as server:  # type: ignore[arg-type]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", ADC],
            env=guarded_env({**server.env, **settings}),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert time.perf_counter() - start < 30
    measured = float(done.stdout)
    assert expected / 2 <= measured <= expected * 2, (expected, measured)
