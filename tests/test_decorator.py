"""``@llmcache.cached``: your own factory gets the cache's guarantees, keyed by its arguments."""

from __future__ import annotations

import asyncio
import threading

import pytest
from conftest import CountingFactory, FakeModel

import llmcache


def test_arguments_are_bound_with_defaults_so_equivalent_calls_share_one_model() -> None:
    factory = CountingFactory()

    @llmcache.cached
    def get_model(model_name: str, provider: str = "google", temperature: float = 0.0) -> object:
        return factory(model_name, provider=provider, temperature=temperature)

    first = get_model("gemini-2.5-flash")
    assert get_model("gemini-2.5-flash", provider="google") is first
    assert get_model(model_name="gemini-2.5-flash", temperature=0.0) is first
    assert get_model("gemini-2.5-flash", "google", 0.0) is first
    assert get_model("gemini-2.5-flash", temperature=0.5) is not first
    assert factory.calls == 2
    assert get_model.cache_info().size == 2


def test_values_not_identities_make_the_key() -> None:
    factory = CountingFactory()

    @llmcache.cached
    def make(name: str, options: dict[str, object]) -> object:
        return factory(name, **options)

    first = make("m", {"tags": ["a", "b"], "retries": 2})
    assert make("m", {"retries": 2, "tags": ["a", "b"]}) is first
    assert factory.calls == 1


def test_a_secret_argument_never_appears_in_the_key_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="llmcache")

    @llmcache.cached
    def make(model_name: str, api_key: str) -> FakeModel:
        return FakeModel(model_name, {})

    make("gpt-4o-mini", api_key="sk-very-secret-value")
    make("gpt-4o-mini", api_key="sk-very-secret-value")

    assert make.cache_info().constructions == 1
    shown = repr(make.cache) + caplog.text + repr(make.cache_info())
    shown += repr(list(make.cache._store.entries))
    assert "make" in caplog.text  # the build is named by the function
    assert "sk-very-secret-value" not in shown


def test_threads_and_tasks_in_several_loops_run_the_factory_once() -> None:
    gate = threading.Event()
    factory = CountingFactory(gate=gate)
    make = llmcache.cached(factory)
    results: list[object] = []
    lock = threading.Lock()

    def sync_caller() -> None:
        model = make("m")
        with lock:
            results.append(model)

    def loop_caller() -> None:
        async def main() -> list[object]:
            return list(await asyncio.gather(*(make.aget("m") for _ in range(5))))

        models = asyncio.run(main())
        with lock:
            results.extend(models)

    threads = [threading.Thread(target=sync_caller) for _ in range(3)]
    threads += [threading.Thread(target=loop_caller) for _ in range(2)]
    for t in threads:
        t.start()
    assert factory.started.wait(timeout=10)
    gate.set()
    for t in threads:
        t.join(timeout=10)

    assert factory.calls == 1
    assert len(results) == 3 + 2 * 5
    assert all(m is results[0] for m in results)


async def test_aget_runs_the_factory_in_a_cache_thread_not_on_the_loop() -> None:
    seen: dict[str, object] = {}

    @llmcache.cached
    def make(model_name: str) -> object:
        seen["thread"] = threading.current_thread().name
        try:
            asyncio.get_running_loop()
            seen["loop"] = True
        except RuntimeError:
            seen["loop"] = False
        return object()

    model = await make.aget("m")

    assert seen["loop"] is False
    assert str(seen["thread"]).startswith("llmcache-build")
    assert make("m") is model  # one store for f() and f.aget()


async def test_a_failure_reaches_the_caller_is_not_cached_and_the_next_call_retries() -> None:
    attempts: list[int] = []

    @llmcache.cached
    def make(model_name: str) -> object:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("first attempt fails")
        return object()

    with pytest.raises(ConnectionError, match="first attempt fails"):
        await make.aget("m")
    model = await make.aget("m")

    assert len(attempts) == 2
    assert make("m") is model
    info = make.cache_info()
    assert (info.failures, info.constructions) == (1, 1)


def test_warm_builds_several_calls_and_returns_them_in_order() -> None:
    factory = CountingFactory()

    @llmcache.cached
    def make(model_name: str, provider: str = "google") -> FakeModel:
        return factory(model_name, provider=provider)  # type: ignore[no-any-return]

    built = make.warm(["a", ("b", "openai"), {"model_name": "c"}])

    assert [m.model_name for m in built] == ["a", "b", "c"]
    assert make("b", provider="openai") is built[1]
    assert factory.calls == 3


async def test_awarm_and_cache_clear() -> None:
    make = llmcache.cached(CountingFactory())

    built = await make.awarm(["a", "b"])
    assert make("a") is built[0]
    make.cache_clear()

    assert make.cache_info().size == 0
    assert make("a") is not built[0]


def test_warm_needs_a_list_of_calls_not_one_call() -> None:
    make = llmcache.cached(CountingFactory())
    with pytest.raises(TypeError, match="iterable of calls"):
        make.warm("a")


def test_wraps_the_function() -> None:
    def get_model(model_name: str) -> object:
        """Build my model."""
        return object()

    wrapped = llmcache.cached(get_model)

    assert wrapped.__wrapped__ is get_model
    assert wrapped.__name__ == "get_model"
    assert wrapped.__doc__ == "Build my model."
    assert wrapped.__qualname__ == get_model.__qualname__


def test_options_form_passes_the_cache_options() -> None:
    @llmcache.cached(slow_threshold=0.5)
    def make(model_name: str) -> object:
        return object()

    assert make("m") is make("m")
    assert make.cache.slow_threshold == 0.5


def test_an_async_factory_is_refused() -> None:
    async def make(model_name: str) -> object:
        return object()

    with pytest.raises(TypeError, match="synchronous factory"):
        llmcache.cached(make)  # type: ignore[arg-type]


def test_bad_arguments_raise_like_calling_the_function() -> None:
    make = llmcache.cached(CountingFactory())
    with pytest.raises(TypeError):
        make()  # type: ignore[call-arg]


class Client:
    """``self`` is part of the key: each instance gets its own models."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.builds = 0

    @llmcache.cached
    def model(self, model_name: str, temperature: float = 0.0) -> FakeModel:
        """The model for this client's region."""
        self.builds += 1
        return FakeModel(model_name, {"region": self.region, "temperature": temperature})


async def test_methods_key_by_instance_and_share_one_cache_per_function() -> None:
    eu, us = Client("eu"), Client("us")

    first = eu.model("gemini-2.5-flash")
    assert eu.model("gemini-2.5-flash", temperature=0.0) is first
    assert await eu.model.aget("gemini-2.5-flash") is first
    other = us.model("gemini-2.5-flash")

    assert other is not first
    assert (first.kwargs["region"], other.kwargs["region"]) == ("eu", "us")
    assert (eu.builds, us.builds) == (1, 1)
    assert Client.model.cache_info().size == 2
    assert eu.model.__name__ == "model"
    assert eu.model.__doc__ == "The model for this client's region."
    Client.model.cache_clear()


def test_bound_method_warm_fills_in_self() -> None:
    client = Client("eu")

    built = client.model.warm(["a", ("b", 0.5), {"model_name": "c"}])

    assert [m.model_name for m in built] == ["a", "b", "c"]
    assert client.model("b", 0.5) is built[1]
    assert client.builds == 3
    client.model.cache_clear()


def test_close_hands_each_model_to_the_close_hook_and_later_calls_build_anew() -> None:
    closed: list[FakeModel] = []

    @llmcache.cached(close=closed.append)
    def make(model_name: str) -> FakeModel:
        return FakeModel(model_name, {})

    first, second = make("a"), make("b")
    make.close()

    assert sorted(m.model_name for m in closed) == ["a", "b"]
    assert closed[0] in (first, second)
    assert make.cache_info().size == 0
    assert make("a") is not first


async def test_aclose_awaits_the_aclose_hook() -> None:
    closed: list[str] = []

    async def aclose(model: FakeModel) -> None:
        await asyncio.sleep(0)
        closed.append(model.model_name)

    @llmcache.cached(aclose=aclose)
    def make(model_name: str) -> FakeModel:
        return FakeModel(model_name, {})

    await make.aget("a")
    await make.aclose()

    assert closed == ["a"]
    assert make.cache_info().size == 0


def test_maxsize_bounds_the_functions_cache() -> None:
    factory = CountingFactory()
    make = llmcache.cached(maxsize=2)(factory)

    first = make("a")
    make("b")
    make("c")  # evicts "a", the least recently used

    assert make.cache_info().size == 2
    assert make("a") is not first
    assert factory.calls == 4


def test_var_positional_and_var_keyword_arguments_are_part_of_the_key() -> None:
    factory = CountingFactory()

    @llmcache.cached
    def make(model_name: str, *tags: str, **options: object) -> object:
        return factory(model_name, tags=tags, **options)

    first = make("m", "a", "b", retries=2)
    assert make("m", "a", "b", retries=2) is first
    assert make("m", "a", retries=2) is not first
    assert make("m", "a", "b", retries=3) is not first
    assert factory.calls == 3


def test_wrong_calls_raise_pythons_own_errors() -> None:
    @llmcache.cached
    def make(model_name: str, provider: str = "google", *, temperature: float = 0.0) -> object:
        return object()

    with pytest.raises(TypeError, match="multiple values"):
        make("m", model_name="m")  # type: ignore[misc]
    with pytest.raises(TypeError, match="unexpected keyword"):
        make("m", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="positional"):
        make("m", "google", 0.5)  # type: ignore[call-arg]
    assert make.cache_info().constructions == 0


def test_parameters_named_like_the_caches_own_still_reach_the_factory() -> None:
    seen: list[tuple[str, str]] = []

    @llmcache.cached
    def make(model_name: str, provider: str) -> object:
        seen.append((model_name, provider))
        return object()

    assert make("m", "openai") is make(provider="openai", model_name="m")
    assert seen == [("m", "openai")]


class Factories:
    @staticmethod
    @llmcache.cached
    def plain(model_name: str) -> FakeModel:
        return FakeModel(model_name, {})

    @classmethod
    @llmcache.cached
    def per_class(cls, model_name: str) -> FakeModel:
        return FakeModel(model_name, {"cls": cls.__name__})


def test_below_staticmethod_and_classmethod() -> None:
    assert Factories.plain("m") is Factories().plain("m")
    model = Factories.per_class("m")
    assert model is Factories().per_class("m")
    assert model.kwargs == {"cls": "Factories"}
    Factories.plain.cache_clear()
    Factories.per_class.cache_clear()


def test_remembered_bindings_never_mix_types() -> None:
    calls: list[object] = []

    @llmcache.cached
    def make(value: object) -> object:
        calls.append(value)
        return object()

    plain = [make(v) for v in (1, True, 1.0, 1, True, 1.0)]
    nested = [make(v) for v in ((1,), (True,), (1,), (True,))]

    assert len({id(m) for m in plain}) == 3 and plain[:3] == plain[3:]
    assert len({id(m) for m in nested}) == 2 and nested[:2] == nested[2:]
    assert [type(v) for v in calls[:3]] == [int, bool, float]
