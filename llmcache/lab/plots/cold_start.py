"""Figures of notebook 01 (the cold start): each takes a derived table as a DataFrame and returns
a Figure whose title states what its drawn numbers show, computed from them.

Sizes: at most 11 in wide at 100 dpi, so a figure is shown near full size in a 1,200 px page,
with tick labels and annotations of 9 pt or more.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = [
    "OUTCOMES",
    "app_designs",
    "first_request_by_auth_env",
    "langgraph_outcomes",
    "served_first_requests",
    "waterfall",
]

MAX_WIDTH = 11.0
"""Inches: 1,100 px at 100 dpi, inside a 1,200 px page."""
TICKS = 9
NOT_MEASURED = "not measured in this profile"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _seconds(value: float) -> str:
    """A duration as read at a glance: milliseconds below a tenth of a second."""
    return f"{value * 1e3:.0f} ms" if value < 0.1 else f"{value:.2f} s"


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(min(width, MAX_WIDTH), height), layout="constrained")


def served_first_requests(served: Any) -> Figure:
    """The example app under uvicorn: per auth environment and worker count, each design's time
    until its port accepts and its slowest first response, with its loop's worst gap."""
    panels = list(dict.fromkeys(zip(served["auth_env"], served["workers"], strict=True)))
    order = list(dict.fromkeys(served["design"]))
    fig = _figure(3.6 * len(panels) + 0.6, 1.0 + 0.42 * len(order) + 1.2)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (auth_env, workers) in zip(axes, panels, strict=True):
        part = served[(served["auth_env"] == auth_env) & (served["workers"] == workers)]
        part = part.set_index("design").reindex(order)
        for y, design in enumerate(order):
            row = part.loc[design]
            if _missing(row["accept_s"]):
                ax.text(0, y, " " + NOT_MEASURED, va="center", fontsize=TICKS, color="#777777")
                continue
            ax.barh(y, row["accept_s"], color="#bbbbbb")
            ax.barh(y, row["first_response_max_s"], left=row["accept_s"], color="tab:red")
            ax.annotate(
                f"loop {row['loop_worst_gap_s'] * 1e3:.0f} ms",
                (row["accept_s"] + row["first_response_max_s"], y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=TICKS,
            )
        ax.set_yticks(range(len(order)), order)
        ax.tick_params(labelsize=TICKS)
        ax.set_title(f"{auth_env}, {workers} worker{'s' if workers > 1 else ''}", fontsize=10)
        ax.set_xlabel("seconds from launch (measured)", fontsize=TICKS)
        ax.margins(x=0.35)
    axes[0].invert_yaxis()
    fig.legend(
        [Rectangle((0, 0), 1, 1, color="#bbbbbb"), Rectangle((0, 0), 1, 1, color="tab:red")],
        ["launch until the port accepts", "slowest first response, timed by the client"],
        loc="outside lower center",
        ncol=2,
        fontsize=TICKS,
    )
    key = served[served["auth_env"] == "api-key"]
    warmed = key[key["design"] == "llmcache-warmed"]["first_response_max_s"].dropna()
    others = key[key["design"] != "llmcache-warmed"]["first_response_max_s"].dropna()
    if len(warmed) and len(others):
        fig.suptitle(
            f"With an API key, warmed in the lifespan: first answers within {warmed.max():.2f} s"
            f" of the port opening; built at the first request: up to {others.max():.1f} s",
            fontsize=11,
        )
    else:
        fig.suptitle("First requests to the example app under uvicorn", fontsize=11)
    return fig


OUTCOMES = ("answered", "BlockingError", "other error", "server did not start")
"""The outcome of a langgraph run, in the colours' order."""


def outcome(row: Any) -> str:
    """What a case and design's first run under ``langgraph dev`` came to."""
    if _missing(row["ready_s"]):
        return "server did not start"
    if row["answered"]:
        return "answered"
    return "BlockingError" if row["blocking_errors"] else "other error"


def langgraph_outcomes(agent: Any) -> Figure:
    """A grid of case x design: the first run's outcome (colour), its time and BlockingErrors."""
    cases = list(dict.fromkeys(agent["case"]))
    designs = list(dict.fromkeys(agent["design"]))
    grid = agent.set_index(["case", "design"])
    fig = _figure(1.75 * len(designs) + 2.8, 0.6 * len(cases) + 2.0)
    ax = fig.subplots()
    colour = [[math.nan] * len(designs) for _ in cases]
    counts = dict.fromkeys(OUTCOMES, 0)
    for i, case in enumerate(cases):
        for j, design in enumerate(designs):
            if (case, design) not in grid.index:
                ax.text(j, i, "not measured", ha="center", va="center", fontsize=TICKS)
                continue
            row = grid.loc[(case, design)]
            what = outcome(row)
            counts[what] += 1
            colour[i][j] = OUTCOMES.index(what)
            label = f"{row['first_run_s']:.1f} s"
            if row["blocking_errors"]:
                label += f"\n{row['blocking_errors']} BlockingError"
            elif what != "answered":
                label += f"\n{str(row['error']).replace(' at start-up', '')}"
            ax.text(j, i, label, ha="center", va="center", fontsize=TICKS)
    palette = ListedColormap(["#a6dba0", "#f4a582", "#d9d9d9", "#bababa"])
    import numpy as np

    ax.imshow(
        np.ma.masked_invalid(np.array(colour, dtype=float)),
        cmap=palette,
        vmin=0,
        vmax=len(OUTCOMES) - 1,
        aspect="auto",
    )
    ax.grid(False)
    ax.set_xticks(range(len(designs)), designs)
    ax.set_yticks(range(len(cases)), cases)
    ax.tick_params(labelsize=TICKS)
    ax.set_xlabel("first run, timed by the client (measured; no simulated model latency)")
    shown = [k for k in range(len(OUTCOMES)) if counts[OUTCOMES[k]]]
    fig.legend(
        [Rectangle((0, 0), 1, 1, color=palette(k)) for k in shown],
        [f"{OUTCOMES[k]} ({counts[OUTCOMES[k]]})" for k in shown],
        loc="outside lower center",
        ncol=len(shown),
        fontsize=TICKS,
    )
    total = sum(counts.values())
    fig.suptitle(
        f"The agent under langgraph dev, blocking-call detection on: {counts['answered']} of"
        f" {total} case-design pairs answered, {counts['BlockingError']} raised BlockingError",
        fontsize=11,
    )
    return fig


def first_request_by_auth_env(auth: Any, venvs: Mapping[str, str]) -> Figure:
    """Per auth environment, each SDK's first request (construction + first call), hatched
    where it ends in an error. ``venvs`` maps the drawn venvs to their legend labels; rows of
    other venvs are left out, and so are auth environments none of them measured."""
    shown = auth[auth["venv"].isin(list(venvs))]
    order = list(dict.fromkeys(shown["auth_env"]))
    fig = _figure(10.5, 1.2 + 0.5 * len(order) + 0.8)
    ax = fig.subplots()
    height = 0.8 / max(len(venvs), 1)
    colours = ["tab:orange", "tab:blue", "tab:green", "tab:purple"]
    for i, (venv, label) in enumerate(venvs.items()):
        part = shown[shown["venv"] == venv].set_index("auth_env").reindex(order)
        ys = [y + (i - (len(venvs) - 1) / 2) * height for y in range(len(order))]
        bars = ax.barh(
            ys, part["first_request_s"], height=height, color=colours[i % 4], label=label
        )
        for bar, error, seconds in zip(bars, part["error"], part["first_request_s"], strict=True):
            if _missing(seconds):
                continue
            if error:
                bar.set_hatch("//")
            ax.annotate(
                _seconds(seconds),
                (seconds, bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=TICKS,
            )
    ax.set_yticks(range(len(order)), order)
    ax.tick_params(labelsize=TICKS)
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.set_xlabel(
        "first request: construction + first ainvoke (s, measured; hatched: ends in an error)",
        fontsize=TICKS,
    )
    ax.legend(loc="lower right", fontsize=TICKS)
    silent = shown[shown["auth_env"] == "adc-blackhole"]["first_request_s"].dropna()
    key = shown[shown["auth_env"] == "api-key"]["first_request_s"].dropna()
    if len(silent) and len(key):
        fig.suptitle(
            f"Without a key, a silent metadata server costs up to {silent.max():.0f} s before an"
            f" error; with an API key, at most {_seconds(key.max())}",
            fontsize=11,
        )
    else:
        fig.suptitle("The first request in each auth environment", fontsize=11)
    return fig


def waterfall(phases: Any, kinds: Sequence[str]) -> Figure:
    """One measured first request per row, phase after phase (import, construction, first
    ainvoke). ``kinds`` says per row whether it is an ``api-key`` or ``silent`` case (others:
    anything else), which the title compares."""
    fig = _figure(10.5, 1.4 + 0.55 * len(phases))
    ax = fig.subplots()
    labels = list(phases.index)
    left = [0.0] * len(labels)
    for column, colour in zip(
        ["import", "construction", "first ainvoke"],
        ["#999999", "#4c72b0", "#c44e52"],
        strict=True,
    ):
        values = [float(v) for v in phases[column]]
        ax.barh(labels, values, left=left, color=colour, label=column)
        left = [a + b for a, b in zip(left, values, strict=True)]
    for y, total in enumerate(left):
        ax.annotate(
            f"{total:.1f} s",
            (total, y),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=TICKS,
        )
    ax.invert_yaxis()
    ax.tick_params(labelsize=TICKS)
    ax.margins(x=0.08)
    ax.set_xlabel(
        "seconds in one fresh process, phase after phase (measured; no simulated model latency)",
        fontsize=TICKS,
    )
    ax.legend(loc="lower right", fontsize=TICKS)
    key = [t for t, k in zip(left, kinds, strict=True) if k == "api-key"]
    silent = [t for t, k in zip(left, kinds, strict=True) if k == "silent"]
    if key and silent:
        fig.suptitle(
            f"One measured first request per case: {max(key):.1f} s with an API key, up to"
            f" {max(silent):.0f} s with ADC and a silent metadata server",
            fontsize=11,
        )
    else:
        fig.suptitle("One measured first request per case", fontsize=11)
    return fig


def app_designs(app: Any, venvs: Mapping[str, str], ours: Sequence[str]) -> Figure:
    """Per SDK and auth environment, each design's slowest of N concurrent first requests and
    its loop's worst gap. ``venvs`` names the SDK venvs in panel titles; ``ours`` are the
    designs that build off the loop, which the title compares with the others."""
    designs = list(dict.fromkeys(app["design"]))
    groups = list(dict.fromkeys(zip(app["venv"], app["auth_env"], strict=True)))
    fig = _figure(2.6 * len(groups) + 1.6, 1.3 + 0.4 * len(designs) + 1.0)
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for ax, (venv, auth_env) in zip(axes, groups, strict=True):
        part = app[(app["venv"] == venv) & (app["auth_env"] == auth_env)]
        part = part.set_index("design").reindex(designs)
        ys = range(len(designs))
        ax.barh(ys, part["first_request_max_s"], color="tab:red", alpha=0.55)
        ax.barh(ys, part["loop_worst_gap_s"], color="black", height=0.35)
        for y, seconds in enumerate(part["first_request_max_s"]):
            if _missing(seconds):
                ax.text(0, y, " not measured", va="center", fontsize=TICKS, color="#777777")
        ax.set_yticks(list(ys), designs)
        ax.tick_params(labelsize=TICKS)
        ax.set_title(f"{venvs.get(venv, venv)}\n{auth_env}", fontsize=10)
        ax.set_xlabel("s from arrival (measured)", fontsize=TICKS)
    axes[0].invert_yaxis()
    fig.legend(
        [Rectangle((0, 0), 1, 1, color="tab:red", alpha=0.55), Rectangle((0, 0), 1, 1, color="k")],
        ["slowest of the first requests", "the event loop's worst gap meanwhile"],
        loc="outside lower center",
        ncol=2,
        fontsize=TICKS,
    )
    mine = app[app["design"].isin(list(ours))]["loop_worst_gap_s"].dropna()
    theirs = app[~app["design"].isin(list(ours))]["loop_worst_gap_s"].dropna()
    if len(mine) and len(theirs):
        fig.suptitle(
            f"The event loop's worst freeze: up to {theirs.max():.1f} s with the designs that"
            f" build on it, at most {mine.max() * 1e3:.0f} ms with llmcache (its own build thread)",
            fontsize=11,
        )
    else:
        fig.suptitle("N concurrent first requests through each design", fontsize=11)
    return fig
