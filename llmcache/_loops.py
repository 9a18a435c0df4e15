"""Loop-bound clients: one inner client per event loop, and the one mechanism that closes them.

An httpx connection (or an aiohttp session) belongs to the loop that opened it; reused from
another loop it fails with ``RuntimeError: Event loop is closed`` (langchain-openai shares one
such client per process). :func:`loop_local_async_client` builds requests itself and sends each
through the running loop's own inner client. Inner clients are keyed by the loop object
through weak references (never by ``id(loop)``, which CPython reuses at once).

Closing: a loop-bound resource is closed on its own loop, once, by whichever comes first:

- its loop shuts down (``asyncio.run`` and ``asyncio.Runner`` shut async generators down
  before closing the loop). The loop holds its resources *weakly*, so it never keeps a
  dropped model's pools alive;
- its owner (the model's client) is garbage: nothing can use the resource any more, so a
  request or stream in progress is never cut (each holds the model). A ``weakref.finalize``
  on the owner then schedules each resource's close on its own loop, if that loop still runs.

In a forked child nothing inherited from the parent is closed: closing could write on the
parent's connections. httpx is imported only when such a client is made: ``import llmcache``
stays SDK-free.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

__all__ = [
    "LoopLocal",
    "close_at_loop_shutdown",
    "close_with_owner",
    "default_ssl_context",
    "is_loop_local_client",
    "loop_local_async_client",
]

_CLOSE_WAIT_SECONDS = 5.0
_class_lock = threading.Lock()
_classes: dict[str, type[Any]] = {}  # httpx module name -> our client class built on it


class _LoopResources:
    """One loop's resources to close when it shuts down, held weakly (resource -> method)."""

    __slots__ = ("closer", "resources")

    def __init__(self) -> None:
        self.resources: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self.closer: AsyncGenerator[None, None] | None = None


_by_loop_lock = threading.Lock()
_LOOP_ATTRIBUTE = "_llmcache_resources"
"""The loop's own attribute holding its :class:`_LoopResources`: the started generator refers
to the loop (its finalizer hook), so a table outside the loop would keep every loop alive."""
_closing: set[asyncio.Task[Any]] = set()  # close tasks in progress (asyncio keeps tasks weakly)


async def _close_when_resumed(resources: _LoopResources) -> AsyncGenerator[None, None]:
    """Suspended until the loop shuts its async generators down, then closes what is left."""
    try:
        yield
    finally:
        for resource, method in list(resources.resources.items()):
            with contextlib.suppress(Exception):
                await getattr(resource, method)()


def close_at_loop_shutdown(resource: Any, method: str = "aclose") -> None:
    """Await ``resource.<method>()`` when the running loop shuts down, unless it is gone by then.

    Call it from code running on that loop. It uses the loop's async-generator shutdown, the
    one hook ``asyncio.run`` calls before closing a loop. One generator per loop serves every
    resource, and it holds them weakly: registering costs no memory per request or per model.
    """
    loop = asyncio.get_running_loop()
    with _by_loop_lock:
        resources = getattr(loop, _LOOP_ATTRIBUTE, None)
        if resources is None:
            resources = _LoopResources()
            setattr(loop, _LOOP_ATTRIBUTE, resources)
        resources.resources[resource] = method
        if resources.closer is not None:
            return
        resources.closer = closer = _close_when_resumed(resources)
    step = closer.asend(None)  # the loop's first-iteration hook registers it here
    with contextlib.suppress(StopIteration):
        step.send(None)


def close_with_owner(owner: object, per_loop: Mapping[Any, Any], method: str = "aclose") -> None:
    """When ``owner`` is garbage, close each ``per_loop[loop]`` resource on its own loop.

    ``per_loop`` (loop -> resource) must not refer to ``owner``. A resource whose loop has
    closed was closed by its shutdown; one whose loop no longer runs is left to the garbage
    collector (no thread can run that loop's close).
    """
    weakref.finalize(owner, _close_each_on_its_loop, per_loop, method, os.getpid())


def _close_each_on_its_loop(per_loop: Mapping[Any, Any], method: str, pid: int) -> None:
    if os.getpid() != pid:
        return  # a forked child: the parent's connections are not ours to close
    try:
        items = list(per_loop.items())
    except RuntimeError:  # changed meanwhile by a loop's collection: try once more
        items = list(per_loop.items())
    for loop, resource in items:
        if loop.is_closed():
            continue
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(_start_close, resource, method)


def _start_close(resource: Any, method: str) -> None:
    """On the resource's loop: close it in a task of that loop."""
    task = asyncio.get_running_loop().create_task(_close_quietly(resource, method))
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def _close_quietly(resource: Any, method: str) -> None:
    with contextlib.suppress(Exception):
        await getattr(resource, method)()


def _reset_after_fork() -> None:
    global _class_lock, _by_loop_lock
    _class_lock = threading.Lock()
    _by_loop_lock = threading.Lock()
    # The parent's close tasks: kept, never run or released here (see Store.after_fork).
    _inherited_closing.append(set(_closing))
    _closing.clear()


_inherited_closing: list[set[asyncio.Task[Any]]] = []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class _PerLoopTable:
    """One object per event loop, closed on its own loop: the table both loop-local kinds
    (:func:`loop_local_async_client`'s httpx pools, :class:`LoopLocal`'s objects) keep. Each
    entry has an ``aclose()``; the owner of the table closes the entries when it is garbage."""

    _per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]
    _per_loop_lock: threading.Lock

    def _init_per_loop(self) -> None:
        self._per_loop = weakref.WeakKeyDictionary()
        self._per_loop_lock = threading.Lock()
        close_with_owner(self, self._per_loop)

    @property
    def loop_count(self) -> int:
        """Entries held now (one per live loop that used this)."""
        with self._per_loop_lock:
            self._drop_closed_loops()
            return len(self._per_loop)

    def _drop_closed_loops(self) -> None:
        for loop in [loop for loop in list(self._per_loop) if loop.is_closed()]:
            self._per_loop.pop(loop, None)

    def close_with(self, owner: object) -> None:
        """Also close every loop's entry as soon as ``owner`` (the model) is garbage.

        A model usually dies by reference count the moment nobody holds it, while its SDK
        client, and this table with it, often sit in reference cycles that only a later
        cyclic collection frees: tying the entries to the model closes them without that
        wait."""
        close_with_owner(owner, self._per_loop)

    def _take_all(self) -> list[tuple[asyncio.AbstractEventLoop, Any]]:
        with self._per_loop_lock:
            entries = list(self._per_loop.items())
            self._per_loop.clear()
        return entries

    async def _aclose_per_loop(self) -> None:
        """Close every loop's entry on its own loop; a closed loop's is just dropped."""
        current = asyncio.get_running_loop()
        pending = []
        for loop, entry in self._take_all():
            if loop is current:
                await _close_quietly(entry, "aclose")
            elif loop.is_running() and not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed meanwhile
                    future = asyncio.run_coroutine_threadsafe(_close_quietly(entry, "aclose"), loop)
                    pending.append(asyncio.wrap_future(future))
        if pending:
            await asyncio.wait(pending, timeout=_CLOSE_WAIT_SECONDS)

    def _close_per_loop_from_any_thread(self) -> None:
        """Each running loop's entry closed on that loop (waited for, unless that loop is this
        thread's own, which cannot run while we block it)."""
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        waits: list[concurrent.futures.Future[None]] = []
        for loop, entry in self._take_all():
            if loop.is_closed() or not loop.is_running():
                continue
            with contextlib.suppress(RuntimeError):
                future = asyncio.run_coroutine_threadsafe(_close_quietly(entry, "aclose"), loop)
                if loop is not current:
                    waits.append(future)
        concurrent.futures.wait(waits, timeout=_CLOSE_WAIT_SECONDS)


def _define_class(httpx: Any) -> type[Any]:

    class _UnusedTransport(httpx.AsyncBaseTransport):  # type: ignore[misc]
        """The outer client only builds requests; every send goes to a loop's inner client."""

        async def handle_async_request(self, request: Any) -> Any:
            raise RuntimeError("LoopLocalAsyncClient sends through its per-loop clients")

    class LoopLocalAsyncClient(_PerLoopTable, httpx.AsyncClient):  # type: ignore[misc]
        """``httpx.AsyncClient`` with one connection pool per event loop."""

        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("follow_redirects", True)
            if "verify" not in kwargs:
                # One TLS context for every loop and every such client: loading the trust
                # store costs ~20-45 ms of CPU and about a megabyte, paid once per process.
                kwargs["verify"] = default_ssl_context(httpx)
            outer = {
                k: v
                for k, v in kwargs.items()
                if k in {"auth", "params", "headers", "cookies", "timeout", "base_url"}
                or k in {"follow_redirects", "max_redirects", "event_hooks", "default_encoding"}
            }
            super().__init__(transport=_UnusedTransport(), **outer)
            self._inner_kwargs = kwargs
            self._init_per_loop()

        async def _inner_client(self) -> Any:
            loop = asyncio.get_running_loop()
            with self._per_loop_lock:
                client = self._per_loop.get(loop)
                if client is not None:
                    return client
                self._drop_closed_loops()
                client = httpx.AsyncClient(**self._inner_kwargs)
                self._per_loop[loop] = client
            close_at_loop_shutdown(client)
            return client

        async def send(self, request: Any, **kwargs: Any) -> Any:
            if self.is_closed:
                raise RuntimeError("Cannot send a request, as the client has been closed.")
            client = await self._inner_client()
            return await client.send(request, **kwargs)

        async def aclose(self) -> None:
            """Close every loop's client on its own loop; a closed loop's is just dropped."""
            await self._aclose_per_loop()
            await super().aclose()

        def close_from_any_thread(self) -> None:
            """Sync close: each running loop's client is closed on that loop (waited for,
            unless that loop is this thread's own, which cannot run while we block it)."""
            self._close_per_loop_from_any_thread()
            with contextlib.suppress(Exception):
                # The outer client has no pool of its own; mark it closed.
                self._state = type(self._state).CLOSED  # type: ignore[has-type]

    return LoopLocalAsyncClient


_ssl_contexts: dict[str, Any] = {}


def default_ssl_context(httpx_module: Any) -> Any:
    """httpx's default TLS context, made once per process (per httpx flavour) and shared by
    the clients llmcache makes: an ``ssl.SSLContext`` is safe to share across threads and
    loops. The trust store is read when the first is made (``SSL_CERT_FILE`` included)."""
    with _class_lock:
        context = _ssl_contexts.get(httpx_module.__name__)
        if context is None:
            context = _ssl_contexts[httpx_module.__name__] = httpx_module.create_ssl_context()
    return context


def loop_local_async_client(httpx_module: Any = None, **kwargs: Any) -> Any:
    """An ``httpx.AsyncClient`` usable from any event loop (kwargs as for ``AsyncClient``).

    Give it to an SDK that takes an async httpx client (``ChatOpenAI(http_async_client=...)``)
    from a custom provider's factory. ``httpx_module`` is the httpx flavour the SDK expects
    (``httpx`` by default; openai 3.x uses the API-identical ``httpx2``).
    """
    if httpx_module is None:
        import httpx as httpx_module
    with _class_lock:
        cls = _classes.get(httpx_module.__name__)
        if cls is None:
            cls = _classes[httpx_module.__name__] = _define_class(httpx_module)
    return cls(**kwargs)


def is_loop_local_client(client: object) -> bool:
    """Whether ``client`` is one of ours (so the cache owns and closes it)."""
    return isinstance(client, LoopLocal) or any(
        isinstance(client, cls) for cls in list(_classes.values())
    )


class _PerLoop:
    """One loop's object and how to close it (a loop's resources are held weakly: the
    :class:`LoopLocal`'s table keeps this alive as long as the loop lives)."""

    __slots__ = ("__weakref__", "close", "target")

    def __init__(self, target: Any, close: Callable[[Any], Awaitable[None]]) -> None:
        self.target = target
        self.close = close

    async def aclose(self) -> None:
        await self.close(self.target)


class LoopLocal(_PerLoopTable):
    """Any loop-bound async client (not httpx: a gRPC ``grpc.aio`` channel's, for one), one per
    event loop: attributes are read from the running loop's own object, made by ``factory()``
    on that loop the first time. Each is closed by ``await close(obj)`` on its own loop, as
    :func:`loop_local_async_client`'s pools are (at the loop's shutdown, when the owner is
    garbage, or by :meth:`aclose`/:meth:`close_from_any_thread`).
    """

    def __init__(self, factory: Callable[[], Any], close: Callable[[Any], Awaitable[None]]) -> None:
        self._factory = factory
        self._close = close
        self._closed = False
        self._init_per_loop()

    def __repr__(self) -> str:
        return f"<LoopLocal {getattr(self._factory, '__qualname__', 'factory')}>"

    def for_running_loop(self) -> Any:
        """The running loop's object (made now if this loop has none)."""
        if self._closed:
            raise RuntimeError("this loop-local client has been closed")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("a loop-local async client needs a running event loop") from None
        with self._per_loop_lock:
            entry = self._per_loop.get(loop)
        if entry is None:  # only this loop's thread makes this loop's: no race to lose
            entry = _PerLoop(self._factory(), self._close)
            with self._per_loop_lock:
                self._drop_closed_loops()
                self._per_loop[loop] = entry
            close_at_loop_shutdown(entry)
        return entry.target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in _LOOP_LOCAL_OWN:
            raise AttributeError(name)
        return getattr(self.for_running_loop(), name)

    async def aclose(self) -> None:
        """Close every loop's object on its own loop; a closed loop's is just dropped."""
        self._closed = True
        await self._aclose_per_loop()

    def close_from_any_thread(self) -> None:
        """Sync close: each running loop's object is closed on that loop (waited for, unless
        that loop is this thread's own, which cannot run while we block it)."""
        self._closed = True
        self._close_per_loop_from_any_thread()


_LOOP_LOCAL_OWN = frozenset({"_factory", "_close", "_closed", "_per_loop", "_per_loop_lock"})
"""LoopLocal's own attributes: never looked up on a loop's object (not set yet, or gone)."""
