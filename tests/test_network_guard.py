"""The suite's own safety net: any attempt to leave loopback is refused and recorded."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from llmcache.lab import netguard


@pytest.mark.parametrize("address", [("192.0.2.1", 80), ("169.254.169.254", 80), ("10.1.2.3", 443)])
def test_connect_outside_loopback_is_refused_and_recorded(address: tuple[str, int]) -> None:
    with socket.socket() as sock, pytest.raises(netguard.NonLoopbackError):
        sock.connect(address)
    assert netguard.take_violations() == [f"connect {address!r}"]


def test_name_lookup_outside_loopback_is_refused_and_recorded() -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("generativelanguage.googleapis.com", 443)
    assert netguard.take_violations() == ["getaddrinfo 'generativelanguage.googleapis.com'"]


def test_udp_sendto_outside_loopback_is_refused() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, pytest.raises(OSError):
        sock.sendto(b"x", ("192.0.2.1", 53))
    assert netguard.take_violations() == ["sendto ('192.0.2.1', 53)"]


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=5):
            pass
    assert socket.getaddrinfo("localhost", 80)
    assert netguard.take_violations() == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("169.254.169.254", False),
        ("example.com", False),
        ("0.0.0.0", False),
        (None, False),
    ],
)
def test_loopback_classification(host: object, loopback: bool) -> None:
    assert netguard.is_loopback_host(host) is loopback


def test_suite_fails_a_test_whose_code_swallowed_a_refused_connection(tmp_path: Path) -> None:
    """SDKs catch connection errors (google-auth's metadata ping does): the attempt still fails."""
    (tmp_path / "conftest.py").write_text(
        (Path(__file__).parent / "conftest.py").read_text(), encoding="utf-8"
    )
    (tmp_path / "test_leaky.py").write_text(
        "import contextlib, socket\n"
        "def test_swallows():\n"
        "    with contextlib.suppress(OSError), socket.socket() as s:\n"
        "        s.connect(('192.0.2.1', 80))\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout
    assert "code tried to reach non-loopback addresses" in result.stdout
