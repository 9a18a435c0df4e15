"""Seven defects a review of the previous core reproduced, each as the user met it. Every test
here failed on that core (7871a67) for the reason in its name."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from typing import Any

import pytest
from conftest import CountingFactory, wait_until

import llmcache
from llmcache import ModelCache

pytestmark = pytest.mark.timeout(60)

SECRET = "sk-live-review-not-a-real-key"


def test_a_secret_first_parameter_never_names_the_build(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = threading.Event()
    started = threading.Event()

    @llmcache.cached
    def client_for(api_key: str, model: str = "gpt-4o") -> object:
        started.set()
        gate.wait(10)
        raise ValueError("the provider refused")

    caplog.set_level(logging.INFO, logger="llmcache")
    caller = threading.Thread(target=lambda: _swallow(client_for, SECRET), daemon=True)
    caller.start()
    assert started.wait(10)
    names = [t.name for t in threading.enumerate() if t.name.startswith("llmcache-build")]
    gate.set()
    caller.join(10)

    assert names, "no build thread was running"
    assert not [n for n in names if SECRET in n], names
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert failures, "the failed build was not logged"
    assert SECRET not in caplog.text
    assert SECRET not in repr(list(client_for.cache._store.entries))


def _swallow(call: Any, *args: Any) -> None:
    with contextlib.suppress(ValueError):
        call(*args)


def test_per_loop_models_stay_per_loop_after_sync_hits() -> None:
    cache = ModelCache()
    cache.register_provider("loopy", CountingFactory(), per_loop=True)
    outside = cache.get("m", "loopy")
    assert cache.get("m", "loopy") is outside  # two sync hits outside any loop

    first = asyncio.run(cache.aget("m", "loopy"))
    second = asyncio.run(cache.aget("m", "loopy"))

    assert len({id(outside), id(first), id(second)}) == 3  # one model per loop


def test_reregistering_an_alias_serves_the_new_factory() -> None:
    builtin, mine = CountingFactory(), CountingFactory()
    cache = ModelCache({"google": builtin})
    first = cache.get("gemini-2.5-flash", "google_genai")  # LangChain's alias of "google"
    assert cache.get("gemini-2.5-flash", "google_genai") is first

    cache.register_provider("google_genai", mine)
    model = cache.get("gemini-2.5-flash", "google_genai")

    assert (builtin.calls, mine.calls) == (1, 1)
    assert model is not first


async def test_async_waiters_do_not_wake_before_the_build_ends() -> None:
    """Code of llmcache runs in the loop's thread only to start waiting and to finish: the
    waiters never poll while the build runs."""
    gate = threading.Event()
    cache = ModelCache({"slow": CountingFactory(gate=gate)})
    waiters = [asyncio.create_task(cache.aget("m", "slow")) for _ in range(100)]
    await asyncio.to_thread(wait_until, lambda: cache.stats().misses == 100, "100 waiters")
    package = os.path.dirname(llmcache.__file__)
    resumed: list[str] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(package):
            resumed.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        await asyncio.sleep(0.3)  # a window in which a polling waiter wakes several times
    finally:
        sys.setprofile(None)
    gate.set()
    results = await asyncio.gather(*waiters)

    assert resumed == []
    assert len({id(r) for r in results}) == 1


def test_a_task_that_copied_the_builds_context_is_never_refused() -> None:
    """A factory that schedules a coroutine hands it a copy of the build's context; after the
    model is dropped, that task asks for it like any caller."""
    background = asyncio.new_event_loop()
    runner = threading.Thread(target=background.run_forever, daemon=True)
    runner.start()
    go = threading.Event()
    cache = ModelCache()
    tasks: list[Any] = []

    async def later() -> Any:
        await asyncio.to_thread(go.wait, 10)
        return await cache.aget("m", "p")

    def factory(model_name: str) -> object:
        if not tasks:
            tasks.append(asyncio.run_coroutine_threadsafe(later(), background))
        return object()

    cache.register_provider("p", factory)
    first = cache.get("m", "p")
    cache.clear()
    go.set()
    try:
        second = tasks[0].result(10)
    finally:
        background.call_soon_threadsafe(background.stop)
        runner.join(10)
        background.close()
    assert second is not first


def test_creating_and_dropping_caches_registers_no_fork_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[Any] = []
    monkeypatch.setattr(os, "register_at_fork", lambda **hooks: registered.append(hooks))

    for _ in range(1000):
        ModelCache({"p": CountingFactory()})

    assert registered == []


class _CountingLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self, *args: Any) -> bool:
        self.acquired += 1
        return self._lock.acquire(*args)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@pytest.fixture
def raced_cache() -> tuple[ModelCache, dict[str, Any]]:
    """A cache in which ``clear()`` ran right after a hit's lookup under the lock: the window
    in which the previous core's memo stored an entry that was being dropped."""
    kwargs = {"api_key": SECRET, "temperature": 0.2, "max_retries": 2, "timeout": 30}
    cache = ModelCache({"p": CountingFactory()})
    cache.get("m", "p", **kwargs)
    join = cache._join
    raced: list[bool] = []

    def join_then_clear(*args: Any, **kw: Any) -> Any:
        answer = join(*args, **kw)
        if not raced:
            raced.append(True)
            cache.clear()
        return answer

    cache._join = join_then_clear  # type: ignore[method-assign]
    cache.get("m", "p", **kwargs)  # a hit, raced by clear()
    del cache._join
    cache.get("m", "p", **kwargs)  # rebuilt if the race dropped it
    return cache, kwargs


def test_hits_after_a_clear_raced_a_hit_take_no_lock(
    raced_cache: tuple[ModelCache, dict[str, Any]],
) -> None:
    cache, kwargs = raced_cache
    model = cache.get("m", "p", **kwargs)
    counting = _CountingLock()
    cache._lock = counting  # type: ignore[assignment]

    for _ in range(100):
        assert cache.get("m", "p", **kwargs) is model

    assert counting.acquired == 0
