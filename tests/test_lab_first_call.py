"""The first_call experiment's instruments and tables: what they record and how they summarise."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from typing import Any

import pytest

from llmcache.lab.first_call import (
    LazyWorkRecorder,
    SlowCallbacks,
    attribution_table,
    first_call_table,
)


def test_recorder_lists_an_import_and_a_schema_build_with_their_call_site(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pydantic

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)

    class Deferred(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(defer_build=True)
        x: int

    recorder = LazyWorkRecorder().install()
    try:
        with recorder.record() as events:
            importlib.import_module("colorsys")
            Deferred(x=1)  # the first validation builds the deferred schema
            importlib.import_module("colorsys")  # already loaded: not work
    finally:
        recorder.uninstall()
    kinds = [(e["kind"], e["what"]) for e in events]
    assert kinds == [
        ("import", "colorsys"),
        ("schema build", f"{__name__}.{Deferred.__qualname__}"),
    ]
    assert all(e["ms"] > 0 and "test_lab_first_call.py" in e["where"] for e in events)  # timed


def test_recorder_ignores_other_threads_and_restores_what_it_wrapped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib._bootstrap as bootstrap
    import threading

    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    original = bootstrap._find_and_load
    recorder = LazyWorkRecorder().install()
    try:
        with recorder.record() as events:
            thread = threading.Thread(target=importlib.import_module, args=("colorsys",))
            thread.start()
            thread.join()
    finally:
        recorder.uninstall()
    assert "colorsys" in sys.modules
    assert events == []
    assert bootstrap._find_and_load is original


def test_slow_callbacks_collects_asyncio_debug_records() -> None:
    import time

    slow = SlowCallbacks()

    async def main() -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        with slow.on(loop) as records:
            await asyncio.sleep(0)
            time.sleep(0.02)  # noqa: ASYNC251 -- the blocking step under test
            await asyncio.sleep(0)
        return records

    logging.getLogger("asyncio").setLevel(logging.WARNING)
    records = asyncio.run(main())
    assert records and max(r["ms"] for r in records) >= 20


def _run(venv: str, prepare: bool, gaps: tuple[float, float], **extra: Any) -> dict[str, Any]:
    attribute = "lazy" in extra
    result: dict[str, Any] = {
        "request_1": {"seconds": 0.1, "worst_gap": gaps[0]},
        "request_2": {"seconds": 0.01, "worst_gap": gaps[1]},
    }
    if attribute:
        result["request_1"]["lazy_work"] = extra["lazy"]
    labels = {"venv": venv, "prepare": prepare, "attribute": attribute, "run": 0}
    return {"labels": labels, "result": result}


def test_tables_give_per_process_ratios_and_call_sites_by_time() -> None:
    event = {"kind": "schema build", "what": "m.Part", "where": "a.py:1 f", "ms": 30.0}
    data = {
        "runs": [
            _run("lcgg-4.x", False, (0.100, 0.005)),
            _run("lcgg-4.x", False, (0.090, 0.003)),
            _run("lcgg-4.x", True, (0.006, 0.005)),
            _run("lcgg-4.x", False, (1.0, 1.0), lazy=[event, {**event, "ms": 10.0}]),
            _run("lcgg-4.x", True, (1.0, 1.0), lazy=[]),
            {"labels": {"venv": "lcgg-4.x", "prepare": True, "attribute": False}, "error": "x"},
        ]
    }
    rows = {row["prepare"]: row for row in first_call_table(data)}
    assert rows[False]["runs"] == 2  # attribution runs never count in the ratios
    assert rows[False]["ratio_median"] == pytest.approx((20 + 30) / 2)
    assert rows[True]["ratio_median"] == pytest.approx(1.2)
    attribution = attribution_table(data)
    assert [(r["prepare"], r["kind"], r["ms"]) for r in attribution] == [
        (False, "schema build", 40.0),
        (False, "total", 40.0),
        (True, "total", 0),
    ]
