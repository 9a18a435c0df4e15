"""A cached model works from every event loop that uses it, with the real SDKs on loopback.

langchain-openai shares one process-wide async httpx client whose pooled connections belong to
the loop that opened them, so its second loop fails with "Event loop is closed"; google-genai
keeps a session per loop and works today: its tests guard against an SDK release that stops.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sdk_fakes import FAKE_KEY, OPENAI, SDK, SDKS, WAIT, loop_in_a_thread

import llmcache
from llmcache import ModelCache

Source = Callable[[], Awaitable[Any]]
"""Returns the model to use, called inside the running loop."""


class Calls:
    """Every model handed out and every reply, from whatever loop or thread made the call."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.models: list[Any] = []
        self.replies: list[Any] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()

    async def ask(self) -> None:
        try:
            model = await self.source()
            reply = await model.ainvoke("hi")
        except Exception as exc:
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            self.models.append(model)
            self.replies.append(reply.content)


def _source(how: str, sdk: SDK, server: Any) -> Source:
    kwargs = sdk.kwargs(server)
    if how == "get_model":
        model = llmcache.get_model(sdk.model_name, sdk.provider, **kwargs)  # outside any loop

        async def handed_out() -> Any:
            return model

        return handed_out

    async def awaited() -> Any:
        return await llmcache.get_model_async(sdk.model_name, sdk.provider, **kwargs)

    return awaited


def _asyncio_run_three_times(calls: Calls) -> None:
    for _ in range(3):
        asyncio.run(calls.ask())


def _a_runner_per_test(calls: Calls) -> None:
    # What pytest-asyncio does: a new loop for every test.
    for _ in range(3):
        with asyncio.Runner() as runner:
            runner.run(calls.ask())


def _three_thread_loops_at_once(calls: Calls) -> None:
    turns = [threading.Event() for _ in range(4)]
    barrier = threading.Barrier(3, timeout=WAIT)

    async def worker(turn: int) -> None:
        # Blocking waits block only this thread's loop; all three loops stay alive meanwhile.
        assert turns[turn].wait(WAIT)
        await calls.ask()  # in turn: each may reuse the connection of the loop before
        turns[turn + 1].set()
        barrier.wait()
        await calls.ask()  # at the same time

    threads = [threading.Thread(target=asyncio.run, args=(worker(i),)) for i in range(3)]
    for thread in threads:
        thread.start()
    turns[0].set()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a thread's loop never finished"


def _main_loop_and_a_thread_loop_at_once(calls: Calls) -> None:
    with loop_in_a_thread() as other:

        async def in_the_other_loop() -> None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(calls.ask(), other))

        async def main() -> None:
            for _ in range(2):
                await calls.ask()  # one after the other: each may reuse the other's connection
                await in_the_other_loop()
                await asyncio.gather(calls.ask(), in_the_other_loop())  # and at the same time

        asyncio.run(main())


PATTERNS = {
    "asyncio_run_three_times": _asyncio_run_three_times,
    "a_runner_per_test": _a_runner_per_test,
    "three_thread_loops_at_once": _three_thread_loops_at_once,
    "main_loop_and_a_thread_loop_at_once": _main_loop_and_a_thread_loop_at_once,
}
CALLS_MADE = {
    "asyncio_run_three_times": 3,
    "a_runner_per_test": 3,
    "three_thread_loops_at_once": 6,
    "main_loop_and_a_thread_loop_at_once": 8,
}


@pytest.mark.parametrize("pattern", list(PATTERNS))
@pytest.mark.parametrize("how", ["get_model", "get_model_async"])
@pytest.mark.parametrize("provider", list(SDKS))
def test_one_cached_model_answers_from_every_loop(provider: str, how: str, pattern: str) -> None:
    sdk = SDKS[provider]
    with sdk.server_class() as server:
        calls = Calls(_source(how, sdk, server))
        PATTERNS[pattern](calls)

    assert calls.errors == []
    assert calls.replies == ["ok"] * CALLS_MADE[pattern]
    first = calls.models[0]
    assert all(model is first for model in calls.models)  # one model per configuration
    assert llmcache.cache_stats().constructions == 1


# -- per-loop state is keyed weakly by the loop and dropped when it closes ---------------------


def _sequential_runs(n: int) -> Iterator[tuple[int, int]]:
    """Run ``n`` times ``asyncio.run`` of one ``get_model_async`` + ``ainvoke`` against the
    OpenAI fake; yield (per-loop clients inside the run, after it) for each run."""
    with OPENAI.server_class() as server:
        kwargs = OPENAI.kwargs(server)

        async def one() -> tuple[Any, int]:
            model = await llmcache.get_model_async(OPENAI.model_name, **kwargs)
            reply = await model.ainvoke("hi")
            assert reply.content == "ok"
            return model, model.http_async_client.loop_count

        for _ in range(n):
            model, inside = asyncio.run(one())
            yield inside, model.http_async_client.loop_count


def _traced_bytes_after(runs: Iterator[Any], n: int) -> int:
    for _ in range(n):
        next(runs)
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _check_sequential_runs_stay_flat(n: int) -> dict[str, Any]:
    """``n`` sequential runs hold one per-loop client at a time, none after, and the memory
    they leave behind is far below what keeping a loop and its client per run would."""
    warm_up = 10  # first-use allocations (imports, schemas, the SDK's bounded caches)
    runs = _sequential_runs(2 * warm_up + n)
    counts = [next(runs) for _ in range(warm_up)]
    gc.collect()
    tracemalloc.start()
    try:
        before = _traced_bytes_after(runs, warm_up)
        started = time.perf_counter()
        after = _traced_bytes_after(runs, n)
        seconds = time.perf_counter() - started
    finally:
        tracemalloc.stop()
    counts.extend(runs)
    assert {inside for inside, _ in counts} == {1}  # only the running loop's client
    assert {left for _, left in counts} == {0}  # dropped once asyncio.run closed the loop
    stats = llmcache.cache_stats()
    assert (stats.constructions, stats.size) == (1, 1)
    # Measured here: a loop and its httpx client kept per run hold ~6.5 KB each; without
    # that, the growth stays under ~70 KB in all (caches that fill up, then stop).
    growth = after - before
    assert growth < 64_000 + 1_000 * n, f"{growth} bytes held after {n} runs"
    return {"runs": n, "traced_seconds": round(seconds, 1), "before": before, "after": after}


def test_sequential_asyncio_runs_leave_loop_clients_and_memory_flat() -> None:
    _check_sequential_runs_stay_flat(100)


@pytest.mark.slow
def test_five_thousand_sequential_asyncio_runs_leave_loop_clients_and_memory_flat() -> None:
    print(_check_sequential_runs_stay_flat(5000))  # the numbers, seen with -s


def test_nothing_keeps_a_finished_loop_alive() -> None:
    # Per-loop state is keyed by the loop through weak references, never by id(loop): ids of
    # dead loops are reused at once, and a strong key would keep every loop for ever.
    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []
    cache = ModelCache({})
    cache.register_provider("bound", lambda name, **kw: _LoopBoundModel(), per_loop=True)
    with OPENAI.server_class() as server:
        kwargs = OPENAI.kwargs(server)

        async def one() -> None:
            loops.append(weakref.ref(asyncio.get_running_loop()))
            model = await llmcache.get_model_async(OPENAI.model_name, **kwargs)
            assert (await model.ainvoke("hi")).content == "ok"
            assert await (await cache.aget("m", "bound")).ainvoke("hi") == "ok"

        for _ in range(3):
            asyncio.run(one())
        gc.collect()

    assert [loop() for loop in loops] == [None, None, None]


# -- custom providers ---------------------------------------------------------------------------


class _LoopBoundModel:
    """A model whose async transport belongs to the loop that first uses it."""

    def __init__(self) -> None:
        self.loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    async def ainvoke(self, prompt: str) -> str:
        loop = asyncio.get_running_loop()
        if self.loop is None:
            self.loop = weakref.ref(loop)
        if self.loop() is not loop:
            raise RuntimeError("Event loop is closed")  # what a loop-bound pool does
        return "ok"


def test_a_per_loop_provider_gets_one_model_per_loop_dropped_when_its_loop_closes() -> None:
    builds: list[weakref.ref[_LoopBoundModel]] = []

    def factory(model_name: str, **kwargs: Any) -> _LoopBoundModel:
        model = _LoopBoundModel()
        builds.append(weakref.ref(model))
        return model

    cache = ModelCache({})
    cache.register_provider("bound", factory, per_loop=True)

    async def get_and_call() -> int:
        model = await cache.aget("m", "bound")
        assert await model.ainvoke("hi") == "ok"
        return id(model)

    first, second = asyncio.Runner(), asyncio.Runner()
    with second:
        with first:
            in_first = {first.run(get_and_call()) for _ in range(2)}
            in_second = {second.run(get_and_call()) for _ in range(2)}
            assert len(in_first) == len(in_second) == 1  # the same model within a loop
            assert in_first != in_second  # another one in another loop
            assert cache.stats().constructions == 2
        second.run(get_and_call())  # the first loop is closed now
        gc.collect()
        assert builds[0]() is None  # the cache let go of the closed loop's model
        assert builds[1]() is not None
        assert cache.stats().size == 1


def test_register_provider_per_loop_through_the_module_functions() -> None:
    cache_models: list[Any] = []

    async def get() -> None:
        cache_models.append(await llmcache.get_model_async("m", "bound-default"))

    llmcache.register_provider("bound-default", lambda name, **kw: _LoopBoundModel(), per_loop=True)
    with asyncio.Runner() as a, asyncio.Runner() as b:
        a.run(get())
        b.run(get())
        a.run(get())
    assert cache_models[0] is cache_models[2]
    assert cache_models[0] is not cache_models[1]


def test_loop_local_async_client_in_a_custom_factory_works_from_every_loop() -> None:
    from langchain_openai import ChatOpenAI
    from langchain_openai._compat import httpx

    def factory(model_name: str, **kwargs: Any) -> Any:
        client = llmcache.loop_local_async_client(httpx)
        return ChatOpenAI(model=model_name, http_async_client=client, **kwargs)

    cache = ModelCache({"mine": factory})
    with OPENAI.server_class() as server:
        kwargs = {"api_key": FAKE_KEY, "base_url": server.url + "/v1"}

        async def source() -> Any:
            return await cache.aget("gpt-4o-mini", "mine", **kwargs)

        calls = Calls(source)
        _asyncio_run_three_times(calls)
        _three_thread_loops_at_once(calls)
        _main_loop_and_a_thread_loop_at_once(calls)

    assert calls.errors == []
    assert calls.replies == ["ok"] * 17
    assert len({id(model) for model in calls.models}) == 1
    assert calls.models[0].http_async_client.loop_count == 0


# -- LoopLocal: the same per-loop mechanism for clients that are not httpx (gRPC's) ----------


class _LoopBound:
    """Stands for a grpc.aio client: made on a loop, usable and closable only there."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_on: asyncio.AbstractEventLoop | None = None

    def which(self) -> asyncio.AbstractEventLoop:
        assert asyncio.get_running_loop() is self.loop, "used from another loop"
        return self.loop


async def _close_bound(obj: _LoopBound) -> None:
    obj.closed_on = asyncio.get_running_loop()


def test_loop_local_makes_one_object_per_loop_and_closes_each_on_its_own_loop() -> None:
    from llmcache._loops import LoopLocal

    made: list[_LoopBound] = []

    def factory() -> _LoopBound:
        made.append(_LoopBound())
        return made[-1]

    client = LoopLocal(factory, _close_bound)

    async def use() -> asyncio.AbstractEventLoop:
        assert client.which() is client.which()  # one object per loop
        return client.which()

    loops = [asyncio.run(use()) for _ in range(2)]
    assert [obj.loop for obj in made] == loops
    assert [obj.closed_on for obj in made] == loops  # at each loop's shutdown, on that loop
    assert client.loop_count == 0


def test_loop_local_closes_a_running_loops_object_there_and_refuses_use_after() -> None:
    from llmcache._loops import LoopLocal

    made: list[_LoopBound] = []
    client = LoopLocal(lambda: made.append(_LoopBound()) or made[-1], _close_bound)

    async def use() -> asyncio.AbstractEventLoop:
        return client.which()

    with loop_in_a_thread() as other:
        there = asyncio.run_coroutine_threadsafe(use(), other).result(WAIT)
        assert client.loop_count == 1
        client.close_from_any_thread()
        assert made[0].closed_on is there
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(use())
    with pytest.raises(RuntimeError, match="running event loop"):
        LoopLocal(_LoopBound, _close_bound).which()
