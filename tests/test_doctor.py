"""``llmcache doctor``: flags each trap in an environment that has it, stays quiet otherwise.

Its account of the first request is checked against the real SDKs (4.x in this venv, 3.x in the
lab's venv) and the lab's loopback metadata servers, with short google-auth timeouts.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmcache import _doctor_auth as auth
from llmcache._doctor import FAIL_ABOVE_SECONDS
from llmcache.lab import matrix
from llmcache.lab.isolation import guarded_env
from llmcache.lab.servers import MetadataServer

SECRET = "AIza-doctor-test-secret-0123456789"
TRAP_VARS = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "NO_GCE_CHECK",
    "GCE_METADATA_TIMEOUT",
    "GCE_METADATA_DETECT_RETRIES",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
)


REPO = str(Path(__file__).resolve().parent.parent)
VERTEX = {"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_CLOUD_PROJECT": "llmcache-lab"}


def _doctor(*args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """Run the doctor with a crafted environment; return (exit status, JSON, raw text)."""
    base = {k: v for k, v in os.environ.items() if k not in TRAP_VARS}
    base["CLOUDSDK_CONFIG"] = "/nonexistent-gcloud-config"
    return _run_doctor(sys.executable, {**base, **env}, "--json", *args)


def _run_doctor(python: str, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [python, "-m", "llmcache", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
    return done.returncode, report, done.stdout + done.stderr


def _finding(report: dict[str, Any], check: str) -> dict[str, Any] | None:
    return next((f for f in report["findings"] if f["check"] == check), None)


def _first(report: dict[str, Any]) -> dict[str, Any]:
    found = _finding(report, "first request")
    assert found is not None, report
    return found


# -- what the doctor says, from the environment alone -----------------------------------------


@pytest.mark.parametrize(
    "env",
    [
        {"GOOGLE_API_KEY": SECRET},
        {"GEMINI_API_KEY": SECRET},
        {"GOOGLE_GENAI_USE_VERTEXAI": "true", "GOOGLE_API_KEY": SECRET},  # express mode
    ],
    ids=["google-key", "gemini-key", "vertex-express"],
)
@pytest.mark.parametrize("output", ["--json", "--text"])
def test_quiet_with_a_key_names_the_variable_never_its_value(
    env: dict[str, str], output: str
) -> None:
    base = {k: v for k, v in os.environ.items() if k not in TRAP_VARS}
    base["CLOUDSDK_CONFIG"] = "/nonexistent-gcloud-config"
    args = ["--json"] if output == "--json" else []
    status, _, text = _run_doctor(sys.executable, {**base, **env}, *args)
    assert status == 0, text
    assert "FAIL" not in text and "WARN" not in text, text
    (name,) = (k for k in env if k.endswith("_API_KEY"))
    assert f"API key from {name}" in text  # the doctor read the variable and named it ...
    assert SECRET not in text and SECRET[-10:] not in text  # ... never its value


def test_key_ignored_on_vertex_with_a_project_is_named_not_shown() -> None:
    status, report, text = _doctor(**VERTEX, GOOGLE_API_KEY=SECRET)
    first = _first(report)
    assert first["detail"]["outcome"] == auth.PROBES_EVERY_CALL
    assert "GOOGLE_API_KEY is not used" in first["message"]
    assert SECRET not in text
    assert status == 1


def test_4x_without_key_fails_at_once_instead_of_probing() -> None:
    status, report, text = _doctor()
    first = _first(report)
    assert first["status"] == "FAIL" and status == 1
    assert first["detail"] == {
        "generation": 4,
        "backend": "Gemini Developer API",
        "outcome": auth.FAILS_AT_ONCE,
        "every_call": False,
        "probes_on_gce": 0,
        "seconds_if_refused": 0.0,
        "seconds_if_silent": 0.0,
    }
    assert "API key required" in first["message"]
    assert _finding(report, "metadata probe") is None
    status, _, text = _run_doctor(sys.executable, {**os.environ, "CLOUDSDK_CONFIG": "/none"})
    assert "at stake on a cold start" not in text
    assert "fails at once, whatever the wait: first request" in text


def test_vertex_with_a_project_probes_on_every_call_at_google_auths_worst_case() -> None:
    status, report, _ = _doctor(**VERTEX)
    first = _first(report)
    assert status == 1 and first["status"] == "FAIL"
    assert first["seconds"] == pytest.approx(12.0)  # 3 x 3 s timeouts + 1 s + 2 s backoff
    assert first["detail"]["outcome"] == auth.PROBES_EVERY_CALL
    assert first["detail"]["every_call"] is True
    assert first["detail"]["seconds_if_refused"] == pytest.approx(3.0)
    env = {**os.environ, **VERTEX, "CLOUDSDK_CONFIG": "/none"}
    _, _, text = _run_doctor(sys.executable, env)
    assert "at stake on a cold start: ~12.0 s, then ~12.0 s again on every call" in text


def test_vertex_without_a_project_probes_once_in_the_constructor() -> None:
    _, report, _ = _doctor(GOOGLE_GENAI_USE_VERTEXAI="1", GOOGLE_CLOUD_LOCATION="us-central1")
    first = _first(report)
    assert first["detail"]["outcome"] == auth.PROBES_ONCE
    assert first["detail"]["every_call"] is False
    assert "constructor" in first["message"]


def test_unknown_vertex_flag_is_flagged_and_the_developer_api_assumed() -> None:
    _, report, _ = _doctor(GOOGLE_GENAI_USE_VERTEXAI="on", GOOGLE_CLOUD_PROJECT="p")
    flag = _finding(report, "Vertex AI")
    assert flag is not None and flag["status"] == "WARN"
    assert _first(report)["detail"]["backend"] == "Gemini Developer API"


def test_empty_google_api_key_hides_gemini_api_key() -> None:
    status, report, text = _doctor(GOOGLE_API_KEY="", GEMINI_API_KEY=SECRET)
    warning = _finding(report, "credentials")
    assert warning is not None and "never GEMINI_API_KEY" in warning["message"]
    assert _first(report)["detail"]["outcome"] == auth.FAILS_AT_ONCE
    assert SECRET not in text
    assert status == 1
    # On Vertex, google-genai reads the variables itself and skips the empty one.
    status, report, _ = _doctor(
        GOOGLE_API_KEY="", GEMINI_API_KEY=SECRET, GOOGLE_GENAI_USE_VERTEXAI="1"
    )
    assert _finding(report, "credentials") is None
    assert _first(report)["detail"]["outcome"] == auth.FINE
    assert status == 0


@pytest.mark.parametrize("value", ["True", "1", "yes"])
def test_no_gce_check_values_google_auth_ignores_are_flagged(value: str) -> None:
    status, report, _ = _doctor(NO_GCE_CHECK=value, **VERTEX)
    trap = _finding(report, "NO_GCE_CHECK")
    assert trap is not None and trap["status"] == "WARN"
    assert "== 'true'" in trap["message"]
    assert _first(report)["detail"]["outcome"] == auth.PROBES_EVERY_CALL  # still probes
    assert status == 1


def test_no_gce_check_true_removes_the_probe() -> None:
    status, report, _ = _doctor(NO_GCE_CHECK="true", **VERTEX)
    first = _first(report)
    assert first["detail"]["outcome"] == auth.FAILS_AT_ONCE
    assert first["seconds"] == 0.0
    assert _finding(report, "NO_GCE_CHECK") is None
    assert status == 1  # no wait, but no credentials either


def test_short_metadata_timeout_brings_the_worst_case_to_one_second() -> None:
    status, report, _ = _doctor(GCE_METADATA_TIMEOUT="1", GCE_METADATA_DETECT_RETRIES="1", **VERTEX)
    first = _first(report)
    assert first["seconds"] == pytest.approx(1.0)
    assert first["status"] == "WARN"
    assert status == 0  # nothing costs more than 1 s


def test_missing_adc_file_is_a_failure() -> None:
    status, report, _ = _doctor(GOOGLE_APPLICATION_CREDENTIALS="/nonexistent/adc.json", **VERTEX)
    first = _first(report)
    assert first["status"] == "FAIL"
    assert first["detail"]["outcome"] == auth.FAILS_AT_ONCE
    assert "does not exist" in first["message"]
    assert status == 1


def test_adc_file_is_fine_on_vertex(tmp_path: Path) -> None:
    adc = tmp_path / "adc.json"
    adc.write_text("{}")
    status, report, _ = _doctor(GOOGLE_APPLICATION_CREDENTIALS=str(adc), **VERTEX)
    assert _first(report)["detail"]["outcome"] == auth.FINE
    assert status == 0


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
    assert _finding(report, "blocking calls") is not None  # blockbuster is installed here
    assert SECRET not in text


def test_the_doctor_never_imports_the_lab() -> None:
    code = (
        "import sys\n"
        "from llmcache import _doctor, _doctor_measure\n"
        "_doctor.main(['doctor', '--json'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('llmcache.lab')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("args", [["doctor", "--provider", "azure"], ["nonsense"], []])
def test_bad_usage_exits_2(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "llmcache", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2


# -- what the SDKs really do, against the lab's metadata servers -----------------------------


def _first_request_driver() -> None:
    """Run in an SDK venv's fresh process: build from the environment alone, then two calls.

    Prints the seconds (and error) of the construction and of each call; the model gets no
    argument but ``argv[1]``'s, as an app that relies on the environment would.
    """
    import asyncio
    import json
    import sys
    import time

    from llmcache.lab import netguard

    netguard.install()
    config = json.loads(sys.argv[1])
    call_timeout = config.pop("call_timeout", 30.0)
    from langchain_google_genai import ChatGoogleGenerativeAI

    out: dict[str, Any] = {}

    def failed(step: str, start: float, exc: BaseException) -> None:
        out[step] = {"seconds": time.perf_counter() - start, "error": type(exc).__name__}
        out[step]["message"] = str(exc)[:200]

    async def run() -> None:
        start = time.perf_counter()
        try:
            model = ChatGoogleGenerativeAI(model="gemini-2.0-flash", **config)
        except Exception as exc:
            failed("construct", start, exc)
            return
        out["construct"] = {"seconds": time.perf_counter() - start}
        for step in ("call_1", "call_2"):
            start = time.perf_counter()
            try:
                await asyncio.wait_for(model.ainvoke("hi"), call_timeout)
            except Exception as exc:
                failed(step, start, exc)
            else:
                out[step] = {"seconds": time.perf_counter() - start}

    asyncio.run(run())
    out["violations"] = netguard.take_violations()
    print(json.dumps(out))


DRIVER = f"{inspect.getsource(_first_request_driver)}\n_first_request_driver()\n"


def _doctor_then_sdk(
    venv: str | None,
    mode: str,
    env: dict[str, str],
    config: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """The doctor's first-request finding, then the real SDK's timings, in one environment.

    Both run with ``venv``'s Python (None: this one) against a fresh loopback metadata server in
    ``mode``; returns (finding, SDK timings, requests the server saw).
    """
    python = sys.executable if venv is None else str(matrix.ensure_venv(matrix.spec_named(venv)))
    with MetadataServer(mode) as server:  # type: ignore[arg-type]
        full = guarded_env({**server.env, **env, "PYTHONPATH": REPO})
        _, report, text = _run_doctor(python, full, "--json")
        assert report, text
        done = subprocess.run(
            [python, "-c", DRIVER, json.dumps(config or {})],
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        requests = dict(server.requests)
    assert result["violations"] == []
    return _first(report), result, requests


def _within_twice(estimate: float, measured: float) -> bool:
    return estimate / 2 <= measured <= estimate * 2


# 3 s silent, 1 s refused: long enough that a first call's own set-up (up to 0.8 s seen under
# load) stays well inside the factor of two.
FAST = {"GCE_METADATA_TIMEOUT": "1", "GCE_METADATA_DETECT_RETRIES": "2"}


def test_4x_developer_api_without_key_fails_in_the_constructor_without_a_probe() -> None:
    first, sdk, requests = _doctor_then_sdk(None, "blackhole", FAST)
    assert first["detail"]["outcome"] == auth.FAILS_AT_ONCE
    assert sdk["construct"]["error"] == "ValidationError"  # pydantic's, a ValueError
    assert "API key required" in sdk["construct"]["message"]
    assert sdk["construct"]["seconds"] < FAIL_ABOVE_SECONDS
    assert requests == {}  # the metadata server never saw a connection


@pytest.mark.parametrize(
    ("venv", "env", "step"),
    [
        ("lcgg-3.2.0", {"NO_GCE_CHECK": "true"}, "construct"),
        (None, {**VERTEX, "NO_GCE_CHECK": "true"}, "call_2"),  # call 1 also sets up the SDK
        (None, {**VERTEX, "GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/adc.json"}, "call_2"),
    ],
    ids=["3x-no-gce-check", "4x-vertex-no-gce-check", "4x-vertex-missing-adc-file"],
)
def test_credentials_that_cannot_work_fail_at_once_as_the_doctor_says(
    venv: str | None, env: dict[str, str], step: str
) -> None:
    first, sdk, requests = _doctor_then_sdk(venv, "blackhole", {**FAST, **env})
    assert first["detail"]["outcome"] == auth.FAILS_AT_ONCE
    assert sdk[step]["error"] == "DefaultCredentialsError", sdk
    assert sdk[step]["seconds"] < FAIL_ABOVE_SECONDS
    assert requests == {}  # no call probed


def test_4x_vertex_with_project_probes_on_every_call_as_the_doctor_says() -> None:
    env = {**VERTEX, "GOOGLE_CLOUD_LOCATION": "us-central1", **FAST}
    first, sdk, requests = _doctor_then_sdk(None, "blackhole", env)
    detail = first["detail"]
    assert detail["outcome"] == auth.PROBES_EVERY_CALL and detail["every_call"] is True
    assert "error" not in sdk["construct"], sdk
    for call in ("call_1", "call_2"):
        assert sdk[call]["error"] == "DefaultCredentialsError", sdk
        assert _within_twice(first["seconds"], sdk[call]["seconds"]), (first, sdk)
    assert requests == {"accepted": 2 * 2}  # two attempts in each call, none in the constructor


def test_4x_vertex_without_project_probes_once_in_the_constructor_as_the_doctor_says() -> None:
    env = {"GOOGLE_GENAI_USE_VERTEXAI": "true", **FAST}
    first, sdk, _ = _doctor_then_sdk(None, "refuse", env)
    assert first["detail"]["outcome"] == auth.PROBES_ONCE
    assert sdk["construct"]["error"] == "DefaultCredentialsError", sdk
    estimate = first["detail"]["seconds_if_refused"]
    assert _within_twice(estimate, sdk["construct"]["seconds"]), (estimate, sdk)


def test_3x_without_credentials_probes_once_not_twice() -> None:
    first, sdk, requests = _doctor_then_sdk("lcgg-3.2.0", "blackhole", FAST)
    assert first["detail"]["generation"] == 3
    assert first["detail"]["outcome"] == auth.PROBES_ONCE
    assert sdk["construct"]["error"] == "DefaultCredentialsError", sdk
    assert "call_1" not in sdk  # the constructor raised: no second probe can follow
    assert _within_twice(first["seconds"], sdk["construct"]["seconds"]), (first, sdk)
    assert requests == {"accepted": 2}  # one probe of two attempts


def test_3x_with_answering_metadata_probes_twice_as_the_doctor_says() -> None:
    config = {"base_url": "127.0.0.1:9", "call_timeout": 1.0}  # calls time out after the probe
    first, sdk, requests = _doctor_then_sdk("lcgg-3.2.0", "slow-valid", {}, config)
    assert "error" not in sdk["construct"], sdk
    assert requests["/"] == first["detail"]["probes_on_gce"] == 2  # pings: constructor, call 1


@pytest.mark.slow
def test_3x_without_credentials_at_google_auths_defaults_takes_one_12_s_probe() -> None:
    first, sdk, requests = _doctor_then_sdk("lcgg-3.2.0", "blackhole", {})
    assert first["seconds"] == pytest.approx(12.0)
    assert sdk["construct"]["error"] == "DefaultCredentialsError", sdk
    assert _within_twice(first["seconds"], sdk["construct"]["seconds"]), (first, sdk)
    assert requests == {"accepted": 3}
