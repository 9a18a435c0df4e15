"""The loops experiment records every call's outcome: ok, the exception's type name, or a hang."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from llmcache.lab import designs, loops, tables

pytestmark = pytest.mark.usefixtures("fresh_baselines")


class LoopBoundModel:
    """A fake chat model whose connection belongs to the first loop that used it, as a pooled
    httpx connection does."""

    def __init__(self, reply: str = "ok") -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reply = reply

    async def ainvoke(self, prompt: str) -> Any:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = loop
        elif self.loop is not loop:
            raise RuntimeError("Event loop is closed")
        return SimpleNamespace(content=self.reply)


def _through(design: str, reply: str = "ok") -> tuple[loops.Call, list[int]]:
    built = [0]

    def construct(_name: str) -> LoopBoundModel:
        built[0] += 1
        return LoopBoundModel(reply)

    bound = designs.bind(design, construct, "fake")

    async def call() -> dict[str, Any]:
        return await loops.call_model(lambda: bound.model("m"))

    return call, built


@pytest.mark.parametrize(
    ("design", "outcomes", "builds"),
    [
        ("functools.cache", ["ok"] + ["RuntimeError"] * 4, 1),
        ("no-cache", ["ok"] * 5, 5),
    ],
)
def test_asyncio_run_x5_records_each_calls_outcome_from_the_forked_pattern(
    design: str, outcomes: list[str], builds: int
) -> None:
    call, built = _through(design)
    result = loops.run_pattern("asyncio.run x5", call, lambda: built[0], timeout=60)
    assert [c["outcome"] for c in result["calls"]] == outcomes
    assert [c["call"] for c in result["calls"]] == [f"run {i}" for i in range(1, 6)]
    assert all("Event loop is closed" in c["error"] for c in result["calls"][1:] if "error" in c)
    assert result["builds"] == builds  # counted in the child, where the pattern ran
    assert built == [0]  # this process built nothing

    data = {
        "runs": [
            {"labels": {"venv": "v"}, "result": {"runs": [{"design": design, **result}]}},
            {"labels": {"venv": "w"}, "error": "ProbeError: boom"},
        ]
    }
    row, failed = tables.loops_table(data)
    assert (row["calls"], row["errors"], row["builds"]) == (
        5,
        outcomes.count("RuntimeError"),
        builds,
    )
    assert row["outcomes"] == ("RuntimeError 4" if builds == 1 else "")
    assert (failed["venv"], failed["calls"]) == ("w", 0)
    assert "boom" in failed["outcomes"]


def test_a_reply_that_is_not_the_fakes_counts_as_wrong_reply() -> None:
    call, _ = _through("functools.cache", reply="someone else's answer")
    outcome = asyncio.run(call())
    assert outcome["outcome"] == "WrongReply"


def test_a_pattern_whose_process_stops_answering_is_recorded_as_a_hang() -> None:
    async def blocked_call() -> dict[str, Any]:
        threading.Event().wait()  # blocks the loop itself: no asyncio timeout can fire
        raise AssertionError("unreachable")

    result = loops.run_pattern("asyncio.run x5", blocked_call, timeout=1.0)
    assert [(c["call"], c["outcome"]) for c in result["calls"]] == [("process", "Hang")]
