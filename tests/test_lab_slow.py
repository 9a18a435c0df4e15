"""The slow mechanisms at google-auth's default settings (~12 s per probe): ``pytest -m slow``.

Kept out of ``make test``; the fast variants (timeout 1, 1 attempt) run there.
"""

from __future__ import annotations

import pytest

from llmcache.lab import matrix
from llmcache.lab.probe_runner import run_probe

pytestmark = pytest.mark.slow


def _auth_probe(venv: str, **settings: object) -> dict[str, object]:
    python = matrix.ensure_venv(matrix.spec_named(venv))
    config = {"sdk": "google", "mode": "auth", "auth": "adc", **settings}
    return run_probe(python, config, timeout=240)


def test_3x_without_key_waits_out_a_silent_metadata_server_in_the_constructor() -> None:
    result = _auth_probe("lcgg-3.2.0", metadata="blackhole")
    construct = result["construct_1"]
    assert isinstance(construct, dict)
    # 3 attempts x 3 s + 1 s + 2 s backoff, on the event loop, then no credentials
    assert 10 <= construct["seconds"] <= 16
    assert construct["worst_gap"] >= 10
    assert str(construct["error"]).startswith("DefaultCredentialsError")


def test_capitalised_no_gce_check_does_not_skip_the_probe() -> None:
    result = _auth_probe("lcgg-4.x", metadata="blackhole", env={"NO_GCE_CHECK": "True"})
    first = result["ainvoke_1"]
    assert isinstance(first, dict)
    assert first["seconds"] >= 10
