"""Helpers the notebooks share: where their data comes from, and reproducible figures.

Data: when ``LLMCACHE_RESULTS`` names a folder (``make report`` sets it to the fresh ``full`` run),
the notebooks read it; otherwise :func:`results` runs the lab now, in this process, for the
experiments a notebook needs, into ``.lab/results/live-...`` (one folder per set of parameters,
re-used until ``remeasure=True`` or the folder is deleted; ``make test`` deletes it first).

Figures: :func:`save_figure` writes PNG and SVG with fixed metadata and SVG hash salt, so the
same data gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from . import REPO_ROOT, cli, tables

__all__ = [
    "FIGURE_STYLE",
    "figures_dir",
    "load_table",
    "results",
    "save_figure",
]

FIGURE_STYLE: dict[str, Any] = {
    "svg.hashsalt": "llmcache",
    "svg.fonttype": "none",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def results(
    experiments: list[str],
    *,
    profile: str = "quick",
    latency: float | None = None,
    concurrency: int | None = None,
    app_auth: list[str] | None = None,
    remeasure: bool = False,
) -> Path:
    """The folder holding these experiments' JSON, measuring now what is missing."""
    given = os.environ.get("LLMCACHE_RESULTS")
    if given:
        folder = Path(given)
        missing = [e for e in experiments if not (folder / f"{e}.json").exists()]
        if missing:
            raise FileNotFoundError(f"LLMCACHE_RESULTS={folder} lacks {missing}")
        return folder
    settings = json.dumps([profile, latency, concurrency, app_auth])
    tag = hashlib.sha256(settings.encode()).hexdigest()[:8]
    folder = REPO_ROOT / ".lab" / "results" / f"live-{profile}-{tag}"
    todo = [e for e in experiments if remeasure or not _complete(folder / f"{e}.json")]
    if todo:
        status = cli.run(
            profile,
            todo,
            folder,
            log=sys.stderr,
            latency=latency,
            concurrency=concurrency,
            app_auth=app_auth,
            show_summary=False,
        )
        if status != 0:
            print("some measurements failed: see 'error' in the JSON files", file=sys.stderr)
    return folder


def _complete(path: Path) -> bool:
    if not path.exists():
        return False
    return bool(json.loads(path.read_text()).get("complete"))


def load_table(folder: Path, experiment: str) -> list[dict[str, Any]]:
    """The derived table of one experiment (see :mod:`llmcache.lab.tables`)."""
    return tables.TABLES[experiment](tables.load(folder, experiment))


def figures_dir() -> Path | None:
    """Where to write figures: ``LLMCACHE_FIGURES`` (set by ``make report``), else nowhere."""
    given = os.environ.get("LLMCACHE_FIGURES")
    return Path(given) if given else None


def save_figure(figure: Any, name: str) -> None:
    """Write ``name``.png and ``name``.svg reproducibly, when a figures folder is set."""
    folder = figures_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    figure.savefig(folder / f"{name}.svg", metadata={"Date": None, "Creator": None})
    figure.savefig(folder / f"{name}.png", metadata={"Software": None})
