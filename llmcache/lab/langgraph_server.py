"""The agent as users run it: ``examples/workflow_agent.py`` served by the real ``langgraph dev``.

A probe (mode ``langgraph``, in a venv with ``langgraph-cli[inmem]``, inside the private network
namespace, the fakes up) launches ``langgraph dev --no-browser --no-reload`` on loopback with
telemetry and LangSmith tracing off and its blocking-call detection on (the default: no
``--allow-blocking``), then times two stateless runs (``POST /runs/wait``) from the client side.

The server is langgraph-cli's own ``dev`` command, started through :func:`main` so that its
process first does two things of the lab's: every ``blockbuster.BlockingError`` created in it
writes its blocked function and call site to a file (including the ones the SDK catches and
the server never logs), and :mod:`llmcache.lab.netguard` records any attempt to leave
loopback. What the server logged (JSON logs) is counted separately: that is what a user sees.
The simulated model latency is 0: every second shown is the server's and the SDK's own.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import REPO_ROOT
from .measure import describe, short_path

__all__ = ["AGENT_CONFIG", "BLOCKING_LOG_ENV", "main", "serve_graph", "server_log_findings"]

AGENT_CONFIG = REPO_ROOT / "examples" / "langgraph.json"
BLOCKING_LOG_ENV = "LLMCACHE_LAB_BLOCKING_LOG"
"""Where the server process appends one JSON line per ``BlockingError`` created."""

_QUESTION = {"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}]}}
_PACKAGES = ("langgraph", "langgraph-api", "langgraph-cli", "langgraph-runtime-inmem")


# -- inside the server process ---------------------------------------------------------------


_SDKS = ("/langchain_google_genai/", "/langchain_openai/")


def _call_site() -> str:
    """Where the blocking call happened: the first frame outside the stdlib, blockbuster,
    langgraph's error patch and this file; then, after "via", the outermost frame in the
    LangChain SDK, which tells a constructor (``__init__``) from a call (``_agenerate``)."""
    stdlib = os.path.dirname(os.__file__)
    skip = ("/blockbuster/", "langgraph_runtime_inmem/queue.py", __file__)
    site, via = "?", ""
    frame = inspect.currentframe()
    while frame is not None:
        name = frame.f_code.co_filename
        here = f"{short_path(name)}:{frame.f_lineno} {frame.f_code.co_name}"
        if site == "?" and not name.startswith((stdlib, "<")) and not any(s in name for s in skip):
            site = here
        if any(sdk in name for sdk in _SDKS):
            via = here
        frame = frame.f_back
    return f"{site} via {via}" if via else site


def _record_blocking_errors(path: str) -> None:
    import blockbuster.blockbuster as bb

    original = bb.BlockingError.__init__

    def init(self: bb.BlockingError, func: str, *args: Any, **kwargs: Any) -> None:
        with open(path, "a", encoding="utf-8") as file:  # a few per run at most
            line = {"function": func.split("\n", 1)[0], "site": _call_site()}
            file.write(json.dumps(line) + "\n")
        original(self, func, *args, **kwargs)

    bb.BlockingError.__init__ = init  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """``python -m llmcache.lab.langgraph_server dev ...``: langgraph-cli's command, recorded."""
    if os.environ.get("LLMCACHE_NETGUARD") == "1":
        from . import netguard

        netguard.install()
    if os.environ.get(BLOCKING_LOG_ENV):
        _record_blocking_errors(os.environ[BLOCKING_LOG_ENV])
    from langgraph_cli.cli import cli  # type: ignore[import-not-found, unused-ignore]

    try:
        cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="langgraph")
    finally:
        if os.environ.get("LLMCACHE_NETGUARD") == "1" and os.environ.get(BLOCKING_LOG_ENV):
            from . import netguard

            violations = netguard.take_violations()
            with open(os.environ[BLOCKING_LOG_ENV] + ".netguard", "w", encoding="utf-8") as file:
                json.dump(violations, file)
    return 0


# -- the probe: fakes up, server launched, runs timed ----------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, path: str, body: dict[str, Any] | None, timeout: float) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        headers={"content-type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


class _ServerExited(RuntimeError):
    def __init__(self, returncode: int, after: float) -> None:
        super().__init__(f"langgraph dev exited ({returncode}) before serving")
        self.after = after


def _wait_until_ready(port: int, server: subprocess.Popen[bytes], deadline: float) -> None:
    started = time.monotonic()
    while True:
        try:
            _request(port, "/ok", None, timeout=1)
            return
        except (OSError, ValueError):
            if server.poll() is not None:
                raise _ServerExited(server.returncode, time.monotonic() - started) from None
            if time.monotonic() > deadline:
                raise RuntimeError("langgraph dev never answered /ok") from None
            time.sleep(0.02)


def _run(port: int, timeout: float) -> dict[str, Any]:
    """One stateless run, timed from here: seconds, whether the model answered, the error."""
    sent = time.monotonic()
    try:
        body = _request(port, "/runs/wait", _QUESTION, timeout=timeout)
    except (OSError, ValueError) as exc:
        return {"seconds": time.monotonic() - sent, "answered": False, "error": describe(exc)}
    seconds = time.monotonic() - sent
    error = body.get("__error__") if isinstance(body, dict) else None
    messages = body.get("messages", []) if isinstance(body, dict) else []
    answered = bool(messages) and messages[-1].get("type") == "ai" and bool(messages[-1]["content"])
    run: dict[str, Any] = {"seconds": seconds, "answered": answered and error is None}
    if error is not None:
        run["error"] = str(error.get("error", error)) if isinstance(error, dict) else str(error)
    return run


def _log_events(log: str) -> Iterator[dict[str, Any]]:
    """The JSON events of the server's log (other lines are skipped)."""
    for line in log.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def server_log_findings(log: str) -> dict[str, Any]:
    """What the server's JSON log shows a user: the run errors by type, and every event
    mentioning a blocking call (``BlockingError`` or blockbuster's "Blocking call to")."""
    errors: dict[str, int] = {}
    blocking: dict[str, int] = {}
    for event in _log_events(log):
        text = f"{event.get('event', '')}\n{event.get('exception', '')}"
        if event.get("level") == "error" and "Run encountered an error" in text:
            kind = text.split("<class '", 1)[-1].split("'>", 1)[0].rsplit(".", 1)[-1]
            errors[kind] = errors.get(kind, 0) + 1
        if "BlockingError" in text or "Blocking call to" in text:
            called = (
                text.split("Blocking call to ", 1)[-1].split()[0]
                if "Blocking call to " in text
                else "?"
            )
            key = f"{event.get('level', '?')}: {called}"
            blocking[key] = blocking.get(key, 0) + 1
    return {"run_errors": errors, "blocking_events": blocking}


def _startup_error(log: str) -> str:
    """The type of the last exception the server logged (why its start-up failed)."""
    found = "unknown"
    for event in _log_events(log):
        for trace in (event.get("event"), event.get("exception")):  # uvicorn logs it as event
            if not isinstance(trace, str) or "Traceback" not in trace:
                continue
            for text in reversed(trace.strip().splitlines()):
                head = text.strip(" |").split(":", 1)[0]
                if head.endswith(("Error", "Exception", "Group")) and " " not in head:
                    found = head.rsplit(".", 1)[-1]
                    break
    return found


def _agent_env(
    config: dict[str, Any], servers: dict[str, Any], blocking_log: str
) -> dict[str, str]:
    from .sdk_under_test import FAKE_GOOGLE_KEY, FAKE_OPENAI_KEY, MODEL

    env = dict(os.environ)  # the probe's: metadata server, gRPC roots, the auth environment
    env.update(
        LLMCACHE_AGENT_DESIGN=config["design"],
        LLMCACHE_AGENT_PROVIDER=config["sdk"],
        PYTHONPATH=str(REPO_ROOT),
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LOG_JSON="true",
        LOG_COLOR="false",
        **{BLOCKING_LOG_ENV: blocking_log},
    )
    for name in ("LANGGRAPH_ALLOW_BLOCKING", "BG_JOB_ISOLATED_LOOPS"):
        env.pop(name, None)  # detection on, one shared loop: langgraph dev's defaults
    if config["sdk"] == "openai":
        env.update(OPENAI_API_KEY=FAKE_OPENAI_KEY, OPENAI_BASE_URL=servers["openai_base_url"])
        env["OPENAI_MODEL"] = MODEL["openai"]
        return env
    env["GEMINI_MODEL"] = MODEL["google"]
    env["GEMINI_BASE_URL"] = servers.get("gemini_url") or servers["grpc_endpoint"]
    if config.get("auth", "api-key") == "api-key":
        env["GOOGLE_API_KEY"] = FAKE_GOOGLE_KEY
    else:  # Vertex AI with ADC, as examples/app.py without a key
        env["GOOGLE_CLOUD_PROJECT"] = "llmcache-lab"
    return env


def _absolute_config(folder: str) -> str:
    """``examples/langgraph.json`` with absolute paths, written in ``folder``: the server runs
    there (it keeps its in-memory state's files in its working folder), and resolves
    ``http.app`` from it."""
    config = json.loads(AGENT_CONFIG.read_text())
    base = AGENT_CONFIG.parent

    def absolute(ref: str) -> str:
        return str((base / ref).resolve()) if ref.startswith(".") else ref

    config["dependencies"] = [absolute(d) for d in config["dependencies"]]
    config["graphs"] = {name: absolute(ref) for name, ref in config["graphs"].items()}
    if "http" in config:
        config["http"]["app"] = absolute(config["http"]["app"])
    path = os.path.join(folder, "langgraph.json")
    with open(path, "w", encoding="utf-8") as file:
        json.dump(config, file)
    return path


def serve_graph(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """One server life (mode ``langgraph``): launch, ready, two runs, shutdown, findings."""
    run_timeout = float(config.get("run_timeout", 120))
    result: dict[str, Any] = {
        "langgraph_versions": {p: importlib.metadata.version(p) for p in _PACKAGES},
        "blockbuster_version": importlib.metadata.version("blockbuster"),
    }
    with tempfile.TemporaryDirectory(prefix="llmcache-langgraph-") as tmp:
        port = _free_port()
        blocking_log = os.path.join(tmp, "blocking.jsonl")
        argv = [sys.executable, "-m", "llmcache.lab.langgraph_server", "dev"]
        argv += ["--config", _absolute_config(tmp), "--no-browser", "--no-reload"]
        argv += ["--host", "127.0.0.1", "--port", str(port)]
        log = Path(tmp, "server.log")
        with log.open("wb") as out:
            launched = time.monotonic()
            server = subprocess.Popen(
                argv, env=_agent_env(config, servers, blocking_log), stdout=out, stderr=out, cwd=tmp
            )
            try:
                _wait_until_ready(port, server, launched + float(config.get("ready_timeout", 90)))
                result["ready_seconds"] = time.monotonic() - launched
                result["runs"] = [_run(port, run_timeout) for _ in range(2)]
            except _ServerExited as exc:  # its start-up failed: what it logged says why
                result["ready_seconds"] = None
                result["startup_error"] = _startup_error(log.read_text(errors="replace"))
                result["runs"] = [{"seconds": exc.after, "answered": False, "error": "no server"}]
            except RuntimeError as exc:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{exc}; server log ends:\n{tail}") from None
            finally:
                server.send_signal(signal.SIGINT)  # graceful: the lifespan's end runs
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.kill()
                    server.wait()
        result.update(server_log_findings(log.read_text(errors="replace")))
        raised: dict[str, int] = {}
        with contextlib.suppress(FileNotFoundError):
            for line in Path(blocking_log).read_text().splitlines():
                found = json.loads(line)
                key = f"{found['function']} at {found['site']}"
                raised[key] = raised.get(key, 0) + 1
        result["blocking_errors"] = raised
        with contextlib.suppress(FileNotFoundError):
            result["netguard_violations"] = json.loads(Path(blocking_log + ".netguard").read_text())
    result["first_run"] = result["runs"][0]
    return result


if __name__ == "__main__":
    raise SystemExit(main())
