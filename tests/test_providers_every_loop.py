"""Every LangChain provider llmcache covers works from every event loop, thread and process, and
is closed: through ``llmcache.init_chat_model``/``get_model_async``, against the lab's loopback
fakes of each wire API (``llmcache/lab/fake_providers.py``).

Patterns, per provider: ``asyncio.run`` three times in a row; three threads with their own
loops at once; a main loop beside a long-lived loop in a thread, at once; a forked child;
``close``/``aclose`` under ``-X dev`` with ResourceWarning as an error (one subprocess for all);
a dropped model's sockets closed once it is garbage. The controls build each model as LangChain
does (no adapter): its second event loop fails, except for the providers that need no adapter
(``AS_BUILT``), which must keep working there. The private attributes two adapters rely on
are checked by name, so that an SDK release that moves them fails here, loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sdk_fakes import WAIT, loop_in_a_thread
from test_dropped_models_closed import open_sockets

import llmcache
from llmcache import _langchain
from llmcache._loops import is_loop_local_client
from llmcache._providers import ADAPTERS, AS_BUILT, _owned
from llmcache.lab.fake_providers import (
    OWN_VENV_FAKES,
    PROVIDER_FAKES,
    ProviderFake,
    fake_environ,
    provider_servers,
)
from llmcache.lab.isolation import guarded_env

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent

# LangChain providers register themselves on first use: keep them out of the process default.
pytestmark = pytest.mark.usefixtures("llmcache_cache")

FAKES = [PROVIDER_FAKES[name] for name in sorted(PROVIDER_FAKES)]
by_name = functools.partial(pytest.mark.parametrize, "fake", FAKES, ids=lambda f: f.provider)
ADAPTED = [fake for fake in FAKES if fake.provider in ADAPTERS]
adapted = functools.partial(pytest.mark.parametrize, "fake", ADAPTED, ids=lambda f: f.provider)
AS_IS = [fake for fake in FAKES if fake.provider in AS_BUILT]
as_built = functools.partial(pytest.mark.parametrize, "fake", AS_IS, ids=lambda f: f.provider)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Any]]:
    """The fakes, and the environment variables some SDKs read for their base URL."""
    with provider_servers() as running:
        environ = fake_environ(running)
        saved = {name: os.environ.get(name) for name in environ}
        os.environ.update(environ)
        try:
            yield running
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def ask(fake: ProviderFake, servers: dict[str, Any]) -> str:
    """One call from a fresh event loop, as a job or a test would make it."""

    async def call() -> str:
        model = await llmcache.get_model_async(
            f"{fake.provider}:{fake.model_name}", **fake.kwargs(servers)
        )
        return str((await model.ainvoke("hi")).text)

    return asyncio.run(call())


async def settle(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run (closes are tasks on it) until ``condition`` holds; fail after ``WAIT``
    s. Garbage is collected every 0.2 s (a full collection costs tens of ms in this process)."""
    deadline = time.monotonic() + WAIT
    next_collection = 0.0
    while not condition():
        now = time.monotonic()
        if now > deadline:
            pytest.fail(f"timed out after {WAIT:g} s waiting for {what}", pytrace=False)
        if now >= next_collection:
            gc.collect()
            next_collection = now + 0.2
        await asyncio.sleep(0.005)


def outcome(call: Any) -> str:
    try:
        return str(call())
    except Exception as exc:
        return type(exc).__name__


def test_every_covered_provider_has_a_fake() -> None:
    """Those in a venv of their own: ``tests/test_vertexai_every_loop.py``."""
    assert sorted({**PROVIDER_FAKES, **OWN_VENV_FAKES}) == sorted({*ADAPTERS, *AS_BUILT})
    assert not set(ADAPTERS) & AS_BUILT
    assert not set(PROVIDER_FAKES) & set(OWN_VENV_FAKES)


@as_built()
def test_a_provider_without_adapter_is_langchains_own_build(
    fake: ProviderFake, servers: dict[str, Any]
) -> None:
    model = llmcache.init_chat_model(
        fake.model_name, model_provider=fake.provider, **fake.kwargs(servers)
    )
    assert type(model).__name__ == _langchain.LANGCHAIN_PROVIDERS[fake.provider].class_name
    assert llmcache.get_model(fake.model_name, fake.provider, **fake.kwargs(servers)) is model
    assert _owned.owned(model) is None
    assert str(model.invoke("hi").text) == "ok"


@adapted()
def test_the_model_is_langchains_class_with_loop_local_clients(
    fake: ProviderFake, servers: dict[str, Any]
) -> None:
    model = llmcache.init_chat_model(
        fake.model_name, model_provider=fake.provider, **fake.kwargs(servers)
    )
    spec = _langchain.LANGCHAIN_PROVIDERS[fake.provider]
    assert type(model).__name__ == spec.class_name
    assert llmcache.get_model(fake.model_name, fake.provider, **fake.kwargs(servers)) is model
    record = _owned.owned(model)
    assert record is not None, f"{fake.provider}: the adapter gave this model no clients"
    assert record.loop_local and all(is_loop_local_client(c) for c in record.loop_local)
    assert str(model.invoke("hi").text) == "ok"  # the sync path too


@by_name()
def test_asyncio_run_three_times(fake: ProviderFake, servers: dict[str, Any]) -> None:
    outcomes = [outcome(lambda: ask(fake, servers)) for _ in range(3)]
    assert outcomes == ["ok"] * 3
    assert llmcache.cache_stats().constructions == 1


@by_name()
def test_three_threads_with_their_own_loops(fake: ProviderFake, servers: dict[str, Any]) -> None:
    ask(fake, servers)  # built and used by a loop that is gone before the threads start
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(outcome(lambda: ask(fake, servers))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert outcomes == ["ok"] * 3
    assert llmcache.cache_stats().constructions == 1


@by_name()
def test_two_loops_at_once(fake: ProviderFake, servers: dict[str, Any]) -> None:
    async def call() -> str:
        model = await llmcache.get_model_async(
            fake.model_name, fake.provider, **fake.kwargs(servers)
        )
        return str((await model.ainvoke("hi")).text)

    async def main(other: asyncio.AbstractEventLoop) -> list[str]:
        answers = []
        for _ in range(2):
            there = asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), other))
            answers += await asyncio.gather(call(), there, call())
        return answers

    with loop_in_a_thread() as other:
        assert asyncio.run(main(other)) == ["ok"] * 6
    assert llmcache.cache_stats().constructions == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@by_name()
def test_a_forked_child(fake: ProviderFake, servers: dict[str, Any]) -> None:
    from test_fork import in_child

    assert ask(fake, servers) == "ok"  # the parent's model, with a live pool, before the fork

    def child() -> list[str]:
        answers = [ask(fake, servers) for _ in range(2)]
        return [*answers, str(llmcache.cache_stats().constructions)]

    assert in_child(child) == ["ok", "ok", "1"]  # the child built its own, once
    assert ask(fake, servers) == "ok"  # and the parent's still works


@by_name()
async def test_a_dropped_model_closes_its_sockets_when_collected(
    fake: ProviderFake, servers: dict[str, Any]
) -> None:
    """Under one long-lived loop: the model's connections close once it is garbage (its
    provider is ``closed_when_collected``: no hook call, no drain period)."""
    gc.collect()
    baseline = open_sockets()
    model = await llmcache.get_model_async(fake.model_name, fake.provider, **fake.kwargs(servers))
    assert str((await model.ainvoke("hi")).text) == "ok"
    assert str(model.invoke("hi").text) == "ok"  # a sync connection too
    assert open_sockets() > baseline
    dropped = weakref.ref(model)
    del model
    llmcache.clear_cache()
    await settle(lambda: dropped() is None, "the dropped model to be collected")
    await settle(lambda: open_sockets() <= baseline, "its sockets to close")


# -- without the adapter: LangChain's own build fails in the second loop (positive controls) --


def langchains_own_build(fake: ProviderFake, servers: dict[str, Any]) -> Any:
    factory = _langchain.langchain_factory(fake.provider)
    assert factory is not None
    kwargs = fake.kwargs(servers, **({"max_retries": 0} if fake.retries else {}))
    return factory(fake.model_name, **kwargs)


@as_built()
def test_control_langchains_own_build_works_in_every_loop(
    fake: ProviderFake, servers: dict[str, Any]
) -> None:
    """What lets these providers go without an adapter: LangChain's own model works from a
    second and third loop, and from threads with their own loops."""
    model = langchains_own_build(fake, servers)

    async def call() -> str:
        return str((await model.ainvoke("hi")).text)

    outcomes = [outcome(lambda: asyncio.run(call())) for _ in range(3)]
    threads = [
        threading.Thread(target=lambda: outcomes.append(outcome(lambda: asyncio.run(call()))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert outcomes == ["ok"] * 6, f"{fake.provider}: LangChain's build now needs an adapter"


@adapted()
def test_control_langchains_own_build_fails_in_the_second_loop(
    fake: ProviderFake, servers: dict[str, Any]
) -> None:
    model = langchains_own_build(fake, servers)

    async def call() -> str:
        return str((await model.ainvoke("hi")).text)

    outcomes = [outcome(lambda: asyncio.run(call())) for _ in range(2)]
    assert outcomes[0] == "ok"
    assert outcomes[1] != "ok", (
        f"{fake.provider}: LangChain's build no longer fails: drop the adapter?"
    )


# -- close and aclose in a fresh interpreter, -X dev, ResourceWarning as an error --------------

_APP = """
import asyncio, gc, os, sys

from llmcache.lab import netguard
netguard.install()

import llmcache
from llmcache.lab.fake_providers import PROVIDER_FAKES, fake_environ, provider_servers
from sdk_fakes import loop_in_a_thread


async def ask_all(specs):
    for name, provider, kwargs in specs:
        model = await llmcache.get_model_async(name, provider, **kwargs)
        assert (await model.ainvoke("hi")).text == "ok", provider


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


with provider_servers() as servers:
    os.environ.update(fake_environ(servers))
    specs = [(f.model_name, f.provider, f.kwargs(servers)) for f in PROVIDER_FAKES.values()]
    for name, provider, kwargs in specs:  # the sync clients too
        assert llmcache.get_model(name, provider, **kwargs).invoke("hi").text == "ok"
    globals()[sys.argv[1]](specs)
    gc.collect()
print("exited cleanly; non-loopback attempts:", netguard.take_violations())
"""

LEAK_SIGNS = (
    "Unclosed client session",
    "Unclosed connector",
    "Task exception was never retrieved",
    "ResourceWarning",
    "Exception ignored",
)


@pytest.mark.parametrize("pattern", ["two_loops_at_once", "one_loop_after_another"])
def test_close_and_aclose_leave_nothing_open_under_dev_mode(pattern: str) -> None:
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


# -- what the adapters rely on, checked by name: an SDK release that moves it fails here ------


def test_langchain_anthropic_still_has_what_the_adapter_fills() -> None:
    """langchain-anthropic 1.7.10 / anthropic 2.17.0: ``ChatAnthropic._async_client`` is a
    ``functools.cached_property`` made from ``_client_params`` (a dict of the
    ``anthropic.AsyncClient`` parameters) with ``http_client`` from a process-wide cache."""
    import anthropic
    from langchain_anthropic import ChatAnthropic

    cached = ChatAnthropic.__dict__.get("_async_client")
    assert isinstance(cached, functools.cached_property), "ChatAnthropic._async_client moved"
    model = ChatAnthropic(model="claude-sonnet-4-5", api_key="k", base_url="http://127.0.0.1:9")
    params = model._client_params
    assert isinstance(params, dict) and {"api_key", "base_url"} <= set(params)
    anthropic.AsyncClient(**params)  # what the adapter passes, plus http_client=


def test_openrouters_sdk_still_has_the_configuration_the_adapter_sets() -> None:
    """openrouter 0.10.8 (langchain-openrouter 0.2.9): ``OpenRouter.sdk_configuration`` holds
    ``async_client`` and ``async_client_supplied``, read at every async request."""
    from langchain_openrouter import ChatOpenRouter

    model = ChatOpenRouter(model="openai/gpt-4o-mini", api_key="k", base_url="http://127.0.0.1:9")
    config = model.client.sdk_configuration
    assert hasattr(config, "async_client"), "openrouter's SDKConfiguration.async_client moved"
    assert hasattr(config, "async_client_supplied"), "openrouter's async_client_supplied moved"


@pytest.mark.parametrize(
    ("provider", "given", "httpx_name"),
    [
        ("deepseek", "http_async_client", "httpx2"),  # openai 3.x takes httpx2 clients only
        ("groq", "http_async_client", "httpx"),
        ("mistralai", "async_client", "httpx"),
    ],
)
def test_a_client_the_caller_passes_is_left_alone(
    provider: str, given: str, httpx_name: str, servers: dict[str, Any]
) -> None:
    import importlib

    fake = PROVIDER_FAKES[provider]
    mine = importlib.import_module(httpx_name).AsyncClient()
    model = llmcache.get_model(fake.model_name, provider, **fake.kwargs(servers, **{given: mine}))
    assert getattr(model, given) is mine
    record = _owned.owned(model)
    assert record is None or not record.loop_local
    with contextlib.suppress(RuntimeError):
        asyncio.run(mine.aclose())


@pytest.mark.parametrize(
    ("model_name", "provider", "class_name"),
    [
        ("claude-sonnet-4-5", "anthropic", "ChatAnthropic"),
        ("mistral-large-latest", "mistralai", "ChatMistralAI"),
        ("deepseek-chat", "deepseek", "ChatDeepSeek"),
        ("grok-4", "xai", "ChatXAI"),
    ],
)
def test_get_model_infers_the_provider_as_init_chat_model_does(
    model_name: str, provider: str, class_name: str, servers: dict[str, Any]
) -> None:
    kwargs = PROVIDER_FAKES[provider].kwargs(servers)
    model = llmcache.get_model(model_name, **kwargs)
    assert type(model).__name__ == class_name
    assert llmcache.init_chat_model(model_name, **kwargs) is model
    assert llmcache.init_chat_model(f"{provider}:{model_name}", **kwargs) is model
    assert str(model.invoke("hi").text) == "ok"


def test_the_builtin_prefixes_shadow_no_langchain_inference_but_gemini() -> None:
    """``get_model`` tries llmcache's own prefixes first: they may only agree with LangChain's,
    except ``gemini...`` (the Gemini API here, Vertex AI in LangChain)."""
    from llmcache._providers import _PREFIXES

    for prefix, _ in _PREFIXES:
        langchain = _langchain.infer_langchain_provider(prefix + "x")
        ours = _langchain.resolve_provider(
            llmcache._providers.infer_provider(prefix + "x") or "", ["google", "openai"]
        )
        if prefix == "gemini-":
            assert langchain == "google_vertexai" and ours == "google"
        else:
            assert langchain in (None, ours), prefix


def test_a_fake_given_by_url_as_serve_fakes_prints_it() -> None:
    """The lab's probes run the fakes in another process (``serve_fakes --providers``)."""
    urls = {"anthropic": "http://127.0.0.1:1", "chat": "http://127.0.0.1:2"}
    assert PROVIDER_FAKES["anthropic"].kwargs(urls) == {
        "base_url": "http://127.0.0.1:1",
        "api_key": "test-fake-key",
    }
    assert PROVIDER_FAKES["groq"].kwargs(urls, max_retries=0)["base_url"] == "http://127.0.0.1:2"
