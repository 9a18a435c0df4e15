"""The ``soak`` experiment: the example app served for minutes under churn, its process sampled
over time. Does it leak sockets, memory or unclosed sessions as models come and go?

**Setup.** uvicorn serves ``examples/app.py`` (one server per design, side by side, each its own
process, through :func:`llmcache.lab.soak_worker.soak_app`), against the lab's loopback fakes of
Gemini (langchain-google-genai 4.x over aiohttp) or OpenAI (langchain-openai over httpx), inside
the probe's private network namespace. Each server runs as ``python -X dev -W
always::ResourceWarning -m uvicorn ...``: development mode shows ResourceWarnings and turns on
asyncio's debug checks (a non-thread-safe call into the loop raises); ``always`` prints every
ResourceWarning, where the default action prints one per source line, so that the lines count
the events. ``PYTHONMALLOC=pymalloc`` keeps the allocator the app has in production: development
mode would otherwise install its debug hooks, which pad every memory block, and RSS would not be
the app's. The app's cache churns: llmcache gets ``ttl`` :data:`TTL` (a model is rebuilt that
many seconds after it was built: rotating credentials) and ``maxsize`` :data:`MAXSIZE`; every
request names one of :data:`TENANTS` tenants, each with its own API key, so its own cache key
and model (``/ask?tenant=N``: key ``f"{key}-tenant-{N}"``). :data:`HOT_SHARE` of the requests go
to tenant 0, which stays in the cache and is rotated by ``ttl`` alone (a request in progress
across an expiry must complete); the rest are spread over the other tenants, more of them than
``maxsize`` holds, so that they keep evicting each other (least recently used). The other designs
(:data:`llmcache.lab.designs.SOAK`: a new model per request, ``functools.cache``, the
asyncio.Lock design) have no ``ttl`` or ``maxsize``: they serve the same requests as they are.

**Load.** Per design, ``clients`` HTTP clients, half of them ``POST /ask``, half ``POST
/stream`` (``StreamingResponse`` over ``model.astream``); each sends ``rate`` requests per second
on a fixed schedule (a client whose answer comes late sends its next request at once, without
catching up), one connection per request, tenants drawn from a seeded generator (the same
sequence for every design). An answer counts when its status is 200 and its text is the fake's
"ok" (a stream: the whole chunked body, ended by its last chunk); anything else counts as failed,
with its error. The simulated model latency is 0.

**Samples.** Every ``interval`` seconds, per server, from the client side: the process's open
file descriptors (``/proc/PID/fd``), the sockets among them, those connected to the model fake
(``/proc/PID/net/tcp`` rows of the process's socket inodes whose remote port is the fake's), RSS
(``VmRSS`` in ``/proc/PID/status``), the ResourceWarning and "Unclosed" lines its stderr holds so
far, the requests answered and failed so far; and from the app, ``GET /lab/soak``: models built
(**rotations**: every model a handler got for the first time, whatever the design), models
alive, models closed, HTTP sessions open and closed, cache stats (evictions), threads. One last
sample once the load stopped; then each server is stopped with SIGINT (its lifespan closes the
cache) and the warning lines printed at shutdown are counted apart.

**Slopes.** After a warm-up (the first :data:`WARMUP` of the time: imports, first builds, pools
filling), fds, sockets, connections to the fake and RSS are fitted by least squares against
rotations, and given per 1,000 rotations (and per minute, for designs that stop rotating).
**Flat** means within :data:`FD_TOLERANCE` fds and :data:`RSS_TOLERANCE_MIB` MiB per 1,000
rotations, widened for a short run to what the noise of a healthy server (:data:`FD_NOISE`,
:data:`RSS_NOISE_MIB`) allows over the rotations fitted; the reasoning is at those constants. A
design that rotated fewer than :data:`MIN_ROTATIONS` times after warm-up gets no per-rotation
slope.

**Side by side.** What is counted (fds, sockets, bytes, warnings, failures) does not depend on
speed: CPU contention between the designs, or with other measurements, slows requests and so
lowers the number of rotations in the time, but a resource that leaks per rotation leaks the
same per rotation. Slopes are per rotation for that reason; request latencies are kept as
context only.

:func:`run_isolated` runs one soak (all its designs) in a fresh probe process in the private
network namespace (mode ``soak`` of :mod:`llmcache.lab.process_probe`, in this interpreter: the
main venv, where uvicorn, FastAPI and both SDKs are). :func:`soak_table` and :func:`plot_soak`
read its results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import REPO_ROOT
from .measure import describe, http_request
from .probe_runner import ProbeError, run_probe

__all__ = [
    "FD_NOISE",
    "FD_TOLERANCE",
    "HOT_SHARE",
    "MAXSIZE",
    "MIN_ROTATIONS",
    "RSS_NOISE_MIB",
    "RSS_TOLERANCE_MIB",
    "TENANTS",
    "TTL",
    "WARMUP",
    "fd_targets",
    "fit_slope",
    "fitted_samples",
    "mask",
    "plot_soak",
    "rss_kib",
    "run_isolated",
    "sample_process",
    "serve_soak",
    "soak_table",
    "tcp_sockets",
    "tolerance",
    "warning_kind",
]

TTL = 2.0
"""Seconds llmcache keeps a model before rebuilding it: short, so that the hot tenant's model
rotates many times in a minute, mid-request included."""
MAXSIZE = 4
"""Models llmcache keeps: fewer than the tenants, so that they evict each other."""
TENANTS = 12
"""Tenants (API keys): tenant 0, hot, and 11 others over the 3 places ``maxsize`` leaves them."""
HOT_SHARE = 0.5
"""Share of requests that go to tenant 0."""
WARMUP = 0.2
"""Share of the soak's time left out of the fits: imports, first builds, pools filling."""
MIN_ROTATIONS = 20
"""Fewer rotations than this after warm-up give no per-rotation slope (designs that stop
building once every tenant has its model)."""
FD_TOLERANCE = 20.0
"""Flat, for fds (and sockets, connections to the fake): a fitted slope of at most this many
per 1,000 rotations, up or down, or a rise of at most :data:`FD_NOISE` over the rotations
fitted, whichever allows more. A model dropped with its connections open leaks at least one
socket per rotation (1,000 per 1,000): 20 is 2% of that, one fd per 50 rotations."""
FD_NOISE = 8.0
"""fds a healthy server's count moves by between samples, whatever the rotations: each request
in flight holds its client's connection and a connection to the fake, and pools open and
close connections as models come and go (measured here: the designs that stop rotating move by
about 4 fds up and down). A short run (a few hundred rotations) cannot tell a slope from this
noise below ``FD_NOISE * 1000 / rotations`` per 1,000 rotations."""
RSS_TOLERANCE_MIB = 16.0
"""Flat, for RSS: a fitted slope of at most this many MiB per 1,000 rotations, or a rise of at
most :data:`RSS_NOISE_MIB` over the rotations fitted, whichever allows more. A model kept alive
with its client after it was dropped costs hundreds of KiB to a few MiB (a 4.x ``genai.Client``
with its SSL contexts; measured here with Gemini before dropped models were closed: about 2 MiB
per rotation): 16 MiB per 1,000 is about 1% of a leak of every model."""
RSS_NOISE_MIB = 8.0
"""MiB a healthy server's RSS grows by in a minute of load without leaking (allocator arenas,
caches filling; measured here: 5 MiB in 40 s for the designs that stop rotating)."""
READY_TIMEOUT = 90.0
"""Seconds for every server to accept connections (several start at once on two cores)."""
REQUEST_TIMEOUT = 30.0
"""Seconds one request may take before it counts as failed."""

_QUESTION = "hello"
_UNCLOSED = re.compile(r"Unclosed|ResourceWarning")


# -- what is sampled: /proc, parsed (pure functions, then readers) ---------------------------


def fd_targets(pid: int) -> list[str]:
    """What each open fd of ``pid`` points to (``socket:[INODE]``, a path, ``pipe:[...]``)."""
    folder = f"/proc/{pid}/fd"
    targets = []
    for name in os.listdir(folder):
        with contextlib.suppress(FileNotFoundError):  # closed between listing and reading
            targets.append(os.readlink(f"{folder}/{name}"))
    return targets


def socket_inodes(targets: list[str]) -> set[int]:
    """The inodes of the sockets among fd targets."""
    return {int(t[8:-1]) for t in targets if t.startswith("socket:[") and t.endswith("]")}


def tcp_sockets(table: str) -> list[dict[str, int]]:
    """Rows of a ``/proc/net/tcp`` (or ``tcp6``) table: local and remote port, state, inode."""
    rows = []
    for line in table.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10:
            continue
        rows.append(
            {
                "local_port": int(parts[1].rsplit(":", 1)[1], 16),
                "remote_port": int(parts[2].rsplit(":", 1)[1], 16),
                "state": int(parts[3], 16),
                "inode": int(parts[9]),
            }
        )
    return rows


def rss_kib(status: str) -> int:
    """``VmRSS`` of a ``/proc/PID/status`` text, in KiB."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line")


_TCP_CLOSE_WAIT = 8


def sample_process(pid: int, upstream_port: int | None = None) -> dict[str, int]:
    """Open fds of ``pid``, the sockets among them, its TCP sockets connected to
    ``upstream_port`` (and those of them the other side has closed: CLOSE_WAIT), and RSS."""
    targets = fd_targets(pid)
    inodes = socket_inodes(targets)
    found: dict[str, int] = {"fds": len(targets), "sockets": len(inodes)}
    if upstream_port is not None:
        upstream = [
            row
            for name in ("tcp", "tcp6")
            for row in tcp_sockets(_read(f"/proc/{pid}/net/{name}"))
            if row["inode"] in inodes and row["remote_port"] == upstream_port
        ]
        found["upstream"] = len(upstream)
        found["upstream_close_wait"] = sum(r["state"] == _TCP_CLOSE_WAIT for r in upstream)
    found["rss_kib"] = rss_kib(_read(f"/proc/{pid}/status"))
    return found


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""


# -- what the server printed -------------------------------------------------------------------


def mask(text: str) -> str:
    """``text`` with the lab's fake API keys (and tenant keys made from them) masked: no key
    goes into a result, log excerpt or notebook."""
    from .sdk_under_test import FAKE_GOOGLE_KEY, FAKE_OPENAI_KEY

    for key in (FAKE_GOOGLE_KEY, FAKE_OPENAI_KEY):
        text = re.sub(re.escape(key) + r"(-tenant-\d+)?", "<fake key>", text)
    return text


def warning_kind(line: str) -> str | None:
    """The kind of an "Unclosed"/ResourceWarning line (object reprs and addresses cut), or
    None for any other line. The hint the warnings module prints after each ResourceWarning
    ("Enable tracemalloc...") is not a warning of its own."""
    if not _UNCLOSED.search(line) or "Enable tracemalloc" in line:
        return None
    text = line.strip()
    if "ResourceWarning:" in text:
        text = "ResourceWarning: " + text.split("ResourceWarning:", 1)[1].strip()
    text = re.sub(r"<([\w.]+)[^>]*>?.*", r"<\1 ...>", text)
    return mask(text)[:120]


def _log_kind(line: str) -> str:
    """Another line of the log, as a kind: numbers and addresses replaced."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x_", line.strip())
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return mask(text)[:160]


class _Log:
    """A server's stderr, read as it grows: warning lines by kind, other lines by kind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.warnings: Counter[str] = Counter()
        self.other: Counter[str] = Counter()

    def read(self) -> int:
        """Read what was added; the warning lines so far."""
        with contextlib.suppress(FileNotFoundError), self.path.open("rb") as file:
            file.seek(self.offset)
            chunk = file.read()
            self.offset += len(chunk)
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                kind = warning_kind(line)
                if kind is not None:
                    self.warnings[kind] += 1
                elif line.strip() and not line.startswith(" "):  # a traceback by its last line
                    self.other[_log_kind(line)] += 1
        return sum(self.warnings.values())


# -- the run -----------------------------------------------------------------------------------


@dataclass
class _Server:
    """One design's uvicorn process and what its clients saw."""

    design: str
    port: int
    process: subprocess.Popen[bytes]
    log: _Log
    answered: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    last_app: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # graceful: the lifespan's end runs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _request(port: int, kind: str, tenant: int) -> str | None:
    """One request of ``kind`` (``ask`` or ``stream``): None when answered, else the error."""
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, _, body = await http_request(
                port, "POST", f"/{kind}?question={_QUESTION}&tenant={tenant}"
            )
    except (OSError, TimeoutError, ValueError, IndexError) as exc:
        return describe(exc)
    if status != 200:
        try:
            return f"HTTP {status}: {json.loads(body)['error']}"
        except (ValueError, KeyError, TypeError):
            return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
    text = json.loads(body)["answer"] if kind == "ask" else body.decode("utf-8", "replace")
    return None if text.strip() == "ok" else f"wrong answer: {text[:100]!r}"


async def _client(
    server: _Server, index: int, settings: dict[str, Any], stop: asyncio.Event
) -> None:
    kind = "ask" if index % 2 == 0 else "stream"
    tenants = random.Random(index)  # the same sequence for every design
    period = 1.0 / float(settings["rate"])
    due = time.monotonic()
    while not stop.is_set():
        hot = tenants.random() < float(settings["hot_share"])
        tenant = 0 if hot else tenants.randrange(1, int(settings["tenants"]))
        sent = time.monotonic()
        error = await _request(server.port, kind, tenant)
        server.seconds.append(time.monotonic() - sent)
        if error is None:
            server.answered[kind] += 1
        else:
            server.failed[kind] += 1
            server.errors[mask(error)] += 1
        due = max(due + period, time.monotonic())  # late: the next one at once, no catching up
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))


async def _sample(server: _Server, started: float, upstream: int, final: bool) -> None:
    sample: dict[str, Any] = {"t": time.monotonic() - started}
    try:
        sample.update(sample_process(server.process.pid, upstream))
    except (OSError, ValueError) as exc:
        sample["process_error"] = describe(exc)
    sample["answered"] = sum(server.answered.values())
    sample["failed"] = sum(server.failed.values())
    sample["warnings"] = server.log.read()
    app: dict[str, Any]
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            status, _, body = await http_request(server.port, "GET", "/lab/soak")
        app = json.loads(body) if status == 200 else {"error": f"HTTP {status}"}
    except (OSError, TimeoutError, ValueError) as exc:
        app = {"error": describe(exc)}
    if "models" in app:
        sample["rotations"] = app["models"]["seen"]
        server.last_app = app
    sample["app"] = {k: v for k, v in app.items() if k not in ("pid", "design", "patched")}
    if final:
        sample["final"] = True
    server.samples.append(sample)


async def _wait_for_port(server: _Server, deadline: float) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        except OSError:
            if server.process.poll() is not None:
                raise ProbeError(
                    f"{server.design}: uvicorn exited ({server.process.returncode}) before "
                    f"serving: {server.log.path.read_text(errors='replace')[-1500:]}"
                ) from None
            if time.monotonic() > deadline:
                raise ProbeError(f"{server.design}: uvicorn never accepted a connection") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


async def _soak(servers: list[_Server], settings: dict[str, Any], upstream: int) -> float:
    """Clients and samples for ``seconds``; the soak's own length (seconds)."""
    deadline = time.monotonic() + READY_TIMEOUT
    await asyncio.gather(*(_wait_for_port(server, deadline) for server in servers))
    started = time.monotonic()
    seconds, interval = float(settings["seconds"]), float(settings["interval"])
    await asyncio.gather(*(_sample(s, started, upstream, final=False) for s in servers))
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(_client(server, index, settings, stop))
        for server in servers
        for index in range(int(settings["clients"]))
    ]
    due = started
    while True:
        due += interval
        if due > started + seconds + 1e-9:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        await asyncio.gather(*(_sample(s, started, upstream, final=False) for s in servers))
    await asyncio.sleep(max(0.0, started + seconds - time.monotonic()))
    stop.set()
    ended = time.monotonic() - started
    _, late = await asyncio.wait(clients, timeout=REQUEST_TIMEOUT + 5)
    for task in late:
        task.cancel()
    await asyncio.gather(*(_sample(s, started, upstream, final=True) for s in servers))
    return ended


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """The soak's settings: the config's, else the module's defaults."""
    from . import designs

    return {
        "provider": config["sdk"],
        "designs": list(config.get("designs") or designs.names(designs.SOAK)),
        "seconds": float(config.get("seconds", 50)),
        "interval": float(config.get("interval", 2.0)),
        "clients": int(config.get("clients", 2)),
        "rate": float(config.get("rate", 4.0)),
        "tenants": int(config.get("tenants", TENANTS)),
        "hot_share": float(config.get("hot_share", HOT_SHARE)),
        "ttl": float(config.get("ttl", TTL)),
        "maxsize": int(config.get("maxsize", MAXSIZE)),
        "warmup": float(config.get("warmup", WARMUP)),
    }


def _server_env(design: str, settings: dict[str, Any], servers: dict[str, Any]) -> dict[str, str]:
    from .sdk_under_test import FAKE_GOOGLE_KEY, FAKE_OPENAI_KEY, MODEL

    env = dict(os.environ)  # the probe's guarded environment: no real key, metadata on loopback
    env.update(
        LLMCACHE_APP_DESIGN=design,
        LLMCACHE_APP_PROVIDER=settings["provider"],
        LLMCACHE_TTL=str(settings["ttl"]),
        LLMCACHE_MAXSIZE=str(settings["maxsize"]),
        PYTHONPATH=str(REPO_ROOT),
        PYTHONMALLOC="pymalloc",  # -X dev would pad every block with debug hooks: not the app's RSS
    )
    if settings["provider"] == "openai":
        env.update(OPENAI_API_KEY=FAKE_OPENAI_KEY, OPENAI_BASE_URL=servers["openai_base_url"])
        env["OPENAI_MODEL"] = MODEL["openai"]
    else:
        env.update(GOOGLE_API_KEY=FAKE_GOOGLE_KEY, GEMINI_BASE_URL=servers["gemini_url"])
        env["GEMINI_MODEL"] = MODEL["google"]
    return env


def _upstream_port(provider: str, servers: dict[str, Any]) -> int:
    url = servers["openai_base_url"] if provider == "openai" else servers["gemini_url"]
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def serve_soak(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """One soak, in the probe's process (mode ``soak``; the fakes are up): a uvicorn server per
    design, clients and samples for ``seconds``, the servers stopped, what each printed."""
    settings = _settings(config)
    upstream = _upstream_port(settings["provider"], servers)
    argv = [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-m", "uvicorn"]
    argv += ["--factory", "llmcache.lab.soak_worker:soak_app", "--host", "127.0.0.1"]
    argv += ["--log-level", "warning", "--no-access-log"]
    running: list[_Server] = []
    with tempfile.TemporaryDirectory(prefix="llmcache-soak-") as tmp:
        try:
            for index, design in enumerate(settings["designs"]):
                port = _free_port()
                log = Path(tmp, f"server-{index}.stderr")
                with log.open("wb") as stderr:
                    process = subprocess.Popen(
                        [*argv, "--port", str(port)],
                        env=_server_env(design, settings, servers),
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                        cwd=REPO_ROOT,
                    )
                running.append(_Server(design, port, process, _Log(log)))
            seconds = asyncio.run(_soak(running, settings, upstream))
        finally:
            for server in running:
                server.stop()
            for server in running:
                try:
                    server.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.process.kill()
                    server.process.wait()
        results = {server.design: _design_result(server) for server in running}
    return {
        "settings": settings,
        "soak_seconds": seconds,
        "upstream_port": upstream,
        "designs": results,
    }


def _design_result(server: _Server) -> dict[str, Any]:
    during = server.samples[-1]["warnings"] if server.samples else 0
    total = server.log.read()
    latencies = server.seconds
    return {
        "pid": server.process.pid,
        "exit_code": server.process.returncode,
        "samples": server.samples,
        "answered": dict(server.answered),
        "failed": dict(server.failed),
        "errors": dict(server.errors.most_common(20)),
        "latency": {
            "mean_s": sum(latencies) / len(latencies) if latencies else None,
            "max_s": max(latencies) if latencies else None,
        },
        "warnings": {
            "total": total,
            "at_shutdown": total - during,
            "kinds": dict(server.log.warnings.most_common(20)),
        },
        "server_log": dict(server.log.other.most_common(15)),
        "netguard_violations": server.last_app.get("netguard_violations", []),
    }


def run_isolated(config: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """One soak in a fresh probe process, in a private network namespace: this interpreter (the
    main venv: uvicorn, FastAPI, langchain-google-genai 4.x and langchain-openai), mode
    ``soak``. ``config``: ``sdk`` (the provider) and any of :func:`_settings`' keys."""
    if timeout is None:
        timeout = float(config.get("seconds", 50)) + READY_TIMEOUT + 2 * REQUEST_TIMEOUT + 60
    probe = {"mode": "soak", "latency": 0.0, **config}
    return run_probe(sys.executable, probe, timeout=timeout)


# -- what it shows -----------------------------------------------------------------------------


def fit_slope(xs: list[float], ys: list[float]) -> float | None:
    """The least-squares slope of ``ys`` against ``xs``; None with fewer than 3 points or no
    spread in ``xs``."""
    if len(xs) != len(ys) or len(xs) < 3:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def fitted_samples(design: dict[str, Any], settings: dict[str, Any]) -> list[dict[str, Any]]:
    """The samples the slopes are fitted on: under load, after warm-up, complete."""
    start = float(settings["warmup"]) * float(settings["seconds"])
    return [
        s
        for s in design["samples"]
        if not s.get("final") and s["t"] >= start and "rotations" in s and "fds" in s
    ]


def _slopes(samples: list[dict[str, Any]], metric: str, scale: float) -> tuple[Any, Any, int]:
    """(per 1,000 rotations or None, per minute or None, rotations in the fit)."""
    rotations = [float(s["rotations"]) for s in samples]
    values = [float(s[metric]) * scale for s in samples]
    span = int(max(rotations) - min(rotations)) if rotations else 0
    per_rotation = fit_slope(rotations, values) if span >= MIN_ROTATIONS else None
    per_second = fit_slope([float(s["t"]) for s in samples], values)
    return (
        per_rotation * 1000 if per_rotation is not None else None,
        per_second * 60 if per_second is not None else None,
        span,
    )


def tolerance(per_1k: float, noise: float, rotations: int) -> float | None:
    """The flat band, per 1,000 rotations, for a fit over ``rotations``: ``per_1k``, or the
    ``noise`` spread over those rotations, whichever is wider; None below
    :data:`MIN_ROTATIONS` (no per-rotation slope)."""
    if rotations < MIN_ROTATIONS:
        return None
    return max(per_1k, noise * 1000 / rotations)


def _within(value: float | None, band: float | None) -> bool | None:
    return None if value is None or band is None else abs(value) <= band


def soak_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per provider and design: requests answered and failed, unclosed/ResourceWarning lines,
    rotations, the resources at the end, and their slopes after warm-up (per 1,000 rotations
    and per minute), with the verdict against the tolerances (None: too few rotations)."""
    rows: list[dict[str, Any]] = []
    for run in data["runs"]:
        provider = run["labels"]["provider"]
        if "result" not in run:
            rows.append(
                {"provider": provider, "design": "(all)", "error": str(run.get("error"))[:200]}
            )
            continue
        result = run["result"]
        settings = result["settings"]
        for design, found in result["designs"].items():
            samples = fitted_samples(found, settings)
            during = [s for s in found["samples"] if not s.get("final") and "fds" in s]
            end = during[-1] if during else {}
            first = samples[0] if samples else {}
            fds = _slopes(samples, "fds", 1.0)
            sockets = _slopes(samples, "sockets", 1.0)
            upstream = _slopes(samples, "upstream", 1.0)
            rss = _slopes(samples, "rss_kib", 1 / 1024)
            app = end.get("app", {})
            cache = app.get("cache") or {}
            errors = found["errors"]
            rows.append(
                {
                    "provider": provider,
                    "design": design,
                    "soak_s": result["soak_seconds"],
                    "answered": sum(found["answered"].values()),
                    "failed": sum(found["failed"].values()),
                    "unclosed_warnings": found["warnings"]["total"],
                    "unclosed_at_shutdown": found["warnings"]["at_shutdown"],
                    "rotations": end.get("rotations"),
                    "rotations_fitted": fds[2],
                    "evictions": cache.get("evictions"),
                    "live_models": app.get("models", {}).get("live"),
                    "models_closed": app.get("models", {}).get("closed"),
                    "sessions_open": app.get("sessions", {}).get("open"),
                    "fds_start": first.get("fds"),
                    "fds_end": end.get("fds"),
                    "upstream_end": end.get("upstream"),
                    "rss_start_mib": first["rss_kib"] / 1024 if first else None,
                    "rss_end_mib": end["rss_kib"] / 1024 if end else None,
                    "fds_per_1k_rotations": fds[0],
                    "sockets_per_1k_rotations": sockets[0],
                    "upstream_per_1k_rotations": upstream[0],
                    "rss_mib_per_1k_rotations": rss[0],
                    "fds_per_min": fds[1],
                    "rss_mib_per_min": rss[1],
                    "fds_band_per_1k": tolerance(FD_TOLERANCE, FD_NOISE, fds[2]),
                    "rss_band_mib_per_1k": tolerance(RSS_TOLERANCE_MIB, RSS_NOISE_MIB, rss[2]),
                    "fds_flat": _within(fds[0], tolerance(FD_TOLERANCE, FD_NOISE, fds[2])),
                    "rss_flat": _within(
                        rss[0], tolerance(RSS_TOLERANCE_MIB, RSS_NOISE_MIB, rss[2])
                    ),
                    "mean_latency_s": found["latency"]["mean_s"],
                    "error": next(iter(errors), ""),
                    "left_loopback": len(found.get("netguard_violations") or []),
                }
            )
    return rows


_COLOURS = {
    "no-cache": "tab:gray",
    "functools.cache": "tab:orange",
    "asyncio.Lock": "tab:purple",
    "llmcache": "tab:green",
}


def _legend(design: str, row: dict[str, Any], metric: str) -> str:
    slope = row["fds_per_1k_rotations" if metric == "fds" else "rss_mib_per_1k_rotations"]
    if slope is None:
        return f"{design}: {row['rotations']} built, then none after warm-up"
    unit = "fds" if metric == "fds" else "MiB"
    return f"{design}: {slope:+.{0 if metric == 'fds' else 1}f} {unit}"


def _headline(provider: str, row: dict[str, Any]) -> str:
    """llmcache's slopes for one provider, as the plot's title says them."""

    def said(slope: float | None, flat: bool | None, unit: str) -> str:
        if slope is None:
            return f"too few rotations ({unit})"
        return f"{slope:+.0f} {unit}" + (" (flat)" if flat else "")

    return (
        f"{provider} {said(row['fds_per_1k_rotations'], row['fds_flat'], 'fds')}, "
        f"{said(row['rss_mib_per_1k_rotations'], row['rss_flat'], 'MiB')}"
    )


def plot_soak(data: dict[str, Any]) -> Any:
    """Open fds and RSS of each design's server against rotations, one row per provider; the
    warm-up left out of the fits drawn faint. The title states llmcache's fitted slopes."""
    import matplotlib.pyplot as plt

    rows = soak_table(data)
    runs = [run for run in data["runs"] if "result" in run]
    figure, axes = plt.subplots(len(runs), 2, figsize=(11, 3.6 * max(len(runs), 1)), squeeze=False)
    said = []
    for (ax_fds, ax_rss), run in zip(axes, runs, strict=False):
        provider, result = run["labels"]["provider"], run["result"]
        settings = result["settings"]
        warm = float(settings["warmup"]) * float(settings["seconds"])
        for design, found in result["designs"].items():
            row = next(r for r in rows if r["provider"] == provider and r["design"] == design)
            during = [s for s in found["samples"] if not s.get("final") and "rotations" in s]
            colour = _COLOURS.get(design)
            for ax, metric, scale in ((ax_fds, "fds", 1.0), (ax_rss, "rss_kib", 1 / 1024)):
                for part, style in (
                    ([s for s in during if s["t"] <= warm], {"alpha": 0.3}),
                    (
                        [s for s in during if s["t"] >= warm],
                        {"marker": ".", "label": _legend(design, row, metric)},
                    ),
                ):
                    xs = [s["rotations"] for s in part]
                    ax.plot(xs, [s[metric] * scale for s in part], color=colour, **style)
            if design == "llmcache":
                said.append(_headline(provider, row))
        ax_fds.set_ylabel(f"{provider}: open fds of the app")
        ax_rss.set_ylabel(f"{provider}: RSS of the app (MiB)")
        for ax in (ax_fds, ax_rss):
            ax.set_xlabel("rotations (models built)")
            ax.legend(fontsize=7, title="per 1,000 rotations after warm-up", title_fontsize=7)
    figure.suptitle(
        "llmcache under churn, per 1,000 rotations after warm-up: " + "; ".join(said)
        if said
        else "Open fds and RSS against rotations (models built)",
        fontsize=10,
    )
    figure.tight_layout()
    return figure
