"""Inside the uvicorn process of the ``soak`` experiment: the example app with the lab's counters.

``uvicorn --factory llmcache.lab.soak_worker:soak_app`` serves ``examples/app.py`` as it is,
plus ``GET /lab/soak``, which reports what the client side cannot see from ``/proc``:

- **models**: every distinct model object a request handler got (``seen``: the models built,
  whatever the design), how many of them are still alive (``live``: not yet freed; no
  collection is forced, so a dropped model waiting for the cyclic garbage collector still
  counts), how many opened HTTP sessions of their own (``with_sessions``), and how many of
  those had every such session closed (``closed``);
- **sessions**: the async HTTP sessions opened in the process (aiohttp ``ClientSession``,
  httpx/httpx2 ``AsyncClient``; the outer ``LoopLocalAsyncClient`` of llmcache, which never
  opens a connection, is left out): ``open``, ``closed``, and ``collected_unclosed`` (freed
  without ever being closed: aiohttp says "Unclosed client session" then);
- **cache**: ``llmcache.cache_stats()`` when the design is llmcache (evictions, size...);
- **threads**: ``threading.active_count()``.

How a model's sessions are told apart: the lab wraps the app's ``get_model`` (the handlers look
it up at call time), and the wrapper sets a context variable to the model's serial number; a
session opened while that variable is set (the SDK opens its per-loop session inside the first
request that uses the model on the loop, in the request's context) belongs to that model. A
session opened elsewhere (a constructor in a build thread) belongs to none. A session counts as
closed when its ``close``/``aclose``/``__aexit__`` ran, or when it says so (``closed``,
``is_closed``) at a report: whatever closes it (the app, llmcache, the SDK, a finalizer), it
goes through one of those. Nothing here changes what the app or llmcache do: the wrappers call
the original methods and only count.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import importlib
import os
import threading
import weakref
from typing import Any

from .measure import describe

__all__ = ["Instruments", "soak_app"]

_MODEL_SERIAL: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "llmcache_lab_model_serial", default=None
)
_NOT_SESSIONS = ("LoopLocalAsyncClient",)
"""Client classes that open no connection of their own (they send through inner clients)."""


class _Session:
    __slots__ = ("closed", "kind", "model", "ref")

    def __init__(self, session: Any, model: int | None) -> None:
        self.ref = weakref.ref(session)
        self.kind = f"{type(session).__module__.split('.')[0]}.{type(session).__name__}"
        self.model = model
        self.closed = False

    def state(self) -> str:
        """``closed``, ``open`` or ``collected_unclosed`` (freed without being closed)."""
        if self.closed:
            return "closed"
        session = self.ref()
        if session is None:
            return "collected_unclosed"
        if getattr(session, "closed", False) is True or getattr(session, "is_closed", False):
            self.closed = True
            return "closed"
        return "open"


class Instruments:
    """The counters behind ``GET /lab/soak``. Every method is cheap and never raises into the
    app; dict and list operations are atomic under the GIL, and weakref callbacks (which may
    run in any thread, inside a garbage collection) take no lock."""

    def __init__(self) -> None:
        self._models: dict[int, tuple[weakref.ref[Any], int]] = {}  # id -> (ref, serial)
        self.seen = 0
        self._sessions: list[_Session] = []
        self._by_object: weakref.WeakKeyDictionary[Any, _Session] = weakref.WeakKeyDictionary()

    # -- models --------------------------------------------------------------------------------

    def saw(self, model: Any) -> int:
        """Note the model a handler got; its serial number becomes the request's context.

        Models are keyed by ``id`` with a weak reference beside it (LangChain models are pydantic
        models: unhashable, so no ``WeakSet``); an entry whose referent is another object is a
        reused id."""
        entry = self._models.get(id(model))
        if entry is not None and entry[0]() is model:
            serial = entry[1]
        else:
            self.seen += 1
            serial = self.seen
            key = id(model)

            def gone(ref: weakref.ref[Any], key: int = key) -> None:
                if self._models.get(key, (None, 0))[0] is ref:
                    del self._models[key]

            self._models[key] = (weakref.ref(model, gone), serial)
        _MODEL_SERIAL.set(serial)
        return serial

    # -- sessions ------------------------------------------------------------------------------

    def opened(self, session: Any) -> None:
        if type(session).__name__ in _NOT_SESSIONS:
            return
        record = _Session(session, _MODEL_SERIAL.get())
        self._sessions.append(record)
        self._by_object[session] = record

    def closed(self, session: Any) -> None:
        record = self._by_object.get(session)
        if record is not None:
            record.closed = True

    def patch_http_clients(self) -> list[str]:
        """Count the async HTTP sessions of aiohttp, httpx and httpx2 (those installed); the
        classes patched, by name."""
        patched = []
        targets = (
            ("aiohttp", "ClientSession", ("close",)),
            ("httpx", "AsyncClient", ("aclose", "__aexit__")),
            ("httpx2", "AsyncClient", ("aclose", "__aexit__")),
        )
        for module_name, class_name, closers in targets:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            cls = getattr(module, class_name)
            self._wrap_init(cls)
            for closer in closers:
                self._wrap_close(cls, closer)
            patched.append(f"{module_name}.{class_name}")
        return patched

    def _wrap_init(self, cls: type[Any]) -> None:
        original = cls.__init__

        @functools.wraps(original)
        def __init__(client: Any, *args: Any, **kwargs: Any) -> None:
            original(client, *args, **kwargs)
            self.opened(client)

        cls.__init__ = __init__

    def _wrap_close(self, cls: type[Any], name: str) -> None:
        original = getattr(cls, name)

        @functools.wraps(original)
        async def close(client: Any, *args: Any, **kwargs: Any) -> Any:
            self.closed(client)
            return await original(client, *args, **kwargs)

        setattr(cls, name, close)

    # -- the report ----------------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        states = {"open": 0, "closed": 0, "collected_unclosed": 0}
        per_model: dict[int, list[str]] = {}
        by_class: dict[str, dict[str, int]] = {}
        for record in list(self._sessions):
            state = record.state()
            states[state] += 1
            counts = by_class.setdefault(record.kind, {})
            counts[state] = counts.get(state, 0) + 1
            if record.model is not None:
                per_model.setdefault(record.model, []).append(state)
        return {
            "models": {
                "seen": self.seen,
                "live": len(self._models),
                "with_sessions": len(per_model),
                "closed": sum(all(s == "closed" for s in found) for found in per_model.values()),
            },
            "sessions": {"opened": len(self._sessions), **states, "by_class": by_class},
            "threads": threading.active_count(),
        }


def _cache_stats() -> dict[str, Any]:
    import llmcache

    stats = llmcache.cache_stats()
    fields = dataclasses.asdict(stats) if dataclasses.is_dataclass(stats) else vars(stats)
    return {k: v for k, v in fields.items() if isinstance(v, int | float)}


def soak_app() -> Any:
    """The example app with the soak's counters (a uvicorn ``--factory``)."""
    netguard = os.environ.get("LLMCACHE_NETGUARD") == "1"
    if netguard:
        from . import netguard as guard

        guard.install()
    instruments = Instruments()
    patched = instruments.patch_http_clients()
    from examples import app as example

    inner = example.get_model

    async def get_model(tenant: int | None = None) -> Any:
        model = await inner(tenant)
        instruments.saw(model)
        return model

    example.get_model = get_model  # the handlers look it up at each request
    app = example.app
    uses_llmcache = example.DESIGN in ("llmcache", "llmcache-warmed")
    violations: list[str] = []  # every attempt to leave loopback so far

    @app.get("/lab/soak")
    async def soak() -> dict[str, Any]:
        report = instruments.report()
        report.update(pid=os.getpid(), design=example.DESIGN, provider=example.PROVIDER)
        report["patched"] = patched
        report["cache"] = _cache_stats() if uses_llmcache else None
        if netguard:
            from . import netguard as guard

            violations.extend(guard.take_violations())
            report["netguard_violations"] = violations
        return report

    async def error(request: Any, exc: Exception) -> Any:  # the type, where a user sees a 500
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": describe(exc)}, status_code=500)

    app.add_exception_handler(Exception, error)
    return app
