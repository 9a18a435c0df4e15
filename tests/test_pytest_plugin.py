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
    original = llmcache.default_cache
    pytester.makeini(INI)
    pytester.makepyfile(app=APP, test_app=TESTS)

    # No -p option: the fixtures come from the installed entry point.
    result = pytester.runpytest("-p", "no:cacheprovider")

    result.assert_outcomes(passed=4)
    assert llmcache.default_cache is original


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
