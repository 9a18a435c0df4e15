"""Keep lab processes on loopback: a private network namespace when possible, else a guard.

``unshare -n`` gives a process a network namespace whose only interface is its own ``lo``: no
packet can leave, whatever the SDK (gRPC's C core included). Where that is not allowed (no root,
no user namespaces), :func:`guarded_env` makes our probes install :mod:`llmcache.lab.netguard`
first thing, which covers Python sockets but not C extensions.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

__all__ = [
    "SECRET_ENV_VARS",
    "guarded_env",
    "in_private_netns",
    "isolated",
    "netns_available",
]

SECRET_ENV_VARS = (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_GENAI_USE_VERTEXAI",
)
"""Variables a probe must not inherit: each would change which auth path the SDK takes."""

_NETNS_MARK = "LLMCACHE_PRIVATE_NETNS"
_ENTER = f'ip link set lo up && {_NETNS_MARK}=1 exec "$@"'


@functools.cache
def netns_available() -> bool:
    """Whether ``unshare -n`` works here (it needs root or user namespaces, and iproute2)."""
    if in_private_netns():
        return True
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    try:
        done = subprocess.run(
            ["unshare", "-n", "sh", "-c", _ENTER, "sh", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def in_private_netns() -> bool:
    """Whether this process already runs in a namespace made by :func:`isolated`."""
    return os.environ.get(_NETNS_MARK) == "1"


def isolated(argv: Sequence[str]) -> list[str]:
    """``argv`` wrapped to run in a private network namespace with ``lo`` up, when possible."""
    if in_private_netns() or not netns_available():
        return list(argv)
    return ["unshare", "-n", "sh", "-c", _ENTER, "sh", *argv]


def guarded_env(
    extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An environment for a lab subprocess: no API keys or ADC file, metadata on loopback.

    ``GCE_METADATA_HOST``/``IP`` default to a loopback address where nothing listens, so even an
    unplanned ADC probe stays here; ``extra`` overrides (a :class:`MetadataServer`'s ``env``).
    """
    env = dict(os.environ if base is None else base)
    for name in SECRET_ENV_VARS:
        env.pop(name, None)
    for name in ("NO_GCE_CHECK", "GCE_METADATA_TIMEOUT", "GCE_METADATA_DETECT_RETRIES"):
        env.pop(name, None)
    env.update(
        GCE_METADATA_HOST="127.0.0.1:9",
        GCE_METADATA_IP="127.0.0.1:9",
        CLOUDSDK_CONFIG=os.path.join(env.get("TMPDIR", "/tmp"), "llmcache-lab-no-gcloud"),
        LLMCACHE_NETGUARD="1",
        NO_PROXY="*",
    )
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    env.update(extra or {})
    return env
