"""The ``providers`` experiment: every LangChain provider llmcache covers, through each design the
lab compares, in every pattern of an app's event loops, threads and processes.

One fresh probe per provider, in the ``providers`` venv (:data:`llmcache.lab.matrix.PROVIDER_VENVS`,
every covered integration; ``google_vertexai`` in ``providers-vertex``, as it needs google-genai<3),
against the loopback fakes of its wire API (Gemini REST, OpenAI, Anthropic Messages, Ollama
chat, OpenAI-compatible chat completions: ``serve_fakes --gemini --openai --providers``; Vertex
AI's gRPC PredictionService), inside the lab's network namespace (a provider whose SDK reads its
base URL from the environment gets it set in the probe's process). The probe:

1. imports the provider's integration (timed: the first import in this process);
2. in a forked child, builds its model as LangChain does (the first construction, then a
   second) and as llmcache does (the class plus its loop-local clients), each timed;
3. for each design (a new instance per call, ``functools.cache``, the asyncio.Lock design,
   llmcache's ``get_model_async``), forks one child per pattern, as :mod:`llmcache.lab.loops`
   does (the parent imported the SDK and built nothing):

   - ``sequential loops``: ``asyncio.run`` three times in a row, each call timed with the loop's
     worst gap (the first one is the first call's, build included);
   - ``threads, own loops``: three threads, each with its own loop, calling at once, 3 rounds;
   - ``concurrent loops``: a main loop and a long-lived loop in a thread calling at once;
   - ``forked child``: build and call, fork; the child calls twice, the parent again;
4. ``close/aclose, -X dev``: one more interpreter of the venv under ``-X dev -W
   always::ResourceWarning`` imports the integration and forks per design: ``close`` (two loops
   one after the other, then ``close_cache()``) and ``aclose`` (a loop, then a second one that
   calls and awaits ``aclose_cache()``), then collects garbage; every "Unclosed", ResourceWarning,
   "Exception ignored" or never-retrieved task line on its stderr is a failure. The baseline
   designs have nothing to close: the app drops their models (their module state reset).

Every call is "get the model through the design, then ``ainvoke``" with ``max_retries=0`` where
the class takes it (each call's first attempt: a pool bound to a closed loop fails the same
on a retry, after seconds of backoff); its outcome is ``ok`` or its exception's type name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import importlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import loops
from .measure import Heartbeat, describe, timed

__all__ = [
    "DESIGNS",
    "KNOWN_LIMITS",
    "MECHANISMS",
    "PATTERNS",
    "PROVIDERS",
    "QUICK_PROVIDERS",
    "VENV",
    "ProviderCase",
    "case",
    "cost_table",
    "mechanism_table",
    "outcome_table",
    "probe_providers",
    "venv_of",
]

VENV = "providers"
"""The venv of :data:`llmcache.lab.matrix.PROVIDER_VENVS` the probes run in, but those of
:data:`llmcache.lab.matrix.PROVIDER_VENV_OF` (:func:`venv_of`)."""

DESIGNS = loops.DESIGNS

DEV_PATTERN = "close/aclose, -X dev"
PATTERNS = (
    "sequential loops",
    "threads, own loops",
    "concurrent loops",
    "forked child",
    DEV_PATTERN,
)

LEAK_SIGNS = (
    "Unclosed client session",
    "Unclosed connector",
    "Task exception was never retrieved",
    "ResourceWarning",
    "Exception ignored",
)
"""A line of these on stderr after close is a failed close (as tests/test_providers_every_loop.py
counts them)."""

MECHANISMS: dict[str, tuple[str, str]] = {
    "google_genai": (
        "google",
        "built in: google-genai keeps a session per loop; llmcache closes each on its loop",
    ),
    "openai": ("openai_compatible", "built in: public http_async_client=, a loop-local client"),
    "azure_openai": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "deepseek": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "xai": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "together": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "baseten": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "meta": ("openai_compatible", "public http_async_client=, a loop-local client"),
    "groq": ("openai_compatible", "public http_async_client= on httpx (AsyncGroq)"),
    "fireworks": (
        "openai_compatible",
        "public field async_client: AsyncFireworks(http_client=<loop-local>)",
    ),
    "openrouter": (
        "openai_compatible",
        "the SDK's sdk_configuration.async_client replaced by a loop-local client",
    ),
    "anthropic": (
        "anthropic",
        "private _async_client cached property filled with a loop-local client",
    ),
    "perplexity": (
        "openai_compatible",
        "public field async_client: the SDK's copy(http_client=<loop-local>)",
    ),
    "cohere": (
        "cohere",
        "public field async_client: cohere.AsyncClient(httpx_client=<loop-local>)",
    ),
    "mistralai": ("mistralai", "public field async_client: a loop-local client"),
    "ollama": ("ollama", "public async_client_kwargs: transports of a loop-local client"),
    "nvidia": (
        "(none)",
        "none needed: LangChain's build opens an aiohttp session per request and closes it",
    ),
    "google_vertexai": (
        "vertexai",
        "public field async_client: a PredictionServiceAsyncClient (gRPC) per loop",
    ),
}
"""LangChain provider -> (llmcache's module in ``llmcache/_providers``, or ``(none)`` for a provider
that needs no adapter, and what it does)."""

PROVIDERS = tuple(MECHANISMS)
"""Every covered provider, the built-in ones first."""

KNOWN_LIMITS: dict[tuple[str, str], str] = {
    ("google_vertexai", "forked child"): (
        "gRPC cannot be used in a child forked after the parent used it (its fork handlers are "
        "skipped while its threads run): the child's calls hang, in every design"
    ),
}
"""(provider, pattern) -> why every design fails there, llmcache included: measured and shown,
not counted against llmcache's claims."""


def venv_of(provider: str) -> str:
    """The venv of :mod:`llmcache.lab.matrix` that ``provider``'s probe runs in."""
    from .matrix import PROVIDER_VENV_OF

    return PROVIDER_VENV_OF.get(provider, VENV)


QUICK_PROVIDERS = (
    "deepseek",
    "groq",
    "fireworks",
    "openrouter",
    "anthropic",
    "mistralai",
    "ollama",
    "perplexity",
    "cohere",
)
"""The quick profile's subset: one provider per adapter function of ``llmcache/_providers``
(deepseek for azure_openai, xai, together, baseten and meta, which share its
``adapt_openai_family``; nvidia,
which needs no adapter, is in the full profile and ``make test``'s provider tests). The
built-in ``google`` and ``openai`` are in the quick ``loops`` experiment (llmcache, every
pattern but the close one) and its ``soak`` (closed under ``-X dev``); the full profile measures
them here too."""

CALL_TIMEOUT = loops.CALL_TIMEOUT
PATTERN_TIMEOUT = 60.0
DEV_TIMEOUT = 180.0


@dataclass(frozen=True)
class ProviderCase:
    """One provider pointed at its fake: what each design builds and llmcache is asked for."""

    provider: str
    """LangChain's name (``init_chat_model(model_provider=...)``)."""
    llmcache_provider: str
    """The name llmcache is asked with (``google`` for ``google_genai``)."""
    model_name: str
    module: str
    """The integration's module (imported once per probe, timed)."""
    packages: tuple[str, ...]
    """Distributions whose versions the probe records."""
    kwargs: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables the SDK reads when the model is built (set in the probe)."""


def case(provider: str, servers: dict[str, Any]) -> ProviderCase:
    """``provider`` pointed at the fakes ``servers`` (as ``serve_fakes`` prints them)."""
    if provider == "google_genai":
        kwargs = {
            "google_api_key": "lab-fake-google-key",
            "base_url": servers["gemini_url"],
            "max_retries": 0,
        }
        packages: tuple[str, ...] = ("langchain-google-genai", "google-genai", "aiohttp")
        return ProviderCase(
            provider, "google", "gemini-2.0-flash", "langchain_google_genai", packages, kwargs
        )
    if provider == "openai":
        kwargs = {
            "api_key": "lab-fake-openai-key",
            "base_url": servers["openai_base_url"],
            "max_retries": 0,
        }
        packages = ("langchain-openai", "openai", "httpx")
        return ProviderCase(provider, "openai", "gpt-4o-mini", "langchain_openai", packages, kwargs)
    from .._langchain import LANGCHAIN_PROVIDERS
    from .fake_providers import OWN_VENV_FAKES, PROVIDER_FAKES

    fake = {**PROVIDER_FAKES, **OWN_VENV_FAKES}[provider]
    spec = LANGCHAIN_PROVIDERS[provider]
    more = {"max_retries": 0} if fake.retries else {}
    sdk = {
        "anthropic": "anthropic",
        "cohere": "cohere",
        "fireworks": "fireworks-ai",
        "groq": "groq",
        "mistralai": "httpx",
        "nvidia": "aiohttp",
        "ollama": "ollama",
        "openrouter": "openrouter",
        "perplexity": "perplexityai",
        "google_vertexai": "google-cloud-aiplatform",
    }.get(provider, "openai")
    packages = (
        fake.package,
        sdk,
        *(("grpcio", "google-genai") if sdk.startswith("google") else ()),
    )
    return ProviderCase(
        provider,
        provider,
        fake.model_name,
        spec.module,
        packages,
        fake.kwargs(servers["provider_urls"], **more),
        fake.environ(servers["provider_urls"]),
    )


# -- one call through a design ---------------------------------------------------------------


def design_call(design: str, target: ProviderCase) -> tuple[loops.Call, Callable[[], int]]:
    """A call through ``design`` as an app writes it, and a counter of the models it built."""
    from . import designs

    if design == "llmcache":
        import llmcache

        name, provider, kwargs = target.model_name, target.llmcache_provider, target.kwargs

        async def call_llmcache() -> dict[str, Any]:
            return await loops.call_model(
                lambda: llmcache.get_model_async(name, provider, **kwargs)
            )

        return call_llmcache, lambda: llmcache.cache_stats().constructions
    from .._langchain import langchain_factory

    plain = langchain_factory(target.provider)
    assert plain is not None
    built = [0]
    lock = threading.Lock()

    def counting_build(model_name: str) -> Any:
        with lock:
            built[0] += 1
        return plain(model_name, **target.kwargs)

    bound = designs.bind(design, counting_build, target.provider)

    async def call_design() -> dict[str, Any]:
        return await loops.call_model(lambda: bound.model(target.model_name))

    return call_design, lambda: built[0]


def _drop(design: str) -> Callable[[], None]:
    """What an app of ``design`` does at shutdown: llmcache closes; the baselines drop."""
    if design == "llmcache":
        import llmcache

        return llmcache.close_cache
    from . import baselines

    return baselines.fresh_process


async def _adrop(design: str) -> None:
    if design == "llmcache":
        import llmcache

        await llmcache.aclose_cache()
    else:
        _drop(design)()


# -- patterns --------------------------------------------------------------------------------


def sequential_loops(call: loops.Call, record: loops.Record) -> None:
    """``asyncio.run`` three times in a row; each call with the loop's worst gap."""

    async def with_gap() -> dict[str, Any]:
        async with Heartbeat() as beat:
            outcome = await call()
        return {**outcome, "worst_gap": beat.worst}

    for i in range(3):
        record(f"loop {i + 1}", loops._guarded(lambda: asyncio.run(with_gap())))


FORKED_PATTERNS: dict[str, Callable[[loops.Call, loops.Record], None]] = {
    "sequential loops": sequential_loops,
    "threads, own loops": loops.threads_at_once,
    "concurrent loops": loops.main_and_thread_loop,
    "forked child": loops.fork_after_build,
}


def _run_forked(pattern: Callable[[loops.Record], None], timeout: float) -> list[dict[str, Any]]:
    records = loops._Forked(pattern).collect(timeout)
    return [{"call": label, **outcome} for label, outcome in records]


def _split_builds(calls: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int | None]:
    builds = next((c["builds"] for c in calls if c["call"] == "builds"), None)
    return [c for c in calls if c["call"] != "builds"], builds


def run_pattern(pattern: str, call: loops.Call, builds: Callable[[], int]) -> dict[str, Any]:
    """One forked pattern in a child of this process: each call's outcome, models built."""
    started = time.perf_counter()

    def body(record: loops.Record) -> None:
        FORKED_PATTERNS[pattern](call, record)
        record("builds", {"outcome": "ok", "builds": builds()})

    calls, built = _split_builds(_run_forked(body, PATTERN_TIMEOUT))
    return {
        "pattern": pattern,
        "calls": calls,
        "builds": built,
        "seconds": time.perf_counter() - started,
    }


def _leaks(stderr: bytes) -> list[str]:
    lines = stderr.decode(errors="replace").splitlines()
    return [line for line in lines if any(sign in line for sign in LEAK_SIGNS)]


def close_pattern(design: str, call: loops.Call, record: loops.Record) -> None:
    """In a child under ``-X dev``: ``close`` then ``aclose``, each in its own fork, stderr
    scanned for leaks after garbage collection."""

    def closing(variant: str) -> Callable[[loops.Record], None]:
        def body(child_record: loops.Record) -> None:
            with tempfile.TemporaryFile() as captured:
                os.dup2(captured.fileno(), 2)  # this child's stderr: warnings land here
                _close_variant(variant, design, call, child_record)
                gc.collect()
                time.sleep(0.05)  # a close scheduled on another thread's loop, if any
                gc.collect()
                sys.stderr.flush()
                captured.seek(0)
                leaks = _leaks(captured.read())
            outcome: dict[str, Any] = {"outcome": "ok", "seconds": 0.0}
            if leaks:
                outcome = {"outcome": "Leak", "seconds": 0.0, "error": leaks[0][:200]}
            child_record(f"{variant}: clean", {**outcome, "leak_lines": len(leaks)})

        return body

    for variant in ("close", "aclose"):
        for label, outcome in loops._Forked(closing(variant)).collect(PATTERN_TIMEOUT):
            record(label, outcome)


def _close_variant(variant: str, design: str, call: loops.Call, record: loops.Record) -> None:
    """``close``: two loops one after the other, then ``close_cache()`` (or the drop); ``aclose``:
    a loop, then one that calls and awaits ``aclose_cache()``."""
    if variant == "close":
        for i in range(2):
            record(f"close: loop {i + 1}", _guard(lambda: asyncio.run(call())))
        record("close", _guard(lambda: _drop(design)()))
        return
    record("aclose: loop 1", _guard(lambda: asyncio.run(call())))

    async def call_then_aclose() -> None:
        record("aclose: loop 2", await call())
        await _adrop(design)

    record("aclose", _guard(lambda: asyncio.run(call_then_aclose())))


def _guard(run: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        outcome = run()
    except Exception as exc:
        return {"outcome": type(exc).__name__, "seconds": 0.0, "error": describe(exc)}
    if isinstance(outcome, dict) and "outcome" in outcome:
        return outcome
    return {"outcome": "ok", "seconds": time.perf_counter() - started}


# -- the probe -------------------------------------------------------------------------------


def _versions(target: ProviderCase) -> dict[str, str]:
    found = {}
    for name in (*target.packages, "langchain-core", "httpx"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[name] = importlib.metadata.version(name)
    return found


def _first_builds(target: ProviderCase) -> dict[str, Any]:
    """In a forked child: LangChain's first and second construction, then llmcache's build
    (the class plus its loop-local clients, or LangChain's for a provider without adapter),
    each timed."""
    from .._langchain import langchain_factory

    plain = langchain_factory(target.provider)
    assert plain is not None

    from .. import _providers

    provider = _providers.BUILTIN_PROVIDERS.get(target.llmcache_provider)
    provider = provider or _providers.adapted_provider(target.provider)
    # A provider without adapter (AS_BUILT): llmcache builds it as LangChain does.
    assert provider is not None or target.provider in _providers.AS_BUILT
    builds: tuple[tuple[str, Callable[..., Any]], ...] = (
        ("construct_1", plain),
        ("construct_2", plain),
        ("construct_llmcache", plain if provider is None else provider.factory),
    )

    def body(record: loops.Record) -> None:
        for label, build in builds:
            result, _ = timed(functools.partial(build, target.model_name, **target.kwargs))
            record(label, {"outcome": "ok" if "error" not in result else "Error", **result})

    return {r.pop("call"): r for r in _run_forked(body, PATTERN_TIMEOUT)}


def probe_providers(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """One provider (``provider``), every design of ``designs`` in every pattern of
    ``patterns`` (default all); ``dev``: the close patterns' own interpreter."""
    target = case(config["provider"], servers)
    os.environ.update(target.env)  # before anything is built (the close pattern's too)
    chosen = config.get("designs") or list(DESIGNS)
    unknown = [d for d in chosen if d not in DESIGNS]
    if unknown:
        raise ValueError(f"unknown design(s) {unknown}; expected some of {DESIGNS}")
    patterns = config.get("patterns") or list(PATTERNS)
    out: dict[str, Any] = {"provider": target.provider, "versions": _versions(target)}
    out["import"], _ = timed(lambda: importlib.import_module(target.module))  # the first
    if "error" in out["import"]:
        return out
    out["builds"] = _first_builds(target)
    # The close pattern's interpreter imports the SDK while the forked patterns run here.
    dev = _start_dev(config, servers, chosen) if DEV_PATTERN in patterns else None
    runs = []
    for design in chosen:
        call, builds = design_call(design, target)  # binds; builds nothing here
        for pattern in patterns:
            if pattern in FORKED_PATTERNS:
                runs.append({"design": design, **run_pattern(pattern, call, builds)})
    if dev is not None:
        runs += _dev_runs(dev, chosen)
    out["runs"] = runs
    return out


def _start_dev(
    config: dict[str, Any], servers: dict[str, Any], chosen: list[str]
) -> subprocess.Popen[str]:
    """The close pattern's interpreter: this venv's Python under ``-X dev``."""
    argv = [sys.executable, "-X", "dev", "-W", "always::ResourceWarning", "-m", __name__]
    payload = json.dumps({"config": {**config, "designs": chosen}, "servers": servers})
    return subprocess.Popen(
        [*argv, payload], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _dev_runs(dev: subprocess.Popen[str], chosen: list[str]) -> list[dict[str, Any]]:
    """The close pattern's runs, one per design, as its interpreter printed them."""
    try:
        stdout, stderr = dev.communicate(timeout=DEV_TIMEOUT)
        lines = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        error = None if lines else f"exit {dev.returncode}: {stderr.strip()[-300:]}"
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.communicate()
        lines, error = [], f"timed out after {DEV_TIMEOUT:g} s"
    if error is not None:
        failed = {"call": "process", "outcome": "DevProcessFailed", "error": error, "seconds": 0.0}
        return [
            {"design": d, "pattern": DEV_PATTERN, "calls": [failed], "builds": None, "seconds": 0.0}
            for d in chosen
        ]
    return lines


def dev_main(payload: dict[str, Any]) -> None:
    """``python -X dev -m llmcache.lab.providers PAYLOAD``: the close pattern of each design,
    one JSON line each."""
    if os.environ.get("LLMCACHE_NETGUARD") == "1":
        from . import netguard

        netguard.install()
    config, servers = payload["config"], payload["servers"]
    target = case(config["provider"], servers)
    os.environ.update(target.env)
    importlib.import_module(target.module)
    for design in config["designs"]:
        started = time.perf_counter()
        call, _ = design_call(design, target)

        def body(record: loops.Record, d: str = design, c: loops.Call = call) -> None:
            close_pattern(d, c, record)

        calls = _run_forked(body, DEV_TIMEOUT / 2)
        line = {
            "design": design,
            "pattern": DEV_PATTERN,
            "calls": calls,
            "builds": None,
            "seconds": time.perf_counter() - started,
            "dev_mode": sys.flags.dev_mode,
        }
        print(json.dumps(line), flush=True)


# -- tables and the plot ---------------------------------------------------------------------


def _runs(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [run for run in data["runs"] if "result" in run]


def outcome_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per provider, design and pattern: calls, failed calls and their exception types (a
    probe that failed as a whole: one row with no calls and its error)."""
    rows: list[dict[str, Any]] = []
    for run in data["runs"]:
        provider = run["labels"]["provider"]
        if "result" not in run or "runs" not in run["result"]:
            error = run.get("error") or _get_error(run.get("result", {}))
            rows.append(
                {
                    "provider": provider,
                    "design": "(all)",
                    "pattern": "(all)",
                    "calls": 0,
                    "errors": 0,
                    "outcomes": f"probe failed: {str(error)[:120]}",
                    "first_error": "",
                    "builds": None,
                }
            )
            continue
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for pattern_run in run["result"]["runs"]:
            groups[(pattern_run["design"], pattern_run["pattern"])].append(pattern_run)
        for (design, pattern), pattern_runs in groups.items():
            calls = [c for r in pattern_runs for c in r["calls"]]
            outcomes = Counter(c["outcome"] for c in calls)
            ok = outcomes.pop("ok", 0)
            first = next((c.get("error", c["outcome"]) for c in calls if c["outcome"] != "ok"), "")
            rows.append(
                {
                    "provider": provider,
                    "design": design,
                    "pattern": pattern,
                    "calls": ok + sum(outcomes.values()),
                    "errors": sum(outcomes.values()),
                    "outcomes": ", ".join(f"{k} {n}" for k, n in outcomes.most_common()),
                    "first_error": str(first)[:160],
                    "builds": pattern_runs[0].get("builds"),
                }
            )
    return rows


def _get_error(result: dict[str, Any]) -> str:
    return str(result.get("import", {}).get("error", "no runs"))


def cost_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per provider: the integration's versions, its first import (s), LangChain's first and
    second construction and llmcache's build (ms), and per design the first call's loop worst
    gap (ms; the first call of ``sequential loops``, build included)."""
    rows = []
    for run in _runs(data):
        result = run["result"]
        builds = result.get("builds", {})
        row: dict[str, Any] = {
            "provider": result["provider"],
            "versions": ", ".join(f"{k} {v}" for k, v in result["versions"].items()),
            "import_s": result["import"].get("seconds"),
        }
        for label in ("construct_1", "construct_2", "construct_llmcache"):
            seconds = builds.get(label, {}).get("seconds")
            row[f"{label}_ms"] = None if seconds is None else seconds * 1e3
        for pattern_run in result.get("runs", []):
            if pattern_run["pattern"] != "sequential loops" or not pattern_run["calls"]:
                continue
            first, *rest = pattern_run["calls"]
            gap = first.get("worst_gap")
            row[f"first_call_gap_ms {pattern_run['design']}"] = None if gap is None else gap * 1e3
            later = [c["worst_gap"] for c in rest if "worst_gap" in c]
            if pattern_run["design"] == "llmcache" and later:
                row["later_call_gap_ms llmcache"] = max(later) * 1e3
        rows.append(row)
    return rows


def mechanism_table(data: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Per covered provider: llmcache's module, what it does, and (from ``data``) the measured
    versions and whether this run measured it."""
    measured = {}
    for run in _runs(data or {"runs": []}):
        measured[run["result"]["provider"]] = run["result"]["versions"]
    return [
        {
            "provider": provider,
            "module": f"llmcache/_providers/{module}.py",
            "what llmcache does": what,
            "versions": ", ".join(f"{k} {v}" for k, v in measured.get(provider, {}).items()),
            "measured": provider in measured,
        }
        for provider, (module, what) in MECHANISMS.items()
    ]


if __name__ == "__main__":
    dev_main(json.loads(sys.argv[1]))
