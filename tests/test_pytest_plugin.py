"""The pytest plugin: an isolated default cache per test, fake providers, per-test event loops."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys

import pytest

import llmcache

pytest_plugins = ("pytester",)

APP = """
import llmcache


async def answer(question: str) -> str:
    model = await llmcache.get_model_async("gemini-2.5-flash")
    return (await model.ainvoke(question)).content
"""

TESTS = """
import asyncio

import pytest

import llmcache
from app import answer

SEEN = {}
BUILT = []
llmcache.register_provider("registered-at-import", lambda name, **kw: BUILT.append(name) or name)
llmcache.default_cache.configure(slow_threshold=7.0)


@pytest.mark.parametrize("run", [1, 2])
def test_providers_and_settings_carry_over_models_do_not(llmcache_cache, run):
    assert llmcache.get_model("m", provider="registered-at-import") == "m"
    assert llmcache.get_model("m", provider="registered-at-import") == "m"
    assert BUILT == ["m"] * run  # one build per test
    assert llmcache_cache.slow_threshold == 7.0


@pytest.mark.asyncio
async def test_first_loop(llmcache_fake_provider):
    fake = llmcache_fake_provider("google", responses=["Paris"])
    assert await answer("Capital of France?") == "Paris"
    assert await answer("Again?") == "Paris"
    assert fake.builds == 1
    assert fake.calls == [("gemini-2.5-flash", {})]
    SEEN["first"] = (fake.models[0], asyncio.get_running_loop())


@pytest.mark.asyncio
async def test_second_loop_gets_its_own_cache_and_model(llmcache_fake_provider, llmcache_cache):
    fake = llmcache_fake_provider("google", responses=["Rome"])
    assert await answer("Capital of Italy?") == "Rome"
    assert fake.builds == 1
    model, loop = SEEN["first"]
    assert fake.models[0] is not model
    assert asyncio.get_running_loop() is not loop
    assert llmcache.default_cache is llmcache_cache


def test_a_factory_of_your_own(llmcache_fake_provider):
    fake = llmcache_fake_provider("mine", lambda model_name, **kwargs: ("built", model_name))
    assert llmcache.get_model("m", provider="mine") == ("built", "m")
    assert llmcache.get_model("mine:m") == ("built", "m")
    assert fake.builds == 1


def test_without_the_fixture_the_previous_default_is_back():
    assert "mine" not in llmcache.default_cache.providers
"""


INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
"""


def test_the_plugin_is_registered_through_a_pytest11_entry_point() -> None:
    entry_points = importlib.metadata.entry_points(group="pytest11")
    assert [ep.value for ep in entry_points if ep.name == "llmcache"] == ["llmcache._pytest_plugin"]


def test_each_test_gets_its_own_cache_and_the_default_is_restored(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(app=APP, test_app=TESTS)
    original = llmcache.default_cache
    # The inner session runs in this process: its import-time registration goes to a scratch
    # default, which its fixtures must put back.
    scratch = llmcache.default_cache = llmcache.ModelCache()
    try:
        # No -p option: the fixtures come from the installed entry point.
        result = pytester.runpytest("-p", "no:cacheprovider")
        restored = llmcache.default_cache
    finally:
        llmcache.default_cache = original

    result.assert_outcomes(passed=6)
    assert restored is scratch
    assert "registered-at-import" in scratch.providers


def test_responses_must_be_a_list_not_one_string(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_bad="""
        import pytest

        def test_bad(llmcache_fake_provider):
            with pytest.raises(TypeError, match="sequence of strings"):
                llmcache_fake_provider("google", responses="Paris")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_importing_llmcache_does_not_import_pytest() -> None:
    code = "import json, sys, llmcache; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    modules = json.loads(out)
    assert not [m for m in modules if m.split(".")[0] in {"pytest", "_pytest", "pluggy"}]
    assert "llmcache._pytest_plugin" not in modules
