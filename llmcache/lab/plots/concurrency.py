"""Notebook 03's figures: concurrency scenarios, hit cost, waiters, event loops, first call.

Each function takes rows of a derived table (:mod:`llmcache.lab.tables`) and returns a Figure
whose title is computed from the plotted numbers. Figures are 10-11 in wide at 100 dpi, so a
1,200 px report shows them at about their size, with tick labels of 9 pt or more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "plot_first_call",
    "plot_hit_cost",
    "plot_loop_gap",
    "plot_loops",
    "plot_providers",
    "plot_waiters",
]

Row = dict[str, Any]
WIDTH = 10.5
FONT = 10


def _by(rows: Sequence[Row], key: str) -> dict[Any, Row]:
    return {row[key]: row for row in rows}


def _label_bars(ax: Any, bars: Any, texts: Sequence[str]) -> None:
    for bar, text in zip(bars, texts, strict=True):
        ax.annotate(
            text,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=FONT - 1,
        )


def plot_loop_gap(probing: Sequence[Row]) -> Figure:
    """Per design, with the probing build: seconds until every caller was served (left) and
    the loop's worst gap (right, log scale: milliseconds beside a second)."""
    designs = [row["design"] for row in probing]
    served = [row["seconds"] for row in probing]
    gaps = [row["worst_gap_ms"] for row in probing]
    fig, (ax_served, ax_gap) = plt.subplots(1, 2, figsize=(WIDTH, 3.4), sharey=True)
    y = np.arange(len(designs))
    bars = ax_served.barh(y, served, color="tab:gray")
    _label_bars(ax_served, bars, [f"{s:.2f} s" for s in served])
    ax_served.set_yticks(y, designs, fontsize=FONT)
    ax_served.invert_yaxis()
    ax_served.set_xlabel("seconds until every caller had its model", fontsize=FONT)
    ax_served.set_xlim(0, max(served) * 1.3)
    colors = ["tab:green" if g < 50 else "tab:red" for g in gaps]
    bars = ax_gap.barh(y, gaps, color=colors)
    _label_bars(ax_gap, bars, [f"{g:,.0f} ms" for g in gaps])
    ax_gap.set_xscale("log")
    ax_gap.set_xlim(1, max(gaps) * 8)
    ax_gap.set_xlabel("loop's worst gap meanwhile, ms (log scale)", fontsize=FONT)
    by = _by(probing, "design")
    lock, ours = by["asyncio.Lock"], by["llmcache"]
    fig.suptitle(
        f"{ours['callers']:.0f} callers, a build that probes the metadata server: the "
        f"asyncio.Lock design stalls the loop {lock['worst_gap_ms'] / 1e3:.2f} s, "
        f"llmcache {ours['worst_gap_ms']:.0f} ms (measured)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def plot_hit_cost(hits: Sequence[Row]) -> Figure:
    """ns per hit of each API, without and with the four kwargs; the legend sits above the
    bars, where it hides none of them."""
    fig, ax = plt.subplots(figsize=(WIDTH, 0.42 * len(hits) + 1.6))
    y = np.arange(len(hits))
    plain = [row["ns_no_kwargs"] for row in hits]
    kwargs = [row["ns_4_kwargs"] for row in hits]
    ax.barh(y - 0.2, plain, height=0.4, color="tab:blue", label="no kwargs")
    bars = ax.barh(y + 0.2, kwargs, height=0.4, color="tab:orange", label="the four kwargs")
    _label_bars(ax, bars, [f"{k:,.0f}" for k in kwargs])
    ax.set_yticks(y, [row["design"] for row in hits], fontsize=FONT)
    ax.invert_yaxis()
    ax.set_xlim(0, max(kwargs + plain) * 1.15)
    repeats = max(row["repeats"] for row in hits)
    ax.set_xlabel(f"ns per cache hit (median of {repeats} interleaved repeats)", fontsize=FONT)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    by = _by(hits, "design")
    ours = by["get_model_async"]
    fig.suptitle(
        f"With the four kwargs, an awaited get_model_async hit costs "
        f"{ours['ns_4_kwargs']:,.0f} ns, {ours['x_baseline_4_kwargs']:.2f}x "
        "the asyncio.Lock design's (measured)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def plot_waiters(waits: Sequence[Row]) -> Figure:
    """CPU seconds and the loop's worst gap while the waiters await one simulated build."""
    designs = [row["design"] for row in waits]
    colors = ["tab:gray" if d == "plain future" else "tab:green" for d in designs]
    fig, (ax_cpu, ax_gap) = plt.subplots(1, 2, figsize=(WIDTH, 3.4))
    bars = ax_cpu.bar(designs, [row["cpu_seconds"] for row in waits], color=colors)
    ax_cpu.bar_label(bars, [f"{row['cpu_seconds']:.3f} s" for row in waits], fontsize=FONT - 1)
    ax_cpu.set_ylabel("CPU seconds (all threads)", fontsize=FONT)
    bars = ax_gap.bar(designs, [row["worst_gap_ms"] for row in waits], color=colors)
    ax_gap.bar_label(bars, [f"{row['worst_gap_ms']:.0f} ms" for row in waits], fontsize=FONT - 1)
    ax_gap.set_ylabel("loop's worst gap (ms)", fontsize=FONT)
    for ax in (ax_cpu, ax_gap):
        ax.tick_params(labelsize=FONT)
        ax.margins(y=0.15)
    ours = _by(waits, "design")["llmcache"]
    fig.suptitle(
        f"{ours['tasks']:,} tasks awaiting one SIMULATED {ours['build_seconds']:g} s build: "
        f"llmcache costs {ours['x_plain_cpu']:.2f}x the CPU and {ours['x_plain_gap']:.2f}x the "
        f"loop stall of a plain future (median of {ours['repeats']} runs)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def plot_loops(
    outcomes: Sequence[Row],
    venvs: Sequence[str],
    designs: Sequence[str],
    patterns: Sequence[str],
) -> Figure:
    """Failed calls / calls per SDK, design and pattern; only the designs measured get a row
    (the caller says which others the profile left out)."""
    measured = [d for d in designs if any(r["design"] == d for r in outcomes)]
    grid = {(r["venv"], r["design"], r["pattern"]): r for r in outcomes}
    fig, axes = plt.subplots(
        1,
        len(venvs),
        figsize=(WIDTH + 0.5, 0.45 * len(measured) + 2.6),
        sharey=True,
        squeeze=False,
    )
    failed = calls = 0
    for ax, venv in zip(axes[0], venvs, strict=True):
        share = np.full((len(measured), len(patterns)), np.nan)
        for i, design in enumerate(measured):
            for j, pattern in enumerate(patterns):
                cell = grid.get((venv, design, pattern))
                if cell is None:
                    ax.text(j, i, "-", ha="center", va="center", fontsize=FONT - 1)
                    continue
                failed, calls = failed + cell["errors"], calls + cell["calls"]
                share[i, j] = cell["errors"] / max(cell["calls"], 1)
                text = f"{cell['errors']}/{cell['calls']}"
                ax.text(j, i, text, ha="center", va="center", fontsize=FONT - 1)
        ax.imshow(share, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(patterns)), list(patterns), rotation=35, ha="right", fontsize=9)
        ax.set_yticks(range(len(measured)), measured, fontsize=FONT)
        ax.set_title(venv, fontsize=FONT)
        ax.grid(False)
    fig.suptitle(
        f"Failed calls / calls per SDK, design and pattern: {failed} of {calls} calls failed "
        "(measured)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def plot_first_call(first: Sequence[Row]) -> Figure:
    """The loop's worst gap during the first and the second request after warm, per SDK,
    without and with prepare, with the median ratio first/second above each pair."""
    labels = [f"{r['venv']}\n{'with' if r['prepare'] else 'no'} prepare" for r in first]
    x = np.arange(len(first))
    fig, ax = plt.subplots(figsize=(WIDTH, 3.8))
    firsts = [r["first_gap_ms"] for r in first]
    ax.bar(x - 0.2, firsts, width=0.4, color="tab:red", label="1st request")
    ax.bar(x + 0.2, [r["second_gap_ms"] for r in first], width=0.4, color="tab:blue")
    ax.containers[-1].set_label("2nd request")
    for i, row in enumerate(first):
        ax.annotate(
            f"{row['ratio_median']:.1f}x",
            (i - 0.2, row["first_gap_ms"]),
            ha="center",
            va="bottom",
            fontsize=FONT - 1,
        )
    ax.set_xticks(x, labels, fontsize=FONT)
    ax.set_ylim(0, max(firsts) * 1.2)
    ax.set_ylabel("loop's worst gap, ms (median)", fontsize=FONT)
    ax.legend(loc="upper right", fontsize=FONT)
    by = {(r["venv"], r["prepare"]): r for r in first}
    parts = [
        f"{venv} {by[venv, False]['first_gap_ms']:.0f} -> {by[venv, True]['first_gap_ms']:.0f} ms"
        for venv in dict.fromkeys(r["venv"] for r in first)
        if (venv, False) in by and (venv, True) in by
    ]
    runs = max(r["runs"] for r in first)
    fig.suptitle(
        f"First request after warm, loop's worst gap with prepare: {'; '.join(parts)} "
        f"(median of {runs} processes)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig


def plot_providers(
    outcomes: Sequence[Row],
    providers: Sequence[str],
    designs: Sequence[str],
    patterns: Sequence[str],
) -> Figure:
    """Failed calls / calls per provider and pattern, one panel per measured design, two
    panels a row so that the cells stay legible at a report's width."""
    measured = [d for d in designs if any(r["design"] == d for r in outcomes)]
    shown = [p for p in providers if any(r["provider"] == p for r in outcomes)]
    grid = {(r["provider"], r["design"], r["pattern"]): r for r in outcomes}
    columns = min(2, len(measured))
    rows = -(-len(measured) // columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(WIDTH if columns > 1 else WIDTH * 0.6, rows * (0.32 * len(shown) + 1.9) + 0.4),
        squeeze=False,
    )
    failed = calls = 0
    for index, ax in enumerate(axes.flat):
        if index >= len(measured):
            ax.set_visible(False)
            continue
        design = measured[index]
        share = np.full((len(shown), len(patterns)), np.nan)
        for i, provider in enumerate(shown):
            for j, pattern in enumerate(patterns):
                cell = grid.get((provider, design, pattern))
                if cell is None:
                    ax.text(j, i, "-", ha="center", va="center", fontsize=9)
                    continue
                failed, calls = failed + cell["errors"], calls + cell["calls"]
                share[i, j] = cell["errors"] / max(cell["calls"], 1)
                text = f"{cell['errors']}/{cell['calls']}"
                ax.text(j, i, text, ha="center", va="center", fontsize=9)
        ax.imshow(share, cmap="Reds", vmin=0, vmax=1, aspect="auto")
        last_row = index >= len(measured) - columns
        ax.set_xticks(
            range(len(patterns)),
            list(patterns) if last_row else [""] * len(patterns),
            rotation=25,
            ha="right",
            fontsize=9,
        )
        ax.set_yticks(range(len(shown)), shown, fontsize=9)
        ax.set_title(design, fontsize=FONT)
        ax.grid(False)
    fig.suptitle(
        f"Failed calls / calls per provider, design and pattern: {failed} of {calls} calls failed "
        "(measured)",
        fontsize=FONT + 1,
    )
    fig.tight_layout()
    return fig
