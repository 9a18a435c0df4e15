"""Helpers the notebooks share: where their data comes from, and reproducible figures.

Data, by default the committed report's: with ``PROFILE = "full"`` and no parameter changed,
:func:`results` returns ``reports/data``, so Run All reproduces the committed outputs in
seconds. Measuring live is a choice the notebook's parameters cell makes: ``PROFILE = "quick"``,
``REMEASURE = True``, or a changed parameter, which re-measures only the experiments that read it
(:data:`PARAMETERS`), into ``.lab/results/live-...`` (one folder per profile and settings, re-used
until re-measured or deleted; ``make test`` deletes them first), with a progress bar in the cell.
``make report`` sets ``LLMCACHE_RESULTS`` to its fresh run, which the notebooks then read.

Figures: :func:`save_figure` writes PNG and SVG with fixed metadata and SVG hash salt, so the
same data gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from . import REPO_ROOT, cli, tables

__all__ = [
    "COMMITTED",
    "FIGURE_STYLE",
    "PARAMETERS",
    "figures_dir",
    "load_table",
    "results",
    "save_figure",
    "sources",
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

COMMITTED = REPO_ROOT / "reports" / "data"
"""The committed report's data: what a notebook shows unless told to measure."""

PARAMETERS: dict[str, tuple[str, ...]] = {
    "app": ("latency", "concurrency", "app_auth"),
    "app_server": ("concurrency", "app_auth"),
    "concurrency": ("callers",),
}
"""The notebook parameters each experiment reads; the others read none of them."""


def sources(
    experiments: list[str],
    *,
    profile: str,
    remeasure: bool = False,
    **settings: Any,
) -> dict[str, Path | None]:
    """Per experiment, the committed folder to read, or None where it must be measured live.

    Raises ValueError for an unknown experiment or profile, so that a typo in a notebook's
    parameters cell is an error and not a silent full re-measurement.
    """
    from .experiments import EXPERIMENTS, PROFILES

    unknown = [e for e in experiments if e not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; expected some of {list(EXPERIMENTS)}")
    if profile not in PROFILES:
        raise ValueError(f"PROFILE must be one of {sorted(PROFILES)}, not {profile!r}")
    chosen: dict[str, Path | None] = {}
    for experiment in experiments:
        changed = _changed(experiment, settings)
        committed = profile == "full" and not remeasure and not changed
        chosen[experiment] = COMMITTED if committed else None
    return chosen


def _changed(experiment: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings this experiment reads that differ from the profile's (None: unchanged)."""
    return {
        name: settings[name]
        for name in PARAMETERS.get(experiment, ())
        if settings.get(name) is not None
    }


def _live_folder(experiment: str, profile: str, settings: dict[str, Any]) -> Path:
    key = json.dumps([profile, _changed(experiment, settings)], sort_keys=True)
    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
    return REPO_ROOT / ".lab" / "results" / f"live-{profile}-{tag}"


def results(
    experiments: list[str],
    *,
    profile: str = "full",
    latency: float | None = None,
    concurrency: int | None = None,
    app_auth: list[str] | None = None,
    callers: int | None = None,
    remeasure: bool = False,
) -> Path:
    """The folder holding these experiments' JSON: the committed data, or live measurements.

    Live measurements missing from their folder are made now, in this process, with a progress
    bar where the notebook shows it. When the experiments come from different folders (one
    parameter changed, say), they are gathered in one folder of copies under ``.lab/results``.
    """
    given = os.environ.get("LLMCACHE_RESULTS")
    if given:
        folder = Path(given)
        missing = [e for e in experiments if not (folder / f"{e}.json").exists()]
        if missing:
            raise FileNotFoundError(f"LLMCACHE_RESULTS={folder} lacks {missing}")
        return folder
    settings = {
        "latency": latency,
        "concurrency": concurrency,
        "app_auth": app_auth,
        "callers": callers,
    }
    chosen = sources(experiments, profile=profile, remeasure=remeasure, **settings)
    folders: dict[str, Path] = {}
    for experiment, committed in chosen.items():
        if committed is not None:
            if not (committed / f"{experiment}.json").exists():
                raise FileNotFoundError(
                    f"{committed} lacks {experiment}.json: run `make report`, or set "
                    'PROFILE = "quick" to measure it here'
                )
            folders[experiment] = committed
        else:
            folders[experiment] = _live_folder(experiment, profile, settings)
    todo: dict[Path, list[str]] = {}
    for experiment, folder in folders.items():
        if chosen[experiment] is None and (
            remeasure or not _complete(folder / f"{experiment}.json")
        ):
            todo.setdefault(folder, []).append(experiment)
    for folder, names in todo.items():
        _measure(names, folder, profile, settings)
    distinct = set(folders.values())
    if len(distinct) == 1:
        return distinct.pop()
    key = json.dumps(sorted((e, str(f)) for e, f in folders.items()))
    gathered = (
        REPO_ROOT / ".lab" / "results" / f"view-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
    )
    gathered.mkdir(parents=True, exist_ok=True)
    for experiment, folder in folders.items():
        shutil.copyfile(folder / f"{experiment}.json", gathered / f"{experiment}.json")
    return gathered


def _measure(experiments: list[str], folder: Path, profile: str, settings: dict[str, Any]) -> None:
    """Run the lab for these experiments, showing a progress bar (a notebook) or log lines."""
    bar = NotebookProgress.create(f"measuring {', '.join(experiments)} live ({profile} profile)")
    status = cli.run(
        profile,
        experiments,
        folder,
        io.StringIO() if bar is not None else sys.stderr,  # the bar says it all in a notebook
        latency=settings["latency"],
        concurrency=settings["concurrency"],
        app_auth=settings["app_auth"],
        callers=settings["callers"],
        show_summary=False,
        progress=bar,
    )
    if bar is not None:
        bar.close(failed=status != 0)
    elif status != 0:
        print("some measurements failed: see 'error' in the JSON files", file=sys.stderr)


class NotebookProgress:
    """The lab's progress in a notebook cell: an HTML progress bar updated in place, with the
    measurement running and the failures so far (no stderr log)."""

    def __init__(self, title: str, handle: Any) -> None:
        self.title = title
        self.handle = handle
        self.total = 0
        self.done = 0
        self.failed: list[str] = []
        self.current = ""
        self.started = time.monotonic()

    @classmethod
    def create(cls, title: str) -> NotebookProgress | None:
        """A bar in the running notebook's cell; None outside IPython."""
        try:
            from IPython import get_ipython
            from IPython.display import HTML, display
        except ImportError:
            return None
        if get_ipython() is None:
            return None
        handle = display(HTML(html.escape(title)), display_id=True)  # type: ignore[no-untyped-call]
        return cls(title, handle)

    def begin(self, total: int) -> None:
        self.total = total
        self._show()

    def start(self, what: str) -> None:
        self.current = what
        self._show()

    def finish(self, what: str, seconds: float, error: str | None = None) -> None:
        self.done += 1
        if error:
            self.failed.append(f"{what}: {error}")
        self.current = f"{what} ({seconds:.1f} s)"
        self._show()

    def close(self, *, failed: bool) -> None:
        self.current = "done" + (
            ": some measurements failed, see 'error' in the JSON" if failed else ""
        )
        self._show()

    def _show(self) -> None:
        from IPython.display import HTML

        elapsed = time.monotonic() - self.started
        lines = [
            f"<b>{html.escape(self.title)}</b>: {self.done}/{self.total} in {elapsed:.0f} s",
            f'<progress value="{self.done}" max="{max(self.total, 1)}" style="width: 100%">'
            "</progress>",
            f"<small>{html.escape(self.current)}</small>",
        ]
        lines += [f"<br><small>failed: {html.escape(f)}</small>" for f in self.failed[-5:]]
        self.handle.update(
            HTML(  # type: ignore[no-untyped-call]
                "\n".join(lines)
            )
        )


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
    """Write ``name``.png and ``name``.svg reproducibly, when a figures folder is set.

    Without one the figure is rendered the same way into memory: saving lays a figure out
    again, and the notebook's own picture of it must not depend on whether files were written
    (Run All in JupyterLab would otherwise change the committed outputs).
    """
    folder = figures_dir()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    svg: Any = folder / f"{name}.svg" if folder is not None else io.BytesIO()
    png: Any = folder / f"{name}.png" if folder is not None else io.BytesIO()
    figure.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    figure.savefig(png, format="png", metadata={"Software": None})
