"""Where a notebook's data comes from: the committed report unless the reader asks to measure,
and then only the experiments a changed parameter affects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmcache.lab import notebook


@pytest.fixture
def lab_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A committed folder with every experiment, live folders under tmp_path, and a record of
    what would have been measured (no lab run)."""
    committed = tmp_path / "reports" / "data"
    committed.mkdir(parents=True)
    for name in ("sdk", "auth", "app", "app_server", "concurrency"):
        (committed / f"{name}.json").write_text(json.dumps({"complete": True, "from": "committed"}))
    monkeypatch.setattr(notebook, "COMMITTED", committed)
    monkeypatch.setattr(notebook, "REPO_ROOT", tmp_path)
    monkeypatch.delenv("LLMCACHE_RESULTS", raising=False)
    measured: list[tuple[list[str], str, dict[str, Any]]] = []

    def fake_measure(
        experiments: list[str], folder: Path, profile: str, settings: dict[str, Any]
    ) -> None:
        measured.append((experiments, profile, settings))
        folder.mkdir(parents=True, exist_ok=True)
        for name in experiments:
            (folder / f"{name}.json").write_text(json.dumps({"complete": True, "from": "live"}))

    monkeypatch.setattr(notebook, "_measure", fake_measure)
    return {"committed": committed, "measured": measured}


def _origin(folder: Path, experiment: str) -> str:
    return str(json.loads((folder / f"{experiment}.json").read_text())["from"])


def test_default_parameters_read_the_committed_report_and_measure_nothing(
    lab_folders: dict[str, Any],
) -> None:
    folder = notebook.results(["sdk", "auth", "app"])
    assert folder == lab_folders["committed"]
    assert lab_folders["measured"] == []


def test_a_changed_parameter_remeasures_only_the_experiments_that_read_it(
    lab_folders: dict[str, Any],
) -> None:
    folder = notebook.results(["sdk", "auth", "app"], concurrency=5)
    assert [m[0] for m in lab_folders["measured"]] == [["app"]]
    assert _origin(folder, "app") == "live"
    assert _origin(folder, "sdk") == "committed" and _origin(folder, "auth") == "committed"
    # measured once: the same parameters again re-use the live folder
    notebook.results(["app"], concurrency=5)
    assert len(lab_folders["measured"]) == 1


def test_a_changed_callers_count_remeasures_only_the_concurrency_scenarios(
    lab_folders: dict[str, Any],
) -> None:
    folder = notebook.results(["concurrency", "sdk", "app"], callers=3)
    assert [(m[0], m[2]["callers"]) for m in lab_folders["measured"]] == [(["concurrency"], 3)]
    assert _origin(folder, "concurrency") == "live"
    assert _origin(folder, "sdk") == "committed" and _origin(folder, "app") == "committed"


def test_the_quick_profile_and_remeasure_measure_live(lab_folders: dict[str, Any]) -> None:
    quick = notebook.results(["sdk"], profile="quick")
    assert _origin(quick, "sdk") == "live"
    again = notebook.results(["sdk"], profile="full", remeasure=True)
    assert _origin(again, "sdk") == "live"
    assert [m[1] for m in lab_folders["measured"]] == ["quick", "full"]


def test_a_typo_in_the_parameters_is_an_error_not_a_full_remeasurement(
    lab_folders: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="PROFILE"):
        notebook.results(["sdk"], profile="ful")
    with pytest.raises(ValueError, match="unknown experiment"):
        notebook.results(["skd"])
    assert lab_folders["measured"] == []


def test_missing_committed_data_says_how_to_get_it(lab_folders: dict[str, Any]) -> None:
    (lab_folders["committed"] / "sdk.json").unlink()
    with pytest.raises(FileNotFoundError, match="make report"):
        notebook.results(["sdk"])


def test_the_committed_report_has_every_experiment_a_notebook_reads() -> None:
    from llmcache.lab.experiments import EXPERIMENTS

    present = {p.stem for p in notebook.COMMITTED.glob("*.json")}
    assert set(EXPERIMENTS) <= present


def test_a_figure_looks_the_same_in_the_notebook_whether_or_not_files_are_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving lays a figure out again: Run All without a figures folder must show the picture
    ``make report`` committed, or JupyterLab's autosave changes the notebook."""
    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.pylabtools import print_figure

    from llmcache.lab import tables
    from llmcache.lab.plots import sdk

    raw = tables.load(notebook.COMMITTED, "sdk")

    def shown(figures: Path | None) -> bytes:
        if figures is None:
            monkeypatch.delenv("LLMCACHE_FIGURES", raising=False)
        else:
            monkeypatch.setenv("LLMCACHE_FIGURES", str(figures))
        figure = sdk.runs_figure(raw)
        notebook.save_figure(figure, "runs")
        return bytes(print_figure(figure, "png", bbox_inches="tight"))

    assert shown(tmp_path / "figures") == shown(None)
    assert (tmp_path / "figures" / "runs.png").exists()
