"""The investigation's answer is computed, never typed: README.md states what the committed data
gives, and its parts add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmcache.lab import answer, report
from llmcache.lab.notebook import COMMITTED, REPO_ROOT


def test_the_readme_states_the_answer_the_committed_data_gives(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text((REPO_ROOT / "README.md").read_text())
    changed = report.update_answer(readme, COMMITTED)
    assert not changed, "README.md's answer differs from reports/data: run make report-pages"


def test_the_parts_of_the_docker_defaults_add_up_to_their_total() -> None:
    for parts in answer.docker_defaults(COMMITTED).values():
        summed = parts["import"] + parts["sdk_own"] + parts["adc"] + parts["simulated"]
        assert summed == pytest.approx(parts["total"])
        assert parts["measured"] == pytest.approx(parts["total"] - parts["simulated"])


def test_a_page_without_the_markers_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# no markers\n")
    with pytest.raises(ValueError, match="answer:start"):
        report.update_answer(page, COMMITTED)
