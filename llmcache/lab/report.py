"""Write ``reports/README.md`` (and the README's findings) from a results folder.

``python -m llmcache.lab.report REPORT_DIR [--readme README.md]``: every number comes from the
JSON in ``REPORT_DIR/data`` through :mod:`llmcache.lab.tables`; nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import textwrap
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import answer, tables

START, END = "<!-- report:start -->", "<!-- report:end -->"
ANSWER_MARKERS = ("<!-- answer:start -->", "<!-- answer:end -->")
README_WHERE = "[notebook 01](notebooks/01_cold_start_reproduced.ipynb), section 5"
"""Where README.md's answer points for the detailed account."""
NOTEBOOKS = (
    ("01_cold_start_reproduced", "The cold start, reproduced"),
    ("02_sdk_3x_vs_4x", "langchain-google-genai 3.x against 4.x"),
    ("03_concurrency_and_event_loop", "Concurrency and the event loop"),
)


def _s(value: Any, digits: int = 2) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def _rows(data: Path, experiment: str) -> list[dict[str, Any]]:
    """An experiment's derived table, or no rows when this run did not measure it."""
    if not (data / f"{experiment}.json").exists():
        return []
    return tables.TABLES[experiment](tables.load(data, experiment))


def headline(data: Path, figures: str | None = None) -> str:
    """The findings: sentences, then a table per experiment (the uvicorn app server first).

    ``figures`` is the figures folder as a link from the Markdown file that shows the headline;
    the app server's plot is embedded when it exists.
    """
    auth = {(r["venv"], r["auth_env"]): r for r in tables.auth_table(tables.load(data, "auth"))}
    app = {
        (r["venv"], r["auth_env"], r["design"]): r
        for r in tables.app_table(tables.load(data, "app"))
    }
    sdk = {r["venv"]: r for r in tables.sdk_table(tables.load(data, "sdk"))}
    meta = tables.load(data, "auth")["metadata"]
    lines = [
        *(
            ["**Why the first call took 20 s.** " + answer.why_20_seconds(data), ""]
            if answer.measured(data)
            else []
        ),
        f"Measured {meta['date_utc']} on {meta['cpu_model']} ({meta['cpu_count']} CPUs, "
        f"{meta['memory_gib']} GiB), Python {meta['python']}, profile `{meta['profile']}`, "
        f"commit `{meta['git_commit'][:10]}`, isolation {meta['isolation']}. Model servers are "
        "loopback fakes; their answer delay is a **simulated model latency**; everything else is "
        "measured.",
        "",
        *_in_short(data, auth, app, sdk, meta["profile_settings"]["app_concurrency"]),
        *_throughput_sentence(data),
        *_first_call_sentence(data),
        *_loops_sentence(data),
        *_hit_cost_sentence(data),
        *_waiters_sentence(data),
        *_langgraph_sentence(data),
        *_app_server_section(data, figures),
        *_langgraph_section(data, figures),
        "",
        "**First request in one fresh process (construction + first `ainvoke`, seconds, "
        "simulated latency 0)**",
        "",
        "| auth environment | 3.2.0 (gRPC) | 4.x (REST) | outcome |",
        "|---|---|---|---|",
    ]
    for env in (
        "api-key",
        "adc-blackhole",
        "adc-refuse",
        "adc-slow-valid",
        "adc-blackhole NO_GCE_CHECK=true",
        "adc-blackhole NO_GCE_CHECK=True",
        "adc-blackhole timeout=1 retries=1",
    ):
        old, new = auth.get(("lcgg-3.2.0", env)), auth.get(("lcgg-4.x", env))
        if old is None or new is None:
            continue
        outcome = old["error"] or new["error"] or "answer"
        lines.append(
            f"| {env} | {_s(old['first_request_s'])} | {_s(new['first_request_s'])} | {outcome} |"
        )
    latency = next(iter(app.values()))["simulated_model_latency_s"]
    concurrency = meta["profile_settings"]["app_concurrency"]
    lines += [
        "",
        f"**In one process (the controlled variant): {concurrency} concurrent first requests, "
        f"API key, simulated model latency {latency:g} s**",
        "",
        "| SDK | design | slowest request (s) | constructions | loop worst gap (s) |",
        "|---|---|---|---|---|",
    ]
    for (venv, env, design), row in app.items():
        if env == "api-key":
            lines.append(
                f"| {venv} | {design} | {_s(row['first_request_max_s'])} | "
                f"{_s(row['constructions'], 0)} | {_s(row['loop_worst_gap_s'], 3)} |"
            )
    lines += _throughput_section(data)
    lines += _first_call_section(data)
    lines += _loops_section(data)
    lines += [
        "",
        "**SDK costs (fresh process, medians)**",
        "",
        "| configuration | import (s) | 1st build (ms) | next build (ms) | 1st ainvoke (ms) |",
        "|---|---|---|---|---|",
    ]
    for row in sdk.values():
        lines.append(
            f"| {row['configuration']} | {_s(row['import_s'])} | {_s(row['construct_1_ms'], 0)} | "
            f"{_s(row['construct_2_ms'], 1)} | {_s(row['ainvoke_1_ms'], 0)} |"
        )
    return "\n".join(lines)


def _in_short(
    data: Path,
    auth: dict[tuple[str, str], Any],
    app: dict[tuple[str, str, str], Any],
    sdk: dict[str, Any],
    concurrency: int,
) -> list[str]:
    """The findings as sentences, every number read from the tables."""
    served, served_without_key = _app_server_sentences(data)
    lines = ["In short:", "", *served]
    try:
        hole = [auth[(v, "adc-blackhole")]["first_request_s"] for v in ("lcgg-3.2.0", "lcgg-4.x")]
        key = [auth[(v, "api-key")]["first_request_s"] for v in ("lcgg-3.2.0", "lcgg-4.x")]
        true4 = auth[("lcgg-4.x", "adc-blackhole NO_GCE_CHECK=true")]["first_request_s"]
        trap4 = auth[("lcgg-4.x", "adc-blackhole NO_GCE_CHECK=True")]["first_request_s"]
        lines.append(
            f"- The seconds come from Google's Application Default Credentials probing the GCE "
            f"metadata server when no API key is given: with a silent metadata address the first "
            f"request waits {hole[0]:.1f} s (3.x) / {hole[1]:.1f} s (4.x Vertex) and then fails, "
            f"against {key[0]:.2f} s / {key[1]:.2f} s with a key. `NO_GCE_CHECK=true` cuts it to "
            f"{true4:.2f} s; `NO_GCE_CHECK=True` is ignored ({trap4:.1f} s)."
        )
        gap = auth[("lcgg-3.2.0", "adc-blackhole")]["loop_gap_s"]
        lines.append(
            f"- 3.x probes inside the constructor, on the event loop (worst loop gap {gap:.1f} s), "
            "and, when credentials do exist, again at the first `ainvoke`; 4.x probes at the "
            "first call, in a thread."
        )
        cached = app.get(("lcgg-3.2.0", "adc-refuse", "functools.cache"))
        ours = app.get(("lcgg-3.2.0", "adc-refuse", "llmcache"))
        if cached and ours:
            lines.append(
                f"- Without credentials, `functools.cache` and the asyncio.Lock design retry the "
                f"failing 3.x construction for every request ({cached['constructions']:.0f} "
                f"builds, loop frozen {cached['loop_worst_gap_s']:.1f} s); llmcache builds once, "
                f"off the loop (loop gap {ours['loop_worst_gap_s'] * 1e3:.0f} ms)."
            )
        shared = app.get(("lcgg-4.x", "adc-refuse", "llmcache"))
        separate = app.get(("lcgg-4.x", "adc-refuse", "no-cache"))
        if shared and separate:
            lines.append(
                f"- The one case where a shared client is slower: 4.x without credentials, "
                f"{concurrency} concurrent first requests through one shared client (llmcache, "
                f"or any cache) wait for each other's ADC lookups: the slowest takes "
                f"{shared['first_request_max_s']:.1f} s against "
                f"{separate['first_request_max_s']:.1f} s with no cache (a client per request). "
                "All of them fail either way: give the SDK credentials."
            )
        lines += served_without_key
        lines.append(
            f"- Building a 4.x model costs {sdk['lcgg-4.x']['construct_1_ms']:.0f} ms "
            f"(3.x: {sdk['lcgg-3.2.0']['construct_1_ms']:.0f} ms); importing it "
            f"{sdk['lcgg-4.x']['import_s']:.2f} s, or "
            f"{sdk['lcgg-4.x-nobytecode']['import_s']:.2f} s without bytecode. "
            "Cache the model and build it off the loop."
        )
    except KeyError as missing:
        lines.append(f"- (a summary needs the measurement {missing}, absent from this run)")
    return lines


APP_SERVER_FIGURE = "01_first_request_as_a_user_sees_it"
WARMED = "llmcache-warmed"


def _clients(row: dict[str, Any]) -> int:
    return round(row["requests"] / row["runs"]) if row["runs"] else 0


def _app_server_sentences(data: Path) -> tuple[list[str], list[str]]:
    """The uvicorn app server: the warmed app against the designs that build at the first
    request; and without credentials, one shared client against a client per request."""
    rows = _rows(data, "app_server")
    key = [r for r in rows if r["auth_env"] == "api-key"]
    warmed = sorted((r for r in key if r["design"] == WARMED), key=lambda r: r["workers"])
    others = [r for r in key if r["design"] != WARMED]
    if not warmed or not others:
        return [], []
    slow = max(others, key=lambda r: r["first_response_max_s"] or 0)
    frozen = max(others, key=lambda r: r["loop_worst_gap_s"] or 0)
    per_workers = " and ".join(
        f"{r['first_response_max_s']:.2f} s with {_workers(r['workers'])} (port open after "
        f"{r['accept_s']:.1f} s)"
        for r in warmed
    )
    first = [
        f"- As a user sees it (uvicorn serving the FastAPI app `examples/app.py`, "
        f"{_clients(warmed[0])} HTTP clients sending their first requests the moment the port "
        f"accepts, API key): warmed in the lifespan, the slowest first response takes "
        f"{per_workers}, and no worker's loop stalls more than "
        f"{max(r['loop_worst_gap_s'] for r in warmed) * 1e3:.0f} ms while serving. Built at the "
        f"first request, it takes up to {slow['first_response_max_s']:.2f} s ({slow['design']}, "
        f"{_workers(slow['workers'])}), and the loop stalls up to "
        f"{frozen['loop_worst_gap_s'] * 1e3:.0f} ms ({frozen['design']}, "
        f"{_workers(frozen['workers'])})."
    ]
    refuse = {r["design"]: r for r in rows if r["auth_env"] != "api-key" and r["workers"] == 1}
    shared, separate = refuse.get(WARMED), refuse.get("no-cache")
    if not (shared and separate):
        return first, []
    verdict = (
        "slower"
        if shared["first_response_max_s"] > separate["first_response_max_s"]
        else "not slower"
    )
    return first, [
        f"- Served by uvicorn without credentials ({shared['auth_env']}, 1 worker), the warmed "
        f"app's one shared client is {verdict} too: its slowest first response takes "
        f"{shared['first_response_max_s']:.1f} s against {separate['first_response_max_s']:.1f} s "
        f"with a client per request ({shared['failed_requests']} of {shared['requests']} and "
        f"{separate['failed_requests']} of {separate['requests']} requests failed)."
    ]


def _workers(n: int) -> str:
    return f"{n} worker{'s' if n != 1 else ''}"


def _app_server_section(data: Path, figures: str | None) -> list[str]:
    """The headline table: the first requests to a uvicorn app, timed by its HTTP clients."""
    rows = _rows(data, "app_server")
    if not rows:
        return []
    latency = rows[0]["simulated_model_latency_s"]
    lines = [
        "",
        f"**First request as a user sees it: uvicorn serving `examples/app.py`, "
        f"{_clients(rows[0])} HTTP clients at once, simulated model latency {latency:g} s "
        f"(medians of runs; seconds from launch or from sending)**",
        "",
        "| auth environment | workers | design | port accepts after (s) | slowest first "
        "response (s) | loop worst gap while serving (ms) | models built before / after the "
        "port opened | failed requests |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        failed = f"{r['failed_requests']} of {r['requests']}"
        if r["error"]:
            failed += f" ({r['error']})"
        gap = None if r["loop_worst_gap_s"] is None else r["loop_worst_gap_s"] * 1e3
        lines.append(
            f"| {r['auth_env']} | {r['workers']} | {r['design']} | {_s(r['accept_s'])} | "
            f"{_s(r['first_response_max_s'])} | {_s(gap, 0)} | "
            f"{_s(r['constructions_startup'], 0)} / {_s(r['constructions_serving'], 0)} | "
            f"{failed} |"
        )
    if figures is not None and (data.parent / "figures" / f"{APP_SERVER_FIGURE}.png").exists():
        lines += [
            "",
            f"![First request as a user sees it]({figures}/{APP_SERVER_FIGURE}.png)",
        ]
    return lines


def _throughput_sentence(data: Path) -> list[str]:
    """Requests per second of each SDK beside the capacity of the fake it talked to."""
    rows = _rows(data, "throughput")
    capacity = (
        tables.fake_capacity_table(tables.load(data, "throughput"))
        if (data / "throughput.json").exists()
        else []
    )
    ratios = [r["capacity_over_sdk"] for r in rows if r["capacity_over_sdk"] is not None]
    if not rows or not capacity or not ratios:
        return []
    rates = ", ".join(f"{r['venv']} {r['requests_per_s']:.0f}" for r in rows)
    fakes = ", ".join(
        f"the {c['fake']} fake {c['requests_per_s']:.0f} req/s ({c['client']})" for c in capacity
    )
    return [
        f"- Throughput at concurrency {rows[0]['concurrency']} against the loopback fakes "
        f"(zero simulated latency), requests per second: {rates}. In the same run a raw "
        f"client with no SDK got {fakes}: {min(ratios):.1f}x or more the rate of each SDK "
        "measured against it, so the gaps between SDKs are the SDKs' own."
    ]


def _throughput_section(data: Path) -> list[str]:
    rows = _rows(data, "throughput")
    if not rows:
        return []
    lines = [
        "",
        f"**Throughput at concurrency {rows[0]['concurrency']}, zero simulated latency, beside "
        "each fake's capacity (a raw client with no SDK, same run)**",
        "",
        "| SDK | requests/s | p50 (ms) | p99 (ms) | errors | its fake | fake's capacity "
        "(requests/s) | capacity / SDK |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['configuration']} | {_s(r['requests_per_s'], 0)} | {_s(r['p50_ms'], 0)} | "
            f"{_s(r['p99_ms'], 0)} | {r['errors']} | {r.get('fake') or '-'} | "
            f"{_s(r.get('fake_capacity_per_s'), 0)} | {_times(r.get('capacity_over_sdk'))} |"
        )
    return lines


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


def _first_call_pairs(data: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rows = _rows(data, "first_call")
    by = {(r["venv"], r["prepare"]): r for r in rows}
    return [
        (by[(venv, False)], by[(venv, True)])
        for venv in dict.fromkeys(r["venv"] for r in rows)
        if (venv, False) in by and (venv, True) in by
    ]


def _first_call_sentence(data: Path) -> list[str]:
    """The first request after ``warm``: the loop's worst gap against the second request's,
    without and with the SDK's lazy work pre-paid in the build thread."""
    pairs = _first_call_pairs(data)
    if not pairs:
        return []
    parts = "; ".join(
        f"{b['venv']}: {b['first_gap_ms']:.0f} ms against {b['second_gap_ms']:.0f} ms "
        f"({b['ratio_median']:.1f}x) when the build thread only built the model, "
        f"{a['first_gap_ms']:.0f} ms against {a['second_gap_ms']:.0f} ms "
        f"({a['ratio_median']:.1f}x) now that `warm` also pre-pays the SDK's imports and "
        f"schema builds there ({a['prepare_ms']:.0f} ms off the loop)"
        for b, a in pairs
    )
    return [
        "- The first request after `warm` did once-per-process SDK work on the event loop. "
        "The loop's worst gap during the first request against the second (API key, median "
        f"ratio of {pairs[0][1]['runs']} fresh processes): {parts}."
    ]


def _first_call_section(data: Path) -> list[str]:
    pairs = _first_call_pairs(data)
    if not pairs:
        return []
    lines = [
        "",
        "**First request after `warm`: the loop's worst gap (API key, fresh processes, medians)**",
        "",
        "| SDK | SDK work pre-paid in the build thread | processes | 1st request (ms) | "
        "2nd request (ms) | ratio 1st / 2nd (median, max) | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for pair in pairs:
        for r in pair:
            lines.append(
                f"| {r['venv']} | {'yes (`warm` now)' if r['prepare'] else 'no'} | {r['runs']} | "
                f"{_s(r['first_gap_ms'], 1)} | {_s(r['second_gap_ms'], 1)} | "
                f"{_times(r['ratio_median'])}, {_times(r['ratio_max'])} | {r['errors']} |"
            )
    return lines


def _loops_by_design(
    data: Path,
) -> tuple[list[str], dict[str, dict[str, list[int]]], set[str]]:
    """Failed calls and calls per design and SDK configuration, and the SDK configurations whose
    probe failed as a whole."""
    rows = _rows(data, "loops")
    venvs = list(dict.fromkeys(r["venv"] for r in rows))
    counts: dict[str, dict[str, list[int]]] = {}
    broken = set()
    for r in rows:
        if r["design"] == "(all)":
            broken.add(r["venv"])
            continue
        cell = counts.setdefault(r["design"], {}).setdefault(r["venv"], [0, 0])
        cell[0] += r["errors"]
        cell[1] += r["calls"]
    return venvs, counts, broken


def _loops_sentence(data: Path) -> list[str]:
    venvs, counts, broken = _loops_by_design(data)
    if not counts:
        return []
    patterns = len({r["pattern"] for r in _rows(data, "loops") if r["design"] != "(all)"})
    parts = "; ".join(
        f"{design} {sum(c[0] for c in cells.values())} of {sum(c[1] for c in cells.values())}"
        for design, cells in counts.items()
    )
    lost = f" ({len(broken)} SDK probe(s) failed as a whole)" if broken else ""
    return [
        f"- Used from every kind of event loop, thread and forked process ({patterns} patterns, "
        f"{len(venvs)} SDK configurations), the calls that failed, per design: {parts}{lost}."
    ]


def _loops_section(data: Path) -> list[str]:
    venvs, counts, broken = _loops_by_design(data)
    if not counts:
        return []
    outcomes: dict[str, Counter[str]] = {}
    for r in _rows(data, "loops"):
        if r["design"] == "(all)":  # a probe that failed as a whole: its error, no counts
            continue
        for part in filter(None, r["outcomes"].split(", ")):
            kind, _, n = part.rpartition(" ")
            outcomes.setdefault(r["design"], Counter())[kind] += int(n)
    lines = [
        "",
        "**Every event loop, thread and process: failed calls / calls, per design and SDK "
        "configuration**",
        "",
        f"| design | {' | '.join(venvs)} | exceptions |",
        "|---|" + "---|" * (len(venvs) + 1),
    ]
    for design, cells in counts.items():
        shown = " | ".join(
            f"{cells[v][0]} / {cells[v][1]}"
            if v in cells
            else "probe failed" * (v in broken) or "-"
            for v in venvs
        )
        raised = ", ".join(f"{k} {n}" for k, n in outcomes.get(design, Counter()).most_common())
        lines.append(f"| {design} | {shown} | {raised or 'none'} |")
    return lines


def _hit_cost_sentence(data: Path) -> list[str]:
    """What a hit costs with the four kwargs an app passes, and without: read from ``hit_cost``
    (nothing when this run has no such measurement)."""
    if not (data / "hit_cost.json").exists():
        return []
    rows = {r["design"]: r for r in tables.hit_cost_table(tables.load(data, "hit_cost"))}
    try:
        sync, aio = rows["llmcache sync"], rows["llmcache async"]
        module_sync, module_aio = rows["get_model"], rows["get_model_async"]
        us = {k: (r["ns_4_kwargs"] / 1e3, r["ns_no_kwargs"] / 1e3) for k, r in rows.items()}
        sync_base, aio_base = us[sync["baseline"]], us[aio["baseline"]]
    except (KeyError, TypeError):  # a run made before the kwargs case or the get_model rows
        return []
    return [
        f"- A cache hit with the four kwargs an app passes (`google_api_key`, `temperature`, "
        f"`max_retries`, `timeout`) costs {us['llmcache sync'][0]:.2f} us through "
        f"`ModelCache.get` against {sync_base[0]:.2f} us for `{sync['baseline']}` "
        f"({sync['x_baseline_4_kwargs']:.1f}x), and {us['llmcache async'][0]:.2f} us through "
        f"`await ModelCache.aget` against {aio_base[0]:.2f} us for the {aio['baseline']} design "
        f"({aio['x_baseline_4_kwargs']:.1f}x). Without kwargs: {us['llmcache sync'][1]:.2f} us "
        f"against {sync_base[1]:.2f} us ({sync['x_baseline_no_kwargs']:.1f}x), and "
        f"{us['llmcache async'][1]:.2f} us against {aio_base[1]:.2f} us "
        f"({aio['x_baseline_no_kwargs']:.1f}x). The module-level `get_model` and "
        f"`get_model_async`, which look up the process-wide cache first, cost "
        f"{us['get_model'][0]:.2f} us ({module_sync['x_baseline_4_kwargs']:.1f}x) and "
        f"{us['get_model_async'][0]:.2f} us ({module_aio['x_baseline_4_kwargs']:.1f}x) with "
        "the four kwargs. The hit path is pure Python: the key built from the call, one dict "
        "lookup, no lock."
    ]


def _waiters_sentence(data: Path) -> list[str]:
    """What thousands of waiters of one cold build cost, against tasks awaiting a plain future."""
    if not (data / "waiters.json").exists():
        return []
    rows = {r["design"]: r for r in tables.waiters_table(tables.load(data, "waiters"))}
    mine, plain = rows["llmcache"], rows["plain future"]
    return [
        f"- {mine['tasks']:,} tasks awaiting one cold build (simulated: a thread that waits "
        f"{mine['build_seconds']:g} s) used {mine['cpu_seconds']:.2f} s of CPU and stalled the "
        f"loop {mine['worst_gap_ms']:.0f} ms with llmcache, against {plain['cpu_seconds']:.2f} s "
        f"and {plain['worst_gap_ms']:.0f} ms for tasks awaiting a plain future "
        f"({mine['x_plain_cpu']:.2f}x and {mine['x_plain_gap']:.2f}x; medians of "
        f"{mine['repeats']} runs)."
    ]


OURS = ("llmcache", WARMED)
LANGGRAPH_FIGURE = "01_langgraph_dev"


def _langgraph_sentence(data: Path) -> list[str]:
    """The agent under ``langgraph dev``: llmcache's BlockingErrors against the other designs'."""
    rows = _rows(data, "langgraph")
    if not rows:
        return []
    ours = [r for r in rows if r["design"] in OURS]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    clean = [c for c in cases if not any(r["blocking_errors"] for r in ours if r["case"] == c)]
    others = [r for r in rows if r["design"] not in OURS and r["blocking_errors"]]
    sites = Counter(s for r in rows for s in r["call_sites"].split("; ") if s)
    raised_in = [c for c in cases if any(r["blocking_errors"] for r in rows if r["case"] == c)]
    answered = [r for r in ours if r["credentials"] and r["answered"] and r["second_answered"]]
    with_credentials = [r for r in ours if r["credentials"]]
    return [
        f"- Under the real `langgraph dev` (the agent `examples/workflow_agent.py`, blocking-call "
        f"detection on, {len(rows)} server lives): llmcache, warmed or not, raised no "
        f"`BlockingError` in {len(clean)} of {len(cases)} cases "
        f"({'; '.join(clean)}), and answered both runs in {len(answered)} of its "
        f"{len(with_credentials)} server lives that had credentials. `BlockingError`s were "
        f"raised only in "
        f"{'; '.join(raised_in) or 'no case'} ({sum(r['blocking_errors'] for r in others)} by "
        f"the designs that build on the loop), at: "
        + "; ".join(f"`{site}` (in {n} server lives)" for site, n in sites.most_common())
        + "."
    ]


def _langgraph_section(data: Path, figures: str | None) -> list[str]:
    """The headline table of the agent under ``langgraph dev``, one server life per row."""
    rows = _rows(data, "langgraph")
    if not rows:
        return []
    lines = [
        "",
        "**The agent under `langgraph dev` (detection on; simulated model latency 0; runs "
        "timed by the client, seconds)**",
        "",
        "| case | design | served after (s) | 1st run (s) | 2nd run (s) | answered | "
        "BlockingErrors raised / logged | error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        answered = "both" if r["answered"] and r["second_answered"] else "no"
        lines.append(
            f"| {r['case']} | {r['design']} | {_s(r['ready_s'])} | {_s(r['first_run_s'])} | "
            f"{_s(r['second_run_s'])} | {answered} | {r['blocking_errors']} / "
            f"{r['logged_blocking']} | {r['error'] or ''} |"
        )
    if figures is not None and (data.parent / "figures" / f"{LANGGRAPH_FIGURE}.png").exists():
        lines += ["", f"![The agent under langgraph dev]({figures}/{LANGGRAPH_FIGURE}.png)"]
    return lines


def write_report_readme(report_dir: Path) -> Path:
    data = report_dir / "data"
    meta = tables.load(data, "auth")["metadata"]
    pages = "\n".join(
        f"- [{title}]({name}.html)"
        for name, title in NOTEBOOKS
        if (report_dir / f"{name}.html").exists()
    )
    figures = "\n".join(
        f"- [{p.stem}](figures/{p.name})" for p in sorted((report_dir / "figures").glob("*.png"))
    )
    raw = "\n".join(f"- [{p.name}](data/{p.name})" for p in sorted(data.glob("*.json")))
    quick = meta.get("profile") != "full"
    banner = (
        f"**Profile `{meta.get('profile')}`**: each configuration measured once or a few times, "
        "for a quick look; the published report is the full profile (`make report`).\n\n"
        if quick
        else ""
    )
    title = (
        f"llmcache cold-start report ({meta.get('profile')} profile)"
        if quick
        else ("llmcache cold-start report")
    )
    text = f"""# {title}

{banner}Generated by `make report` from the raw data in `data/` (never edited by hand). Machine:
{meta["hostname"]}, {meta["platform"]}. Date: {meta["date_utc"]}.

## Headline

{headline(data, figures="figures")}

## Pages (no code)

{pages}

## Figures (PNG; SVG beside each)

{figures}

## Raw data

{raw}
"""
    path = report_dir / "README.md"
    path.write_text(text)
    return path


def figures_link(readme: Path, report_dir: Path) -> str:
    """The report's figures folder as a link from ``readme``."""
    return Path(os.path.relpath(report_dir / "figures", readme.parent)).as_posix()


def _replace_block(path: Path, markers: tuple[str, str], body: Callable[[], str]) -> bool:
    """Put ``body()`` between ``path``'s two markers (checked first); True if the file
    changed."""
    start, end = markers
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{path} lacks the {start} ... {end} markers")
    block = f"{start}\n{body()}\n{end}"
    new = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    path.write_text(new)
    return new != text


def update_readme(readme: Path, report_dir: Path, figures: str | None = None) -> None:
    """Replace the findings block of the project README (or docs page) with the report's
    headline; ``figures`` is the figures folder as linked from it (default: its relative path)."""
    link = figures if figures is not None else figures_link(readme, report_dir)
    _replace_block(readme, (START, END), lambda: headline(report_dir / "data", link))


def update_answer(readme: Path, data: Path, *, where: str = README_WHERE) -> bool:
    """Rewrite the answer between ``readme``'s answer markers from ``data``; True if it changed.
    ``where`` names the detailed account."""

    def body() -> str:
        text = answer.why_20_seconds(data, where=where)
        wrapped = textwrap.fill(text, width=100, break_long_words=False, break_on_hyphens=False)
        return f"\n{wrapped}\n"

    return _replace_block(readme, ANSWER_MARKERS, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcache.lab.report", description=__doc__)
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("--readme", type=Path, help="also refresh this README's findings block")
    parser.add_argument(
        "--answer",
        type=Path,
        help="also refresh this README's answer block (why the first call took 20 s)",
    )
    parser.add_argument(
        "--figures",
        help="the figures folder as linked from --readme (default: its relative path), e.g."
        " `figures` for docs/findings.md, where docs/figures links to reports/figures",
    )
    args = parser.parse_args(argv)
    if not (args.report_dir / "data" / "auth.json").exists():
        parser.error(f"{args.report_dir}/data has no lab results (run the lab first)")
    print(write_report_readme(args.report_dir))
    if args.readme:
        update_readme(args.readme, args.report_dir, args.figures)
        print(args.readme)
    if args.answer:
        update_answer(args.answer, args.report_dir / "data")
        print(args.answer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
