"""Fresh-process probe: ``VENV/bin/python -m llmcache.lab.process_probe CONFIG_JSON`` prints one
JSON line.

Run by the Python of an SDK venv (with ``PYTHONPATH`` at this repo), once per measurement, so
that every import and first construction is really the first in its process (as pyperformance's
``bm_python_startup``). It starts its own loopback servers in a child process, points the SDK at
them, and measures with :mod:`llmcache.lab.measure`. :mod:`llmcache.lab.probe_runner` launches
it. Config keys:

- ``sdk``: ``"google"`` (langchain-google-genai, 3.x or 4.x, whatever the venv has) or ``"openai"``
- ``auth``: ``"api-key"`` or ``"adc"`` (no key: 3.x runs ``google.auth.default()``; 4.x is built
  with ``vertexai=True``, the 4.x path that uses ADC)
- ``metadata``: ``null``, ``"blackhole"``, ``"refuse"`` or ``"slow-valid"``; ``metadata_delay``
- ``env``: extra variables set before the SDK is imported (``NO_GCE_CHECK``...)
- ``latency``: simulated model latency of the fake servers, seconds
- ``mode``: ``"sdk"`` (import, constructions, loop gaps, blocking calls, 1st/2nd ``ainvoke``),
  ``"auth"`` (import, then the first construction and two ``ainvoke`` in one loop),
  ``"app"`` (``design``, ``concurrency``: N concurrent first requests through one design),
  ``"throughput"`` (``calls``, ``concurrency``), ``"capacity"`` (the same with a raw client
  instead of the SDK: :mod:`llmcache.lab.fake_capacity`), ``"loops"`` (``rounds``: see
  :mod:`llmcache.lab.loops`) or ``"providers"`` (``provider``, ``designs``, ``patterns``; sdk
  ``"providers"``: see :mod:`llmcache.lab.providers`) or ``"app_server"`` (``design``,
  ``workers``, ``clients``: the example app under uvicorn, see :mod:`llmcache.lab.app_server`)
  or ``"langgraph"`` (``design``: the example agent under ``langgraph dev``, see
  :mod:`llmcache.lab.langgraph_server`) or ``"soak"`` (``designs``, ``seconds``, ``clients``...:
  the example app under uvicorn for minutes, with churn, see :mod:`llmcache.lab.soak`)
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from ._fake_http import make_self_signed_cert
from .fake_providers import OWN_VENV_FAKES, vertex_server
from .measure import Heartbeat, atimed, describe, record_blocking_calls, run_calls, timed
from .sdk_under_test import (
    MODEL,
    google_generation,
    model_factory,
    sdk_module,
    versions,
)

# -- servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def lab_servers(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Start the servers this probe needs in child processes; yield their endpoints."""
    sdk = config["sdk"]
    latency = float(config.get("latency", 0.0))
    args = [sys.executable, "-m", "llmcache.lab.serve_fakes", "--latency", str(latency)]
    grpc = sdk == "google" and google_generation() < 4
    if sdk == "google" and not grpc:
        args.append("--gemini")
    if sdk == "openai":
        args.append("--openai")
    if sdk == "providers":  # every covered provider's fake: see llmcache.lab.providers
        args += ["--gemini", "--openai", "--providers"]
    if config.get("metadata"):
        args += ["--metadata", config["metadata"]]
        args += ["--metadata-delay", str(config.get("metadata_delay", 0.0))]
    children: list[subprocess.Popen[str]] = []
    with (
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory(prefix="llmcache-probe-") as tmp,
    ):
        try:
            serve = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            children.append(serve)
            assert serve.stdout is not None
            info: dict[str, Any] = json.loads(serve.stdout.readline())
            if grpc:
                cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
                make_self_signed_cert(cert, key)
                fake = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "llmcache.lab.fake_gemini_grpc",
                        "--cert",
                        cert,
                        "--key",
                        key,
                        "--latency",
                        str(latency),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                children.append(fake)
                assert fake.stdout is not None
                port = json.loads(fake.stdout.readline())["port"]
                info["grpc_endpoint"] = f"127.0.0.1:{port}"
                info["grpc_roots"] = cert
            if sdk == "providers" and config.get("provider") in OWN_VENV_FAKES:
                vertex = stack.enter_context(vertex_server(latency))  # Vertex AI's gRPC
                info["provider_urls"]["vertex"] = vertex["vertex"]
                info["grpc_roots"] = vertex["grpc_roots"]
            yield info
        finally:
            for child in children:
                with contextlib.suppress(OSError):
                    child.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=5)


# -- modes -----------------------------------------------------------------------------------


def probe_sdk(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """Import, constructions, loop gaps, blocking calls, first and second ``ainvoke``."""
    out: dict[str, Any] = {}
    out["import"], _ = timed(lambda: importlib.import_module(sdk_module(config["sdk"])))
    build = model_factory(config, servers)

    async def first_on_loop() -> dict[str, Any]:
        # the app's case: the first construction, inside a running event loop
        async with Heartbeat() as beat:
            result, _ = timed(build)
        return {**result, "worst_gap": beat.worst}

    async def via_thread() -> dict[str, Any]:
        async with Heartbeat() as beat:
            result, _ = await atimed(asyncio.to_thread(build))
        return {**result, "worst_gap": beat.worst}

    out["construct_1"] = asyncio.run(first_on_loop())
    # built outside any loop: this instance serves the ainvoke calls below
    out["construct_2"], model = timed(build)
    out["construct_via_thread"] = asyncio.run(via_thread())
    if config.get("blocking", True):
        try:
            out["blocking_calls"] = record_blocking_calls(lambda: timed(build))
        except Exception as exc:
            out["blocking_calls_error"] = describe(exc)

    async def first_calls() -> dict[str, Any]:
        calls: dict[str, Any] = {}
        target = model
        if target is None:
            calls["construct_for_ainvoke"], target = timed(build)
        if target is None:
            return calls
        async with Heartbeat() as beat:
            calls["ainvoke_1"], reply = await atimed(target.ainvoke("hello"))
        calls["ainvoke_1"]["worst_gap"] = beat.worst
        calls["ainvoke_2"], _ = await atimed(target.ainvoke("hello again"))
        if reply is not None:
            calls["reply"] = str(reply.content)
        return calls

    out.update(asyncio.run(first_calls()))
    return out


def probe_auth(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """The first request's path in one auth environment: build on the loop, then two calls."""
    out: dict[str, Any] = {}
    out["import"], _ = timed(lambda: importlib.import_module(sdk_module(config["sdk"])))
    build = model_factory(config, servers)

    async def app() -> None:
        async with Heartbeat() as beat:
            out["construct_1"], model = timed(build)
        out["construct_1"]["worst_gap"] = beat.worst
        if model is None:
            return
        async with Heartbeat() as beat:
            out["ainvoke_1"], _ = await atimed(model.ainvoke("hello"))
        out["ainvoke_1"]["worst_gap"] = beat.worst
        out["ainvoke_2"], _ = await atimed(model.ainvoke("hello again"))

    asyncio.run(app())
    return out


def probe_app(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """N concurrent first requests to an async app through one cache design."""
    from . import designs

    design, concurrency = config["design"], int(config.get("concurrency", 10))
    provider = config["sdk"]
    out: dict[str, Any] = {"design": design, "concurrency": concurrency}
    started = time.perf_counter()
    importlib.import_module(sdk_module(provider))  # the app imports its SDK at start-up
    build = model_factory(config, servers)
    constructions = 0
    count_lock = threading.Lock()

    def counting_factory(model_name: str) -> Any:
        nonlocal constructions
        with count_lock:
            constructions += 1
        return build()

    bound = designs.bind(design, counting_factory, provider)
    name = MODEL[provider]

    arrived = 0.0  # all N requests arrive together; each one's latency counts from then

    async def request() -> dict[str, Any]:
        try:
            model = await bound.model(name)
            await model.ainvoke("hello")
        except Exception as exc:
            return {"seconds": time.perf_counter() - arrived, "error": describe(exc)}
        return {"seconds": time.perf_counter() - arrived}

    async def app() -> None:
        if bound.startup is not None:
            try:
                await bound.startup(name)  # in the app's lifespan, before serving
            except Exception as exc:
                out["warm_error"] = describe(exc)
        out["startup_seconds"] = time.perf_counter() - started
        nonlocal arrived
        async with Heartbeat() as beat:
            arrived = time.perf_counter()
            out["requests"] = await asyncio.gather(*(request() for _ in range(concurrency)))
        out["worst_gap"] = beat.worst

    asyncio.run(app())
    out["constructions"] = constructions
    return out


def probe_throughput(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """``calls`` ``ainvoke`` calls at ``concurrency``, on one warmed model."""
    calls, concurrency = int(config.get("calls", 1000)), int(config.get("concurrency", 50))
    importlib.import_module(sdk_module(config["sdk"]))
    model = model_factory(config, servers)()

    async def run() -> dict[str, Any]:
        await model.ainvoke("warm-up")  # connection set-up is not throughput
        return await run_calls(lambda: model.ainvoke("hello"), calls, concurrency)

    from .fake_capacity import fake_of

    return {"fake": fake_of(servers), **asyncio.run(run())}


MODES: dict[str, Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | str] = {
    "sdk": probe_sdk,
    "auth": probe_auth,
    "app": probe_app,
    "throughput": probe_throughput,
    # modes of their own modules, imported when run (they import nothing of this one)
    "capacity": "fake_capacity:measure_capacity",
    "loops": "loops:probe_loops",
    "providers": "providers:probe_providers",
    "first_call": "first_call:probe_first_call",
    "app_server": "app_server:serve_app",
    "langgraph": "langgraph_server:serve_graph",
    "soak": "soak:serve_soak",
}
"""Each mode's probe, ``probe(config, servers) -> result``: a function here, or
``"module:function"`` of this package."""


def _probe_of(mode: str) -> Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]:
    probe = MODES[mode]
    if isinstance(probe, str):
        module, name = probe.split(":")
        found: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
        found = getattr(importlib.import_module(f"{__package__}.{module}"), name)
        return found
    return probe


def run(config: dict[str, Any]) -> dict[str, Any]:
    mode = config.get("mode", "sdk")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {sorted(MODES)}")
    sdks = [*MODEL, "providers"]
    if config.get("sdk") not in sdks:
        raise ValueError(f"unknown sdk {config.get('sdk')!r}; expected one of {sorted(sdks)}")
    result: dict[str, Any] = {"config": config, "versions": versions(), "python": sys.version}
    result["isolation"] = "netns" if os.environ.get("LLMCACHE_PRIVATE_NETNS") == "1" else "guard"
    result["bytecode"] = {
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }
    with lab_servers(config) as servers:
        os.environ.update(servers.get("metadata_env", {}))
        if "grpc_roots" in servers:
            os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = servers["grpc_roots"]
        os.environ.update({k: str(v) for k, v in config.get("env", {}).items()})
        result["simulated_model_latency"] = servers["simulated_model_latency"]
        started = time.perf_counter()
        result.update(_probe_of(mode)(config, servers))
        result["probe_seconds"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    if os.environ.get("LLMCACHE_NETGUARD") == "1":
        from . import netguard

        netguard.install()
    try:
        config = json.loads(args[0])
        result = run(config)
    except Exception as exc:
        print(json.dumps({"fatal": describe(exc), "traceback": traceback.format_exc()}))
        return 1
    if os.environ.get("LLMCACHE_NETGUARD") == "1":
        from . import netguard

        result["netguard_violations"] = netguard.take_violations()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
