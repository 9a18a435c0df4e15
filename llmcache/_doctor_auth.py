"""What the first request of ``ChatGoogleGenerativeAI`` will do with this environment's auth.

A model of the SDKs' own choices, read from their sources (langchain-google-genai 3.2 and
4.0-4.4, google-genai 1.x-3.x, google-auth 2.x), and checked in ``tests/test_doctor.py`` against
the real SDKs and loopback metadata servers:

- 3.x has no Vertex backend. Without an API key its constructor calls ``google.auth.default()``
  (in google-api-core); when that fails the constructor raises, so one probe is all it pays.
  When ADC works, the first ``ainvoke`` builds the async client and runs it again: two probes.
- 4.x picks Vertex AI when ``GOOGLE_GENAI_USE_VERTEXAI`` is ``true``/``1``/``yes`` (or when
  ``vertexai=``, ``project=`` or ``credentials=`` are passed in code), else the Gemini Developer
  API, which raises "API key required" in the constructor without a key and never probes.
- 4.x on Vertex uses ADC unless only an API key is set (express mode): ``GOOGLE_CLOUD_PROJECT``
  or ``GOOGLE_CLOUD_LOCATION`` make google-genai drop an API key from the environment. Without a
  project the client runs ``google.auth.default()`` in its constructor; with one, each request
  runs it (in a thread) until it succeeds, so a failing ADC is probed again on every call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = [
    "FAILS_AT_ONCE",
    "FINE",
    "PROBES_EVERY_CALL",
    "PROBES_ONCE",
    "FirstRequest",
    "first_request",
    "google_key",
    "metadata_probe_seconds",
]

FINE = "fine"
FAILS_AT_ONCE = "fails at once"
PROBES_ONCE = "probes once"
PROBES_EVERY_CALL = "probes on every call"

GOOGLE_KEY_VARS = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
TRUE_VALUES, FALSE_VALUES = ("true", "1", "yes"), ("false", "0", "no")

# google-auth 2.x defaults (google/auth/compute_engine/_metadata.py and _exponential_backoff.py),
# used when google-auth is not importable here.
DEFAULT_TIMEOUT, DEFAULT_RETRIES, DEFAULT_INITIAL_WAIT, DEFAULT_MULTIPLIER = 3.0, 3, 1.0, 2.0


def _backoff_constants() -> tuple[float, float]:
    try:
        from google.auth import _exponential_backoff as backoff
    except ImportError:
        return DEFAULT_INITIAL_WAIT, DEFAULT_MULTIPLIER
    return backoff._DEFAULT_INITIAL_INTERVAL_SECONDS, backoff._DEFAULT_MULTIPLIER


def int_env(env: dict[str, str], name: str, default: float) -> float:
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
    timeout = int_env(env, "GCE_METADATA_TIMEOUT", DEFAULT_TIMEOUT)
    retries = max(int(int_env(env, "GCE_METADATA_DETECT_RETRIES", DEFAULT_RETRIES)), 1)
    initial, multiplier = _backoff_constants()
    waits = float(sum(initial * multiplier**i for i in range(retries - 1)))
    return waits, waits + retries * timeout


def google_key(env: dict[str, str]) -> tuple[str | None, bool]:
    """(variable, usable) as LangChain reads the key: the first of the variables that is set.

    ``secret_from_env`` takes the first variable present, so an empty ``GOOGLE_API_KEY`` hides
    a ``GEMINI_API_KEY``.
    """
    for name in GOOGLE_KEY_VARS:
        if name in env:
            return name, bool(env[name])
    return None, False


@dataclass(frozen=True)
class FirstRequest:
    """What the first request does; ``seconds`` is its worst case (metadata dropping packets)."""

    generation: int
    backend: str
    outcome: str
    seconds: float = 0.0
    seconds_if_refused: float = 0.0
    every_call: bool = False
    probes_on_gce: int = 0
    """How many times ``google.auth.default()`` runs when the metadata server answers."""
    message: str = ""
    fix: str = ""


def _adc_source(env: dict[str, str], gcloud_file: str) -> str:
    """Where ``google.auth.default()`` finds credentials: file, missing-file, skip-gce, metadata."""
    explicit = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        return "file" if os.path.exists(explicit) else "missing-file"
    if os.path.exists(gcloud_file):
        return "file"
    if env.get("NO_GCE_CHECK") == "true":
        return "skip-gce"
    return "metadata"


def _probe_text(env: dict[str, str]) -> str:
    refused, silent = metadata_probe_seconds(env)
    timeout = int_env(env, "GCE_METADATA_TIMEOUT", DEFAULT_TIMEOUT)
    retries = int_env(env, "GCE_METADATA_DETECT_RETRIES", DEFAULT_RETRIES)
    return (
        f"google.auth.default() pings the GCE metadata server ({retries:g} attempt(s) x "
        f"{timeout:g} s timeout + backoff): {silent:.1f} s if the address drops packets, "
        f"{refused:.1f} s if it refuses"
    )


PROBE_FIX = (
    "set GOOGLE_API_KEY (or pass google_api_key=); off GCP also NO_GCE_CHECK=true; "
    "or GCE_METADATA_TIMEOUT=1 GCE_METADATA_DETECT_RETRIES=1"
)
NO_ADC = {
    "missing-file": "GOOGLE_APPLICATION_CREDENTIALS names a file that does not exist",
    "skip-gce": "no ADC file and NO_GCE_CHECK=true",
}


def _third(env: dict[str, str], gcloud_file: str) -> FirstRequest:
    name, usable = google_key(env)
    if usable:
        return FirstRequest(3, "Gemini Developer API (gRPC)", FINE, message=f"API key from {name}")
    adc = _adc_source(env, gcloud_file)
    backend = "Gemini Developer API (gRPC), ADC"
    if adc == "file":
        return FirstRequest(3, backend, FINE, message="no API key; ADC from a credentials file")
    if adc != "metadata":
        return FirstRequest(
            3,
            backend,
            FAILS_AT_ONCE,
            message=f"no API key, {NO_ADC[adc]}: the constructor raises "
            "DefaultCredentialsError without probing",
            fix="set GOOGLE_API_KEY",
        )
    refused, silent = metadata_probe_seconds(env)
    return FirstRequest(
        3,
        backend,
        PROBES_ONCE,
        silent,
        refused,
        probes_on_gce=2,
        message="no API key and no ADC file: the constructor (on the event loop if built there) "
        f"runs google.auth.default(); {_probe_text(env)}. Off GCP it then raises "
        "DefaultCredentialsError: one probe. On GCE, where the metadata server answers, the "
        "first ainvoke runs it again: two fast probes",
        fix=PROBE_FIX,
    )


def _fourth(env: dict[str, str], gcloud_file: str) -> FirstRequest:
    name, usable = google_key(env)
    flag = env.get("GOOGLE_GENAI_USE_VERTEXAI", "").lower()
    if flag not in TRUE_VALUES:
        backend = "Gemini Developer API"
        if usable:
            return FirstRequest(4, backend, FINE, message=f"API key from {name}")
        return FirstRequest(
            4,
            backend,
            FAILS_AT_ONCE,
            message="no API key: the constructor raises 'API key required for Gemini Developer "
            "API' at once; it never probes the metadata server (unless vertexai=True, project= "
            "or credentials= are passed in code, which choose Vertex AI)",
            fix="set GOOGLE_API_KEY; for Vertex AI set GOOGLE_GENAI_USE_VERTEXAI=true and "
            "GOOGLE_CLOUD_PROJECT",
        )
    backend = "Vertex AI"
    project = env.get("GOOGLE_CLOUD_PROJECT")
    location = env.get("GOOGLE_CLOUD_LOCATION")
    # On Vertex, google-genai reads the key itself and skips an empty one.
    name = next((var for var in GOOGLE_KEY_VARS if env.get(var)), None)
    usable = name is not None
    if usable and not project and not location:
        return FirstRequest(4, backend, FINE, message=f"express mode: API key from {name}")
    ignored = (
        f"{name} is not used (GOOGLE_CLOUD_PROJECT/LOCATION take precedence); " if usable else ""
    )
    where = "each call" if project else "the constructor"
    adc = _adc_source(env, gcloud_file)
    if adc == "file":
        return FirstRequest(4, backend, FINE, message=f"{ignored}ADC from a credentials file")
    if adc != "metadata":
        return FirstRequest(
            4,
            backend,
            FAILS_AT_ONCE,
            every_call=bool(project),
            message=f"{ignored}{NO_ADC[adc]}: {where} raises DefaultCredentialsError "
            "without probing",
            fix="point GOOGLE_APPLICATION_CREDENTIALS at a credentials file",
        )
    refused, silent = metadata_probe_seconds(env)
    if not project:
        return FirstRequest(
            4,
            backend,
            PROBES_ONCE,
            silent,
            refused,
            probes_on_gce=1,
            message=f"{ignored}no GOOGLE_CLOUD_PROJECT and no ADC file: the constructor runs "
            f"google.auth.default() for the project; {_probe_text(env)}. Off GCP it then "
            "raises DefaultCredentialsError; on GCE it gets project and credentials once",
            fix="point GOOGLE_APPLICATION_CREDENTIALS at a credentials file; off GCP also "
            "NO_GCE_CHECK=true",
        )
    return FirstRequest(
        4,
        backend,
        PROBES_EVERY_CALL,
        silent,
        refused,
        every_call=True,
        probes_on_gce=1,
        message=f"{ignored}no ADC file: each call runs google.auth.default() (in a thread) "
        f"until it succeeds; {_probe_text(env)}. Off GCP every call pays that again, then "
        "raises DefaultCredentialsError; on GCE only the first call probes",
        fix="point GOOGLE_APPLICATION_CREDENTIALS at a credentials file; off GCP also "
        "NO_GCE_CHECK=true",
    )


def first_request(env: dict[str, str], generation: int, gcloud_file: str) -> FirstRequest:
    """What langchain-google-genai ``generation`` (3 or 4) does first, given ``env``.

    ``gcloud_file`` is gcloud's ``application_default_credentials.json`` path.
    """
    return _third(env, gcloud_file) if generation < 4 else _fourth(env, gcloud_file)
