"""Every pattern of ``tests/test_vertexai_every_loop.py``, run in the ``providers-vertex`` venv
(langchain-google-vertexai needs google-genai<3, which the test suite's venv cannot hold).

``python -X dev -W error::ResourceWarning tests/vertex_patterns.py [PATTERN...]`` prints one
JSON line: pattern -> its records (default: every pattern but those of ``SLOW``). The SDK is
imported once here; each pattern runs in a forked child (a fresh cache, no gRPC channel
inherited), whose stderr is captured and scanned for leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from llmcache.lab import netguard

netguard.install()

import llmcache  # noqa: E402
from llmcache._providers import _owned  # noqa: E402
from llmcache.lab.fake_providers import VERTEX_FAKE, vertex_server  # noqa: E402
from llmcache.lab.loops import _Forked  # noqa: E402

LEAK_SIGNS = (
    "Unclosed",
    "Task exception was never retrieved",
    "ResourceWarning",
    "Exception ignored",
)
CALL_TIMEOUT = 5.0
SLOW = ("fork after a call",)
"""Run only when named: there gRPC's own fork handlers held ``os.fork()`` about 60 s in some
runs (its thread pool "waiting ... to idle before fork")."""
Record = Callable[[str, Any], None]


def outcome(run: Callable[[], Any]) -> str:
    try:
        return str(run())
    except BaseException as exc:
        return type(exc).__name__


def main() -> None:
    begun = time.perf_counter()
    with vertex_server() as servers:
        server_seconds = time.perf_counter() - begun
        os.environ["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = servers["grpc_roots"]
        kwargs = VERTEX_FAKE.kwargs(servers)
        name = VERTEX_FAKE.model_name
        started = time.perf_counter()
        warm(name, kwargs)  # once, before every fork
        gc.collect()
        gc.freeze()  # the SDK's objects: a collection in a child then takes ms, not 0.4 s

        async def ask() -> str:
            model = await llmcache.get_model_async(name, "google_vertexai", **kwargs)
            reply = await asyncio.wait_for(model.ainvoke("hi"), CALL_TIMEOUT)
            return str(reply.content)

        def ask_in_new_loop() -> str:
            return outcome(lambda: asyncio.run(ask()))

        results: dict[str, Any] = {"names": names_relied_on()}
        patterns = {
            "asyncio.run x3": lambda r: sequential(r, ask_in_new_loop),
            "threads, own loops": lambda r: threads(r, ask_in_new_loop),
            "two loops at once": lambda r: two_loops(r, ask),
            "fork before the first call": lambda r: fork_before_call(r, name, kwargs, ask),
            "fork after a call": lambda r: fork_after_call(r, ask),
            "close": lambda r: close(r, ask_in_new_loop),
            "aclose": lambda r: aclose(r, ask),
            "dropped model": lambda r: dropped(r, name, kwargs),
            "sync and streaming": lambda r: sync_and_stream(r, name, kwargs),
            "given async_client": lambda r: given(r, name, kwargs),
            "control": lambda r: control(r, name, kwargs),
        }
        results["server seconds"] = server_seconds
        results["import seconds"] = time.perf_counter() - started
        chosen = sys.argv[1:] or [p for p in patterns if p not in SLOW]
        for pattern in chosen:
            body = patterns[pattern]
            begun = time.perf_counter()
            results[pattern] = in_child(body)
            results[pattern]["seconds"] = time.perf_counter() - begun
    print(json.dumps(results), flush=True)


def warm(name: str, kwargs: dict[str, Any]) -> None:
    """Import what every child would (the SDK, and what its first request imports lazily),
    without making a gRPC channel: a child forked after one could not use gRPC."""
    from langchain_core.messages import HumanMessage

    from llmcache._langchain import langchain_factory

    factory = langchain_factory("google_vertexai")
    assert factory is not None
    model = factory(name, **kwargs)
    model._prepare_request_gemini([HumanMessage("hi")])
    model._gemini_response_to_chat_result  # noqa: B018


def in_child(body: Callable[[Record], None]) -> dict[str, Any]:
    """``body`` in a forked child: its records, and the leak lines on its stderr."""

    def run(record: Record) -> None:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            body(record)
            llmcache.close_cache()
            gc.collect()
            sys.stderr.flush()
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines()
        record("leaks", [line for line in lines if any(s in line for s in LEAK_SIGNS)][:10])
        record("netguard", netguard.take_violations())

    records: dict[str, Any] = {}
    for label, entry in _Forked(lambda r: run(lambda k, v: r(k, {"value": v}))).collect(120):
        records[label] = entry.get("value", entry)
    return records


def sequential(record: Record, ask_in_new_loop: Callable[[], str]) -> None:
    record("outcomes", [ask_in_new_loop() for _ in range(3)])
    record("constructions", llmcache.cache_stats().constructions)


def threads(record: Record, ask_in_new_loop: Callable[[], str]) -> None:
    first = ask_in_new_loop()  # built and used by a loop that is gone before the threads start
    barrier = threading.Barrier(3, timeout=30)
    found: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        answer = ask_in_new_loop()
        with lock:
            found.append(answer)

    workers = [threading.Thread(target=worker) for _ in range(3)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    record("outcomes", [first, *found])
    record("constructions", llmcache.cache_stats().constructions)


def two_loops(record: Record, ask: Callable[[], Any]) -> None:
    from sdk_fakes import loop_in_a_thread

    async def main(other: asyncio.AbstractEventLoop) -> list[str]:
        answers: list[str] = []
        for _ in range(2):
            there = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(ask(), other))
            done = await asyncio.gather(ask(), there, ask(), return_exceptions=True)
            answers += [a if isinstance(a, str) else type(a).__name__ for a in done]
        await llmcache.aclose_cache()  # while the thread's loop still runs
        return answers

    with loop_in_a_thread() as other:
        try:
            record("outcomes", asyncio.run(main(other)))
        except Exception as exc:
            record("outcomes", type(exc).__name__)
    record("constructions", llmcache.cache_stats().constructions)


def fork_before_call(
    record: Record, name: str, kwargs: dict[str, Any], ask: Callable[[], Any]
) -> None:
    """Built in the parent (as an app warms its models before forking workers), not called."""
    llmcache.get_model(name, "google_vertexai", **kwargs)

    def child(child_record: Callable[[str, dict[str, Any]], None]) -> None:
        answers = [outcome(lambda: asyncio.run(ask())) for _ in range(2)]
        child_record("child", {"value": answers})

    forked = _Forked(child)
    parent = outcome(lambda: asyncio.run(ask()))
    got = dict(forked.collect(60))
    record("outcomes", [*got.get("child", {}).get("value", [str(got)]), parent])


def fork_after_call(record: Record, ask: Callable[[], Any]) -> None:
    """The parent calls (gRPC starts its threads), then forks: what the child gets (a call
    takes milliseconds: 2 s is long enough to tell a hang)."""
    before = outcome(lambda: asyncio.run(ask()))

    def child(child_record: Callable[[str, dict[str, Any]], None]) -> None:
        answer = outcome(lambda: asyncio.run(asyncio.wait_for(ask(), 2)))
        child_record("child", {"value": answer})

    started = time.perf_counter()
    forked = _Forked(child)  # gRPC's fork handlers may hold this fork up to about 60 s
    forked_after = time.perf_counter() - started
    parent = outcome(lambda: asyncio.run(ask()))
    got = dict(forked.collect(5))  # a child stuck inside gRPC's C code is killed: Hang
    process = got.get("process", {}).get("outcome", "no record")  # Hang, Crash
    child_outcome = got["child"]["value"] if "child" in got else process
    record("outcomes", {"parent": [before, parent], "child": child_outcome})
    record("fork seconds", forked_after)


def close(record: Record, ask_in_new_loop: Callable[[], str]) -> None:
    answers = [ask_in_new_loop() for _ in range(2)]
    llmcache.close_cache()
    record("outcomes", answers)


def aclose(record: Record, ask: Callable[[], Any]) -> None:
    first = outcome(lambda: asyncio.run(ask()))

    async def then_aclose() -> str:
        answer = await ask()
        await llmcache.aclose_cache()
        return answer

    record("outcomes", [first, outcome(lambda: asyncio.run(then_aclose()))])


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def dropped(record: Record, name: str, kwargs: dict[str, Any]) -> None:
    """Under one long-lived loop: a dropped model's channel closes once it is garbage."""

    async def main() -> dict[str, Any]:
        baseline = open_sockets()
        model = await llmcache.get_model_async(name, "google_vertexai", **kwargs)
        answer = str((await model.ainvoke("hi")).content)
        used = open_sockets()
        del model
        llmcache.clear_cache()
        deadline = time.monotonic() + 10
        while open_sockets() > baseline and time.monotonic() < deadline:
            gc.collect()
            await asyncio.sleep(0.02)
        return {"answer": answer, "baseline": baseline, "used": used, "after": open_sockets()}

    record("sockets", asyncio.run(main()))


def sync_and_stream(record: Record, name: str, kwargs: dict[str, Any]) -> None:
    model = llmcache.init_chat_model(name, model_provider="google_vertexai", **kwargs)
    owned = _owned.owned(model)
    record("class", type(model).__name__)
    record("loop_local", bool(owned and owned.loop_local))
    record("sync", outcome(lambda: model.invoke("hi").content))

    async def stream() -> str:
        return "".join([str(chunk.content) async for chunk in model.astream("hi")])

    record("astream", [outcome(lambda: asyncio.run(stream())) for _ in range(2)])


def given(record: Record, name: str, kwargs: dict[str, Any]) -> None:
    mine = object()
    model = llmcache.get_model(name, "google_vertexai", **kwargs, async_client=mine)
    owned = _owned.owned(model)
    record("left alone", model.async_client is mine and not (owned and owned.loop_local))


def control(record: Record, name: str, kwargs: dict[str, Any]) -> None:
    """LangChain's own build: ``grpc_asyncio`` (its transport for Google's endpoints) fails from
    the second loop; the default transport with this endpoint fails in every loop."""
    from llmcache._langchain import langchain_factory

    factory = langchain_factory("google_vertexai")
    assert factory is not None
    for label, more in (("grpc_asyncio", {"transport": "grpc_asyncio"}), ("default", {})):
        model = factory(name, **kwargs, **more, max_retries=0)

        async def call(m: Any = model) -> str:
            return str((await asyncio.wait_for(m.ainvoke("hi"), CALL_TIMEOUT)).content)

        record(label, [outcome(lambda c=call: asyncio.run(c())) for _ in range(2)])


def names_relied_on() -> dict[str, bool]:
    """What the adapter relies on, by name (langchain-google-vertexai 3.2.5)."""
    from langchain_google_vertexai import ChatVertexAI, _base, _utils

    prop = inspect.getattr_static(ChatVertexAI, "async_prediction_client", None)
    source = inspect.getsource(prop.fget) if isinstance(prop, property) else ""
    return {
        "async_client field": "async_client" in ChatVertexAI.model_fields,
        "async_prediction_client returns async_client": "return self.async_client" in source,
        "_utils.get_client_info": callable(getattr(_utils, "get_client_info", None)),
        "ChatVertexAI._user_agent": isinstance(
            inspect.getattr_static(ChatVertexAI, "_user_agent", None), property
        ),
        "api_transport, client_options, endpoint_version, credentials fields": {
            "api_transport",
            "client_options",
            "endpoint_version",
            "credentials",
        }
        <= set(ChatVertexAI.model_fields),
        "_base module": _base is not None,
    }


if __name__ == "__main__":
    main()
