"""Provider registration and warming several models at start-up."""

from __future__ import annotations

import threading

import pytest
from conftest import CountingFactory

from llmcache import ModelCache, ModelSpec


def test_reregistering_a_provider_replaces_it_and_drops_only_its_models() -> None:
    old, other = CountingFactory(), CountingFactory()
    cache = ModelCache({"p": old, "q": other})
    p_model = cache.get("m", "p")
    q_model = cache.get("m", "q")

    new = CountingFactory()
    cache.register_provider("p", new)

    assert cache.get("m", "p") is not p_model
    assert new.calls == 1
    assert cache.get("m", "q") is q_model
    assert other.calls == 1


def test_each_cache_has_its_own_provider_table() -> None:
    a = ModelCache({"only-a": CountingFactory()})
    b = ModelCache()
    assert a.providers == ("only-a",)
    assert b.providers == ("google", "openai")


def test_clear_drops_models_and_resets_counters() -> None:
    factory = CountingFactory()
    cache = ModelCache({"fake": factory})
    first = cache.get("m", "fake")
    cache.get("m", "fake")

    cache.clear()

    assert cache.stats().hits == 0 and cache.stats().size == 0
    assert cache.get("m", "fake") is not first
    assert factory.calls == 2


def _gated_pair() -> tuple[ModelCache, threading.Barrier]:
    """Two providers that each wait until both are running: only a concurrent warm finishes."""
    both = threading.Barrier(2, timeout=10)

    def factory(model_name: str, **kwargs: object) -> str:
        both.wait()
        return f"model:{model_name}"

    return ModelCache({"a": factory, "b": factory}), both


def test_warm_builds_models_concurrently_and_returns_them_in_order() -> None:
    cache, _ = _gated_pair()
    models = cache.warm([ModelSpec("x", "a"), ("y", "b")])
    assert models == ["model:x", "model:y"]
    assert cache.stats().constructions == 2
    assert cache.get("x", "a") == "model:x"


async def test_awarm_builds_concurrently_with_mapping_specs() -> None:
    cache, _ = _gated_pair()
    models = await cache.awarm(
        [{"model_name": "x", "provider": "a"}, {"model_name": "y", "provider": "b", "t": 1}]
    )
    assert models == ["model:x", "model:y"]
    assert await cache.aget("y", "b", t=1) == "model:y"


async def test_awarm_reports_every_failure_and_keeps_the_successes() -> None:
    cache = ModelCache({"ok": CountingFactory(), "bad": CountingFactory(fail=OSError("down"))})
    with pytest.raises(ExceptionGroup) as group:
        await cache.awarm([("m", "ok"), ("m", "bad")])
    assert [type(e) for e in group.value.exceptions] == [OSError]
    assert cache.stats().size == 1


@pytest.mark.parametrize(
    ("specs", "error"),
    [("gemini-2.5-flash", TypeError), ([42], TypeError), ([{"provider": "google"}], ValueError)],
)
def test_warm_rejects_malformed_specs(specs: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        ModelCache().warm(specs)  # type: ignore[arg-type]
