"""The lab's one measuring kit: loop heartbeat, timers, and the blocking-call recorder.

Every experiment measures with these, so "worst loop gap" or "seconds" means the same thing in
every table. Standard library only (blockbuster is imported when the recorder runs): the
fresh-process probe imports this module inside each SDK venv.

- :class:`Heartbeat`: a task that sleeps 1 ms at a time; the worst gap between its wake-ups is
  how long the event loop could run nothing else.
- :func:`timed` / :func:`atimed`: seconds of one call, with the error it raised as a result.
- :func:`ns_per_call` / :func:`ans_per_call`: tight-loop cost of a call, in ns.
- :func:`run_calls`: many awaited calls at a fixed concurrency (throughput, latencies).
- :func:`record_blocking_calls`: every blocking call blockbuster sees, by call site (the same
  recorder ``llmcache doctor --measure`` uses, which ships with the package).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._doctor_measure import record_blocking_calls, short_path
from ._fresh import run_fresh

__all__ = [
    "HEARTBEAT_INTERVAL",
    "Heartbeat",
    "ans_per_call",
    "atimed",
    "describe",
    "http_request",
    "ns_per_call",
    "record_blocking_calls",
    "run_calls",
    "short_path",
    "timed",
]

HEARTBEAT_INTERVAL = 0.001
"""Seconds the heartbeat sleeps between wake-ups."""


class Heartbeat:
    """Records the event loop's worst gap while it runs.

    ``async with Heartbeat() as beat: ...`` then read ``beat.worst`` (seconds). Or, for a loop
    that lives on (an app worker): :meth:`start` it, read or :meth:`reset` ``worst`` at any time,
    and ``await`` :meth:`stop` at the end.
    """

    def __init__(self, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.interval = interval
        self.worst = 0.0
        self.beats = 0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last)
            self.beats += 1
            last = now

    def start(self) -> Heartbeat:
        """Start beating on the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._beat())
        return self

    def reset(self) -> float:
        """Forget the worst gap so far; return it."""
        worst, self.worst = self.worst, 0.0
        return worst

    async def stop(self) -> float:
        """One last beat (it measures the tail), then stop; return the worst gap."""
        if self._task is not None:
            await asyncio.sleep(self.interval * 2)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.worst

    async def __aenter__(self) -> Heartbeat:
        self.start()
        await asyncio.sleep(0.005)  # the task's own start-up is not a gap of the code measured
        self.reset()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def describe(exc: BaseException) -> str:
    """An error as ``Type: first line``, cut short (SDK messages can be long)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}"


def timed(fn: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    """Run ``fn``; return ``{"seconds", "error"?}`` and its result (None on error)."""
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # the SDK's error is a measurement too
        return {"seconds": time.perf_counter() - start, "error": describe(exc)}, None
    return {"seconds": time.perf_counter() - start}, result


async def atimed(coro: Awaitable[Any]) -> tuple[dict[str, Any], Any]:
    """:func:`timed` for an awaitable."""
    start = time.perf_counter()
    try:
        result = await coro
    except Exception as exc:
        return {"seconds": time.perf_counter() - start, "error": describe(exc)}, None
    return {"seconds": time.perf_counter() - start}, result


def ns_per_call(fn: Callable[[], Any], number: int, repeat: int) -> list[float]:
    """ns per call of ``fn``: ``repeat`` runs of ``number`` calls each."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter_ns() - start) / number)
    return runs


def ans_per_call(fn: Callable[[], Awaitable[Any]], number: int, repeat: int) -> list[float]:
    """ns per awaited call of ``fn``, in one fresh event loop, after one warm-up call."""

    async def main() -> list[float]:
        await fn()
        runs = []
        for _ in range(repeat):
            start = time.perf_counter_ns()
            for _ in range(number):
                await fn()
            runs.append((time.perf_counter_ns() - start) / number)
        return runs

    return run_fresh(main)


async def run_calls(
    call: Callable[[], Awaitable[Any]], calls: int, concurrency: int
) -> dict[str, Any]:
    """``calls`` awaits of ``call()``, at most ``concurrency`` at a time: the wall time, every
    successful call's latency, and the errors (first five, and their count)."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: list[str] = []

    async def one() -> None:
        async with gate:
            start = time.perf_counter()
            try:
                await call()
            except Exception as exc:
                errors.append(describe(exc))
                return
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return {
        "calls": calls,
        "concurrency": concurrency,
        "wall_seconds": time.perf_counter() - start,
        "latencies": latencies,
        "errors": errors[:5],
        "error_count": len(errors),
    }


def _dechunk(body: bytes) -> tuple[bytes, bool]:
    """A chunked body's data, and whether its last (empty) chunk arrived."""
    data = b""
    while True:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            return data, False
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            return data, False
        if size == 0:
            return data, True
        if len(rest) < size + 2:
            return data + rest[:size], False
        data += rest[:size]
        body = rest[size + 2 :]


async def http_request(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request to 127.0.0.1 on a new connection: status, headers (lower-cased
    names) and body (de-chunked; a chunked body cut short raises ``ConnectionError``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n"
            "connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise ConnectionError("no HTTP response")
    headers = {k.lower(): v for k, v in (ln.split(": ", 1) for ln in lines[1:] if ": " in ln)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, complete = _dechunk(body)
        if not complete:
            raise ConnectionError("the chunked body ended before its last chunk")
    return int(lines[0].split()[1]), headers, body
