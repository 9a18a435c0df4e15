"""The first request after ``warm``: how long it blocks the event loop, what blocks it, and
what :mod:`llmcache._prepare` takes off it.

A fresh-process probe (mode ``first_call`` of :mod:`llmcache.lab.process_probe`): the model is
built by ``ModelCache.awarm`` in its build thread (with the SDK's ``prepare_*`` run there right
after construction when ``prepare`` is true), then the app serves two requests, one after the
other, on the same loop. The heartbeat records the loop's worst gap during each: the first
request's work that the second skips is once-per-process SDK work done on the loop.

With ``attribute`` true, the probe also records, on the loop's thread only, every outermost
piece of lazy work during each request (imports, pydantic schema builds, ``get_type_hints``,
SSL contexts) with its wall time and the SDK call site that triggered it, and asyncio's debug
log of slow callbacks. Those runs are slowed by the instruments: their gaps are not used for
the before/after ratios.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import ssl
import statistics
import sys
import threading
import time
import typing
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .measure import Heartbeat, atimed, short_path

__all__ = [
    "LazyWorkRecorder",
    "SlowCallbacks",
    "attribution_table",
    "first_call_table",
    "probe_first_call",
]

SLOW_CALLBACK_SECONDS = 0.005
"""asyncio's debug log reports every loop step longer than this."""

_NOT_CALL_SITES = (
    "/pydantic/",
    "/pydantic_core/",
    "/typing_extensions.py",
    "/llmcache/lab/",
    "<frozen",
)


def _call_site(stdlib: str) -> str:
    """The innermost frame of SDK code (not stdlib, pydantic, typing or the lab) on the stack."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if not name.startswith(stdlib) and not any(part in name for part in _NOT_CALL_SITES):
            return f"{short_path(name)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


class LazyWorkRecorder:
    """Records once-per-process work done on one thread, outermost pieces only, with wall time.

    Kinds: ``import`` (``importlib._bootstrap._find_and_load``, which the import statement looks
    up at each call), ``schema build`` (pydantic's ``complete_model_class``: a deferred model
    built at first use), ``type hints`` (``typing.get_type_hints``) and ``ssl context``
    (``ssl.create_default_context``). Work nested in another recorded piece counts in its parent.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.recording = False
        self._thread = threading.get_ident()
        self._depth = 0
        self._stdlib = os.path.dirname(os.__file__)
        self._restore: list[Callable[[], None]] = []

    def _wrap(
        self,
        owner: Any,
        attr: str,
        kind: str,
        what: Callable[..., str],
        skip: Callable[..., bool] | None = None,
    ) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not self.recording or threading.get_ident() != self._thread:
                return original(*args, **kwargs)
            if skip is not None and self._depth == 0 and _safe(skip, *args):
                return original(*args, **kwargs)
            outermost = self._depth == 0
            site = _call_site(self._stdlib) if outermost else ""
            self._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._depth -= 1
                if outermost:
                    ms = (time.perf_counter() - start) * 1e3
                    label = _safe(what, *args)
                    self.events.append({"kind": kind, "what": label, "where": site, "ms": ms})

        setattr(owner, attr, wrapper)
        self._restore.append(lambda: setattr(owner, attr, original))

    def install(self) -> LazyWorkRecorder:
        import importlib._bootstrap as bootstrap

        from pydantic._internal import _model_construction

        self._wrap(
            bootstrap,
            "_find_and_load",
            "import",
            lambda name, *_: str(name),
            skip=lambda name, *_: name in sys.modules,  # importlib.import_module of a loaded one
        )
        self._wrap(
            _model_construction,
            "complete_model_class",
            "schema build",
            lambda cls, *_: f"{cls.__module__}.{cls.__qualname__}",
        )
        self._wrap(typing, "get_type_hints", "type hints", lambda obj, *_: _qualname(obj))
        self._wrap(ssl, "create_default_context", "ssl context", lambda *_: "")
        return self

    def uninstall(self) -> None:
        while self._restore:
            self._restore.pop()()

    @contextmanager
    def record(self) -> Iterator[list[dict[str, Any]]]:
        """Record during the block; yield the list the block's events go to."""
        self.events = []
        self.recording = True
        try:
            yield self.events
        finally:
            self.recording = False


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def _safe(what: Callable[..., Any], *args: Any) -> Any:
    try:
        return what(*args)
    except Exception:
        return "?"


class SlowCallbacks(logging.Handler):
    """Collects asyncio's debug-mode ``Executing <handle> took N seconds`` records."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args
        if record.msg == "Executing %s took %.3f seconds" and isinstance(args, tuple):
            handle, seconds = args
            self.records.append({"ms": float(str(seconds)) * 1e3, "handle": str(handle)[:300]})

    @contextmanager
    def on(self, loop: asyncio.AbstractEventLoop) -> Iterator[list[dict[str, Any]]]:
        """asyncio debug mode and this handler during the block."""
        self.records = []
        asyncio_log = logging.getLogger("asyncio")
        asyncio_log.addHandler(self)
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
        try:
            yield self.records
        finally:
            loop.set_debug(False)
            asyncio_log.removeHandler(self)


def _preparer(sdk: str) -> Callable[[Any], None]:
    from llmcache import _prepare

    return _prepare.prepare_google if sdk == "google" else _prepare.prepare_openai


def probe_first_call(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """Warm the model through llmcache, then two requests on one loop, each under a heartbeat.

    Config: ``prepare`` (run the SDK's ``prepare_*`` in the build thread after construction),
    ``attribute`` (record lazy work and slow callbacks; slows the run).
    """
    import llmcache

    from .sdk_under_test import MODEL, model_factory

    sdk = config["sdk"]
    prepare = _preparer(sdk) if config.get("prepare") else None
    attribute = bool(config.get("attribute"))
    build = model_factory(config, servers)
    out: dict[str, Any] = {"prepare": bool(prepare), "attribute": attribute}

    def factory(model_name: str, **_: Any) -> Any:
        model = build()
        if prepare is not None:
            started = time.perf_counter()
            prepare(model)
            out["prepare_seconds"] = time.perf_counter() - started
        return model

    cache = llmcache.ModelCache({sdk: factory})
    name = MODEL[sdk]
    recorder = LazyWorkRecorder().install() if attribute else None
    slow = SlowCallbacks()

    async def request(index: int) -> None:
        loop = asyncio.get_running_loop()
        events: list[dict[str, Any]] = []
        slow_records: list[dict[str, Any]] = []
        async with Heartbeat() as beat:
            if recorder is not None:
                with recorder.record() as events, slow.on(loop) as slow_records:
                    model = await cache.aget(name, sdk)
                    timing, _ = await atimed(model.ainvoke("hello"))
            else:
                model = await cache.aget(name, sdk)
                timing, _ = await atimed(model.ainvoke("hello"))
        result = {**timing, "worst_gap": beat.worst}
        if recorder is not None:
            result["lazy_work"] = list(events)
            result["slow_callbacks"] = list(slow_records)
        out[f"request_{index}"] = result

    async def app() -> None:
        started = time.perf_counter()
        await cache.awarm([(name, sdk)])  # the app's lifespan, before serving
        out["warm_seconds"] = time.perf_counter() - started
        await request(1)
        await request(2)

    try:
        asyncio.run(app())
    finally:
        if recorder is not None:
            recorder.uninstall()
    return out


# -- tables ----------------------------------------------------------------------------------


def _runs(data: dict[str, Any], attribute: bool) -> list[dict[str, Any]]:
    return [
        run
        for run in data["runs"]
        if "result" in run and bool(run["labels"].get("attribute")) == attribute
    ]


def _ratio(result: dict[str, Any]) -> float | None:
    first = result.get("request_1", {})
    second = result.get("request_2", {})
    if "error" in first or "error" in second or not second.get("worst_gap"):
        return None
    return float(first["worst_gap"]) / float(second["worst_gap"])


def first_call_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per SDK and prepare: the loop's worst gap in the first and second request after warm
    (medians over fresh processes, ms) and the per-process ratio first/second."""
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
    for run in _runs(data, attribute=False):
        groups[(run["labels"]["venv"], bool(run["labels"]["prepare"]))].append(run["result"])
    rows = []
    for (venv, prepared), results in groups.items():
        ratios = [r for r in map(_ratio, results) if r is not None]
        errors = [
            res[k]["error"]
            for res in results
            for k in ("request_1", "request_2")
            if "error" in res[k]
        ]
        rows.append(
            {
                "venv": venv,
                "prepare": prepared,
                "runs": len(results),
                "first_gap_ms": statistics.median(r["request_1"]["worst_gap"] for r in results)
                * 1e3,
                "second_gap_ms": statistics.median(r["request_2"]["worst_gap"] for r in results)
                * 1e3,
                "ratio_median": statistics.median(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "first_request_ms": statistics.median(r["request_1"]["seconds"] for r in results)
                * 1e3,
                "prepare_ms": _median_ms(r.get("prepare_seconds") for r in results),
                "errors": len(errors),
            }
        )
    return sorted(rows, key=lambda row: (row["venv"], row["prepare"]))


def _median_ms(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) * 1e3 if present else None


def attribution_table(
    data: dict[str, Any], *, request: int = 1, top: int = 12
) -> list[dict[str, Any]]:
    """Lazy work on the loop during request ``request``, by SDK, prepare, kind and call site:
    total ms per process (median over attribution runs), largest first."""
    rows = []
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
    for run in _runs(data, attribute=True):
        groups[(run["labels"]["venv"], bool(run["labels"]["prepare"]))].append(run["result"])
    for (venv, prepared), results in sorted(groups.items()):
        per_site: dict[tuple[str, str], list[float]] = defaultdict(list)
        examples: dict[tuple[str, str], set[str]] = defaultdict(set)
        for result in results:
            totals: dict[tuple[str, str], float] = defaultdict(float)
            for event in result.get(f"request_{request}", {}).get("lazy_work", []):
                key = (event["kind"], event["where"])
                totals[key] += event["ms"]
                what = event["what"]
                examples[key].add(what if event["kind"] == "import" else what.rsplit(".", 1)[-1])
            for key in {k for r in results for k in _keys(r, request)}:
                per_site[key].append(totals.get(key, 0.0))
        group_rows: list[dict[str, Any]] = [
            {
                "venv": venv,
                "prepare": prepared,
                "kind": kind,
                "call_site": where,
                "ms": statistics.median(values),
                "what": _some(examples[(kind, where)]),
            }
            for (kind, where), values in per_site.items()
        ]
        group_rows.sort(key=lambda row: -row["ms"])
        total = sum(row["ms"] for row in group_rows)
        rows.extend(group_rows[:top])
        rows.append(
            {
                "venv": venv,
                "prepare": prepared,
                "kind": "total",
                "call_site": f"all {len(group_rows)} call sites",
                "ms": total,
                "what": "",
            }
        )
    return rows


def _some(names: set[str], shown: int = 3) -> str:
    ordered = sorted(names)
    more = f" (+{len(ordered) - shown})" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def _keys(result: dict[str, Any], request: int) -> set[tuple[str, str]]:
    events = result.get(f"request_{request}", {}).get("lazy_work", [])
    return {(e["kind"], e["where"]) for e in events}


def slowest_callbacks(data: dict[str, Any], *, request: int = 1) -> list[dict[str, Any]]:
    """asyncio's slowest logged loop step during request ``request``, per attribution run."""
    rows = []
    for run in _runs(data, attribute=True):
        records = run["result"].get(f"request_{request}", {}).get("slow_callbacks", [])
        worst = max(records, key=lambda r: r["ms"], default=None)
        rows.append(
            {
                "venv": run["labels"]["venv"],
                "prepare": bool(run["labels"]["prepare"]),
                "slow_steps": len(records),
                "slowest_ms": worst["ms"] if worst else None,
                "slowest_step": _coroutine(worst["handle"]) if worst else "",
            }
        )
    return rows


def _coroutine(handle: str) -> str:
    """The coroutine a logged task step ran (``coro=<Name() ...>``), else the handle cut short."""
    found = re.search(r"coro=<([\w.<>]+)\(", handle)
    return found.group(1) if found else handle[:80]
