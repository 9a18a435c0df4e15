"""``llmcache doctor``: find the cold-start traps in this environment and what each costs.

It reads the environment, installed package metadata and google-auth's own constants; it never
contacts the network (the metadata probe's cost is computed from google-auth's settings, not
measured by probing). ``--measure`` times the real import and construction in a fresh
subprocess of this interpreter, with a fake key and every endpoint on a closed loopback port.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Finding", "diagnose", "main", "metadata_probe_seconds"]

STATUSES = ("OK", "WARN", "FAIL")
FAIL_ABOVE_SECONDS = 1.0

# google-auth 2.x defaults (google/auth/compute_engine/_metadata.py and _exponential_backoff.py),
# used when google-auth is not importable here.
DEFAULT_TIMEOUT, DEFAULT_RETRIES, DEFAULT_INITIAL_WAIT, DEFAULT_MULTIPLIER = 3.0, 3, 1.0, 2.0

NO_BYTECODE_PENALTY_SECONDS = 1.2
"""Extra import seconds without bytecode: the lab measured 1.9-2.1 s against 0.8-0.9 s for
langchain-google-genai 4.4.2 on this project's 2-core machines (``reports/data/sdk.json``)."""

GOOGLE_KEY_VARS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
OPENAI_KEY_VARS = ("OPENAI_API_KEY",)
SDK_PACKAGES = {
    "google": ("langchain_google_genai", "google.genai", "google.auth", "langchain_core"),
    "openai": ("langchain_openai", "openai", "langchain_core"),
}


@dataclass(frozen=True)
class Finding:
    """One check: its status, the seconds at stake on a cold start, and the fix."""

    check: str
    status: str
    seconds: float
    message: str
    fix: str = ""


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _backoff_constants() -> tuple[float, float]:
    try:
        from google.auth import _exponential_backoff as backoff
    except ImportError:
        return DEFAULT_INITIAL_WAIT, DEFAULT_MULTIPLIER
    return backoff._DEFAULT_INITIAL_INTERVAL_SECONDS, backoff._DEFAULT_MULTIPLIER


def _int_env(env: dict[str, str], name: str, default: float) -> float:
    """google-auth's reading: ``int(os.getenv(name, default))``, default on a bad value."""
    try:
        return int(env.get(name, default))
    except ValueError:
        return default


def metadata_probe_seconds(env: dict[str, str]) -> tuple[float, float]:
    """(refused, silent) seconds one ``google.auth.default()`` spends pinging the metadata server.

    Refused: only the backoff waits between attempts. Silent (packets dropped): every attempt
    waits its full timeout too. Mirrors ``_metadata.ping`` and ``ExponentialBackoff``.
    """
    timeout = _int_env(env, "GCE_METADATA_TIMEOUT", DEFAULT_TIMEOUT)
    retries = max(int(_int_env(env, "GCE_METADATA_DETECT_RETRIES", DEFAULT_RETRIES)), 1)
    initial, multiplier = _backoff_constants()
    waits = sum(initial * multiplier**i for i in range(retries - 1))
    return waits, waits + retries * timeout


def _find(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _missing_bytecode(package_dir: Path) -> tuple[int, int]:
    """(sources, sources without a bytecode file for this interpreter) in a package tree."""
    tag = sys.implementation.cache_tag
    sources = missing = 0
    for source in package_dir.rglob("*.py"):
        sources += 1
        cached = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        if not cached.exists():
            missing += 1
    return sources, missing


def check_sdk(provider: str) -> list[Finding]:
    if provider == "openai":
        version = _version("langchain-openai")
        if version is None:
            return [
                Finding(
                    "sdk",
                    "WARN",
                    0.0,
                    "langchain-openai is not installed",
                    "pip install langchain-openai",
                )
            ]
        return [Finding("sdk", "OK", 0.0, f"langchain-openai {version}")]
    version = _version("langchain-google-genai")
    if version is None:
        return [
            Finding(
                "sdk",
                "WARN",
                0.0,
                "langchain-google-genai is not installed",
                "pip install 'langchain-google-genai>=4.1'",
            )
        ]
    findings = []
    if int(version.split(".")[0]) < 4:
        findings.append(
            Finding(
                "sdk",
                "WARN",
                0.0,
                f"langchain-google-genai {version} (3.x: gRPC; without an API key it runs "
                "google.auth.default() in the constructor, on the event loop, and again at the "
                "first ainvoke)",
                "upgrade to langchain-google-genai>=4.1",
            )
        )
    else:
        findings.append(Finding("sdk", "OK", 0.0, f"langchain-google-genai {version} (4.x: REST)"))
        has_aiohttp = importlib.util.find_spec("aiohttp") is not None
        findings.append(
            Finding(
                "aiohttp",
                "OK" if has_aiohttp else "WARN",
                0.0,
                "google-genai's aiohttp extra is installed"
                if has_aiohttp
                else "aiohttp is missing: google-genai's async calls fall back to httpx "
                "(the lab measured lower throughput and a higher p99)",
                "" if has_aiohttp else "pip install 'google-genai[aiohttp]'",
            )
        )
    return findings


def check_credentials(provider: str, env: dict[str, str]) -> list[Finding]:
    key_vars = OPENAI_KEY_VARS if provider == "openai" else GOOGLE_KEY_VARS
    present = [name for name in key_vars if env.get(name)]
    if present:
        return [Finding("credentials", "OK", 0.0, f"API key variable set: {', '.join(present)}")]
    if provider == "openai":
        return [
            Finding(
                "credentials",
                "WARN",
                0.0,
                "no OPENAI_API_KEY: pass api_key= or the first build fails",
                "set OPENAI_API_KEY",
            )
        ]

    findings: list[Finding] = []
    no_check = env.get("NO_GCE_CHECK")
    if no_check is not None and no_check != "true":
        findings.append(
            Finding(
                "NO_GCE_CHECK",
                "WARN",
                0.0,
                f"NO_GCE_CHECK={no_check!r} is ignored: google-auth compares it with == 'true'",
                "NO_GCE_CHECK=true (lower case)",
            )
        )
    adc_file = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    gcloud_dir = env.get("CLOUDSDK_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".config", "gcloud"
    )
    gcloud_file = os.path.join(gcloud_dir, "application_default_credentials.json")
    if adc_file:
        exists = os.path.exists(adc_file)
        findings.append(
            Finding(
                "credentials",
                "OK" if exists else "FAIL",
                0.0,
                "ADC from GOOGLE_APPLICATION_CREDENTIALS (no metadata probe)"
                if exists
                else "GOOGLE_APPLICATION_CREDENTIALS names a file that does not exist",
                "" if exists else "fix the path or set GOOGLE_API_KEY",
            )
        )
        return findings
    if os.path.exists(gcloud_file):
        findings.append(
            Finding(
                "credentials",
                "OK",
                0.0,
                "ADC from gcloud's application_default_credentials.json (no metadata probe)",
            )
        )
        return findings
    if no_check == "true":
        findings.append(
            Finding(
                "credentials",
                "OK",
                0.0,
                "no API key and no ADC file; NO_GCE_CHECK=true skips the metadata probe "
                "(the first call fails at once)",
            )
        )
        return findings
    refused, silent = metadata_probe_seconds(env)
    generation = _version("langchain-google-genai") or "4"
    probes = 2 if generation.startswith(("0.", "1.", "2.", "3.")) else 1
    timeout = _int_env(env, "GCE_METADATA_TIMEOUT", DEFAULT_TIMEOUT)
    retries = _int_env(env, "GCE_METADATA_DETECT_RETRIES", DEFAULT_RETRIES)
    findings.append(
        Finding(
            "metadata probe",
            "FAIL" if probes * silent > FAIL_ABOVE_SECONDS else "WARN",
            probes * silent,
            f"no API key variable and no ADC file: google.auth.default() pings the GCE metadata "
            f"server ({retries:g} attempt(s) x {timeout:g} s timeout + backoff): "
            f"{silent:.1f} s per call if the address drops packets, {refused:.1f} s if it refuses"
            + (", twice (construction and first ainvoke, 3.x)" if probes == 2 else ""),
            "set GOOGLE_API_KEY (or pass google_api_key=); off GCP also NO_GCE_CHECK=true; "
            "or GCE_METADATA_TIMEOUT=1 GCE_METADATA_DETECT_RETRIES=1",
        )
    )
    return findings


def check_bytecode(provider: str, env: dict[str, str]) -> list[Finding]:
    """SDK packages whose modules mostly lack bytecode for this interpreter."""
    dont_write = bool(env.get("PYTHONDONTWRITEBYTECODE"))
    lacking: list[str] = []
    inspected = 0
    for module in SDK_PACKAGES[provider]:
        folder = _find(module)
        if folder is None:
            continue
        inspected += 1
        sources, missing = _missing_bytecode(folder)
        if sources and missing / sources >= 0.5:
            lacking.append(f"{module} ({missing}/{sources} modules)")
    if not inspected:
        return [Finding("bytecode", "OK", 0.0, "no SDK package found to inspect")]
    if not lacking:
        note = " (PYTHONDONTWRITEBYTECODE is set: harmless while it exists)" if dont_write else ""
        return [Finding("bytecode", "OK", 0.0, f"the SDK packages have bytecode{note}")]
    fix = (
        f"{sys.executable} -m compileall -q <site-packages>  (or uv pip install --compile-bytecode)"
    )
    if dont_write:
        message = (
            f"no bytecode for {', '.join(lacking)} and PYTHONDONTWRITEBYTECODE is set: "
            "every start compiles them again"
        )
        return [Finding("bytecode", "FAIL", NO_BYTECODE_PENALTY_SECONDS, message, fix)]
    message = (
        f"no bytecode for {', '.join(lacking)}: the first start after each install (every start "
        "on a read-only image) compiles them"
    )
    return [Finding("bytecode", "WARN", NO_BYTECODE_PENALTY_SECONDS, message, fix)]


_MEASURE = r"""
import asyncio, json, sys, time
provider = sys.argv[1]
out = {}
start = time.perf_counter()
if provider == "openai":
    from langchain_openai import ChatOpenAI as Model
    kwargs = {"model": "gpt-4o-mini", "api_key": "doctor-fake-key", "base_url": "http://127.0.0.1:9/v1"}
else:
    from langchain_google_genai import ChatGoogleGenerativeAI as Model
    kwargs = {"model": "gemini-2.0-flash", "google_api_key": "doctor-fake-key", "base_url": "http://127.0.0.1:9"}
out["import_s"] = time.perf_counter() - start
start = time.perf_counter(); Model(**kwargs); out["construct_1_s"] = time.perf_counter() - start
start = time.perf_counter(); Model(**kwargs); out["construct_2_s"] = time.perf_counter() - start
try:
    import blockbuster.blockbuster as bb
except ImportError:
    out["blocking_calls"] = None
else:
    seen = []
    original = bb._wrap_blocking
    def wrap(modules, excluded, func, name, can_block, predicate):
        def wrapper(*a, **k):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return func(*a, **k)
            if predicate(*a, **k):
                return func(*a, **k)
            frame = sys._getframe(1)
            while frame is not None:  # blockbuster's own allow-list
                name_ = frame.f_code.co_filename.replace("\\", "/")
                if any(name_.endswith(f) and frame.f_code.co_name in fns for f, fns in can_block):
                    return func(*a, **k)
                frame = frame.f_back
            if name not in seen:
                seen.append(name)
            return func(*a, **k)
        return wrapper
    bb._wrap_blocking = wrap
    buster = bb.BlockBuster()
    async def build():
        buster.activate()
        try:
            Model(**kwargs)
        finally:
            buster.deactivate()
    asyncio.run(build())
    out["blocking_calls"] = seen
print(json.dumps(out))
"""


def measure(provider: str) -> list[Finding]:
    """Real import and construction times in a fresh subprocess of this interpreter."""
    env = dict(os.environ)
    env.update(GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _MEASURE, provider],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, ValueError, IndexError, OSError) as exc:
        return [Finding("measure", "WARN", 0.0, f"could not measure: {type(exc).__name__}")]
    total = result["import_s"] + result["construct_1_s"]
    findings = [
        Finding(
            "measured start",
            "FAIL" if total > FAIL_ABOVE_SECONDS else "OK",
            total,
            f"import {result['import_s']:.2f} s, "
            f"first build {result['construct_1_s'] * 1e3:.0f} ms, "
            f"next build {result['construct_2_s'] * 1e3:.0f} ms",
            "warm the model at start-up (llmcache.warm_async) so no request pays it"
            if total > FAIL_ABOVE_SECONDS
            else "",
        )
    ]
    calls = result.get("blocking_calls")
    if calls is not None:
        findings.append(
            Finding(
                "blocking calls",
                "WARN" if calls else "OK",
                0.0,
                f"building inside a running event loop made blocking calls: {', '.join(calls)}"
                if calls
                else "blockbuster saw no blocking call while building inside an event loop",
                "build off the loop: await llmcache.get_model_async()" if calls else "",
            )
        )
    return findings


def diagnose(
    provider: str = "google", env: dict[str, str] | None = None, *, do_measure: bool = False
) -> list[Finding]:
    """Every check for ``provider`` against ``env`` (default: this process's environment)."""
    env = dict(os.environ if env is None else env)
    findings = (
        check_sdk(provider) + check_credentials(provider, env) + check_bytecode(provider, env)
    )
    if do_measure:
        findings += measure(provider)
    return findings


def _render(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        cost = f"~{f.seconds:.1f} s" if f.seconds else ""
        lines.append(f"{f.status:<4}  {f.check:<15} {cost:>8}  {f.message}")
        if f.fix and f.status != "OK":
            lines.append(f"{'':<30}fix: {f.fix}")
    worst = sum(f.seconds for f in findings if f.status != "OK")
    lines.append("")
    lines.append(
        f"at stake on a cold start: ~{worst:.1f} s"
        if worst
        else "nothing found that costs a cold start more than a second"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmcache", description="llmcache command line")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser(
        "doctor", help=__doc__.splitlines()[0] if __doc__ else None, description=__doc__
    )
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--provider", choices=("google", "openai"), default="google")
    doctor.add_argument(
        "--measure",
        action="store_true",
        help="time the real import and construction in a fresh subprocess",
    )
    args = parser.parse_args(argv)
    findings = diagnose(args.provider, do_measure=args.measure)
    failing = any(f.seconds > FAIL_ABOVE_SECONDS and f.status != "OK" for f in findings) or any(
        f.status == "FAIL" for f in findings
    )
    if args.json:
        print(
            json.dumps(
                {
                    "provider": args.provider,
                    "findings": [asdict(f) for f in findings],
                    "exit_status": int(failing),
                },
                indent=1,
            )
        )
    else:
        print(_render(findings))
    return 1 if failing else 0
