"""Launch one fresh-process probe (:mod:`llmcache.lab.process_probe`) in an SDK venv, isolated,
and parse the JSON it prints. This side runs in the lab's own interpreter."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from . import REPO_ROOT
from .isolation import guarded_env, isolated

__all__ = ["ProbeError", "run_probe"]


class ProbeError(RuntimeError):
    """A probe that crashed, timed out or printed no JSON."""


def run_probe(
    python: str | Path,
    config: dict[str, Any],
    *,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``python -m llmcache.lab.process_probe`` with ``config`` in a private network namespace.

    The probe imports this repo's ``llmcache`` through ``PYTHONPATH`` (so SDK venvs need not
    install it). ``env`` adds variables to the guarded environment (e.g. bytecode settings).
    """
    run_env = guarded_env(env)
    run_env["PYTHONPATH"] = str(REPO_ROOT)
    argv = isolated([str(python), "-m", "llmcache.lab.process_probe", json.dumps(config)])
    try:
        done = subprocess.run(
            argv, env=run_env, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT
        )
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(f"probe timed out after {timeout:g} s: {config}") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise ProbeError(
            f"probe printed no JSON (exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    if "fatal" in result:
        raise ProbeError(f"probe failed: {result['fatal']}\n{result.get('traceback', '')}")
    return result
