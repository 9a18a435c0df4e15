"""The report's README and the project's findings block are generated from the raw data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmcache.lab import REPO_ROOT, report

DATA = REPO_ROOT / "reports" / "data"


@pytest.mark.skipif(not (DATA / "auth.json").exists(), reason="no committed report data")
def test_report_readme_and_findings_come_from_the_committed_data(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    shutil.copytree(DATA, report_dir / "data")
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{report.START}\nold\n{report.END}\n\nrest\n")

    written = report.write_report_readme(report_dir)
    report.update_readme(readme, report_dir)

    text = written.read_text()
    assert "**First request" in text
    assert "simulated model latency" in text
    updated = readme.read_text()
    assert "old" not in updated
    assert "In short:" in updated
    assert updated.endswith("rest\n")
    # the committed README carries exactly what the committed data gives
    committed = (REPO_ROOT / "README.md").read_text()
    assert report.headline(DATA) in committed


def test_update_readme_refuses_a_file_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):
        report.update_readme(readme, tmp_path)
