"""The investigation's answer, computed from the lab's data: why the first call took 20 s.

One place for the figures that README.md, the reports' index, docs/findings.md and each
notebook's first screen state, so that no page types a measured number by hand: ``make report``
and ``make report-pages`` write them from ``reports/data``
(:func:`llmcache.lab.report.update_answer`), and a test checks that the README's block is what
the committed data gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import tables
from .experiments import AUTH_ENVS, DOCKER_DEFAULTS

__all__ = [
    "DOCKER_VENVS",
    "REPORTED_SECONDS",
    "docker_defaults",
    "measured",
    "why_20_seconds",
]

REPORTED_SECONDS = 20.0
"""The wait reported for the original app: the question, not a measurement."""

DOCKER_VENVS = {
    "3.x": ("lcgg-3.2.0-nobytecode", "lcgg-3.2.0"),
    "4.x": ("lcgg-4.x-nobytecode", "lcgg-4.x"),
}
"""Per generation: the venv the Docker defaults ran in (no bytecode), and its twin with bytecode
whose API-key run gives the SDK's own build and first call."""


def _auth(data: Path) -> dict[tuple[str, str], dict[str, Any]]:
    rows = tables.auth_table(tables.load(data, "auth"))
    return {(row["venv"], row["auth_env"]): row for row in rows}


def _latency(data: Path) -> float:
    rows = tables.TABLES["app"](tables.load(data, "app"))
    return float(rows[0]["simulated_model_latency_s"])


def measured(data: Path) -> bool:
    """Whether ``data`` holds what the answer needs (a quick or partial run may not)."""
    if not all((data / f"{name}.json").exists() for name in ("auth", "app", "app_server")):
        return False
    needed = {(venv, DOCKER_DEFAULTS) for venv, _ in DOCKER_VENVS.values()}
    needed |= {(twin, env) for _, twin in DOCKER_VENVS.values() for env in _COMPARED}
    return needed <= set(_auth(data))


_COMPARED = ("api-key", "adc-blackhole", "adc-blackhole NO_GCE_CHECK=true")
"""The auth environments the answer compares, in each generation's venv with bytecode."""


def docker_defaults(data: Path) -> dict[str, dict[str, Any]]:
    """Per generation, one Docker-defaults first request split into parts that add up to its
    total: the import without bytecode, the SDK's own build and first call (as measured with an
    API key), the rest of build and first call (ADC waiting on the metadata server), and the
    simulated model answer."""
    auth, latency = _auth(data), _latency(data)
    parts = {}
    for generation, (venv, twin) in DOCKER_VENVS.items():
        row, key = auth[(venv, DOCKER_DEFAULTS)], auth[(twin, "api-key")]
        own = key["construct_s"] + key["ainvoke_1_s"]
        measured = row["import_s"] + row["construct_s"] + row["ainvoke_1_s"]
        parts[generation] = {
            "import": row["import_s"],
            "import_with_bytecode": key["import_s"],
            "construct": row["construct_s"],
            "first_call": row["ainvoke_1_s"],
            "sdk_own": own,
            "adc": row["construct_s"] + row["ainvoke_1_s"] - own,
            "measured": measured,
            "simulated": latency,
            "total": measured + latency,
            "answered": not row["error"],
            "runs": row["runs"],
        }
    return parts


def why_20_seconds(data: Path, *, where: str = "notebook 01, section 5") -> str:
    """The answer in one Markdown paragraph: the measured parts of the reported wait, the
    simulated one labelled, and what removes each; ``where`` names the detailed account."""
    parts, auth = docker_defaults(data), _auth(data)
    p3 = parts["3.x"]
    served = tables.TABLES["app_server"](tables.load(data, "app_server"))
    warmed = [
        row for row in served if row["auth_env"] == "api-key" and row["design"] == "llmcache-warmed"
    ]
    delay = AUTH_ENVS[DOCKER_DEFAULTS]["metadata_delay"]
    first = {key: row["first_request_s"] for key, row in auth.items()}
    runs = f"{p3['runs']} run" + ("" if p3["runs"] == 1 else "s")
    text = (
        f"The lab rebuilt the app's Docker image as it most likely was (langchain-google-genai "
        f"3.2.0 without bytecode, as `PYTHONDONTWRITEBYTECODE=1` leaves it; no API key, so "
        f"Google's Application Default Credentials (ADC) probe the GCE metadata server, here a "
        f"loopback one that stays silent {delay:g} s on every request, a lab setting, before it "
        f"answers) and timed one fresh process (medians of {runs}, {where}): "
        f"**{p3['measured']:.1f} s measured + {p3['simulated']:g} s simulated model latency = "
        f"{p3['total']:.1f} s**, against the {REPORTED_SECONDS:.0f} s reported. The "
        f"{p3['measured']:.1f} s measured: {p3['import']:.1f} s importing the SDK without "
        f"bytecode, {p3['construct']:.1f} s constructing the model (ADC probing the metadata "
        f"server, on the event loop), and {p3['first_call']:.1f} s in the first call (3.x probes "
        f"again there); the SDK's own build and first call are {p3['sdk_own']:.2f} s of them. "
        f"At google-auth's defaults a metadata address that never answers costs "
        f"{first[('lcgg-3.2.0', 'adc-blackhole')]:.1f} s (3.x; "
        f"{first[('lcgg-4.x', 'adc-blackhole')]:.1f} s for 4.x on Vertex AI) before the first "
        f"request fails with `DefaultCredentialsError`. What removes it: an API key (the first "
        f"request takes {first[('lcgg-3.2.0', 'api-key')]:.2f} s with 3.x, "
        f"{first[('lcgg-4.x', 'api-key')]:.2f} s with 4.x; off GCP, `NO_GCE_CHECK=true`, lower "
        f"case, skips the probe and fails at once: "
        f"{first[('lcgg-3.2.0', 'adc-blackhole NO_GCE_CHECK=true')]:.2f} s / "
        f"{first[('lcgg-4.x', 'adc-blackhole NO_GCE_CHECK=true')]:.2f} s), bytecode (importing "
        f"3.2.0 took {p3['import_with_bytecode']:.2f} s instead of {p3['import']:.2f} s in "
        f"these runs), and building the model once, off "
        f"the event loop, before the first request"
    )
    if warmed:
        slowest = max(row["first_response_max_s"] for row in warmed)
        clients = warmed[0]["requests"] // max(warmed[0]["runs"], 1)
        text += (
            f": warmed in the FastAPI lifespan by llmcache, the slowest of {clients} concurrent "
            f"first HTTP requests took {slowest:.2f} s"
        )
    return text + (
        f". The model servers are loopback fakes, so the {p3['simulated']:g} s model latency is "
        "simulated; every other number is measured."
    )
