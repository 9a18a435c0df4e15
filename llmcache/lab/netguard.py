"""A socket guard: refuse, and record, any attempt to reach an address outside loopback.

Installed for the whole test suite and in lab probes where no private network namespace can be
made. Refusals are *recorded* as well as raised, because SDKs swallow connection errors
(google-auth's metadata ping returns False on any error): a test fixture then fails on any
recorded attempt.
Covers ``connect``, ``connect_ex``, ``sendto`` and name resolution (a DNS query would leave the
machine even when the connection never does). C extensions with their own sockets (gRPC) are not
covered: run them in ``unshare -n``.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any

__all__ = [
    "NonLoopbackError",
    "NonLoopbackLookupError",
    "install",
    "installed",
    "is_loopback_host",
    "take_violations",
    "uninstall",
]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NonLoopbackError(OSError):
    """An attempt to reach an address outside 127.0.0.0/8 and ::1."""


class NonLoopbackLookupError(NonLoopbackError, socket.gaierror):
    """An attempt to resolve a name other than localhost (the DNS query would leave the host)."""


def is_loopback_host(host: object) -> bool:
    """Whether ``host`` (an IP literal or a name) stays on this machine."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


_lock = threading.Lock()
_violations: list[str] = []
_originals: dict[str, Any] = {}


def _record(what: str) -> None:
    with _lock:
        _violations.append(what)


def take_violations() -> list[str]:
    """The attempts refused since the last call (and forget them)."""
    with _lock:
        taken = list(_violations)
        _violations.clear()
    return taken


def _check_address(sock: socket.socket, address: Any, op: str) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_loopback_host(host):
        _record(f"{op} {address!r}")
        raise NonLoopbackError(f"llmcache netguard refused {op} to {address!r}: not loopback")


_patched: dict[str, Any] = {}


def installed() -> bool:
    """Whether the guard is in place now (another tool may have restored the originals)."""
    return bool(_patched) and socket.socket.connect is _patched["connect"]


def install() -> None:
    """Patch the socket module; idempotent, and re-patches if someone restored the originals."""
    if installed():
        return
    if _originals:
        uninstall()
    cls = socket.socket
    _originals.update(
        connect=cls.connect,
        connect_ex=cls.connect_ex,
        sendto=cls.sendto,
        getaddrinfo=socket.getaddrinfo,
        gethostbyname=socket.gethostbyname,
        gethostbyname_ex=socket.gethostbyname_ex,
    )
    original_connect = _originals["connect"]
    original_connect_ex = _originals["connect_ex"]
    original_sendto = _originals["sendto"]
    original_getaddrinfo = _originals["getaddrinfo"]
    original_gethostbyname = _originals["gethostbyname"]
    original_gethostbyname_ex = _originals["gethostbyname_ex"]

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(self, address, "connect")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(self, address, "connect")
        result: int = original_connect_ex(self, address)
        return result

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if args:
            _check_address(self, args[-1], "sendto")
        result: int = original_sendto(self, data, *args)
        return result

    def _check_name(host: Any, op: str) -> None:
        if host is not None and not is_loopback_host(host):
            _record(f"{op} {host!r}")
            raise NonLoopbackLookupError(
                socket.EAI_NONAME, f"llmcache netguard refused {op}({host!r}): not loopback"
            )

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        _check_name(host, "getaddrinfo")
        return original_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host: str) -> str:
        _check_name(host, "gethostbyname")
        result: str = original_gethostbyname(host)
        return result

    def gethostbyname_ex(host: str) -> Any:
        _check_name(host, "gethostbyname_ex")
        return original_gethostbyname_ex(host)

    cls.connect = connect  # type: ignore[assignment,method-assign]
    cls.connect_ex = connect_ex  # type: ignore[assignment,method-assign]
    cls.sendto = sendto  # type: ignore[assignment,method-assign]
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    _patched["connect"] = connect


def uninstall() -> None:
    """Undo :func:`install`."""
    if not _originals:
        return
    cls = socket.socket
    cls.connect = _originals["connect"]  # type: ignore[method-assign]
    cls.connect_ex = _originals["connect_ex"]  # type: ignore[method-assign]
    cls.sendto = _originals["sendto"]  # type: ignore[method-assign]
    socket.getaddrinfo = _originals["getaddrinfo"]
    socket.gethostbyname = _originals["gethostbyname"]
    socket.gethostbyname_ex = _originals["gethostbyname_ex"]
    _originals.clear()
    _patched.clear()
