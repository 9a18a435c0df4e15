"""Models the cache lets go are closed once nobody can use them, and never while a request or
stream still runs on them; with the real SDKs against loopback fakes, under one long-lived loop
(a uvicorn worker's).

The built-in providers' clients close themselves when the model is garbage: the loop holds them
only weakly. Open sockets are counted from ``/proc/self/fd`` (client and server ends: the fake
runs in this process and closes its end when the client closes its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import pytest
from sdk_fakes import FAKE_KEY, GOOGLE, OPENAI, SDK, WAIT

from llmcache import ModelCache
from llmcache.lab.servers import OpenAIServer

ROTATIONS = 20


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed meanwhile
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def settle(condition: Callable[[], bool], what: str, *, collect: bool = True) -> None:
    """Let the loop run (closes are tasks on it) until ``condition`` holds; fail after
    ``WAIT`` s. Garbage is collected on each pass (unless ``collect`` is false): a dropped
    model's end is its collection."""
    deadline = time.monotonic() + WAIT
    while True:
        if collect:
            gc.collect()
        if condition():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {WAIT:g} s waiting for {what}", pytrace=False)
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("sdk", [OPENAI, GOOGLE], ids=lambda sdk: sdk.provider)
@pytest.mark.parametrize("bound", ["maxsize", "ttl", "ttl-rotating-keys", "clear"])
async def test_dropped_models_release_their_sockets_under_one_loop(sdk: SDK, bound: str) -> None:
    """Rotating credentials (``ttl``), tenants over ``maxsize``, or ``clear()``: each dropped
    model's connections close, so open sockets stay flat however many were dropped."""
    cache = ModelCache(maxsize=1 if bound == "maxsize" else None)
    with sdk.server_class() as server:
        kwargs = sdk.kwargs(server)
        key_name = "api_key" if sdk is OPENAI else "google_api_key"
        models: list[weakref.ref[Any]] = []

        async def ask(i: int) -> None:
            key = "k" if bound == "ttl" else f"k{i}"  # ttl: one configuration rebuilt
            model = await cache.aget(sdk.model_name, sdk.provider, **{**kwargs, key_name: key})
            models.append(weakref.ref(model))
            reply = await model.ainvoke("hi")
            assert reply.content

        await ask(0)
        gc.collect()
        baseline = open_sockets()
        for i in range(1, ROTATIONS + 1):
            if bound.startswith("ttl"):
                cache.configure(ttl=1e-9)  # every model expires at once
            await ask(i)
            if bound == "clear":
                cache.clear()
        await settle(
            lambda: sum(ref() is not None for ref in models) <= 1,
            "dropped models to be collected",
        )
        await settle(lambda: open_sockets() <= baseline + 2, "dropped models' sockets to close")
        if bound != "clear":  # (clear resets the counters)
            assert cache.stats().constructions == ROTATIONS + 1
    await cache.aclose()


class _GatedStreamHandler(OpenAIServer.handler):  # type: ignore[valid-type,misc]
    """Streams one chunk, then holds the response open until the test opens the gate."""

    def do_POST(self) -> None:
        request = json.loads(self._read_body() or b"{}")
        owner: GatedOpenAIServer = self.server.owner  # type: ignore[assignment]
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        first = {"index": 0, "delta": {"role": "assistant", "content": "one "}}
        last = {"index": 0, "delta": {"content": "two"}, "finish_reason": "stop"}
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def send(data: str) -> None:
            body = f"data: {data}\r\n\r\n".encode()
            self.wfile.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")
            self.wfile.flush()

        if request.get("stream"):
            send(json.dumps({**chunk, "choices": [{**first, "finish_reason": None}]}))
        owner.streaming.set()
        if not owner.gate.wait(WAIT):
            return
        send(json.dumps({**chunk, "choices": [last]}))
        send("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


class GatedOpenAIServer(OpenAIServer):
    handler = _GatedStreamHandler

    def __init__(self) -> None:
        super().__init__()
        self.streaming = threading.Event()
        self.gate = threading.Event()


@pytest.mark.parametrize("bound", ["maxsize", "ttl", "clear"])
async def test_a_stream_in_progress_completes_across_its_models_eviction(bound: str) -> None:
    """A stream that started before its model was dropped reads to its end: nothing closes a
    model's pools while a request holds the model."""
    cache = ModelCache(maxsize=1 if bound == "maxsize" else None)
    with GatedOpenAIServer() as server:
        kwargs = {"api_key": FAKE_KEY, "base_url": server.base_url}
        model = await cache.aget("gpt-4o-mini", "openai", **kwargs)
        dropped = weakref.ref(model)
        stream = model.astream("hi")
        del model
        first = await stream.__anext__()
        assert server.streaming.wait(WAIT)
        if bound == "maxsize":
            await cache.aget("gpt-4o-mini", "openai", **{**kwargs, "api_key": "other"})
        elif bound == "ttl":
            cache.configure(ttl=1e-9)
            await cache.aget("gpt-4o-mini", "openai", **kwargs)
        else:
            cache.clear()
        for _ in range(3):  # let every close scheduled so far run
            gc.collect()
            await asyncio.sleep(0)
        assert dropped() is not None, "the stream holds its model"
        server.gate.set()
        rest = [chunk async for chunk in stream]
        assert "".join(str(c.content) for c in [first, *rest]) == "one two"
        del stream, first, rest
        await settle(lambda: dropped() is None, "the model to be collected after its stream")
    await cache.aclose()


async def test_a_model_built_across_aclose_is_served_not_cached_and_then_closed() -> None:
    """The README's FastAPI lifespan: ``aclose_cache()`` at shutdown while a build runs. The
    build's callers still get their model; it is not cached, and is closed once let go."""
    gate = threading.Event()
    started = threading.Event()
    closed: list[Any] = []

    def factory(model_name: str, **kwargs: Any) -> Any:
        started.set()
        assert gate.wait(WAIT)
        return object()

    cache = ModelCache()
    cache.close_dropped_after = 0  # close as soon as it is let go
    cache.register_provider("fake", factory, close=closed.append)
    waiter = asyncio.ensure_future(cache.aget("m", "fake"))
    assert await asyncio.to_thread(started.wait, WAIT)
    await cache.aclose()
    gate.set()
    model = await asyncio.wait_for(waiter, WAIT)
    assert cache.stats().size == 0
    await settle(lambda: closed == [model], "the close hook to get the late model")
    assert cache.get("m", "fake") is not model  # later calls build anew


@pytest.mark.parametrize("sdk", [OPENAI, GOOGLE], ids=lambda sdk: sdk.provider)
async def test_dropped_models_close_and_free_without_a_cyclic_collection(sdk: SDK) -> None:
    """A service's full collections are rare (a large heap of long-lived objects defers them),
    so a dropped model must release its sockets and its SDK client when its reference count
    drops, not when the garbage collector gets round to a cycle: tested with it off."""
    cache = ModelCache(maxsize=1)
    gc.collect()
    gc.disable()
    try:
        with sdk.server_class() as server:
            kwargs = sdk.kwargs(server)
            key_name = "api_key" if sdk is OPENAI else "google_api_key"
            freed: list[weakref.ref[Any]] = []

            async def ask(i: int) -> None:
                model = await cache.aget(
                    sdk.model_name, sdk.provider, **{**kwargs, key_name: f"k{i}"}
                )
                reply = await model.ainvoke("hi")
                assert reply.content
                if sdk is GOOGLE:  # the SDK client: several TLS contexts, megabytes
                    freed.append(weakref.ref(model.client.aio._api_client))

            await ask(0)
            baseline = open_sockets()
            for i in range(1, ROTATIONS + 1):
                await ask(i)
            await settle(
                lambda: open_sockets() <= baseline + 2,
                "dropped models' sockets to close by reference count",
                collect=False,
            )
            assert sum(ref() is not None for ref in freed) <= 1
    finally:
        gc.enable()
    await cache.aclose()


async def test_the_clients_llmcache_makes_share_one_tls_context() -> None:
    with OPENAI.server_class() as server:
        cache = ModelCache()
        one = await cache.aget(OPENAI.model_name, "openai", **OPENAI.kwargs(server))
        other = await cache.aget(
            OPENAI.model_name, "openai", **{**OPENAI.kwargs(server), "api_key": "other"}
        )
        contexts = {id(model.http_async_client._inner_kwargs["verify"]) for model in (one, other)}
        assert len(contexts) == 1
        await cache.aclose()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_dropping_the_parents_models_leaves_the_parents_connections_working() -> None:
    """gunicorn --preload: the child starts with an empty cache. Were the parent's models
    released there, their clients' destructors would close transports the child shares with
    the parent, taking their sockets out of the epoll set both loops share: the parent's next
    request on its pooled connection would never see the answer."""
    cache = ModelCache()
    with GOOGLE.server_class() as server, asyncio.Runner() as runner:
        kwargs = GOOGLE.kwargs(server)

        async def ask() -> str:
            model = await cache.aget(GOOGLE.model_name, "google", **kwargs)
            reply = await asyncio.wait_for(model.ainvoke("hi"), 10)
            return str(reply.content)

        assert runner.run(ask())
        pid = os.fork()
        if pid == 0:  # the child: collect whatever the fork left it, then leave
            gc.collect()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert runner.run(ask())
        runner.run(cache.aclose())
