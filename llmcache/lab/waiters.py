"""What many waiters cost while one cold build runs: llmcache's flight against a plain future.

``TASKS`` tasks on one event loop await one build that ends after ``BUILD_SECONDS``. The build is
simulated (a thread waiting on an ``Event`` for that long, no SDK), the same in both cases:

- ``plain future``: every task awaits one asyncio future that the build thread completes
  through ``call_soon_threadsafe``: the floor of waiting for anything done in a thread;
- ``llmcache``: every task awaits ``ModelCache.aget`` of one key whose factory is that build.

Per run: the process's CPU seconds from the first task's creation to the last answer (every
thread), the loop's worst gap meanwhile (:class:`~llmcache.lab.measure.Heartbeat`), and the wall
time. Each run is a fresh loop; cases alternate, so a change in the machine's load hits both.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from ._fresh import run_fresh
from .measure import Heartbeat

__all__ = ["BUILD_SECONDS", "CASES", "TASKS", "measure_waiters"]

TASKS = 5_000
BUILD_SECONDS = 1.5
CASES = ("plain future", "llmcache")
SIMULATED = f"the build is simulated: a thread that waits {BUILD_SECONDS:g} s, no SDK"


def _build(done: Callable[[], None], seconds: float) -> None:
    threading.Event().wait(seconds)  # the simulated build
    done()


async def _one_run(case: str, tasks: int, seconds: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    model = object()
    if case == "plain future":
        future: asyncio.Future[Any] = loop.create_future()

        def start() -> None:
            def done() -> None:
                loop.call_soon_threadsafe(future.set_result, model)

            threading.Thread(target=_build, args=(done, seconds), daemon=True).start()

        async def wait() -> Any:
            return await future

    else:
        import llmcache

        def factory(model_name: str) -> object:
            threading.Event().wait(seconds)  # the simulated build
            return model

        cache = llmcache.ModelCache({"simulated": factory})

        def start() -> None:
            pass  # the first aget starts the build

        async def wait() -> Any:
            return await cache.aget("m", "simulated")

    async with Heartbeat() as beat:
        cpu, wall = time.process_time(), time.perf_counter()
        start()
        waiters = [asyncio.ensure_future(wait()) for _ in range(tasks)]
        answers = await asyncio.gather(*waiters)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert all(answer is model for answer in answers)
    return {"cpu_seconds": cpu, "worst_gap": beat.worst, "wall_seconds": wall}


def measure_waiters(
    repeat: int = 3, tasks: int = TASKS, seconds: float = BUILD_SECONDS
) -> dict[str, Any]:
    """``{"runs": {case: [{"cpu_seconds", "worst_gap", "wall_seconds"}] * repeat}, ...}``."""
    runs: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
    for _ in range(repeat):
        for case in CASES:
            runs[case].append(run_fresh(lambda c=case: _one_run(c, tasks, seconds)))  # type: ignore[misc]
    return {"tasks": tasks, "build_seconds": seconds, "simulated": SIMULATED, "runs": runs}
