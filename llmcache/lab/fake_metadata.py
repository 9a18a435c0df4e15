"""A loopback GCE metadata server, for google-auth, in one of three modes.

Selected through ``GCE_METADATA_HOST`` and ``GCE_METADATA_IP`` (see :attr:`MetadataServer.env`):
``blackhole`` (accepts, never answers), ``refuse`` (nothing listens) and ``slow-valid`` (answers
the real paths after a delay: a slow metadata server is a real condition, not a model latency).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Literal, Self

from ._fake_http import FakeHTTPServer, Handler

__all__ = ["METADATA_MODES", "MetadataMode", "MetadataServer"]

MetadataMode = Literal["blackhole", "refuse", "slow-valid"]
METADATA_MODES: tuple[MetadataMode, ...] = ("blackhole", "refuse", "slow-valid")


class _MetadataHandler(Handler):
    """The paths google-auth 2.63 reads (``compute_engine/_metadata.py``, ``credentials.py``)."""

    PROJECT = "llmcache-lab"
    EMAIL = "lab@llmcache-lab.iam.gserviceaccount.com"

    def do_GET(self) -> None:
        owner = self.server.owner
        assert isinstance(owner, MetadataServer)
        owner.count(self.path.split("?")[0])
        time.sleep(owner.delay)
        flavor = {"metadata-flavor": "Google"}
        if self.headers.get("metadata-flavor") != "Google":
            self._send(403, b"Missing Metadata-Flavor:Google header.", "text/html", flavor)
            return
        path = self.path.split("?")[0]
        if path in ("", "/"):
            self._send(200, b"computeMetadata/\n", "application/text", flavor)
        elif path.endswith("/project/project-id"):
            self._send(200, self.PROJECT.encode(), "application/text", flavor)
        elif path.endswith("/universe/universe-domain"):
            self._send(200, b"googleapis.com", "application/text", flavor)
        elif path.endswith("/token"):
            token = {"access_token": "lab-fake-token", "expires_in": 3599, "token_type": "Bearer"}
            self._send_json(200, token, flavor)
        elif "/service-accounts/" in path:
            info = {
                "aliases": ["default"],
                "email": self.EMAIL,
                "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            }
            self._send_json(200, info, flavor)
        else:
            self._send(404, b"not found", "text/html", flavor)


class MetadataServer(FakeHTTPServer):
    """A GCE metadata server on loopback, in one of :data:`METADATA_MODES`.

    ``env`` gives the variables that point google-auth at it. ``delay`` is the answer delay of
    ``slow-valid`` (a slow metadata server is a real condition, not a model latency).
    """

    handler = _MetadataHandler

    def __init__(self, mode: MetadataMode, *, delay: float = 0.0) -> None:
        if mode not in METADATA_MODES:
            raise ValueError(f"unknown metadata mode {mode!r}; expected one of {METADATA_MODES}")
        super().__init__()
        self.mode = mode
        self.delay = delay
        self._held: list[socket.socket] = []
        self._raw: socket.socket | None = None
        self._accepting = threading.Event()
        if mode != "slow-valid":
            self._httpd.server_close()
            self._raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._raw.bind(("127.0.0.1", 0))
            if mode == "blackhole":
                self._raw.listen(64)  # accepted, read never, answered never
            # "refuse": bound but not listening, so connects get RST at once

    @property
    def port(self) -> int:
        if self._raw is not None:
            return int(self._raw.getsockname()[1])
        return super().port

    @property
    def env(self) -> dict[str, str]:
        address = f"127.0.0.1:{self.port}"
        return {"GCE_METADATA_HOST": address, "GCE_METADATA_IP": address}

    def start(self) -> Self:
        if self.mode == "slow-valid":
            super().start()
        elif self.mode == "blackhole":
            self._accepting.set()
            threading.Thread(
                target=self._hold_forever, name="lab-metadata-blackhole", daemon=True
            ).start()
        return self

    def _hold_forever(self) -> None:
        assert self._raw is not None
        self._raw.settimeout(0.1)
        while self._accepting.is_set():
            try:
                conn, _ = self._raw.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.count("accepted")
            self._held.append(conn)

    def stop(self) -> None:
        if self.mode == "slow-valid":
            super().stop()
            return
        self._accepting.clear()
        for conn in self._held:
            with contextlib.suppress(OSError):
                conn.close()
        if self._raw is not None:
            self._raw.close()
