"""The ``loops`` experiment: does the model a design hands out work in every event loop, thread
and process that uses it?

Real SDK configurations (langchain-google-genai 4.x over aiohttp, 4.x over httpx only,
langchain-openai) call the lab's loopback fakes (no simulated latency) in the patterns apps use:

- ``asyncio.run x5``: five ``asyncio.run`` calls in a row (a CLI, a worker that runs each job so);
- ``loop per test``: an ``asyncio.Runner`` per test, two calls in each, as pytest-asyncio makes
  function-scoped loops;
- ``3 threads at once``: three threads, each running its own loop, calling together (a barrier
  starts each of their rounds);
- ``main + thread loop``: a main loop and a long-lived loop in a thread, calling at the same time
  (Jupyter with a worker thread, a sync framework with a background loop);
- ``fork after build``: the process builds and calls, then forks; the child calls twice while the
  parent calls again (gunicorn ``--preload``, ``multiprocessing`` with fork).

A call is "get the model through the design, then ``ainvoke``"; its outcome is ``ok`` or the type
name of the exception it raised (``Hang`` when its process stopped answering). The designs: a new
instance per call (``no-cache``), ``functools.cache`` and the asyncio.Lock design from
:mod:`llmcache.lab.designs`, and llmcache used as an app uses it: ``get_model_async`` of the
default cache with the SDK's keyword arguments, so that its built-in providers apply.

One probe per SDK configuration: a fresh process imports the SDK, builds nothing and runs no
loop, then, for each design, binds it and forks one child per pattern and round. Every pattern thus
starts as a fresh app process would (empty caches, no process-wide SDK client yet), without paying
the ~1 s import each time; the only thread at each of those forks is the main one.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import select
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from .measure import describe

__all__ = [
    "DESIGNS",
    "PATTERNS",
    "VENVS",
    "Record",
    "call_model",
    "design_call",
    "probe_loops",
    "run_pattern",
]

VENVS = ("lcgg-4.x", "lcgg-4.x-httpx", "openai")
"""The SDK configurations of :mod:`llmcache.lab.matrix` this experiment runs."""

DESIGNS = ("no-cache", "functools.cache", "asyncio.Lock", "llmcache")

CALL_TIMEOUT = 10.0
"""Seconds one call may take before it counts as ``TimeoutError``. A call takes milliseconds on
an idle machine; building a client per call from 3 threads took up to 4.7 s on a loaded one, so
only a call that waits on a wake-up that never comes reaches this."""
PATTERN_TIMEOUT = 120.0
"""Seconds a pattern's process may run before it is killed and its missing calls count as
``Hang``."""

Record = Callable[[str, dict[str, Any]], None]
"""``record(call_label, outcome)``: where a pattern reports each call."""
Call = Callable[[], Coroutine[Any, Any, dict[str, Any]]]
"""One call of the design's model; returns its outcome and never raises."""


async def call_model(get_model: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """Get the model and ``ainvoke`` it once: ``{"outcome", "seconds", "error"?}``."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CALL_TIMEOUT):
            model = await get_model()
            reply = await model.ainvoke("hello")
    except (Exception, asyncio.CancelledError) as exc:
        return _failed(exc, started)
    seconds = time.perf_counter() - started
    text = _text(reply.content)
    if text != "ok":  # the fakes always answer "ok": anything else is someone else's reply
        return {"outcome": "WrongReply", "seconds": seconds, "error": text[:200]}
    return {"outcome": "ok", "seconds": seconds}


def _text(content: Any) -> str:
    """A message's text, whether LangChain gives a string or a list of parts."""
    if isinstance(content, str):
        return content.strip()
    parts = content if isinstance(content, list) else [content]
    return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in parts).strip()


def _failed(exc: BaseException, started: float) -> dict[str, Any]:
    return {
        "outcome": type(exc).__name__,
        "seconds": time.perf_counter() - started,
        "error": describe(exc),
    }


def _guarded(run: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """``run()``'s outcome (``ok`` when it returns none), with an error of the loop machinery
    itself (``asyncio.run``, a runner's close...) as the outcome."""
    started = time.perf_counter()
    try:
        return run() or {"outcome": "ok", "seconds": time.perf_counter() - started}
    except Exception as exc:
        return _failed(exc, started)


# -- patterns ----------------------------------------------------------------------------------


def asyncio_run_x5(call: Call, record: Record) -> None:
    for i in range(5):
        record(f"run {i + 1}", _guarded(lambda: asyncio.run(call())))


def loop_per_test(call: Call, record: Record) -> None:
    for test in range(5):
        with asyncio.Runner() as runner:
            for i in range(2):
                record(f"test {test + 1} call {i + 1}", _guarded(lambda: runner.run(call())))


def threads_at_once(call: Call, record: Record, threads: int = 3, rounds: int = 3) -> None:
    barrier = threading.Barrier(threads, timeout=2 * CALL_TIMEOUT)

    def worker(index: int) -> None:
        async def main() -> None:
            for round_ in range(rounds):
                label = f"thread {index + 1} call {round_ + 1}"
                try:
                    barrier.wait()  # blocks this thread's own loop, which has nothing else to do
                except threading.BrokenBarrierError as exc:
                    record(label, _failed(exc, time.perf_counter()))
                    continue
                record(label, await call())

        outcome = _guarded(lambda: asyncio.run(main()))
        if outcome["outcome"] != "ok":
            record(f"thread {index + 1} loop", outcome)

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def main_and_thread_loop(call: Call, record: Record, rounds: int = 3) -> None:
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever, name="long-lived-loop")
    thread.start()

    async def main() -> None:
        for round_ in range(rounds):
            there = asyncio.run_coroutine_threadsafe(call(), other)
            here, away = await asyncio.gather(call(), asyncio.wrap_future(there))
            record(f"main loop call {round_ + 1}", here)
            record(f"thread loop call {round_ + 1}", away)

    try:
        outcome = _guarded(lambda: asyncio.run(main()))
        if outcome["outcome"] != "ok":
            record("main loop", outcome)
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join()
        other.run_until_complete(other.shutdown_asyncgens())
        other.close()


def fork_after_build(call: Call, record: Record) -> None:
    with asyncio.Runner() as runner:
        record("parent before fork", _guarded(lambda: runner.run(call())))

        def child(child_record: Record) -> None:
            async def two_calls() -> None:
                for i in range(2):
                    child_record(f"child call {i + 1}", await call())

            outcome = _guarded(lambda: asyncio.run(two_calls()))
            if outcome["outcome"] != "ok":
                child_record("child loop", outcome)

        forked = _Forked(child)
        record("parent after fork", _guarded(lambda: runner.run(call())))
        for label, outcome in forked.collect(PATTERN_TIMEOUT):
            record(label, outcome)


PATTERNS: dict[str, Callable[[Call, Record], None]] = {
    "asyncio.run x5": asyncio_run_x5,
    "loop per test": loop_per_test,
    "3 threads at once": threads_at_once,
    "main + thread loop": main_and_thread_loop,
    "fork after build": fork_after_build,
}


# -- forked children ---------------------------------------------------------------------------


class _Forked:
    """``body(record)`` run in a forked child; its records come back one JSON line each, so a
    child that hangs or dies keeps what it reported before."""

    def __init__(self, body: Callable[[Record], None]) -> None:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report, then leave without running the parent's cleanup
            os.close(read)
            status = 0
            try:
                lock = threading.Lock()

                def record(label: str, outcome: dict[str, Any]) -> None:
                    line = json.dumps({"call": label, **outcome}).encode() + b"\n"
                    with lock:
                        os.write(write, line)

                body(record)
            except BaseException as exc:
                status = 1
                line = json.dumps({"call": "child", **_failed(exc, time.perf_counter())})
                os.write(write, line.encode() + b"\n")
            finally:
                os._exit(status)
        os.close(write)
        self.pid, self.read = pid, read

    def collect(self, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """The child's records; ``Hang`` when it outlives ``timeout``, ``Crash`` when killed."""
        deadline = time.monotonic() + timeout
        data = b""
        hung = False
        with os.fdopen(self.read, "rb", buffering=0) as pipe:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    hung = True
                    break
                ready, _, _ = select.select([pipe], [], [], left)
                if not ready:
                    continue
                chunk = pipe.read(65536)
                if not chunk:
                    break
                data += chunk
        if hung:
            os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        records = []
        for line in data.decode().splitlines():
            entry = json.loads(line)
            records.append((entry.pop("call"), entry))
        if hung:
            records.append(("process", {"outcome": "Hang", "seconds": timeout}))
        elif os.WIFSIGNALED(status):
            signame = signal.Signals(os.WTERMSIG(status)).name
            records.append(("process", {"outcome": "Crash", "error": signame, "seconds": 0.0}))
        return records


def run_pattern(
    pattern: str,
    call: Call,
    builds: Callable[[], int] = lambda: 0,
    timeout: float = PATTERN_TIMEOUT,
) -> dict[str, Any]:
    """Run ``pattern`` in a forked child of this process: each call's outcome, and how many
    models ``builds()`` counted in that child."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {list(PATTERNS)}")
    started = time.perf_counter()

    def body(record: Record) -> None:
        PATTERNS[pattern](call, record)
        record("builds", {"outcome": "ok", "builds": builds()})

    records = _Forked(body).collect(timeout)
    return {
        "pattern": pattern,
        "calls": [{"call": label, **outcome} for label, outcome in records if label != "builds"],
        "builds": next((o["builds"] for label, o in records if label == "builds"), None),
        "seconds": time.perf_counter() - started,
    }


# -- the probe ---------------------------------------------------------------------------------


def design_call(
    design: str, config: dict[str, Any], servers: dict[str, Any]
) -> tuple[Call, Callable[[], int]]:
    """A call through ``design`` as an app writes it, and a counter of the models it built."""
    from . import designs
    from .sdk_under_test import MODEL, model_factory, model_kwargs

    sdk = config["sdk"]
    name = MODEL[sdk]
    if design == "llmcache":
        import llmcache

        kwargs = model_kwargs(config, servers)

        async def call_llmcache() -> dict[str, Any]:
            return await call_model(lambda: llmcache.get_model_async(name, sdk, **kwargs))

        return call_llmcache, lambda: llmcache.cache_stats().constructions
    build = model_factory(config, servers)
    built = [0]
    lock = threading.Lock()

    def counting_build(_model_name: str) -> Any:
        with lock:
            built[0] += 1
        return build()

    bound = designs.bind(design, counting_build, sdk)

    async def call_design() -> dict[str, Any]:
        return await call_model(lambda: bound.model(name))

    return call_design, lambda: built[0]


def probe_loops(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """Every design (``designs``, default all) in every pattern (``patterns``, default all),
    ``rounds`` times: each call's outcome."""
    from .sdk_under_test import sdk_module

    chosen = config.get("designs") or list(DESIGNS)
    unknown = [d for d in chosen if d not in DESIGNS]
    if unknown:
        raise ValueError(f"unknown design(s) {unknown}; expected some of {DESIGNS}")
    patterns = config.get("patterns") or list(PATTERNS)
    importlib.import_module(sdk_module(config["sdk"]))  # once, before every fork
    runs = []
    threads_at_fork = 0
    for design in chosen:
        call, builds = design_call(design, config, servers)  # binds; builds nothing here
        for round_ in range(int(config.get("rounds", 1))):
            for pattern in patterns:
                threads_at_fork = max(threads_at_fork, threading.active_count())
                result = run_pattern(pattern, call, builds)
                runs.append({"design": design, "round": round_, **result})
    return {"runs": runs, "threads_at_fork": threads_at_fork}
