"""Defects a review of the core (a500d9d) reproduced where a long-running service lives: models
dropped by ``ttl``/``maxsize``/``clear``, ``close()`` while a build runs, late waiters, secrets.
Each test failed on that commit for the reason in its name. Core only (no SDK): ``make
test-matrix`` runs them on every interpreter, free-threaded ones included.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
from typing import Any

import pytest
from conftest import CountingFactory, FakeModel, wait_until

import llmcache
from llmcache import CacheKey, ModelCache, UnknownProviderError
from llmcache._flight import Flight
from llmcache._providers import Provider

pytestmark = pytest.mark.timeout(120)

SECRET = "sk-live-churn-not-a-real-key"
WAIT = 20.0


class Closes:
    def __init__(self) -> None:
        self.closed: list[Any] = []
        self._lock = threading.Lock()

    def close(self, model: Any) -> None:
        with self._lock:
            self.closed.append(model)


# -- dropped models are closed (a provider's own hooks, after the drain period) ---------------


@pytest.mark.parametrize("bound", ["maxsize", "ttl", "clear", "replaced provider"])
def test_a_dropped_models_close_hook_runs_after_the_drain_period(bound: str) -> None:
    closes = Closes()
    cache = ModelCache(maxsize=1 if bound == "maxsize" else None, close_dropped_after=0)
    cache.register_provider("fake", CountingFactory(), close=closes.close)
    first = cache.get("a", "fake")
    if bound == "maxsize":
        cache.get("b", "fake")
    elif bound == "ttl":
        cache.configure(ttl=1e-9)
        cache.get("a", "fake")
    elif bound == "clear":
        cache.clear()
    else:
        cache.register_provider("fake", CountingFactory(), close=closes.close)
    wait_until(lambda: closes.closed == [first], f"the {bound}-dropped model's close hook")


def test_a_dropped_model_is_left_to_its_requests_until_the_drain_period_ends() -> None:
    closes = Closes()
    cache = ModelCache(close_dropped_after=3600)
    cache.register_provider("fake", CountingFactory(), close=closes.close)
    cache.get("a", "fake")
    cache.clear()
    from llmcache import _lifecycle

    assert _lifecycle._drain.pending() >= 1
    assert closes.closed == []


def test_expired_models_of_keys_never_asked_again_are_dropped() -> None:
    """Rotated credentials: each key is asked for during its ttl, then never again."""
    closes = Closes()
    cache = ModelCache(ttl=1e-9, close_dropped_after=0)
    cache.register_provider("fake", CountingFactory(), close=closes.close)
    models = [cache.get("m", "fake", api_key=f"k{i}") for i in range(5)]
    assert cache.stats().size == 1
    wait_until(lambda: len(closes.closed) == 4, "the four expired models' close hooks")
    assert sorted(map(id, closes.closed)) == sorted(map(id, models[:4]))


def test_a_model_built_across_close_is_served_not_cached_and_closed() -> None:
    gate = threading.Event()
    closes = Closes()
    factory = CountingFactory(gate=gate)
    cache = ModelCache()
    cache.close_dropped_after = 0  # close as soon as it is let go
    cache.register_provider("fake", factory, close=closes.close)
    got: list[Any] = []
    caller = threading.Thread(target=lambda: got.append(cache.get("m", "fake")))
    caller.start()
    assert factory.started.wait(WAIT)
    cache.close()
    gate.set()
    caller.join(WAIT)
    assert len(got) == 1 and isinstance(got[0], FakeModel)
    assert cache.stats().size == 0
    wait_until(lambda: closes.closed == got, "the close hook to get the model built across close")


def test_replacing_a_provider_is_not_counted_as_evictions() -> None:
    cache = ModelCache({"fake": CountingFactory()})
    cache.get("a", "fake")
    cache.register_provider("fake", CountingFactory())
    assert cache.stats().evictions == 0


# -- an awaited waiter never misses its wake-up ------------------------------------------------


async def test_a_waiter_joining_after_its_loops_waiters_were_answered_still_wakes() -> None:
    """The window: the build's future holds the model and this loop's waiters have been
    answered, but ``ended`` is not set yet. A waiter arriving then joins an answered set."""
    key = CacheKey.build("fake", "m", {})
    flight = Flight(key, key, Provider(CountingFactory()), 0)
    first = asyncio.ensure_future(flight.wait_async(WAIT))
    await asyncio.sleep(0)  # (same loop, no thread) first joins this loop's set
    model = object()
    flight.future.set_result(model)  # what finish() does before it sets ended
    assert await first is model  # this loop's set has been answered
    assert not flight.ended
    late = await asyncio.wait_for(flight.wait_async(None), 5.0)
    assert late is model


@pytest.mark.timeout(300)
async def test_many_awarm_and_aget_callers_racing_builds_all_wake() -> None:
    """Many rounds of one fresh key built while tasks of this loop and other threads join;
    no caller may wait out ``build_timeout``. (Free-threaded builds run it truly parallel.)"""
    rounds = 300 if sys.flags.dev_mode else 1500
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        cache = ModelCache({"fake": lambda name, **kw: FakeModel(name, kw)}, build_timeout=10)
        stop = threading.Event()
        timeouts: list[str] = []
        round_key = [0]

        def other_thread() -> None:
            async def pound() -> None:
                while not stop.is_set():
                    try:
                        await cache.aget("m", "fake", n=round_key[0])
                    except llmcache.BuildTimeoutError:
                        timeouts.append("thread")
                    await asyncio.sleep(0)

            asyncio.run(pound())

        threads = [threading.Thread(target=other_thread) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            for n in range(rounds):
                round_key[0] = n
                calls = [cache.awarm([{"model_name": "m", "provider": "fake", "n": n}])]
                calls += [cache.aget("m", "fake", n=n) for _ in range(3)]
                done = await asyncio.wait_for(asyncio.gather(*calls), 15)
                assert len({id(m) for m in [done[0][0], *done[1:]]}) == 1
        finally:
            stop.set()
            for t in threads:
                t.join(WAIT)
        assert timeouts == []
        assert cache.stats().constructions == rounds
    finally:
        sys.setswitchinterval(old)


# -- per_loop models stay per loop -------------------------------------------------------------


async def test_an_aget_never_joins_a_sync_callers_loopless_per_loop_flight() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({})
    cache.register_provider("loopy", factory, per_loop=True)
    sync_result: list[Any] = []
    caller = threading.Thread(target=lambda: sync_result.append(cache.get("m", "loopy")))
    caller.start()  # outside any loop: the loop-less model's build
    assert await asyncio.to_thread(factory.started.wait, WAIT)
    awaited = asyncio.ensure_future(cache.aget("m", "loopy"))
    await asyncio.to_thread(wait_until, lambda: factory.calls == 2, "this loop's own build")
    gate.set()
    mine = await asyncio.wait_for(awaited, WAIT)
    await asyncio.to_thread(caller.join, WAIT)
    assert mine is not sync_result[0]
    assert await cache.aget("m", "loopy") is mine


# -- Ctrl-C while a build thread starts --------------------------------------------------------


def test_ctrl_c_after_the_build_thread_started_reaches_the_caller_and_the_build_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    original_start = threading.Thread.start

    def start_then_interrupt(self: threading.Thread) -> None:
        original_start(self)
        if self.name.startswith("llmcache-build"):
            raise KeyboardInterrupt  # as Ctrl-C landing in start()'s wait

    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    monkeypatch.setattr(threading.Thread, "start", start_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        cache.get("m", "fake")
    monkeypatch.setattr(threading.Thread, "start", original_start)
    gate.set()
    model = cache.get("m", "fake")  # joins the build that went on
    assert isinstance(model, FakeModel)
    wait_until(lambda: cache.stats().in_flight == 0, "the build to finish")
    assert cache.stats().constructions == 1
    assert errors == []


def test_ctrl_c_before_the_build_thread_ran_fails_the_flight_not_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt

    factory = CountingFactory()
    cache = ModelCache({"fake": factory})
    monkeypatch.setattr(threading.Thread, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.get("m", "fake")
    monkeypatch.undo()
    assert cache.stats().in_flight == 0
    assert isinstance(cache.get("m", "fake"), FakeModel)


# -- secrets never leak ------------------------------------------------------------------------


def make_client(model: str, api_key: str = "") -> object:
    return FakeModel(model, {"api_key": api_key})


def test_a_partials_bound_secret_never_names_the_build(caplog: pytest.LogCaptureFixture) -> None:
    names: list[str] = []

    def recording(model: str, api_key: str = "") -> object:
        names.append(threading.current_thread().name)
        return FakeModel(model, {})

    cached = llmcache.cached(functools.partial(recording, api_key=SECRET), slow_threshold=0)
    caplog.set_level(logging.INFO, logger="llmcache")
    cached("m")
    assert names and SECRET not in names[0]
    assert "recording" in names[0]
    assert SECRET not in caplog.text and "recording" in caplog.text
    assert SECRET not in repr(cached)


def test_a_secretstr_under_any_name_is_masked_and_equals_its_text() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Settings(pydantic.BaseModel):
        hint: pydantic.SecretStr

    secret = pydantic.SecretStr(SECRET)
    for kwargs in ({"hint": secret}, {"extra": {"hint": secret}}, {"s": Settings(hint=SECRET)}):
        key = CacheKey.build("p", "m", kwargs)
        assert SECRET not in repr(key) and SECRET not in str(key.kwargs), kwargs
    plain = CacheKey.build("p", "m", {"hint": SECRET})
    assert CacheKey.build("p", "m", {"hint": secret}) == plain
    assert hash(CacheKey.build("p", "m", {"hint": secret})) == hash(plain)
    cache = ModelCache({"fake": CountingFactory()})
    assert cache.get("m", "fake", hint=secret) is cache.get("m", "fake", hint=SECRET)


URL = f"https://user:{SECRET}@models.example/v1/m"


def test_a_model_names_url_credentials_never_show(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmcache")
    cache = ModelCache({"fake": CountingFactory()}, slow_threshold=0)
    cache.get(URL, "fake")

    async def blocking_get() -> None:
        cache.get(URL, "fake", other=1)

    asyncio.run(blocking_get())
    with pytest.raises(UnknownProviderError) as raised:
        ModelCache({}).get(URL)
    assert "built fake model" in caplog.text and "blocks a running event loop" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(llmcache.ModelSpec(URL, "fake"))


# -- settings and decorators -------------------------------------------------------------------


def test_cached_build_timeout_none_means_forever() -> None:
    @llmcache.cached(build_timeout=None)
    def make(name: str) -> object:
        return object()

    assert make.cache.build_timeout is None

    @llmcache.cached
    def default(name: str) -> object:
        return object()

    assert default.cache.build_timeout == llmcache.DEFAULT_BUILD_TIMEOUT


def test_cached_above_classmethod_binds_cls_for_every_method() -> None:
    class Factories:
        @llmcache.cached
        @classmethod
        def per_class(cls, model_name: str) -> FakeModel:
            return FakeModel(model_name, {"cls": cls.__name__})

        @llmcache.cached
        @staticmethod
        def plain(model_name: str) -> FakeModel:
            return FakeModel(model_name, {})

    class Sub(Factories):
        pass

    model = Factories.per_class("m")
    assert model.kwargs == {"cls": "Factories"}
    assert asyncio.run(Factories.per_class.aget("m")) is model
    assert Factories().per_class("m") is model
    assert Factories.per_class.warm(["m"]) == [model]
    assert asyncio.run(Factories.per_class.awarm(["m"])) == [model]
    assert Sub.per_class("m").kwargs == {"cls": "Sub"}
    assert Factories.plain("m") is Factories().plain("m")
    assert asyncio.run(Factories.plain.aget("m")) is Factories.plain("m")


@pytest.mark.skipif(sys.version_info < (3, 13), reason="classmethod chains __get__ before 3.13")
async def test_classmethod_above_cached_names_the_fix_where_cls_is_lost() -> None:
    class Old:
        @classmethod
        @llmcache.cached
        def make(cls, model_name: str = "m") -> object:
            return object()

    assert Old.make("m") is Old.make("m")  # plain calls get cls
    with pytest.raises(TypeError, match="above @classmethod"):
        await Old.make.aget("m")


# -- pydantic values compare as pydantic does ----------------------------------------------------


def test_pydantic_values_differing_only_in_extras_or_private_attributes_differ() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Loose(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="allow")
        name: str = "x"

    class Private(pydantic.BaseModel):
        name: str = "x"
        _region: str = "eu"

    a, b = Private(), Private()
    b._region = "us"
    assert a != b and Loose(tier="free") != Loose(tier="paid")
    cache = ModelCache({"fake": CountingFactory()})
    assert cache.get("m", "fake", cfg=Loose(tier="free")) is not cache.get(
        "m", "fake", cfg=Loose(tier="paid")
    )
    assert cache.get("m", "fake", cfg=a) is not cache.get("m", "fake", cfg=b)
    assert cache.get("m", "fake", cfg=Loose(tier="free")) is cache.get(
        "m", "fake", cfg=Loose(tier="free")
    )


# -- fork ---------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_while_the_client_class_lock_is_held_can_take_it() -> None:
    from llmcache import _loops

    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _loops._class_lock:
            held.set()
            release.wait(WAIT)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(WAIT)
    try:
        pid = os.fork()
        if pid == 0:  # the child: no thread holds it here
            acquired = _loops._class_lock.acquire(timeout=5)
            os._exit(0 if acquired else 1)
        _, status = os.waitpid(pid, 0)
    finally:
        release.set()
        holder.join(WAIT)
    assert os.waitstatus_to_exitcode(status) == 0
