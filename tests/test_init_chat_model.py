"""LangChain's ``init_chat_model`` conventions through the cache, against the loopback fakes."""

from __future__ import annotations

import importlib

import pytest
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import AzureChatOpenAI, ChatOpenAI

import llmcache
from llmcache import _langchain
from llmcache._langchain import parse_model, split_model
from llmcache.lab.servers import GeminiRestServer, OpenAIServer

# LangChain providers register themselves on first use: keep them out of the process default.
pytestmark = pytest.mark.usefixtures("llmcache_cache")


async def test_openai_provider_colon_model_string_builds_once_and_answers() -> None:
    with OpenAIServer() as server:
        model = llmcache.init_chat_model(
            "openai:gpt-4o-mini", temperature=0, api_key="fake-key", base_url=server.base_url
        )
        again = llmcache.init_chat_model(
            "gpt-4o-mini",
            model_provider="openai",
            temperature=0,
            api_key="fake-key",
            base_url=server.base_url,
        )
        same_store = await llmcache.get_model_async(
            "openai:gpt-4o-mini", temperature=0, api_key="fake-key", base_url=server.base_url
        )
        reply = await model.ainvoke("hello")

    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert again is model and same_store is model
    assert reply.content == "ok"
    assert server.requests["chat.completions"] == 1
    assert llmcache.cache_stats().constructions == 1


async def test_google_genai_model_provider_uses_the_builtin_google_provider() -> None:
    with GeminiRestServer() as server:
        kwargs = {"google_api_key": "fake-key", "base_url": server.url}
        model = llmcache.init_chat_model(
            "gemini-2.5-flash", model_provider="google_genai", **kwargs
        )
        prefixed = llmcache.init_chat_model("google_genai:gemini-2.5-flash", **kwargs)
        dashed = llmcache.init_chat_model(
            "gemini-2.5-flash", model_provider="Google-GenAI", **kwargs
        )
        inferred = llmcache.get_model("gemini-2.5-flash", **kwargs)
        reply = await model.ainvoke("hello")

    assert isinstance(model, ChatGoogleGenerativeAI)
    assert prefixed is model and dashed is model and inferred is model
    assert reply.content == "ok"
    assert server.requests["generateContent"] == 1
    assert llmcache.cache_stats().constructions == 1


def test_a_langchain_provider_outside_the_builtins_works_when_its_package_is_installed() -> None:
    # AzureChatOpenAI ships in langchain-openai; llmcache has no built-in "azure_openai".
    kwargs = {
        "azure_endpoint": "http://127.0.0.1:9",
        "api_version": "2024-10-21",
        "api_key": "fake-key",
    }
    model = llmcache.init_chat_model("azure_openai:gpt-4o", **kwargs)

    assert type(model) is AzureChatOpenAI
    assert llmcache.get_model("gpt-4o", provider="azure_openai", **kwargs) is model
    assert llmcache.cache_stats().constructions == 1


def test_a_provider_whose_package_is_absent_names_the_package_to_install() -> None:
    assert importlib.util.find_spec("langchain_upstage") is None  # the premise

    for _ in range(2):  # not cached: the second call tries (and fails) again
        with pytest.raises(llmcache.ProviderNotInstalledError) as info:
            llmcache.init_chat_model("upstage:solar-pro", upstage_api_key="up-secret")
        assert "pip install langchain-upstage" in str(info.value)
        assert "up-secret" not in str(info.value)
        assert isinstance(info.value, ImportError)
        assert isinstance(info.value, llmcache.CacheError)

    assert llmcache.cache_stats().failures == 2


def test_an_adapted_provider_whose_package_is_absent_names_it_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = _langchain.importlib.import_module

    def without_anthropic(name: str) -> object:
        if name.startswith("langchain_anthropic"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name)

    monkeypatch.setattr(_langchain.importlib, "import_module", without_anthropic)
    with pytest.raises(llmcache.ProviderNotInstalledError, match="pip install langchain-anthropic"):
        llmcache.init_chat_model("anthropic:claude-sonnet-4-5", api_key="sk-ant-secret")


def test_gemini_without_a_provider_means_vertex_ai_as_in_langchain() -> None:
    with pytest.raises(llmcache.ProviderNotInstalledError, match="langchain-google-vertexai"):
        llmcache.init_chat_model("gemini-2.5-flash")


def test_command_is_inferred_as_cohere_by_get_model_too() -> None:
    model = llmcache.get_model("command-r", cohere_api_key="k", base_url="http://127.0.0.1:9")
    assert type(model).__name__ == "ChatCohere"


def test_solar_is_inferred_as_upstage_by_get_model_too() -> None:
    with pytest.raises(llmcache.ProviderNotInstalledError, match="pip install langchain-upstage"):
        llmcache.get_model("solar-pro")


def test_an_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(llmcache.UnknownProviderError, match="'nope'") as info:
        llmcache.init_chat_model("some-model", model_provider="nope")
    assert "anthropic" in str(info.value)  # lists what would work
    assert isinstance(info.value, ValueError)

    with pytest.raises(llmcache.UnknownProviderError, match="cannot infer"):
        llmcache.init_chat_model("mystery-model")
    with pytest.raises(llmcache.UnknownProviderError, match="'nope'"):
        llmcache.get_model("some-model", provider="nope")


def test_configurable_models_are_refused_not_silently_passed_to_the_constructor() -> None:
    with pytest.raises(TypeError, match="configurable"):
        llmcache.init_chat_model("openai:gpt-4o", configurable_fields="any")


def test_parsing_follows_langchain() -> None:
    assert parse_model("openai:gpt-4o-mini", None) == ("gpt-4o-mini", "openai")
    assert parse_model("gpt-4o-mini", "OpenAI") == ("gpt-4o-mini", "openai")
    assert parse_model("claude-sonnet-4-5", None) == ("claude-sonnet-4-5", "anthropic")
    assert parse_model("mistral-large", None) == ("mistral-large", "mistralai")
    assert parse_model("gemini-2.5-flash", None) == ("gemini-2.5-flash", "google_vertexai")
    # A given provider wins; the colon then belongs to the model name.
    assert parse_model("openai:gpt-4o", "azure_openai") == ("openai:gpt-4o", "azure_openai")
    # Only a provider's name splits: fine-tuned OpenAI names keep their colons.
    assert split_model("ft:gpt-4o-mini:org::abc", None) == ("ft:gpt-4o-mini:org::abc", None)
    assert split_model("mine:m", None, registered={"mine"}) == ("m", "mine")
    with pytest.raises(TypeError, match="must be a string"):
        parse_model(None, None)  # type: ignore[arg-type]


def test_a_missing_dependency_of_an_installed_package_is_not_blamed_on_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_import(name: str) -> object:
        raise ModuleNotFoundError("No module named 'some_dependency'", name="some_dependency")

    monkeypatch.setattr(_langchain.importlib, "import_module", fake_import)
    factory = _langchain.langchain_factory("groq")
    assert factory is not None
    with pytest.raises(ModuleNotFoundError, match="some_dependency"):
        factory("llama-3")


def test_every_langchain_provider_names_a_package() -> None:
    for name, spec in _langchain.LANGCHAIN_PROVIDERS.items():
        assert spec.package.startswith("langchain-"), name
        assert _langchain.langchain_factory(name) is not None
    assert _langchain.langchain_factory("nope") is None


def test_a_langchain_provider_is_registered_in_the_cache_that_used_it() -> None:
    assert "upstage" not in llmcache.default_cache.providers
    with pytest.raises(llmcache.ProviderNotInstalledError, match="pip install langchain-upstage"):
        llmcache.get_model("upstage:solar-pro")
    assert "upstage" in llmcache.default_cache.providers
