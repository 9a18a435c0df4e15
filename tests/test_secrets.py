"""Credentials passed as kwargs never appear in what the cache shows: the key's repr and str,
logs, stats, error messages and build-thread names. Each test looks where the key (or the
kwargs) is really formatted."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest
from conftest import CountingFactory, wait_until

import llmcache
from llmcache import CacheKey, ModelCache, ModelSpec

pytestmark = pytest.mark.timeout(30)

SECRET = "hunter2-not-a-real-password"

# Credentials under names that do not all look secret: URLs with userinfo or a key in the query,
# HTTP auth, and headers as dicts or lists of pairs, at the top level or nested.
SECRET_KWARGS: dict[str, dict[str, Any]] = {
    "url-userinfo": {"base_url": f"https://user:{SECRET}@127.0.0.1:9/v1"},
    "url-userinfo-with-at": {"base_url": f"https://user:p@ss{SECRET}@127.0.0.1:9/v1"},
    "url-userinfo-bytes": {"base_url": f"https://user:{SECRET}@127.0.0.1:9".encode()},
    "proxy-userinfo": {"openai_proxy": f"http://user:{SECRET}@127.0.0.1:3128"},
    "url-query-key": {"base_url": f"https://127.0.0.1:9/v1?alt=json&key={SECRET}"},
    "auth-tuple": {"auth": ("user", SECRET)},
    "header-dict": {"default_headers": {"Authorization": f"Bearer {SECRET}"}},
    "header-list": {"default_headers": [("Authorization", f"Bearer {SECRET}")]},
    "header-list-any-name": {"extra": [("Authorization", f"Bearer {SECRET}")]},
    "nested-headers": {"model_kwargs": {"extra_headers": [("X-Api-Key", SECRET)]}},
    "nested-url": {"client_options": {"api_endpoint": f"https://u:{SECRET}@127.0.0.1:9"}},
}
CASES = pytest.mark.parametrize("kwargs", SECRET_KWARGS.values(), ids=SECRET_KWARGS.keys())


def _assert_hidden(*texts: object) -> None:
    for text in texts:
        shown = text if isinstance(text, str) else repr(text)
        assert SECRET not in shown, shown


@CASES
def test_key_repr_and_str_hide_credentials(kwargs: dict[str, Any]) -> None:
    key = CacheKey.build("openai", "gpt-4o-mini", kwargs)

    _assert_hidden(repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({key: 1}))


@CASES
def test_equal_credentials_share_a_key_and_different_ones_do_not(kwargs: dict[str, Any]) -> None:
    """Hiding a credential must not merge configurations that differ only in it."""
    (name, value), *_ = kwargs.items()
    other = _replace_secret(value, "another-password")

    assert CacheKey.build("p", "m", kwargs) == CacheKey.build("p", "m", dict(kwargs))
    assert CacheKey.build("p", "m", kwargs) != CacheKey.build("p", "m", {name: other})


def _replace_secret(value: Any, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(SECRET, new)
    if isinstance(value, bytes):
        return value.replace(SECRET.encode(), new.encode())
    if isinstance(value, dict):
        return {k: _replace_secret(v, new) for k, v in value.items()}
    return type(value)(_replace_secret(v, new) for v in value)


@CASES
def test_logs_stats_and_reprs_hide_credentials(
    kwargs: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmcache")

    def prepare(model: object) -> None:
        raise OSError("warm-up failed")  # logged at DEBUG with the key

    def close(model: object) -> None:
        raise OSError("close failed")

    failing = CountingFactory(fail=ValueError("bad config"))
    cache = ModelCache({"fake": CountingFactory(), "bad": failing}, slow_threshold=0, warn_above=1)
    cache.register_provider("prepared", CountingFactory(), prepare=prepare, close=close)

    cache.get("m", "fake", **kwargs)  # built: logged slower than the threshold
    cache.get("m", "fake", **kwargs, temperature=0.5)  # a 2nd configuration: the warning
    cache.get("m", "prepared", **kwargs)
    with pytest.raises(ValueError, match="bad config"):
        cache.get("m", "bad", **kwargs)

    async def blocking_call_in_a_loop() -> None:
        cache.get("m2", "fake", **kwargs)  # warns that it blocks the loop, naming the key

    asyncio.run(blocking_call_in_a_loop())
    cache.close()

    assert len(caplog.records) >= 6  # every path above logged something
    _assert_hidden(caplog.text)
    for record in caplog.records:
        _assert_hidden(record.getMessage(), repr(record.args), repr(record.__dict__))
    _assert_hidden(cache.stats(), cache, ModelSpec("m", "fake", kwargs))


@CASES
def test_errors_hide_credentials(kwargs: dict[str, Any]) -> None:
    gate = threading.Event()
    cache = ModelCache({"held": CountingFactory(gate=gate)}, build_timeout=0.05)
    cache.register_provider("self", lambda name, **kw: cache.get(name, "self", **kw))
    cache.register_provider("exit", CountingFactory(fail=SystemExit(1)))
    errors: list[BaseException] = []

    for call in (
        lambda: cache.get("m", "nope", **kwargs),  # unknown provider
        lambda: cache.get("mystery-model", **kwargs),  # no provider can be inferred
        lambda: cache.get("m", "self", **kwargs),  # re-entrant
        lambda: cache.get("m", "held", **kwargs),  # build_timeout
        lambda: cache.get("m", "exit", **kwargs),  # wrapped SystemExit
        lambda: cache.warm([{"model_name": "m", "provider": "held", **kwargs}]),
    ):
        with pytest.raises(Exception) as info:
            call()
        errors.append(info.value)
    gate.set()

    assert [type(e).__name__ for e in errors] == [
        "UnknownProviderError",
        "UnknownProviderError",
        "ReentrantBuildError",
        "BuildTimeoutError",
        "BuildAbortedError",
        "ExceptionGroup",
    ]
    for error in errors:
        _assert_hidden(str(error), repr(error), *getattr(error, "exceptions", ()))


def test_build_start_error_hides_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(thread: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    cache = ModelCache({"fake": CountingFactory()})

    with pytest.raises(llmcache.BuildStartError) as info:
        cache.get("m", "fake", **SECRET_KWARGS["url-userinfo"])

    _assert_hidden(str(info.value), repr(info.value))


@CASES
def test_build_thread_names_hide_credentials(kwargs: dict[str, Any]) -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    cache = ModelCache({"fake": factory})
    caller = threading.Thread(target=cache.get, args=("m", "fake"), kwargs=kwargs, daemon=True)
    caller.start()
    assert factory.started.wait(5.0)
    try:
        builders = [t for t in threading.enumerate() if t.name.startswith("llmcache-build")]
        assert builders, "no build thread is running"
        _assert_hidden(*(t.name for t in builders), *(repr(t) for t in builders))
    finally:
        gate.set()
        caller.join(5.0)
    wait_until(lambda: cache.stats().in_flight == 0, "the build to end")
