"""The first request as a user sees it: the example FastAPI app served by uvicorn, timed by HTTP
clients.

``examples/app.py`` (one design per :envvar:`LLMCACHE_APP_DESIGN`) runs under uvicorn with 1 or 2
worker processes, against the loopback fakes, in a private network namespace. N clients send
their first requests the moment the port accepts a connection and time each response from their
side. The port accepts once a worker has run its lifespan (with 2 workers uvicorn's supervisor
binds it first, but the first worker to finish its lifespan starts listening), so what a design
does at start-up is in the time to accept, and what it leaves to the first request is in the
response times. The simulated model latency is 0: every second shown is the app's own.

Each worker runs the app as :func:`lab_app` wraps it: a heartbeat (:mod:`llmcache.lab.measure`)
from the start of its lifespan, and at shutdown one log line (:data:`REPORT_MARK` + JSON) with
its loop's worst gap during start-up and while serving, and its constructions before and after
it began serving (``GET /lab/worker`` gives the same report live).

A run is a fresh-process probe (:mod:`llmcache.lab.process_probe`, mode ``app_server``) in this
interpreter: :func:`run_isolated`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from . import REPO_ROOT
from .measure import Heartbeat, describe, http_request
from .probe_runner import ProbeError, run_probe

__all__ = ["REPORT_MARK", "lab_app", "run_isolated", "serve_app"]

REPORT_MARK = "LLMCACHE_LAB_WORKER "
"""Prefix of each worker's report line on standard output."""


_QUESTION = "hello"


# -- inside each uvicorn worker --------------------------------------------------------------


class _Constructions:
    """Counts the models the app builds: llmcache's own counter, plus the baselines' builds."""

    def __init__(self) -> None:
        from . import baselines

        self.baselines = 0
        lock = threading.Lock()
        for provider, build in list(baselines.FACTORIES.items()):

            def counted(model_name: str, _build: Callable[..., Any] = build, **kwargs: Any) -> Any:
                with lock:
                    self.baselines += 1
                return _build(model_name, **kwargs)

            baselines.FACTORIES[provider] = counted

    def __call__(self) -> int:
        import llmcache

        return llmcache.cache_stats().constructions + self.baselines


def lab_app() -> Any:
    """The example app with the lab's instruments (a uvicorn ``--factory``)."""
    imported = time.monotonic()
    if os.environ.get("LLMCACHE_NETGUARD") == "1":
        from . import netguard

        netguard.install()
    from examples import app as example

    app = example.app
    constructions = _Constructions()
    beat = Heartbeat()
    report: dict[str, Any] = {"pid": os.getpid(), "design": example.DESIGN, "requests": 0}
    report["import_started"] = imported
    report["import_seconds"] = time.monotonic() - imported
    inner = app.router.lifespan_context

    def live() -> dict[str, Any]:
        if "serving_since" in report and "serving_worst_gap" not in report:
            return {**report, "serving_worst_gap_so_far": beat.worst}
        return dict(report)

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        beat.start()
        started = time.monotonic()
        async with inner(app_) as state:
            report["startup_seconds"] = time.monotonic() - started
            report["startup_worst_gap"] = beat.reset()
            report["startup_constructions"] = constructions()
            report["serving_since"] = time.monotonic()
            yield state
            report["serving_worst_gap"] = beat.worst
            report["constructions"] = constructions()
        await beat.stop()
        if os.environ.get("LLMCACHE_NETGUARD") == "1":
            from . import netguard

            report["netguard_violations"] = netguard.take_violations()
        print(REPORT_MARK + json.dumps(report), flush=True)

    app.router.lifespan_context = lifespan

    @app.middleware("http")
    async def count_requests(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        if request.url.path == "/ask":
            report["requests"] += 1
        response = await call_next(request)
        response.headers["x-lab-worker"] = str(os.getpid())
        return response

    async def error(request: Any, exc: Exception) -> Any:  # the type, where a user sees a 500
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": describe(exc)}, status_code=500)

    app.add_exception_handler(Exception, error)

    @app.get("/lab/worker")
    async def worker() -> dict[str, Any]:
        return live()

    return app


# -- the run: fakes, uvicorn, clients (inside the namespace) ---------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_for_port(port: int, server: subprocess.Popen[bytes], deadline: float) -> float:
    """Poll every ms until the port accepts a connection; the monotonic time it did."""
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if server.poll() is not None:
                raise ProbeError(f"uvicorn exited ({server.returncode}) before serving") from None
            if time.monotonic() > deadline:
                raise ProbeError("uvicorn never accepted a connection") from None
            await asyncio.sleep(0.001)
            continue
        accepted = time.monotonic()
        writer.close()
        return accepted


async def _clients(
    port: int, clients: int, server: subprocess.Popen[bytes], launched: float, deadline: float
) -> dict[str, Any]:
    accepted = await _wait_for_port(port, server, deadline)

    async def one() -> dict[str, Any]:
        sent = time.monotonic()
        try:
            status, headers, body = await asyncio.wait_for(
                http_request(port, "POST", f"/ask?question={_QUESTION}"), deadline - sent
            )
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            done = time.monotonic()
            return {"seconds": done - sent, "since_launch": done - launched, "error": describe(exc)}
        done = time.monotonic()
        request: dict[str, Any] = {
            "seconds": done - sent,
            "since_launch": done - launched,
            "status": status,
            "worker": headers.get("x-lab-worker"),
        }
        if status == 200:
            request["answer"] = json.loads(body)["answer"]
        else:
            try:
                request["error"] = str(json.loads(body)["error"])
            except (ValueError, KeyError, TypeError):
                request["error"] = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
        return request

    requests = await asyncio.gather(*(one() for _ in range(clients)))
    status, _, body = await http_request(port, "GET", "/lab/worker")  # one worker's report, live
    live = json.loads(body) if status == 200 else {"error": f"HTTP {status}"}
    return {"accept_seconds": accepted - launched, "requests": list(requests), "worker_live": live}


def _app_env(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, str]:
    from .sdk_under_test import FAKE_GOOGLE_KEY, MODEL

    env = dict(os.environ)  # the probe's: metadata server and the auth environment's variables
    env.update(
        LLMCACHE_APP_DESIGN=config["design"],
        GEMINI_MODEL=MODEL["google"],
        GEMINI_BASE_URL=servers["gemini_url"],
        PYTHONPATH=str(REPO_ROOT),
    )
    if config.get("auth", "api-key") == "api-key":
        env["GOOGLE_API_KEY"] = FAKE_GOOGLE_KEY
    else:  # Vertex AI with ADC, as the in-process app scenario's 4.x runs
        env["GOOGLE_CLOUD_PROJECT"] = "llmcache-lab"
    return env


def serve_app(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """One run, in the probe's process (mode ``app_server``; the fakes are up): uvicorn
    launched, ``clients`` first requests, the workers' reports."""
    workers, clients = int(config.get("workers", 1)), int(config.get("clients", 3))
    timeout = float(config.get("timeout", 60 + 15 * clients))  # ADC: ~12 s a request, in turn
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        argv = [sys.executable, "-m", "uvicorn", "--factory", "llmcache.lab.app_server:lab_app"]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        argv += ["--log-level", "warning", "--no-access-log"]
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        with out.open("wb") as stdout, err.open("wb") as stderr:
            launched = time.monotonic()
            server = subprocess.Popen(
                argv, env=_app_env(config, servers), stdout=stdout, stderr=stderr, cwd=REPO_ROOT
            )
            try:
                result.update(
                    asyncio.run(_clients(port, clients, server, launched, launched + timeout))
                )
            except ProbeError as exc:
                raise ProbeError(f"{exc}: {err.read_text()[-2000:]}") from None
            finally:
                server.send_signal(signal.SIGINT)  # graceful: workers run their lifespan's end
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        reports = [
            json.loads(line[len(REPORT_MARK) :])
            for line in out.read_text().splitlines()
            if line.startswith(REPORT_MARK)
        ]
        for report in reports:  # worker times relative to the launch
            report["import_started"] -= launched
            if "serving_since" in report:
                report["serving_since"] -= launched
        result["workers"] = sorted(reports, key=lambda r: r["serving_since"])
        result["server_log"] = _log_lines(err.read_text())
    if len(reports) != workers:
        raise ProbeError(f"{len(reports)} of {workers} worker reports: {result['server_log']}")
    return result


def _log_lines(stderr: str) -> list[str]:
    """The distinct lines the server logged (warnings, errors; a traceback by its last line)."""
    found: list[str] = []
    for line in stderr.splitlines():
        if line and not line.startswith((" ", "Traceback", "INFO", "The above")) and ":" in line:
            text = line.strip()[:200]
            if text not in found:
                found.append(text)
    return found[:10]


def run_isolated(config: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
    """One run in a fresh probe process, in a private network namespace: this interpreter (the
    main venv's 4.x, where uvicorn and FastAPI are), mode ``app_server``."""
    if timeout is None:
        timeout = 120 + 15 * int(config.get("clients", 3))
    probe = {"sdk": "google", "mode": "app_server", **config}
    return run_probe(sys.executable, probe, timeout=timeout)
