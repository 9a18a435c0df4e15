"""Notebook 02's figures (langchain-google-genai 3.x against 4.x), and the human names its tables
and figures give the lab's venvs, fakes and auth environments, defined here once.

The lab names a configuration by its venv (``lcgg-4.x``); a reader wants the package, version
and transport. Figures draw every fresh process as a point, with a box only where a configuration
has enough runs for one, and state in their titles what their own plotted numbers show.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = [
    "FAKE_NAMES",
    "NAMES",
    "RUN_METRICS",
    "auth_env_name",
    "fake_name",
    "name",
    "run_values",
    "runs_figure",
    "throughput_figure",
]

NAMES: dict[str, str] = {
    "lcgg-3.2.0": "langchain-google-genai 3.2.0 (gRPC)",
    "lcgg-3.2.0-nobytecode": "langchain-google-genai 3.2.0 (gRPC), no bytecode",
    "lcgg-4.0.0": "langchain-google-genai 4.0.0 (REST, httpx)",
    "lcgg-4.x": "langchain-google-genai 4.x (REST, aiohttp)",
    "lcgg-4.x-httpx": "langchain-google-genai 4.x (REST, httpx)",
    "lcgg-4.x-nobytecode": "langchain-google-genai 4.x (REST, aiohttp), no bytecode",
    "openai": "langchain-openai (for comparison)",
}
"""A reader's name for each SDK venv of the lab's matrix, in the order tables list them."""

FAKE_NAMES: dict[str, str] = {
    "gemini-grpc": "Gemini gRPC",
    "gemini-rest": "Gemini REST",
    "openai": "OpenAI",
}
"""A reader's name for each loopback fake the throughput experiment talks to."""

_COLOURS = {"3": "tab:blue", "4": "tab:orange", "openai": "tab:gray"}


def name(venv: str, *, two_lines: bool = False) -> str:
    """The reader's name of a venv (the venv itself if unknown); ``two_lines`` breaks it after
    the package name, for a figure's axis."""
    shown = NAMES.get(venv, venv)
    if two_lines and shown.startswith("langchain-google-genai "):
        return shown.replace(" ", "\n", 1)
    return shown


def fake_name(fake: str) -> str:
    """The reader's name of a fake server."""
    return FAKE_NAMES.get(fake, fake)


def auth_env_name(auth_env: str) -> str:
    """What an auth environment of the lab is, in words; delays are the lab's settings (a
    simulated metadata server), read from :data:`llmcache.lab.experiments.AUTH_ENVS`."""
    from ..experiments import AUTH_ENVS, DOCKER_DEFAULTS

    settings = AUTH_ENVS.get(auth_env, {})
    if settings.get("auth") == "api-key":
        return "API key"
    metadata = {
        "blackhole": "silent metadata server",
        "refuse": "metadata server refuses connections",
        "slow-valid": (
            f"metadata server answers after {settings.get('metadata_delay', 0):g} s (simulated)"
        ),
    }.get(str(settings.get("metadata")), auth_env)
    env = settings.get("env", {})
    extra = ", ".join(f"{k}={v}" for k, v in env.items())
    if auth_env == DOCKER_DEFAULTS:
        return f"Docker defaults: no bytecode, no key, {metadata}"
    return f"no key, {metadata}" + (f", {extra}" if extra else "")


def _colour(venv: str) -> str:
    if venv.startswith("lcgg-3"):
        return _COLOURS["3"]
    if venv.startswith("lcgg-4"):
        return _COLOURS["4"]
    return _COLOURS["openai"]


RUN_METRICS: tuple[tuple[str, str, str, float], ...] = (
    ("import", "seconds", "import (s)", 1.0),
    ("construct_1", "seconds", "1st construction (ms)", 1e3),
    ("construct_2", "seconds", "next construction (ms)", 1e3),
    ("construct_1", "worst_gap", "loop gap, built on the loop (ms)", 1e3),
    ("construct_via_thread", "worst_gap", "loop gap, built in a thread (ms)", 1e3),
    ("ainvoke_1", "seconds", "1st ainvoke (ms)", 1e3),
    ("ainvoke_2", "seconds", "2nd ainvoke (ms)", 1e3),
)
"""The figures of one fresh process the ``sdk`` experiment records: (step, field, label,
scale to the label's unit)."""


def run_values(data: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per venv (in :data:`NAMES`' order, then the others), per metric label: every run's value."""
    values: dict[str, dict[str, list[float]]] = {}
    for run in data["runs"]:
        result = run.get("result")
        if result is None:
            continue
        per_metric = values.setdefault(run["labels"]["venv"], {})
        for step, field, label, scale in RUN_METRICS:
            value = result.get(step, {}).get(field)
            if value is not None:
                per_metric.setdefault(label, []).append(value * scale)
    order = {venv: i for i, venv in enumerate(NAMES)}
    return dict(sorted(values.items(), key=lambda item: order.get(item[0], len(order))))


def _median(values: dict[str, dict[str, list[float]]], venv: str, label: str) -> float | None:
    runs = values.get(venv, {}).get(label)
    return statistics.median(runs) if runs else None


def _runs_title(values: dict[str, dict[str, list[float]]]) -> str:
    build = "1st construction (ms)"
    on_loop = "loop gap, built on the loop (ms)"
    in_thread = "loop gap, built in a thread (ms)"
    old, new = _median(values, "lcgg-3.2.0", build), _median(values, "lcgg-4.x", build)
    gap, thread = _median(values, "lcgg-4.x", on_loop), _median(values, "lcgg-4.x", in_thread)
    if old is None or new is None or gap is None or thread is None:
        return "Every fresh process, per configuration"
    return (
        f"Medians: 4.x builds in {new:.0f} ms against 3.x's {old:.0f} ms; built on the loop it "
        f"blocks the loop {gap:.0f} ms, built in a thread {thread:.1f} ms"
    )


def runs_figure(data: dict[str, Any], *, min_box: int = 3) -> Figure:
    """Every fresh process of the ``sdk`` experiment as a point, one panel per figure it
    records, configurations on the shared vertical axis.

    A box (quartiles, whiskers to 1.5 IQR) is drawn only over configurations with ``min_box``
    runs or more: fewer points are shown as they are, two or more with their median as a bar.
    """
    values = run_values(data)
    venvs = list(values)
    rows = [RUN_METRICS[0:3], RUN_METRICS[3:5], RUN_METRICS[5:7]]
    height = 1.0 + 3 * (0.55 + 0.42 * max(len(venvs), 1))
    fig = Figure(figsize=(11, height), layout="constrained")
    axes = fig.subplots(3, 3, sharey=True)
    positions = list(range(len(venvs), 0, -1))  # the first venv on top
    for row, metrics in zip(axes, rows, strict=True):
        for ax, (_step, _field, label, _scale) in zip(row, metrics, strict=False):
            _strip(ax, [values[v].get(label, []) for v in venvs], venvs, positions, min_box)
            ax.set_title(label, fontsize=10)
            ax.set_xlim(left=0)
            ax.tick_params(labelsize=9)
        for ax in row[len(metrics) :]:
            ax.set_visible(False)
    key = axes[1][2]
    key.set_visible(True)
    key.axis("off")
    key.text(
        0.05,
        0.95,
        "blue: langchain-google-genai 3.x (gRPC)\n"
        "orange: langchain-google-genai 4.x (REST)\n"
        "grey: langchain-openai\n\n"
        f"box: quartiles, whiskers to 1.5 IQR,\nwhere a configuration has {min_box}+ runs;\n"
        "black bar: median",
        transform=key.transAxes,
        va="top",
        fontsize=9,
    )
    axes[0][0].set_yticks(positions, [name(v, two_lines=True) for v in venvs], fontsize=9)
    axes[0][0].set_ylim(0.4, len(venvs) + 0.6)
    counts = sorted({len(values[v][RUN_METRICS[0][2]]) for v in venvs if values[v]})
    runs = " or ".join(str(n) for n in counts) if counts else "no"
    fig.suptitle(
        _runs_title(values) + f"\n(each point one fresh process; {runs} per configuration)",
        fontsize=11,
    )
    return fig


def _strip(
    ax: Axes,
    series: Sequence[Sequence[float]],
    venvs: Sequence[str],
    positions: Sequence[int],
    min_box: int,
) -> None:
    """Points of each series on its row, spread a little vertically so that equal values show;
    a box where there are enough of them, else a median bar (none over a single point)."""
    for values, venv, y in zip(series, venvs, positions, strict=True):
        if not values:
            continue
        colour = _colour(venv)
        if len(values) >= min_box:
            ax.boxplot(
                [list(values)],
                positions=[y],
                orientation="horizontal",
                widths=0.6,
                showfliers=False,
                medianprops={"color": "black"},
                boxprops={"color": colour},
                whiskerprops={"color": colour},
                capprops={"color": colour},
            )
        elif len(values) > 1:
            median = statistics.median(values)
            ax.plot([median, median], [y - 0.3, y + 0.3], color="black", linewidth=1.5)
        n = len(values)
        spread = [y + (0.36 * (2 * i / (n - 1) - 1) if n > 1 else 0.0) for i in range(n)]
        ax.scatter(list(values), spread, s=14, color=colour, alpha=0.75, zorder=3)


def _throughput_title(rows: Sequence[dict[str, Any]]) -> str:
    rate = {row["venv"]: row["requests_per_s"] for row in rows}
    ratios = [row["capacity_over_sdk"] for row in rows if row.get("capacity_over_sdk")]
    grpc, rest = rate.get("lcgg-3.2.0"), rate.get("lcgg-4.x")
    lines = []
    if grpc and rest:
        if grpc >= rest:
            lines.append(
                f"3.x over gRPC serves {grpc / rest:.1f}x the requests/s of 4.x over REST (aiohttp)"
            )
        else:
            lines.append(
                f"4.x over REST (aiohttp) serves {rest / grpc:.1f}x the requests/s of 3.x over gRPC"
            )
    if ratios:
        lines.append(
            f"each fake serves a raw client {min(ratios):.1f}x to {max(ratios):.1f}x "
            "the rate of the SDK measured against it"
        )
    return ";\n".join(lines) if lines else "Requests per second and latency per call"


def throughput_figure(rows: Sequence[dict[str, Any]]) -> Figure:
    """Each SDK's requests per second against its fake beside that fake's capacity (a raw
    client's rate, same run), and its latency per call (p50, p99), from
    :func:`llmcache.lab.tables.throughput_table`'s rows. The fakes answer with zero simulated
    model latency: these are client and fake-server costs."""
    venvs = [row["venv"] for row in rows]
    positions = list(range(len(rows), 0, -1))
    fig = Figure(figsize=(11, 1.6 + 0.75 * max(len(rows), 1)), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True, width_ratios=(1.3, 1))
    rate = [row["requests_per_s"] for row in rows]
    left.barh(positions, rate, color=[_colour(v) for v in venvs], height=0.6)
    capacity = [
        (y, row) for y, row in zip(positions, rows, strict=True) if row.get("fake_capacity_per_s")
    ]
    left.scatter(
        [row["fake_capacity_per_s"] for _, row in capacity],
        [y for y, _ in capacity],
        color="black",
        marker="|",
        s=400,
        zorder=3,
    )
    for y, row in zip(positions, rows, strict=True):
        left.annotate(
            f" SDK {row['requests_per_s']:.0f}/s",
            (row["requests_per_s"], y),
            va="center",
            fontsize=9,
        )
    for y, row in capacity:
        left.annotate(
            f"{fake_name(row['fake'])} fake served a raw client "
            f"{row['fake_capacity_per_s']:.0f}/s, {row['capacity_over_sdk']:.1f}x the SDK",
            (0, y + 0.33),
            xytext=(3, 0),
            textcoords="offset points",
            va="bottom",
            fontsize=9,
        )
    left.set_xlabel("requests per second (zero simulated model latency)", fontsize=10)
    left.set_title(
        f"SDK's requests per second at concurrency {_concurrency(rows)}, "
        "beside its fake's capacity (|)",
        fontsize=10,
    )
    left.set_xlim(left=0)
    p99 = [row["p99_ms"] for row in rows]
    p50 = [row["p50_ms"] for row in rows]
    right.barh(positions, p99, color="tab:red", alpha=0.45, height=0.6, label="p99")
    right.barh(positions, p50, color="tab:red", height=0.3, label="p50")
    right.set_xlabel("latency per call (ms)", fontsize=10)
    right.set_title("Latency per call", fontsize=10)
    right.legend(fontsize=9, loc="lower right")
    left.set_yticks(positions, [name(v, two_lines=True) for v in venvs], fontsize=9)
    left.set_ylim(0.4, len(rows) + 0.7)
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=9)
    fig.suptitle(_throughput_title(rows), fontsize=11)
    return fig


def _concurrency(rows: Sequence[dict[str, Any]]) -> str:
    levels = sorted({row["concurrency"] for row in rows})
    return " and ".join(str(c) for c in levels) if levels else "?"
