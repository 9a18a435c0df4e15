"""Closing a cache closes its models' HTTP clients (each loop-bound one on its own loop) and
empties it: later calls build anew. An app that closes it exits without a resource warning."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CountingFactory
from sdk_fakes import OPENAI, WAIT, loop_in_a_thread

import llmcache
from llmcache import ModelCache
from llmcache.lab.isolation import guarded_env

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent


class Closes:
    """A provider's close hooks that record which model they closed, and on which loop."""

    def __init__(self) -> None:
        self.closed: list[Any] = []
        self.loops: list[asyncio.AbstractEventLoop | None] = []

    def close(self, model: Any) -> None:
        self.closed.append(model)

    async def aclose(self, model: Any) -> None:
        self.closed.append(model)
        self.loops.append(asyncio.get_running_loop())


def test_close_closes_every_model_once_and_later_calls_build_anew() -> None:
    closes = Closes()
    cache = ModelCache({})
    cache.register_provider("fake", CountingFactory(), close=closes.close)
    first, other = cache.get("a", "fake"), cache.get("b", "fake")

    cache.close()

    assert closes.closed == [first, other]
    assert cache.stats().size == 0
    again = cache.get("a", "fake")
    assert again is not first
    assert cache.stats().constructions == 3
    cache.close()
    assert closes.closed == [first, other, again]


async def test_aclose_closes_on_the_running_loop_and_later_calls_build_anew() -> None:
    closes = Closes()
    cache = ModelCache({})
    cache.register_provider("fake", CountingFactory(), close=closes.close, aclose=closes.aclose)
    first = await cache.aget("a", "fake")

    await cache.aclose()

    assert closes.closed == [first]
    assert closes.loops == [asyncio.get_running_loop()]
    assert await cache.aget("a", "fake") is not first


@pytest.fixture
def thread_loop() -> Iterator[asyncio.AbstractEventLoop]:
    with loop_in_a_thread() as loop:
        yield loop


def test_aclose_closes_each_loop_bound_model_on_its_own_loop_and_drops_a_closed_loops(
    thread_loop: asyncio.AbstractEventLoop,
) -> None:
    closes = Closes()
    cache = ModelCache({})
    cache.register_provider(
        "bound", CountingFactory(), per_loop=True, close=closes.close, aclose=closes.aclose
    )

    async def get() -> Any:
        return await cache.aget("m", "bound")

    in_closed_loop = asyncio.run(get())
    in_thread_loop = asyncio.run_coroutine_threadsafe(get(), thread_loop).result(WAIT)

    async def main() -> Any:
        here = await get()
        await cache.aclose()
        return here

    with asyncio.Runner() as runner:
        in_this_loop = runner.run(main())
        this_loop = runner.get_loop()

        assert cache.stats().constructions == 3
        closed = dict(zip(map(id, closes.closed), closes.loops, strict=True))
        assert closed == {id(in_thread_loop): thread_loop, id(in_this_loop): this_loop}
        assert id(in_closed_loop) not in closed  # its loop is gone: dropped, not closed
        assert cache.stats().size == 0


async def test_aclose_cache_closes_the_openai_clients_and_later_calls_build_anew() -> None:
    with OPENAI.server_class() as server:
        kwargs = OPENAI.kwargs(server)
        model = await llmcache.get_model_async(OPENAI.model_name, **kwargs)
        assert (await model.ainvoke("hi")).content == "ok"

        await llmcache.aclose_cache()

        assert model.http_async_client.is_closed
        assert model.http_client.is_closed
        again = await llmcache.get_model_async(OPENAI.model_name, **kwargs)
        assert again is not model
        assert (await again.ainvoke("hi")).content == "ok"


def test_close_cache_closes_a_running_loops_client_on_that_loop(
    thread_loop: asyncio.AbstractEventLoop,
) -> None:
    with OPENAI.server_class() as server:
        kwargs = OPENAI.kwargs(server)
        model = llmcache.get_model(OPENAI.model_name, **kwargs)
        assert model.invoke("hi").content == "ok"

        async def call() -> Any:
            return (await model.ainvoke("hi")).content

        assert asyncio.run_coroutine_threadsafe(call(), thread_loop).result(WAIT) == "ok"
        inner_clients = list(model.http_async_client._per_loop.values())
        assert len(inner_clients) == 1

        llmcache.close_cache()

        assert inner_clients[0].is_closed  # closed on the thread's loop, waited for
        assert model.http_async_client.is_closed
        assert model.http_client.is_closed
        again = llmcache.get_model(OPENAI.model_name, **kwargs)
        assert again is not model
        assert again.invoke("hi").content == "ok"


# -- a whole app, in a fresh interpreter, under -X dev and -W error::ResourceWarning -----------

_APP = """
import asyncio, sys

from llmcache.lab import netguard
netguard.install()

import llmcache
from llmcache.lab.servers import GeminiRestServer, OpenAIServer
from sdk_fakes import loop_in_a_thread

KEY = "test-fake-key"


async def ask_all(specs):
    for name, provider, kwargs in specs:
        model = await llmcache.get_model_async(name, provider, **kwargs)
        assert (await model.ainvoke("hi")).content == "ok"


def two_loops_at_once(specs):
    with loop_in_a_thread() as other:

        async def main():
            for _ in range(2):
                there = asyncio.run_coroutine_threadsafe(ask_all(specs), other)
                await asyncio.gather(ask_all(specs), asyncio.wrap_future(there))
            await llmcache.aclose_cache()  # while the thread's loop still runs

        asyncio.run(main())


def one_loop_after_another(specs):
    for _ in range(3):
        asyncio.run(ask_all(specs))
    llmcache.close_cache()


with OpenAIServer() as openai, GeminiRestServer() as gemini:
    specs = [
        ("gpt-4o-mini", "openai", {"api_key": KEY, "base_url": openai.url + "/v1"}),
        ("gemini-2.5-flash", "google", {"google_api_key": KEY, "base_url": gemini.url}),
    ]
    for name, provider, kwargs in specs:  # the sync clients too
        assert llmcache.get_model(name, provider, **kwargs).invoke("hi").content == "ok"
    globals()[sys.argv[1]](specs)
print("exited cleanly; non-loopback attempts:", netguard.take_violations())
"""

LEAK_SIGNS = (
    "Unclosed client session",
    "Unclosed connector",
    "Task exception was never retrieved",
    "ResourceWarning",
)


@pytest.mark.parametrize("pattern", ["two_loops_at_once", "one_loop_after_another"])
def test_an_app_using_both_providers_closes_the_cache_and_exits_without_resource_warnings(
    pattern: str,
) -> None:
    env = guarded_env({"PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(TESTS)])})
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", _APP, pattern],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "exited cleanly; non-loopback attempts: []" in done.stdout
    leaks = [line for line in done.stderr.splitlines() if any(s in line for s in LEAK_SIGNS)]
    assert leaks == [], done.stderr[-3000:]
