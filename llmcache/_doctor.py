"""``llmcache doctor``: find the cold-start traps in this environment and what each costs.

It reads the environment, installed package metadata and google-auth's own constants; it never
contacts the network. What the first request will do (fine, fail at once, probe the metadata
server once or on every call) comes from :mod:`llmcache._doctor_auth`, a model of the SDKs'
choices; the cost of a probe is computed from google-auth's settings, not measured by probing.
``--measure`` runs :mod:`llmcache._doctor_measure` in a fresh subprocess of this interpreter to
time the real import and construction, with a fake key and every endpoint on a closed loopback
port.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import _doctor_auth as auth
from ._doctor_auth import metadata_probe_seconds

__all__ = ["Finding", "diagnose", "main", "metadata_probe_seconds"]

STATUSES = ("OK", "WARN", "FAIL")
FAIL_ABOVE_SECONDS = 1.0

NO_BYTECODE_PENALTY_SECONDS = 1.2
"""Extra import seconds without bytecode: the lab measured 1.9-2.1 s against 0.8-0.9 s for
langchain-google-genai 4.4.2 on this project's 2-core machines (``reports/data/sdk.json``)."""

OPENAI_KEY_VARS = ("OPENAI_API_KEY",)
SDK_PACKAGES = {
    "google": ("langchain_google_genai", "google.genai", "google.auth", "langchain_core"),
    "openai": ("langchain_openai", "openai", "langchain_core"),
}


@dataclass(frozen=True)
class Finding:
    """One check: its status, the seconds at stake on a cold start, and the fix.

    ``detail`` holds machine-readable facts (the first request's outcome, for instance).
    """

    check: str
    status: str
    seconds: float
    message: str
    fix: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


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
                f"langchain-google-genai {version} (3.x: gRPC; without an API key its "
                "constructor runs google.auth.default(), on the event loop if built there)",
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


def _gcloud_adc_file(env: dict[str, str]) -> str:
    folder = env.get("CLOUDSDK_CONFIG") or os.path.join(
        os.path.expanduser("~"), ".config", "gcloud"
    )
    return os.path.join(folder, "application_default_credentials.json")


def _google_generation() -> tuple[int, str]:
    """The installed langchain-google-genai's major version, or 4 (what pip installs) if none."""
    version = _version("langchain-google-genai")
    if version is None:
        return 4, "langchain-google-genai 4.x (not installed here: what pip installs)"
    return int(version.split(".")[0]), f"langchain-google-genai {version}"


def check_credentials(provider: str, env: dict[str, str]) -> list[Finding]:
    if provider == "openai":
        if any(env.get(name) for name in OPENAI_KEY_VARS):
            return [Finding("credentials", "OK", 0.0, "API key variable set: OPENAI_API_KEY")]
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
    generation, sdk = _google_generation()
    flag = env.get("GOOGLE_GENAI_USE_VERTEXAI")
    if flag is not None and generation < 4:
        findings.append(
            Finding(
                "Vertex AI",
                "WARN",
                0.0,
                "GOOGLE_GENAI_USE_VERTEXAI is ignored: 3.x only speaks to the Gemini Developer API",
                "upgrade to langchain-google-genai>=4.1 for Vertex AI",
            )
        )
    elif flag is not None and flag.lower() not in auth.TRUE_VALUES + auth.FALSE_VALUES:
        findings.append(
            Finding(
                "Vertex AI",
                "WARN",
                0.0,
                f"GOOGLE_GENAI_USE_VERTEXAI={flag!r} is ignored: 4.x reads true/1/yes or "
                "false/0/no, so the Gemini Developer API is used",
                "GOOGLE_GENAI_USE_VERTEXAI=true",
            )
        )
    plan = auth.first_request(env, generation, _gcloud_adc_file(env))
    name, usable = auth.google_key(env)
    hidden = name == "GOOGLE_API_KEY" and not usable and env.get("GEMINI_API_KEY")
    if hidden and plan.backend != "Vertex AI":  # google-genai skips an empty key on Vertex
        findings.append(
            Finding(
                "credentials",
                "WARN",
                0.0,
                "GOOGLE_API_KEY is set but empty: LangChain reads it and never GEMINI_API_KEY",
                "unset GOOGLE_API_KEY",
            )
        )
    if plan.outcome == auth.FINE:
        status = "OK"
    elif plan.outcome == auth.FAILS_AT_ONCE:
        status = "FAIL"
    else:
        status = "FAIL" if plan.seconds > FAIL_ABOVE_SECONDS else "WARN"
    detail = {
        "generation": plan.generation,
        "backend": plan.backend,
        "outcome": plan.outcome,
        "every_call": plan.every_call,
        "probes_on_gce": plan.probes_on_gce,
        "seconds_if_refused": plan.seconds_if_refused,
        "seconds_if_silent": plan.seconds,
    }
    findings.append(
        Finding(
            "first request",
            status,
            plan.seconds,
            f"{sdk}, {plan.backend}: {plan.outcome.upper()}: {plan.message}",
            plan.fix,
            detail,
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


def measure(provider: str) -> list[Finding]:
    """Real import and construction times in a fresh subprocess of this interpreter."""
    env = dict(os.environ)
    env.update(GCE_METADATA_HOST="127.0.0.1:9", GCE_METADATA_IP="127.0.0.1:9")
    here = str(Path(__file__).resolve().parent.parent)
    if here not in sys.path:  # make this llmcache importable in the child
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            [sys.executable, "-m", "llmcache._doctor_measure", provider],
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
    recorded: list[dict[str, Any]] | None = result.get("blocking_calls")
    if recorded is not None:
        calls = [f"{c['call']} at {c['where']} (x{c['count']})" for c in recorded]
        findings.append(
            Finding(
                "blocking calls",
                "WARN" if calls else "OK",
                0.0,
                f"building inside a running event loop made blocking calls: {'; '.join(calls)}"
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
    again = sum(f.seconds for f in findings if f.status != "OK" and f.detail.get("every_call"))
    fails = [f.check for f in findings if f.status == "FAIL" and not f.seconds]
    lines.append("")
    if worst:
        lines.append(
            f"at stake on a cold start: ~{worst:.1f} s"
            + (f", then ~{again:.1f} s again on every call" if again else "")
        )
    if fails:
        lines.append(f"fails at once, whatever the wait: {', '.join(fails)}")
    if not worst and not fails:
        lines.append("nothing found that costs a cold start more than a second")
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
