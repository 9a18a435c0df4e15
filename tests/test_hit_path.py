"""The hit path, in C and in Python: the same answers, counters and errors.

``ModelCache.get`` is the compiled ``HitPath`` where the build hook could compile it (it must
have, on this machine) and the Python method otherwise; each test runs on both. The memo answers
a hit; everything else reaches ``_after_memo``: a miss, an unhashable argument, an entry dropped
since it was memoised, or an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

import llmcache
from llmcache import _cache


@pytest.fixture(params=["c", "python"])
def hit_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "python":
        monkeypatch.setattr(_cache, "_CHitPath", None)
    path: str = request.param
    return path


class Factory:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, model_name: str, **kwargs: Any) -> object:
        self.calls.append((model_name, kwargs))
        return object()


def make_cache(hit_path: str, **options: Any) -> tuple[llmcache.ModelCache, Factory]:
    factory = Factory()
    cache = llmcache.ModelCache({"p": factory}, **options)
    is_c = type(cache.get).__name__ == "HitPath"
    assert is_c == (hit_path == "c"), type(cache.get)
    return cache, factory


KWARGS = {"api_key": "sk-hit-path-secret", "temperature": 0.2, "max_retries": 2, "timeout": 30}


def test_the_c_hit_path_was_compiled_here() -> None:
    """make test installs with the build hook; a silent compile failure would make every other
    C case below test Python twice."""
    assert _cache._CHitPath is not None
    cache = llmcache.ModelCache({"p": Factory()})
    assert type(cache.get).__name__ == "HitPath"


def test_hits_return_the_built_model_and_are_counted(hit_path: str) -> None:
    cache, factory = make_cache(hit_path)
    first = cache.get("m", "p", **KWARGS)
    for _ in range(3):
        assert cache.get("m", "p", **KWARGS) is first
    assert cache.get("m", provider="p", **KWARGS) is first  # provider by keyword: another memo key
    assert cache.get("m", "p") is not first  # no kwargs: another configuration
    assert cache.get("m", "p") is cache.get("m", "p")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.constructions) == (6, 2, 2)
    assert len(factory.calls) == 2


def test_values_of_different_types_are_different_configurations(hit_path: str) -> None:
    cache, factory = make_cache(hit_path)
    models = {cache.get("m", "p", temperature=v) for v in (True, 1, 1.0)}
    assert len(models) == 3
    assert [kwargs["temperature"] for _, kwargs in factory.calls] == [True, 1, 1.0]
    assert [type(kwargs["temperature"]) for _, kwargs in factory.calls] == [bool, int, float]


def test_unhashable_values_are_compared_by_value(hit_path: str) -> None:
    cache, factory = make_cache(hit_path)
    first = cache.get("m", "p", stop=["a", "b"], headers={"x": "1"})
    assert cache.get("m", "p", stop=["a", "b"], headers={"x": "1"}) is first
    assert cache.get("m", "p", stop=["a"], headers={"x": "1"}) is not first
    assert len(factory.calls) == 2
    assert cache.stats().hits == 1


def test_an_entry_dropped_after_it_was_memoised_is_not_counted_twice(hit_path: str) -> None:
    """The race in which the memo stores an entry that was dropped meanwhile, staged: the memo
    still answers with an entry no longer memoizable, and the full lookup decides."""
    cache, _ = make_cache(hit_path)
    model = cache.get("m", "p", **KWARGS)
    (entry,) = cache._models.values()
    entry.memoizable = False  # as _drop leaves it, but the memo not cleared
    assert cache.get("m", "p", **KWARGS) is model  # still in the store: a hit, counted once
    assert cache.stats().hits == 1
    cache._models.clear()  # now gone from the store too: a miss and a new build
    rebuilt = cache.get("m", "p", **KWARGS)
    assert rebuilt is not model
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.constructions) == (1, 2, 2)


def test_clear_and_a_new_provider_empty_the_memo(hit_path: str) -> None:
    cache, factory = make_cache(hit_path)
    model = cache.get("m", "p", **KWARGS)
    cache.clear()
    assert cache.get("m", "p", **KWARGS) is not model
    replacement = Factory()
    cache.register_provider("p", replacement)
    cache.get("m", "p", **KWARGS)
    assert len(factory.calls) == 2 and len(replacement.calls) == 1


def test_ttl_maxsize_and_per_loop_bypass_the_memo(hit_path: str) -> None:
    cache, factory = make_cache(hit_path, maxsize=1)
    a = cache.get("a", "p")
    cache.get("b", "p")  # evicts a
    assert cache.get("a", "p") is not a
    assert len(factory.calls) == 3
    per_loop = Factory()
    cache.register_provider("loop", per_loop, per_loop=True)
    assert cache.get("m", "loop") is cache.get("m", "loop")  # one loop (none): one model


def test_errors_reach_the_caller_unchanged(hit_path: str) -> None:
    cache, _ = make_cache(hit_path)
    with pytest.raises(TypeError, match="model_name must be a str"):
        cache.get(123, "p")  # type: ignore[arg-type]
    with pytest.raises(llmcache.UnknownProviderError):
        cache.get("m", "nowhere")
    with pytest.raises(TypeError, match=r"get\(\) takes from 2 to 3 positional arguments"):
        cache.get("m", "p", "extra")  # type: ignore[call-arg]
    assert cache.get(model_name="m", provider="p") is cache.get("m", "p")


def test_a_factory_error_reaches_every_caller(hit_path: str) -> None:
    def failing(model_name: str, **kwargs: Any) -> object:
        raise ValueError("bad config")

    cache = llmcache.ModelCache({"p": failing})
    for _ in range(2):
        with pytest.raises(ValueError, match="bad config"):
            cache.get("m", "p", **KWARGS)
    assert cache.stats().failures == 2


def test_the_secret_stays_out_of_errors_and_reprs(hit_path: str) -> None:
    cache, _ = make_cache(hit_path)
    cache.get("m", "p", **KWARGS)
    with pytest.raises(TypeError) as raised:
        cache.get("m", "p", "extra", **KWARGS)  # type: ignore[call-arg]
    assert KWARGS["api_key"] not in str(raised.value)
    assert KWARGS["api_key"] not in repr(cache.get)
    assert KWARGS["api_key"] not in repr(cache) + repr(cache.stats())


def test_the_c_hit_path_shows_the_methods_signature_and_doc() -> None:
    import inspect

    cache = llmcache.ModelCache({"p": Factory()})
    python_method = llmcache.ModelCache.get.__get__(cache)
    assert inspect.signature(cache.get) == inspect.signature(python_method)
    assert cache.get.__wrapped__.__doc__ == llmcache.ModelCache.get.__doc__


def test_a_subclass_that_overrides_get_keeps_its_own() -> None:
    seen: list[str] = []

    class Logged(llmcache.ModelCache):
        def get(self, model_name: str, provider: str | None = None, **kwargs: Any) -> Any:
            seen.append(model_name)
            return super().get(model_name, provider, **kwargs)

    cache = Logged({"p": Factory()})
    assert cache.get("m", "p") is cache.get("m", "p")
    assert seen == ["m", "m"]


def test_get_model_calls_whichever_process_wide_cache_is_installed() -> None:
    assert type(llmcache.get_model).__name__ == "CallDefault"  # compiled here
    original = llmcache.default_cache
    mine, factory = make_cache("c")
    llmcache.default_cache = mine
    try:
        model = llmcache.get_model("m", "p", **KWARGS)
        assert llmcache.get_model("m", "p", **KWARGS) is model
    finally:
        llmcache.default_cache = original
    assert len(factory.calls) == 1 and mine.stats().hits == 1
    assert "p" not in original.providers


def test_no_extensions_switch_selects_the_python_hit_path() -> None:
    code = (
        "import llmcache; "
        "print(type(llmcache.ModelCache().get).__name__, type(llmcache.get_model).__name__)"
    )
    env = {**os.environ, "LLMCACHE_NO_EXTENSIONS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.stdout.split() == ["method", "function"], done.stderr
