"""The slow mechanisms at google-auth's default settings (~12 s per probe): ``pytest -m slow``.

Kept out of ``make test``; the fast variants (timeout 1, 1 attempt) run there.
"""

from __future__ import annotations

import pytest

from llmcache.lab import matrix
from llmcache.lab.runner import run_probe

pytestmark = pytest.mark.slow


def _auth_probe(venv: str, **settings: object) -> dict[str, object]:
    python = matrix.ensure_venv(matrix.spec_named(venv))
    config = {"sdk": "google", "mode": "auth", "auth": "adc", **settings}
    return run_probe(python, config, timeout=240)


def test_3x_without_key_probes_a_blackhole_metadata_server_twice() -> None:
    result = _auth_probe("lcgg-3.2.0", metadata="blackhole")
    construct = result["construct_1"]
    first = result["ainvoke_1"]
    assert isinstance(construct, dict)
    assert isinstance(first, dict)
    # 3 attempts x 3 s + 1 s + 2 s backoff, at construction and again at the first ainvoke
    assert 10 <= construct["seconds"] <= 16
    assert 10 <= first["seconds"] <= 16


def test_capitalised_no_gce_check_does_not_skip_the_probe() -> None:
    result = _auth_probe("lcgg-4.x", metadata="blackhole", env={"NO_GCE_CHECK": "True"})
    first = result["ainvoke_1"]
    assert isinstance(first, dict)
    assert first["seconds"] >= 10
