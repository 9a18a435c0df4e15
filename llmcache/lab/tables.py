"""Derived tables: medians and percentiles computed from the raw result files, never typed in.

Used by the CLI's closing summary, the notebooks and the report, so every number shown anywhere
comes from the same code reading the same JSON.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .first_call import first_call_table
from .providers import outcome_table as providers_table
from .soak import soak_table

__all__ = [
    "TABLES",
    "app_server_table",
    "app_table",
    "auth_table",
    "concurrency_table",
    "fake_capacity_table",
    "format_table",
    "hit_cost_table",
    "langgraph_table",
    "load",
    "loops_table",
    "percentile",
    "providers_table",
    "sdk_table",
    "soak_table",
    "throughput_table",
    "waiters_table",
]

Row = dict[str, Any]


def load(out_dir: str | Path, experiment: str) -> dict[str, Any]:
    """One experiment's raw results file."""
    data: dict[str, Any] = json.loads((Path(out_dir) / f"{experiment}.json").read_text())
    return data


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100), linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _get(result: dict[str, Any], *path: str) -> Any:
    node: Any = result
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _ok_runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in data["runs"] if "result" in run]


def _grouped(data: dict[str, Any], *labels: str) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for run in _ok_runs(data):
        groups[tuple(run["labels"][name] for name in labels)].append(run["result"])
    return groups


def _first_error(results: list[dict[str, Any]], *paths: tuple[str, ...]) -> str:
    for result in results:
        for path in paths:
            error = _get(result, *path, "error")
            if error:
                return str(error).split(":")[0]
    return ""


def sdk_table(data: dict[str, Any]) -> list[Row]:
    """Per SDK configuration: medians over fresh processes (seconds, or ms where named)."""
    rows = []
    for (venv, label), results in _grouped(data, "venv", "label").items():
        version = results[0]["versions"].get(
            "langchain-google-genai", results[0]["versions"].get("langchain-openai", "")
        )

        def med(*path: str, scale: float = 1.0, _results: list[dict[str, Any]] = results) -> Any:
            value = _median(_get(r, *path) for r in _results)
            return None if value is None else value * scale

        rows.append(
            {
                "venv": venv,
                "configuration": label,
                "version": version,
                "runs": len(results),
                "import_s": med("import", "seconds"),
                "construct_1_ms": med("construct_1", "seconds", scale=1e3),
                "construct_2_ms": med("construct_2", "seconds", scale=1e3),
                "loop_gap_on_loop_ms": med("construct_1", "worst_gap", scale=1e3),
                "loop_gap_via_thread_ms": med("construct_via_thread", "worst_gap", scale=1e3),
                "blocking_calls": _median(
                    sum(c["count"] for c in r.get("blocking_calls", [])) for r in results
                ),
                "ainvoke_1_ms": med("ainvoke_1", "seconds", scale=1e3),
                "ainvoke_2_ms": med("ainvoke_2", "seconds", scale=1e3),
                "error": _first_error(results, ("ainvoke_1",), ("construct_2",)),
            }
        )
    return rows


def auth_table(data: dict[str, Any]) -> list[Row]:
    """Per SDK and auth environment: the first request's import, construction and calls
    (seconds), all measured in one fresh process per run."""
    rows = []
    for (venv, auth_env), results in _grouped(data, "venv", "auth_env").items():
        construct = _median(_get(r, "construct_1", "seconds") for r in results)
        first = _median(_get(r, "ainvoke_1", "seconds") for r in results)
        rows.append(
            {
                "venv": venv,
                "auth_env": auth_env,
                "runs": len(results),
                "import_s": _median(_get(r, "import", "seconds") for r in results),
                "construct_s": construct,
                "ainvoke_1_s": first,
                "ainvoke_2_s": _median(_get(r, "ainvoke_2", "seconds") for r in results),
                "first_request_s": (construct or 0.0) + (first or 0.0),
                "loop_gap_s": _median(
                    max(
                        _get(r, "construct_1", "worst_gap") or 0,
                        _get(r, "ainvoke_1", "worst_gap") or 0,
                    )
                    for r in results
                ),
                "error": _first_error(results, ("construct_1",), ("ainvoke_1",)),
            }
        )
    return rows


def app_table(data: dict[str, Any]) -> list[Row]:
    """Per SDK, auth environment and design: N concurrent first requests (seconds)."""
    rows = []
    for (venv, auth_env, design), results in _grouped(data, "venv", "auth_env", "design").items():
        latencies = [q["seconds"] for r in results for q in r["requests"]]
        errors = sum(1 for r in results for q in r["requests"] if "error" in q)
        rows.append(
            {
                "venv": venv,
                "auth_env": auth_env,
                "design": design,
                "runs": len(results),
                "startup_s": _median(r["startup_seconds"] for r in results),
                "first_request_p50_s": percentile(latencies, 50),
                "first_request_max_s": max(latencies) if latencies else None,
                "constructions": _median(r["constructions"] for r in results),
                "loop_worst_gap_s": _median(r["worst_gap"] for r in results),
                "failed_requests": errors,
                "simulated_model_latency_s": results[0]["simulated_model_latency"],
            }
        )
    return rows


def app_server_table(data: dict[str, Any]) -> list[Row]:
    """Per auth environment, uvicorn workers and design: the first requests as HTTP clients timed
    them (seconds from sending, once the port accepted ``accept_s`` after launch), and the
    workers' event loops (worst gap while serving and during start-up; medians over runs)."""
    rows = []
    groups = _grouped(data, "auth_env", "workers", "design")
    for (auth_env, workers, design), results in groups.items():
        requests = [q for r in results for q in r["requests"]]
        latencies = [q["seconds"] for q in requests]
        errors = [q["error"] for q in requests if "error" in q]
        served = [[w for w in r["workers"] if "serving_worst_gap" in w] for r in results]
        rows.append(
            {
                "auth_env": auth_env,
                "workers": workers,
                "design": design,
                "runs": len(results),
                "requests": len(requests),
                "accept_s": _median(r["accept_seconds"] for r in results),
                "first_response_p50_s": percentile(latencies, 50),
                "first_response_max_s": max(latencies) if latencies else None,
                "launch_to_last_answer_s": _median(
                    max(q["since_launch"] for q in r["requests"]) for r in results
                ),
                "loop_worst_gap_s": _median(
                    max(w["serving_worst_gap"] for w in ws) for ws in served if ws
                ),
                "startup_loop_gap_s": _median(
                    max(w["startup_worst_gap"] for w in ws) for ws in served if ws
                ),
                "constructions_startup": _median(
                    sum(w["startup_constructions"] for w in ws) for ws in served
                ),
                "constructions_serving": _median(
                    sum(w["constructions"] - w["startup_constructions"] for w in ws)
                    for ws in served
                ),
                "failed_requests": len(errors),
                "error": errors[0].split(":")[0] if errors else "",
                "simulated_model_latency_s": results[0]["simulated_model_latency"],
            }
        )
    return rows


def _rate(result: dict[str, Any]) -> float:
    return float(result["calls"] / result["wall_seconds"])


def fake_capacity_table(data: dict[str, Any]) -> list[Row]:
    """Per fake: requests per second a raw client (no SDK) got from it in the same run."""
    rows = []
    for run in _ok_runs(data):
        result = run["result"]
        if result["config"].get("mode") != "capacity":
            continue
        rows.append(
            {
                "fake": result["fake"],
                "client": result["client"],
                "calls": result["calls"],
                "concurrency": result["concurrency"],
                "requests_per_s": _rate(result),
                "p50_ms": percentile(result["latencies"], 50) * 1e3,
                "errors": result["error_count"],
            }
        )
    return rows


def throughput_table(data: dict[str, Any]) -> list[Row]:
    """Per SDK configuration: requests per second and latency percentiles (ms), beside the
    capacity of the fake it talked to (a raw client's rate, :func:`fake_capacity_table`) and
    how many times the SDK's rate that capacity is."""
    capacity = {row["fake"]: row["requests_per_s"] for row in fake_capacity_table(data)}
    rows = []
    for run in _ok_runs(data):
        result = run["result"]
        if result["config"].get("mode", "throughput") != "throughput":
            continue
        latencies = result["latencies"]
        rate = _rate(result)
        ceiling = capacity.get(result.get("fake", ""))
        rows.append(
            {
                "venv": run["labels"]["venv"],
                "configuration": run["labels"]["label"],
                "fake": result.get("fake"),
                "calls": result["calls"],
                "concurrency": result["concurrency"],
                "requests_per_s": rate,
                "fake_capacity_per_s": ceiling,
                "capacity_over_sdk": ceiling / rate if ceiling else None,
                "p50_ms": percentile(latencies, 50) * 1e3,
                "p99_ms": percentile(latencies, 99) * 1e3,
                "errors": result["error_count"],
            }
        )
    return rows


def hit_cost_table(data: dict[str, Any]) -> list[Row]:
    """ns per cache hit (median of the repeats) without and with the four model kwargs, and each
    API's ratio to its baseline in the same case (sync: ``functools.cache``; async: the
    asyncio.Lock design)."""
    rows = []
    for run in _ok_runs(data):
        result = run["result"]
        cases = result.get("cases", {"no kwargs": result})  # results made before the kwargs case
        kinds, baselines = result.get("kinds", {}), result.get("baselines", {})
        medians = {
            case: {api: statistics.median(runs) for api, runs in apis.items()}
            for case, apis in cases.items()
        }
        for api in next(iter(medians.values())):
            baseline = baselines.get(kinds.get(api))
            row: Row = {"design": api, "api": kinds.get(api, ""), "baseline": baseline}
            for case, values in medians.items():
                tag = case.replace(" ", "_")
                ns, reference = values.get(api), values.get(baseline)
                row[f"ns_{tag}"] = ns
                row[f"x_baseline_{tag}"] = ns / reference if ns and reference else None
            row["repeats"] = len(cases[next(iter(cases))][api])
            rows.append(row)
    return rows


def waiters_table(data: dict[str, Any]) -> list[Row]:
    """Per case (a plain future, llmcache): medians of CPU seconds, loop worst gap and wall time
    while the tasks await one cold build, and each as a multiple of the plain future's."""
    rows = []
    for run in _ok_runs(data):
        result = run["result"]
        medians = {
            case: {
                name: statistics.median(r[name] for r in runs)
                for name in ("cpu_seconds", "worst_gap", "wall_seconds")
            }
            for case, runs in result["runs"].items()
        }
        plain = medians["plain future"]
        for case, values in medians.items():
            rows.append(
                {
                    "design": case,
                    "tasks": result["tasks"],
                    "build_seconds": result["build_seconds"],
                    "cpu_seconds": values["cpu_seconds"],
                    "worst_gap_ms": values["worst_gap"] * 1e3,
                    "wall_seconds": values["wall_seconds"],
                    "x_plain_cpu": values["cpu_seconds"] / plain["cpu_seconds"],
                    "x_plain_gap": values["worst_gap"] / plain["worst_gap"],
                    "repeats": len(result["runs"][case]),
                }
            )
    return rows


def concurrency_table(data: dict[str, Any]) -> list[Row]:
    """Per scenario and design of notebook 03: callers, constructions, distinct instances the
    callers got, their errors, the seconds until the last caller had its answer and the loop's
    worst gap (ms). ``keys`` rows add the latency of the key served first and of the one served
    second (two callers, one key each, asking at once); ``two loops`` rows the outcome in each
    loop; the ``app loop`` row is llmcache's build awaited in a running loop."""
    rows: list[Row] = []
    for run in _ok_runs(data):
        result = run["result"]
        app_loop = result["app_loop"]
        rows.append(
            {
                "scenario": "app loop",
                "design": "llmcache",
                "callers": 1,
                "constructions": 1,
                "seconds": app_loop["build_seconds"],
                "worst_gap_ms": app_loop["worst_gap"] * 1e3,
            }
        )
        for scenario, outcomes in result["scenarios"].items():
            for outcome in outcomes:
                errors = outcome["errors"]
                gap = outcome.get("worst_gap")
                row: Row = {
                    "scenario": scenario,
                    "design": outcome["design"],
                    "callers": outcome["callers"],
                    "constructions": outcome["constructions"],
                    "distinct_instances": outcome["distinct_instances"],
                    "errors": len(errors),
                    "error_types": ", ".join(sorted({e.split(":")[0] for e in errors})),
                    "seconds": outcome["seconds"],
                    "worst_gap_ms": gap * 1e3 if gap is not None else None,
                }
                if scenario == "keys":
                    latencies = sorted(outcome["latencies"])
                    row["first_served_s"] = latencies[0] if latencies else None
                    row["second_served_s"] = latencies[1] if len(latencies) > 1 else None
                rows.append(row)
        for loops in result["two_loops"]:
            rows.append(
                {
                    "scenario": "two loops",
                    "design": loops["design"],
                    "first_loop": loops["first_loop"],
                    "second_loop": loops["second_loop"],
                }
            )
    return rows


def loops_table(data: dict[str, Any]) -> list[Row]:
    """Per SDK configuration, design and pattern: calls, failed calls and their exception types.

    A probe that failed as a whole shows as one row with no calls and its error.
    """
    rows = []
    for run in data["runs"]:
        venv = run["labels"]["venv"]
        if "result" not in run:
            rows.append(
                {
                    "venv": venv,
                    "design": "(all)",
                    "pattern": "(all)",
                    "calls": 0,
                    "errors": 0,
                    "outcomes": f"probe failed: {str(run.get('error', ''))[:120]}",
                }
            )
            continue
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for pattern_run in run["result"]["runs"]:
            groups[(pattern_run["design"], pattern_run["pattern"])].append(pattern_run)
        for (design, pattern), runs in groups.items():
            outcomes = Counter(call["outcome"] for r in runs for call in r["calls"])
            ok = outcomes.pop("ok", 0)
            rows.append(
                {
                    "venv": venv,
                    "design": design,
                    "pattern": pattern,
                    "rounds": len(runs),
                    "calls": ok + sum(outcomes.values()),
                    "errors": sum(outcomes.values()),
                    "outcomes": ", ".join(f"{k} {n}" for k, n in outcomes.most_common()),
                    "builds": _median(r["builds"] for r in runs),
                }
            )
    return rows


def langgraph_table(data: dict[str, Any]) -> list[Row]:
    """Per case and design: the agent under ``langgraph dev``, one server life each. The first
    run as the client timed it (seconds, or start-up to exit when the server never served),
    whether it and the second run answered, the ``BlockingError`` instances created in the server
    (swallowed ones too) and the blocking events it logged, with their call sites."""
    rows = []
    for (case, design, credentials), results in _grouped(
        data, "case", "design", "credentials"
    ).items():
        result = results[0]  # one server life per case and design
        runs = result["runs"]
        raised: dict[str, int] = result["blocking_errors"]
        first_error = runs[0].get("error", "")
        rows.append(
            {
                "case": case,
                "design": design,
                "credentials": credentials,
                "ready_s": result["ready_seconds"],
                "first_run_s": runs[0]["seconds"],
                "second_run_s": runs[1]["seconds"] if len(runs) > 1 else None,
                "answered": runs[0]["answered"],
                "second_answered": len(runs) > 1 and runs[1]["answered"],
                "blocking_errors": sum(raised.values()),
                "logged_blocking": sum(result["blocking_events"].values()),
                "error": f"{result['startup_error']} at start-up"
                if "startup_error" in result
                else first_error,
                "call_sites": "; ".join(sorted(raised)),
                "left_loopback": len(result.get("netguard_violations") or []),
            }
        )
    return rows


TABLES: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "hit_cost": hit_cost_table,
    "waiters": waiters_table,
    "concurrency": concurrency_table,
    "sdk": sdk_table,
    "auth": auth_table,
    "app": app_table,
    "app_server": app_server_table,
    "throughput": throughput_table,
    "first_call": first_call_table,
    "loops": loops_table,
    "providers": providers_table,
    "langgraph": langgraph_table,
    "soak": soak_table,
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def format_table(rows: list[Row], columns: list[str] | None = None) -> str:
    """A plain-text (and valid Markdown) table."""
    if not rows:
        return "(no rows)"
    columns = columns or list(dict.fromkeys(key for row in rows for key in row))  # every row's
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([line, rule, *body])
