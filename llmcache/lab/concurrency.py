"""In-process concurrency scenarios: the baselines against llmcache, with real constructors.

Constructors used (no ``sleep`` stands in for an SDK):

- :func:`real_construct`: ``ChatGoogleGenerativeAI`` 4.x built for real (fake key, loopback URL;
  construction contacts nothing), tens of ms.
- :func:`probing_construct`: google-auth's own metadata ping (``_metadata.ping`` with timeout 1 s
  and 1 attempt) against the lab's ``blackhole`` metadata server, then :func:`real_construct`:
  the ~1 s construction of an SDK that probes for ADC, as 3.x does at construction.
- :func:`failing_construct`: ``google.auth.default()`` against the lab's ``refuse`` metadata
  server: google-auth's 3 attempts with its 1 s and 2 s backoff, then
  ``DefaultCredentialsError``, about 3 s.

Call :func:`lab_metadata` first: it starts those servers on loopback and points google-auth's
``GCE_METADATA_IP`` at them (google-auth reads it at call time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from . import baselines, designs
from ._fresh import run_fresh
from .fake_metadata import MetadataServer
from .measure import Heartbeat

__all__ = [
    "DESIGNS",
    "FAILING_CALLERS",
    "Outcome",
    "failing_construct",
    "lab_metadata",
    "measure_concurrency",
    "probing_construct",
    "real_construct",
    "run_tasks",
    "run_threads",
    "run_two_loops",
    "warm_up",
]

DESIGNS = designs.names(designs.SCENARIOS)
"""The designs these scenarios compare (see :mod:`llmcache.lab.designs`)."""
THREAD_DESIGNS = ("functools.cache", "llmcache")
"""The designs with a sync API, which threads call."""
FAILING_CALLERS = 5
"""Callers of the failing build: each retry of the lock design costs google-auth's ~3 s."""
CANCEL_AFTER = 0.2
"""Seconds after which the first caller of the cancellation scenario gives up."""
_SERVERS: dict[str, MetadataServer] = {}
_METADATA_LOCK = threading.Lock()


@contextlib.contextmanager
def lab_metadata() -> Iterator[dict[str, MetadataServer]]:
    """Start ``blackhole`` and ``refuse`` metadata servers on loopback for the constructors."""
    with MetadataServer("blackhole") as blackhole, MetadataServer("refuse") as refuse:
        _SERVERS.update(blackhole=blackhole, refuse=refuse)
        try:
            yield dict(_SERVERS)
        finally:
            _SERVERS.clear()


def _point_metadata_at(mode: str) -> None:
    server = _SERVERS.get(mode)
    if server is None:
        raise RuntimeError("call inside `with lab_metadata():`")
    os.environ.update(server.env)


def warm_up() -> None:
    """Import the SDK and build once, so scenarios time constructions, not the ~1 s import
    (google-auth's metadata and requests transport too: the probing build uses them)."""
    from google.auth.compute_engine import _metadata  # noqa: F401
    from google.auth.transport.requests import Request  # noqa: F401

    real_construct()


def real_construct(model_name: str = "gemini-2.0-flash") -> Any:
    """A real ``ChatGoogleGenerativeAI`` (4.x), pointed at a closed loopback port."""
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model=model_name, google_api_key="lab-fake-key", base_url="http://127.0.0.1:9"
    )


def probing_construct(model_name: str = "gemini-2.0-flash") -> Any:
    """google-auth's real metadata ping (1 s timeout, 1 attempt, blackhole), then a build."""
    from google.auth.compute_engine import _metadata
    from google.auth.transport.requests import Request

    with _METADATA_LOCK:
        _point_metadata_at("blackhole")
    _metadata.ping(Request(), timeout=1, retry_count=1)  # type: ignore[no-untyped-call]
    return real_construct(model_name)


def failing_construct(model_name: str = "gemini-2.0-flash") -> Any:
    """``google.auth.default()`` with nothing to find: raises after google-auth's retries."""
    import google.auth

    with _METADATA_LOCK:
        _point_metadata_at("refuse")
    google.auth.default()
    return real_construct(model_name)


@dataclass
class Outcome:
    """What one scenario did."""

    design: str
    callers: int
    constructions: int = 0
    distinct_instances: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    worst_gap: float | None = None
    latencies: list[float] = field(default_factory=list)


class _Counter:
    def __init__(self, construct: Callable[[str], Any]) -> None:
        self.construct = construct
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, model_name: str) -> Any:
        with self._lock:
            self.calls += 1
        return self.construct(model_name)


def run_tasks(
    design: str,
    construct: Callable[[str], Any],
    callers: int,
    *,
    names: list[str] | None = None,
    cancel_first_after: float | None = None,
) -> Outcome:
    """``callers`` concurrent tasks in one fresh event loop ask for a model; a 1 ms heartbeat
    records the loop's worst gap. ``names`` spreads the callers over keys (default one key);
    ``cancel_first_after`` times the first caller out after that many seconds."""
    counter = _Counter(construct)
    get = designs.bind(design, counter).model
    keys = names or ["gemini-2.0-flash"]
    outcome = Outcome(design, callers)

    started = time.perf_counter()

    async def one(index: int) -> Any:
        try:
            if index == 0 and cancel_first_after is not None:
                model = await asyncio.wait_for(get(keys[0]), cancel_first_after)
            else:
                model = await get(keys[index % len(keys)])
        except Exception as exc:
            outcome.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
            return None
        finally:  # from the moment every caller asked, as an app's clock sees it
            outcome.latencies.append(time.perf_counter() - started)
        return model

    async def main() -> list[Any]:
        nonlocal started
        async with Heartbeat() as beat:
            started = time.perf_counter()
            models = await asyncio.gather(*(one(i) for i in range(callers)))
        outcome.worst_gap = beat.worst
        return list(models)

    start = time.perf_counter()
    models = run_fresh(main)
    outcome.seconds = time.perf_counter() - start
    outcome.constructions = counter.calls
    outcome.distinct_instances = len({id(m) for m in models if m is not None})
    baselines.reset()
    return outcome


def run_threads(design: str, construct: Callable[[str], Any], callers: int) -> Outcome:
    """``callers`` threads released together ask for one model through a sync API."""
    counter = _Counter(construct)
    bound = designs.bind(design, counter)
    if bound.get is None:
        raise ValueError(f"threads call a sync API, which {design!r} does not have")
    get: Callable[[str], Any] = bound.get

    outcome = Outcome(design, callers)
    models: list[Any] = []
    barrier = threading.Barrier(callers)
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        start = time.perf_counter()
        built = get("gemini-2.0-flash")
        with lock:
            models.append(built)
            outcome.latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    threads = [threading.Thread(target=call) for _ in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    outcome.seconds = time.perf_counter() - start
    outcome.constructions = counter.calls
    outcome.distinct_instances = len({id(m) for m in models})
    baselines.reset()
    return outcome


def run_two_loops(design: str, construct: Callable[[str], Any], callers: int = 3) -> list[str]:
    """Contend for a key in one ``asyncio.run``, then for another key in a second one.

    Returns each loop's result: ``"ok"`` or the error it raised.
    """
    counter = _Counter(construct)
    get = designs.bind(design, counter).model
    results = []
    for name in ("gemini-2.0-flash", "gemini-2.5-flash"):

        async def contend(key: str = name) -> None:
            await asyncio.gather(*(get(key) for _ in range(callers)))

        try:
            run_fresh(contend)
            results.append("ok")
        except Exception as exc:
            results.append(f"{type(exc).__name__}: {str(exc)[:160]}")
    baselines.reset()
    return results


class _Records(logging.Handler):
    """Keeps llmcache's log records, tagged with the scenario that emitted them, instead of
    printing them: a lab run shows them in its report, with context, not on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.scenario = ""
        self.kept: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(
            {
                "scenario": self.scenario,
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


@contextlib.contextmanager
def _kept_environment() -> Iterator[None]:
    """Give back ``os.environ`` as it was: the constructors point google-auth at servers that
    stop with the scenarios, and later measurements in this process must not inherit that."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def _build_in_running_loop() -> dict[str, Any]:
    """llmcache's ``aget`` awaited in a running loop (an app's), the probing build behind it,
    while a heartbeat records that loop's worst gap."""
    import llmcache

    cache = llmcache.ModelCache({"lab": lambda name, **_kw: probing_construct(name)})
    async with Heartbeat() as beat:
        started = time.perf_counter()
        model = await cache.aget("gemini-2.0-flash", "lab")
        seconds = time.perf_counter() - started
    return {"model": type(model).__name__, "build_seconds": seconds, "worst_gap": beat.worst}


def measure_concurrency(callers: int = 10) -> dict[str, Any]:
    """Every scenario of notebook 03, as JSON: the build awaited in a running loop
    (``app_loop``), then per scenario one :class:`Outcome` per design (``scenarios``), the two
    loops' outcomes (``two_loops``) and llmcache's log records (``log``)."""
    records = _Records()
    logger = logging.getLogger("llmcache")
    logger.addHandler(records)  # at its own level: what an app with no logging set up sees
    plans: dict[str, Callable[[], list[Outcome]]] = {
        "tasks": lambda: [run_tasks(d, real_construct, callers) for d in DESIGNS],
        "probing": lambda: [run_tasks(d, probing_construct, callers) for d in DESIGNS],
        "threads": lambda: [run_threads(d, real_construct, callers) for d in THREAD_DESIGNS],
        "failing": lambda: [run_tasks(d, failing_construct, FAILING_CALLERS) for d in DESIGNS],
        "cancelled": lambda: [
            run_tasks(d, probing_construct, callers, cancel_first_after=CANCEL_AFTER)
            for d in DESIGNS
        ],
        "keys": lambda: [
            run_tasks(d, probing_construct, 2, names=["gemini-2.0-flash", "gemini-2.5-flash"])
            for d in DESIGNS
        ],
    }
    scenarios: dict[str, list[dict[str, Any]]] = {}
    try:
        with _kept_environment(), lab_metadata():
            warm_up()
            records.scenario = "app_loop"
            app_loop = run_fresh(_build_in_running_loop)
            for name, scenario in plans.items():
                records.scenario = name
                scenarios[name] = [asdict(outcome) for outcome in scenario()]
            records.scenario = "two_loops"
            two_loops = []
            for design in DESIGNS:
                first, second = run_two_loops(design, real_construct)
                two_loops.append({"design": design, "first_loop": first, "second_loop": second})
    finally:
        logger.removeHandler(records)
    return {
        "callers": callers,
        "failing_callers": FAILING_CALLERS,
        "cancel_after": CANCEL_AFTER,
        "designs": list(DESIGNS),
        "app_loop": app_loop,
        "scenarios": scenarios,
        "two_loops": two_loops,
        "log": records.kept,
    }
