"""The example agent under the real ``langgraph dev``, its blocking-call detection on."""

from __future__ import annotations

import json
from typing import Any

from llmcache.lab import designs, experiments, langgraph_server, matrix, tables
from llmcache.lab.probe_runner import run_probe


def _serve(case: str, design: str) -> dict[str, Any]:
    setting = experiments.LANGGRAPH_CASES[case]
    spec = matrix.spec_named(setting.venv)
    config = {
        "sdk": setting.sdk,
        "mode": "langgraph",
        "design": design,
        "latency": 0.0,
        **experiments.AUTH_ENVS[setting.auth_env],
    }
    return run_probe(matrix.ensure_venv(spec), config, timeout=240, env=spec.run_env)


def test_the_server_raises_and_we_record_3x_probing_metadata_on_the_loop_without_a_key() -> None:
    # the positive control: without a key 3.x's constructor pings the metadata server
    result = _serve("3.2.0 ADC, silent metadata", "no-cache")

    assert result["ready_seconds"] > 0
    assert [run["answered"] for run in result["runs"]] == [False, False]
    [site] = result["blocking_errors"]
    assert site.startswith("socket.socket.connect at urllib3/"), site
    assert "via langchain_google_genai/chat_models.py:" in site and site.endswith(" __init__"), site
    assert result["blocking_errors"][site] >= 2  # one per run at least
    assert result["run_errors"].get("BlockingError", 0) >= 1  # what the user sees, logged
    assert result["blocking_events"]
    assert result["netguard_violations"] == []


def test_the_server_answers_through_llmcache_with_no_blocking_error() -> None:
    result = _serve("4.x API key", "llmcache")

    assert [run["answered"] for run in result["runs"]] == [True, True], result["runs"]
    assert result["blocking_errors"] == {} and result["blocking_events"] == {}
    assert result["run_errors"] == {}
    assert result["ready_seconds"] > 0 and all(run["seconds"] > 0 for run in result["runs"])
    assert set(result["langgraph_versions"]) == {
        "langgraph",
        "langgraph-api",
        "langgraph-cli",
        "langgraph-runtime-inmem",
    }
    assert result["netguard_violations"] == []


def _line(**event: Any) -> str:
    return json.dumps({"level": "error", "logger": "uvicorn.error", **event})


def test_a_failed_start_up_is_named_by_the_innermost_exception_uvicorn_logged() -> None:
    trace = (
        "  + Exception Group Traceback (most recent call last):\n"
        '  |   File "workflow_agent.py", line 92, in lifespan\n'
        "  | ExceptionGroup: 1 of 1 models failed to build (1 sub-exception)\n"
        "  +-+---------------- 1 ----------------\n"
        "    | Traceback (most recent call last):\n"
        "    | google.auth.exceptions.DefaultCredentialsError: Your default credentials were"
        " not found.\n"
        "    +------------------------------------\n"
    )
    log = "\n".join(
        [
            "not json",
            _line(event="User lifespan startup exceeded expected time.", exception="X('a b')"),
            _line(event=trace),
            _line(event="Application startup failed. Exiting."),
        ]
    )
    assert langgraph_server._startup_error(log) == "DefaultCredentialsError"
    assert langgraph_server._startup_error(_line(event="no traceback")) == "unknown"


def test_the_log_findings_count_run_errors_by_type_and_blocking_events_by_call() -> None:
    blocked = "Blocking call to socket.socket.connect\n  File x"
    log = "\n".join(
        [
            _line(
                event="Run encountered an error in graph: <class 'blockbuster.BlockingError'>",
                exception=blocked,
            ),
            _line(level="warning", event=blocked),
            _line(level="info", event="Worker stats"),
        ]
    )
    found = langgraph_server.server_log_findings(log)

    assert found["run_errors"] == {"BlockingError": 1}
    assert found["blocking_events"] == {
        "error: socket.socket.connect": 1,
        "warning: socket.socket.connect": 1,
    }


def test_every_case_runs_llmcache_warmed_or_not_in_both_profiles() -> None:
    for name, profile in experiments.PROFILES.items():
        labels = [t.labels for t in experiments.plan(profile, ["langgraph"])]
        cases = {x["case"] for x in labels}
        assert {"3.2.0 API key", "4.x API key", "3.2.0 ADC, silent metadata"} <= cases, name
        for case in cases:
            ran = {x["design"] for x in labels if x["case"] == case}
            assert {"no-cache", "llmcache", "llmcache-warmed"} <= ran, (name, case)
    full = experiments.plan(experiments.PROFILES["full"], ["langgraph"])
    assert {t.labels["design"] for t in full} == set(designs.names(designs.APP))
    assert {t.labels["case"] for t in full} == set(experiments.LANGGRAPH_CASES)


def test_the_table_shows_a_server_that_never_served_as_its_start_up_error() -> None:
    never = {
        "ready_seconds": None,
        "startup_error": "DefaultCredentialsError",
        "runs": [{"seconds": 14.0, "answered": False, "error": "no server"}],
        "blocking_errors": {},
        "blocking_events": {},
        "netguard_violations": [],
    }
    served = {
        "ready_seconds": 2.0,
        "runs": [
            {"seconds": 1.0, "answered": False, "error": "BlockingError"},
            {"seconds": 1.1, "answered": False, "error": "BlockingError"},
        ],
        "blocking_errors": {"socket.socket.connect at urllib3/x.py:1 f": 2},
        "blocking_events": {"error: socket.socket.connect": 2},
        "netguard_violations": [],
    }
    labels = {"case": "c", "credentials": False}
    data = {
        "runs": [
            {"labels": {**labels, "design": "llmcache-warmed"}, "result": never},
            {"labels": {**labels, "design": "no-cache"}, "result": served},
        ]
    }
    warmed, plain = tables.langgraph_table(data)

    assert warmed["error"] == "DefaultCredentialsError at start-up"
    assert warmed["ready_s"] is None and warmed["second_run_s"] is None
    assert plain["blocking_errors"] == 2 and plain["logged_blocking"] == 2
    assert plain["call_sites"] == "socket.socket.connect at urllib3/x.py:1 f"
    assert plain["error"] == "BlockingError" and not plain["second_answered"]
