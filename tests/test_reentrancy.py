"""A factory that asks, from its build thread (directly, through a new loop, ``warm`` or the
builds it starts), for a model that waits on it gets ``ReentrantBuildError`` at once. Through
another thread, the wait is not seen: ``build_timeout`` ends it with an error naming the key.
Either way, never a deadlock."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import wait_until

import llmcache
from llmcache import ModelCache

# A regression deadlocks: fail it instead of stalling the suite.
pytestmark = pytest.mark.timeout(30)

ANSWER_WITHIN = 5.0


def _outcome(call: Callable[[], Any]) -> Any:
    """``call()``'s result or error, run in a thread so that a deadlock fails the test."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(ANSWER_WITHIN)
    if thread.is_alive():
        pytest.fail(f"deadlock: no answer within {ANSWER_WITHIN:g} s", pytrace=False)
    return box[0]


def _assert_reentrant(outcome: Any, cache: ModelCache) -> None:
    assert isinstance(outcome, llmcache.ReentrantBuildError), repr(outcome)
    stats = cache.stats()
    assert (stats.in_flight, stats.size) == (0, 0)


def _assert_timed_out(outcome: Any, cache: ModelCache) -> None:
    assert isinstance(outcome, llmcache.BuildTimeoutError), repr(outcome)
    assert "self:m" in str(outcome)  # the error names the key
    wait_until(lambda: cache.stats().in_flight == 0, "the deadlocked build to give up")
    assert cache.stats().size == 0


BACKSTOP = 0.5  # build_timeout of the caches whose deadlock only the timeout can end


def _self_asking(ask: Callable[[ModelCache, str], Any], **settings: Any) -> ModelCache:
    """A cache whose provider ``self`` builds a model by asking for the same key via ``ask``."""
    cache = ModelCache(**settings)
    cache.register_provider("self", lambda model_name: ask(cache, model_name))
    return cache


def test_factory_awaiting_its_own_key_in_a_new_loop() -> None:
    cache = _self_asking(lambda c, name: asyncio.run(c.aget(name, "self")))
    _assert_reentrant(_outcome(lambda: cache.get("m", "self")), cache)


def test_factory_warming_its_own_key() -> None:
    cache = _self_asking(lambda c, name: c.warm([(name, "self")]))
    _assert_reentrant(_outcome(lambda: cache.get("m", "self")), cache)


def test_factory_warming_its_own_key_async() -> None:
    cache = _self_asking(lambda c, name: asyncio.run(c.awarm([(name, "self")])))
    _assert_reentrant(_outcome(lambda: cache.get("m", "self")), cache)


def test_factory_asking_for_its_own_key_from_a_helper_thread_it_joins() -> None:
    def through_a_thread(cache: ModelCache, name: str) -> Any:
        box: list[Any] = []

        def helper() -> None:
            try:
                box.append(cache.get(name, "self"))
            except BaseException as exc:
                box.append(exc)

        thread = threading.Thread(target=helper)
        thread.start()
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    cache = _self_asking(through_a_thread, build_timeout=BACKSTOP)
    _assert_timed_out(_outcome(lambda: cache.get("m", "self")), cache)


def test_factory_asking_for_its_own_key_through_an_executor() -> None:
    def through_a_pool(cache: ModelCache, name: str) -> Any:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(cache.get, name, "self").result()

    cache = _self_asking(through_a_pool, build_timeout=BACKSTOP)
    _assert_timed_out(_outcome(lambda: cache.get("m", "self")), cache)


async def test_async_caller_of_a_factory_awaiting_its_own_key() -> None:
    cache = _self_asking(lambda c, name: asyncio.run(c.aget(name, "self")))
    with pytest.raises(llmcache.ReentrantBuildError):
        await asyncio.wait_for(cache.aget("m", "self"), ANSWER_WITHIN)


def test_two_factories_that_need_each_other() -> None:
    cache = ModelCache()
    cache.register_provider("a", lambda name: ("a", cache.get(name, "b")))
    cache.register_provider("b", lambda name: ("b", cache.get(name, "a")))

    _assert_reentrant(_outcome(lambda: cache.get("m", "a")), cache)


def test_two_factories_that_need_each_other_started_by_two_callers_at_once() -> None:
    both_running = threading.Barrier(2, timeout=ANSWER_WITHIN)
    cache = ModelCache(build_timeout=BACKSTOP)

    def needing(other: str) -> Callable[[str], Any]:
        def factory(name: str) -> Any:
            both_running.wait()  # neither key's build is a nested request of the other's
            return cache.get(name, other)

        return factory

    cache.register_provider("a", needing("b"))
    cache.register_provider("b", needing("a"))
    outcomes: dict[str, Any] = {}

    def call(provider: str) -> None:
        outcomes[provider] = _outcome(lambda: cache.get("m", provider))

    callers = [threading.Thread(target=call, args=(p,), daemon=True) for p in "ab"]
    for t in callers:
        t.start()
    for t in callers:
        t.join(2 * ANSWER_WITHIN)

    assert set(outcomes) == {"a", "b"}, "a caller never got an answer"
    for outcome in outcomes.values():
        assert isinstance(outcome, llmcache.BuildTimeoutError), repr(outcome)
        assert ":m" in str(outcome)  # names a key of the cycle
    wait_until(lambda: cache.stats().in_flight == 0, "the deadlocked builds to give up")
    assert cache.stats().size == 0


def test_the_key_builds_normally_once_the_factory_stops_asking_for_itself() -> None:
    asking = [True]

    def factory(name: str) -> Any:
        if asking[0]:
            return asyncio.run(cache.aget(name, "self"))
        return object()

    cache = ModelCache({"self": factory})
    _assert_reentrant(_outcome(lambda: cache.get("m", "self")), cache)
    asking[0] = False

    model = cache.get("m", "self")

    assert cache.get("m", "self") is model
