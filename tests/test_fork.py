"""After ``os.fork()`` the child starts with an empty cache: it never waits on a build whose
thread stayed in the parent, and never shares the parent's models (their sockets and pools)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import FakeModel
from sdk_fakes import OPENAI, WAIT, EchoOpenAIServer

import llmcache
from llmcache import ModelCache

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(child: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Fork; run ``child()`` in the child and return what it returned (JSON), or fail with
    the child's error. A child still running after ``timeout`` is killed and the test fails."""
    pid, read_end = _fork(child)
    return _report_of(pid, read_end, time.monotonic() + timeout)


def _fork(child: Callable[[], Any]) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        status = 0
        try:
            os.close(read_end)
            try:
                report = {"result": child()}
            except BaseException as exc:
                report = {"error": f"{type(exc).__name__}: {exc}"}
            data = json.dumps(report).encode()
            while data:
                data = data[os.write(write_end, data) :]
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    return pid, read_end


def _report_of(pid: int, read_end: int, deadline: float) -> Any:
    chunks = []
    try:
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(0.0, remaining))
            if not ready:
                pytest.fail("the forked child did not finish in time (it hangs)")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except BaseException:
        _kill(pid)
        raise
    finally:
        os.close(read_end)
    os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b'{"error": "the child reported nothing"}')
    if "error" in report:
        pytest.fail(f"in the forked child: {report['error']}", pytrace=False)
    return report["result"]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, ChildProcessError):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


class PidFactory:
    """Builds models tagged with the building process; in the parent only, a build can be held
    at a gate (the child's copy of the gate is never opened)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.parent = os.getpid()
        self.gate = gate
        self.started = threading.Event()
        self.builder: int | None = None

    def __call__(self, model_name: str, **kwargs: Any) -> FakeModel:
        self.builder = threading.get_ident()
        self.started.set()
        if self.gate is not None and os.getpid() == self.parent:
            assert self.gate.wait(WAIT), "test gate never opened"
        return FakeModel(model_name, {"pid": os.getpid()})


def _hold_a_build_in_flight(
    cache: ModelCache, factory: PidFactory
) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(cache.get("m", "fake")))
    waiter.start()
    assert factory.started.wait(WAIT)
    assert cache.stats().in_flight == 1
    return waiter, got


def _timed_get(cache: ModelCache) -> dict[str, Any]:
    started = time.monotonic()
    model = cache.get("m", "fake")
    return {"seconds": time.monotonic() - started, "built_by": model.kwargs["pid"]}


def test_a_child_forked_during_a_build_gets_a_model_within_two_seconds() -> None:
    gate = threading.Event()
    factory = PidFactory(gate)
    cache = ModelCache({"fake": factory})
    waiter, got = _hold_a_build_in_flight(cache, factory)

    try:
        report = in_child(functools.partial(_timed_get, cache))
    finally:
        gate.set()
        waiter.join(WAIT)

    assert report["seconds"] < 2.0
    assert report["built_by"] != os.getpid()  # the child built its own
    assert got and got[0].kwargs["pid"] == os.getpid()  # the parent's build finished
    assert cache.stats().constructions == 1


def test_a_child_forked_while_a_thread_holds_the_caches_lock_gets_a_model() -> None:
    # White-box: the lock is held for dict operations only, so a fork lands there by chance.
    cache = ModelCache({"fake": PidFactory()})
    held, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with cache._lock:
            held.set()
            release.wait(WAIT)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert held.wait(WAIT)

    try:
        report = in_child(functools.partial(_timed_get, cache))
    finally:
        release.set()
        holder.join(WAIT)

    assert report["seconds"] < 2.0
    assert report["built_by"] != os.getpid()


def test_a_child_thread_with_the_parent_builders_thread_id_gets_a_model() -> None:
    # glibc hands a child's new threads the stacks (so the ids) of the parent's threads.
    gate = threading.Event()
    factory = PidFactory(gate)
    cache = ModelCache({"fake": factory})
    waiter, _ = _hold_a_build_in_flight(cache, factory)
    builder = factory.builder

    def child() -> dict[str, Any]:
        release = threading.Event()
        outcome: dict[str, Any] = {}

        def maybe_the_builders_twin() -> None:
            if threading.get_ident() == builder:
                try:
                    outcome["built_by"] = cache.get("m", "fake").kwargs["pid"]
                except Exception as exc:
                    outcome["error"] = f"{type(exc).__name__}: {exc}"
            release.wait(WAIT)

        threads = []
        for _ in range(64):  # each held alive, so the next one takes another stack
            thread = threading.Thread(target=maybe_the_builders_twin)
            thread.start()
            threads.append(thread)
            if thread.ident == builder:
                thread_done = thread
                break
        else:
            release.set()
            return {"twin_found": False}
        release.set()
        thread_done.join(WAIT)
        for thread in threads:
            thread.join(WAIT)
        return {"twin_found": True, **outcome}

    try:
        report = in_child(child)
    finally:
        gate.set()
        waiter.join(WAIT)

    assert report["twin_found"], "premise: no child thread got the parent builder's id"
    assert report.get("error") is None
    assert report["built_by"] != os.getpid()


def _reply_or_error(call: Callable[[], Any]) -> Any:
    try:
        return _content_or_error(call())
    except Exception as exc:
        return _content_or_error(exc)


def _content_or_error(reply: Any) -> Any:
    if isinstance(reply, BaseException):
        return f"{type(reply).__name__}: {reply}"
    return reply if isinstance(reply, list) else str(reply.content)


def test_a_child_forked_after_a_build_builds_its_own_and_the_parents_still_answers() -> None:
    with EchoOpenAIServer() as server:
        kwargs = OPENAI.kwargs(server)
        model = llmcache.get_model(OPENAI.model_name, **kwargs)
        # Open pooled connections in the parent, sync and async: the child must not use them.
        assert model.invoke("parent 0").content == "echo: parent 0"
        assert asyncio.run(model.ainvoke("parent 1")).content == "echo: parent 1"

        def child() -> dict[str, Any]:
            mine = llmcache.get_model(OPENAI.model_name, **kwargs)
            return {
                "inherited": mine is model,
                "constructions": llmcache.cache_stats().constructions,
                "sync": _reply_or_error(lambda: mine.invoke("child 0")),
                "async": _reply_or_error(lambda: asyncio.run(mine.ainvoke("child 1"))),
            }

        report = in_child(child)
        assert report == {
            "inherited": False,
            "constructions": 1,
            "sync": "echo: child 0",
            "async": "echo: child 1",
        }
        assert llmcache.get_model(OPENAI.model_name, **kwargs) is model
        assert model.invoke("parent 2").content == "echo: parent 2"
        assert asyncio.run(model.ainvoke("parent 3")).content == "echo: parent 3"
    assert llmcache.cache_stats().constructions == 1


def test_a_child_forked_after_a_build_drops_the_parents_models_without_closing_them() -> None:
    closed: list[int] = []
    factory = PidFactory()
    llmcache.register_provider(
        "fork-close", factory, close=lambda model: closed.append(os.getpid())
    )
    parents = llmcache.get_model("m", "fork-close")

    def child() -> dict[str, Any]:
        size_at_start = llmcache.cache_stats().size
        mine = llmcache.get_model("m", "fork-close")
        return {
            "size_at_start": size_at_start,
            "built_by": mine.kwargs["pid"],
            "closed": list(closed),
        }

    report = in_child(child)
    assert report["size_at_start"] == 0
    assert report["built_by"] != os.getpid()
    assert report["closed"] == []
    assert llmcache.get_model("m", "fork-close") is parents


# -- worker processes ---------------------------------------------------------------------------

_POOL_KWARGS: dict[str, Any] = {}


def _pool_worker(job: int) -> dict[str, Any]:
    model = llmcache.get_model(OPENAI.model_name, **_POOL_KWARGS)
    return {
        "pid": os.getpid(),
        "model_id": id(model),
        "reply": model.invoke(f"job {job}").content,
    }


def test_a_fork_pool_serves_from_models_built_in_each_worker() -> None:
    with EchoOpenAIServer() as server:
        _POOL_KWARGS.update(OPENAI.kwargs(server))
        try:
            warmed = llmcache.get_model(OPENAI.model_name, **_POOL_KWARGS)
            assert warmed.invoke("parent").content == "echo: parent"
            pool = multiprocessing.get_context("fork").Pool(3)
            try:
                results = pool.map_async(_pool_worker, range(9)).get(timeout=WAIT)
            finally:
                pool.terminate()
                pool.join()
        finally:
            _POOL_KWARGS.clear()

    assert [r["reply"] for r in results] == [f"echo: job {job}" for job in range(9)]
    assert all(r["pid"] != os.getpid() for r in results)
    assert id(warmed) not in {r["model_id"] for r in results}  # never the parent's model
    per_worker: dict[int, set[int]] = {}
    for r in results:
        per_worker.setdefault(r["pid"], set()).add(r["model_id"])
    assert all(len(ids) == 1 for ids in per_worker.values())  # one model per worker


def test_preloaded_parent_forks_three_workers_that_serve_correct_answers_at_once() -> None:
    # gunicorn --preload: warm in the master, fork workers, each serves its own requests.
    barrier = multiprocessing.get_context("fork").Barrier(3, timeout=WAIT)
    with EchoOpenAIServer() as server:
        kwargs = OPENAI.kwargs(server)
        warmed = llmcache.warm([{"model_name": OPENAI.model_name, **kwargs}])[0]
        assert warmed.invoke("master").content == "echo: master"
        assert asyncio.run(warmed.ainvoke("master async")).content == "echo: master async"

        def worker(number: int) -> Callable[[], dict[str, Any]]:
            def serve() -> dict[str, Any]:
                model = llmcache.get_model(OPENAI.model_name, **kwargs)
                barrier.wait()  # all three serve at the same time from here

                async def serve_async() -> list[str]:
                    replies = await asyncio.gather(
                        *(model.ainvoke(f"w{number} async {i}") for i in range(10)),
                        return_exceptions=True,
                    )
                    return [_content_or_error(reply) for reply in replies]

                return {
                    "inherited": model is warmed,
                    "sync": [
                        _reply_or_error(functools.partial(model.invoke, f"w{number} sync {i}"))
                        for i in range(10)
                    ],
                    "async": _reply_or_error(lambda: asyncio.run(serve_async())),
                }

            return serve

        reports = _in_children([worker(n) for n in range(3)])

    assert reports == [
        {
            "inherited": False,
            "sync": [f"echo: w{number} sync {i}" for i in range(10)],
            "async": [f"echo: w{number} async {i}" for i in range(10)],
        }
        for number in range(3)
    ]


def _in_children(children: list[Callable[[], Any]]) -> list[Any]:
    """Fork a child for each callable, all running at once; their results in order."""
    forked = [_fork(child) for child in children]
    deadline = time.monotonic() + WAIT
    results = []
    try:
        for pid, read_end in forked:
            results.append(_report_of(pid, read_end, deadline))
    finally:
        for pid, read_end in forked[len(results) + 1 :]:  # left after a failure
            _kill(pid)
            os.close(read_end)
    return results
