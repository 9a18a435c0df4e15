"""LangChain's ``init_chat_model`` conventions, answered from the cache.

LangChain users write ``init_chat_model("openai:gpt-4o-mini", temperature=0)`` or
``init_chat_model("gemini-2.5-flash", model_provider="google_genai")``. The same arguments give
the cached model here, and ``get_model`` accepts the same ``provider:model`` strings.

The provider table follows ``langchain.chat_models.base._BUILTIN_PROVIDERS`` (langchain 1.x):
the same names, modules, classes and model parameter, so a provider builds the class LangChain
would build. It is copied rather than imported because the ``langchain`` package is not a
dependency; nothing here imports a LangChain module until a factory runs in a build thread.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from ._errors import ProviderNotInstalledError, UnknownProviderError
from ._keys import mask_url_credentials

if TYPE_CHECKING:
    from langchain_anthropic import ChatAnthropic
    from langchain_baseten import ChatBaseten
    from langchain_cohere import ChatCohere
    from langchain_core.language_models import BaseChatModel
    from langchain_deepseek import ChatDeepSeek
    from langchain_fireworks import ChatFireworks
    from langchain_google_genai import ChatGoogleGenerativeAI
    from langchain_groq import ChatGroq
    from langchain_meta import ChatMetaModel
    from langchain_mistralai import ChatMistralAI
    from langchain_nvidia_ai_endpoints import ChatNVIDIA
    from langchain_ollama import ChatOllama
    from langchain_openai import AzureChatOpenAI, ChatOpenAI
    from langchain_openrouter import ChatOpenRouter
    from langchain_perplexity import ChatPerplexity
    from langchain_together import ChatTogether
    from langchain_xai import ChatXAI

    from ._providers import Factory

__all__ = [
    "LANGCHAIN_PROVIDERS",
    "LangChainProvider",
    "infer_langchain_provider",
    "init_chat_model",
    "langchain_factory",
    "parse_model",
    "split_model",
]


@dataclass(frozen=True, slots=True)
class LangChainProvider:
    """Where LangChain finds one provider's chat model class, and how it passes the model."""

    module: str
    class_name: str
    model_param: str = "model"
    constructor: str | None = None
    """A classmethod to call instead of the class (Hugging Face's ``from_model_id``)."""
    fallback_module: str | None = None
    """Tried when ``module`` is missing (LangChain's backwards compatibility for Ollama)."""

    @property
    def package(self) -> str:
        """The distribution to ``pip install``: the module's top package, dashed."""
        return self.module.split(".", 1)[0].replace("_", "-")


LANGCHAIN_PROVIDERS: dict[str, LangChainProvider] = {
    "anthropic": LangChainProvider("langchain_anthropic", "ChatAnthropic"),
    "anthropic_bedrock": LangChainProvider("langchain_aws", "ChatAnthropicBedrock"),
    "azure_ai": LangChainProvider("langchain_azure_ai.chat_models", "AzureAIOpenAIApiChatModel"),
    "azure_openai": LangChainProvider("langchain_openai", "AzureChatOpenAI"),
    "baseten": LangChainProvider("langchain_baseten", "ChatBaseten"),
    "bedrock": LangChainProvider("langchain_aws", "ChatBedrock"),
    "bedrock_converse": LangChainProvider("langchain_aws", "ChatBedrockConverse"),
    "bedrock_mantle_anthropic": LangChainProvider("langchain_aws", "ChatAnthropicMantle"),
    "bedrock_mantle_openai": LangChainProvider("langchain_aws", "ChatOpenAIMantle"),
    "cohere": LangChainProvider("langchain_cohere", "ChatCohere"),
    "deepseek": LangChainProvider("langchain_deepseek", "ChatDeepSeek"),
    "fireworks": LangChainProvider("langchain_fireworks", "ChatFireworks"),
    "google_anthropic_vertex": LangChainProvider(
        "langchain_google_vertexai.model_garden", "ChatAnthropicVertex"
    ),
    "google_genai": LangChainProvider("langchain_google_genai", "ChatGoogleGenerativeAI"),
    "google_vertexai": LangChainProvider("langchain_google_vertexai", "ChatVertexAI"),
    "groq": LangChainProvider("langchain_groq", "ChatGroq"),
    "huggingface": LangChainProvider(
        "langchain_huggingface", "ChatHuggingFace", "model_id", constructor="from_model_id"
    ),
    "ibm": LangChainProvider("langchain_ibm", "ChatWatsonx", "model_id"),
    "litellm": LangChainProvider("langchain_litellm", "ChatLiteLLM"),
    "meta": LangChainProvider("langchain_meta", "ChatMetaModel"),
    "mistralai": LangChainProvider("langchain_mistralai", "ChatMistralAI"),
    "nvidia": LangChainProvider("langchain_nvidia_ai_endpoints", "ChatNVIDIA"),
    "ollama": LangChainProvider(
        "langchain_ollama", "ChatOllama", fallback_module="langchain_community.chat_models"
    ),
    "openai": LangChainProvider("langchain_openai", "ChatOpenAI"),
    "openrouter": LangChainProvider("langchain_openrouter", "ChatOpenRouter"),
    "perplexity": LangChainProvider("langchain_perplexity", "ChatPerplexity"),
    "together": LangChainProvider("langchain_together", "ChatTogether"),
    "upstage": LangChainProvider("langchain_upstage", "ChatUpstage"),
    "xai": LangChainProvider("langchain_xai", "ChatXAI"),
}
"""LangChain's provider names -> where their chat model class lives (langchain 1.5.2's table, but
``langsmith``: LangChain builds a ``ChatOpenAI`` pointed at its LangSmith gateway there, with
kwargs rewritten by a creator function this table has no room for)."""

BUILTIN_ALIASES: dict[str, str] = {"google_genai": "google"}
"""LangChain names served by one of llmcache's built-in providers (one store, one instance)."""

# LangChain's `_attempt_infer_model_provider`, in its order. Note "gemini..." -> Vertex AI there.
_LANGCHAIN_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("gpt-", "o1", "o3", "chatgpt", "text-davinci"), "openai"),
    (("claude",), "anthropic"),
    (("command",), "cohere"),
    (("accounts/fireworks",), "fireworks"),
    (("gemini",), "google_vertexai"),
    (("amazon.", "anthropic.", "meta."), "bedrock"),
    (("mistral", "mixtral"), "mistralai"),
    (("deepseek",), "deepseek"),
    (("grok",), "xai"),
    (("sonar",), "perplexity"),
    (("solar",), "upstage"),
)


def normalize_provider(name: str) -> str:
    """LangChain's normalisation of a provider name: ``"google-genai"`` -> ``"google_genai"``."""
    return name.replace("-", "_").lower()


def infer_langchain_provider(model_name: str) -> str | None:
    """The provider LangChain's ``init_chat_model`` infers from a model name, or None."""
    lowered = model_name.lower()
    for prefixes, provider in _LANGCHAIN_PREFIXES:
        if lowered.startswith(prefixes):
            return provider
    return None


def split_model(
    model: str, provider: str | None, registered: Collection[str] = ()
) -> tuple[str, str | None]:
    """Split ``"provider:model"`` when no provider is given and the prefix names a provider.

    The prefix counts only if it is a registered provider or one LangChain knows, so model
    names that contain colons (``ft:gpt-4o-mini:org::id``) stay whole, as in LangChain.
    """
    if provider is not None or ":" not in model:
        return model, provider
    prefix, rest = model.split(":", 1)
    if not rest.strip():
        return model, None
    if prefix in registered or normalize_provider(prefix) in LANGCHAIN_PROVIDERS:
        return rest, prefix
    return model, None


def parse_model(model: str, model_provider: str | None) -> tuple[str, str]:
    """``(model_name, provider)`` exactly as LangChain's ``init_chat_model`` resolves them."""
    if not isinstance(model, str):
        raise TypeError(
            f"model must be a string such as 'openai:gpt-4o-mini', got {type(model).__name__}"
        )
    name, provider = split_model(model, model_provider)
    provider = provider or infer_langchain_provider(name)
    if not provider:
        raise UnknownProviderError(
            f"cannot infer the provider of model {mask_url_credentials(name)!r}; "
            "pass model_provider=, one of "
            f"{sorted(LANGCHAIN_PROVIDERS)}"
        )
    return name, normalize_provider(provider)


def resolve_provider(provider: str, registered: Collection[str]) -> str:
    """The cache's name for a provider: a registered name as is, else LangChain's alias."""
    if provider in registered:
        return provider
    normalized = normalize_provider(provider)
    alias = BUILTIN_ALIASES.get(normalized, normalized)
    if alias in registered:
        return alias
    return normalized if normalized in LANGCHAIN_PROVIDERS else provider


def langchain_factory(provider: str) -> Factory | None:
    """A factory for one of LangChain's providers, or None when LangChain has no such name.

    The factory imports the integration package when it runs (in the cache's build thread);
    a missing package raises :class:`ProviderNotInstalledError` naming what to install.
    """
    spec = LANGCHAIN_PROVIDERS.get(normalize_provider(provider))
    if spec is None:
        return None

    def build(model_name: str, **kwargs: Any) -> Any:
        cls = getattr(_import(provider, spec), spec.class_name)
        create = getattr(cls, spec.constructor) if spec.constructor else cls
        return create(**{spec.model_param: model_name}, **kwargs)

    build.__qualname__ = build.__name__ = f"build_{normalize_provider(provider)}"
    return build


def _import(provider: str, spec: LangChainProvider) -> Any:
    modules = [spec.module] + ([spec.fallback_module] if spec.fallback_module else [])
    for module in modules:
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing != module and not module.startswith(missing + "."):
                raise  # the package is there, one of its own dependencies is not
    raise ProviderNotInstalledError(
        f"provider {provider!r} needs the {spec.package} package for {spec.class_name}: "
        f"pip install {spec.package}"
    )


def unknown_provider_error(provider: str, registered: Collection[str]) -> UnknownProviderError:
    """The error for a provider name that is neither registered nor one of LangChain's."""
    return UnknownProviderError(
        f"unknown provider {provider!r}; registered providers: {sorted(registered)}; "
        f"LangChain providers: {sorted(LANGCHAIN_PROVIDERS)}"
    )


@overload
def init_chat_model(
    model: str, *, model_provider: Literal["google_genai", "google"], **kwargs: Any
) -> ChatGoogleGenerativeAI: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["openai"], **kwargs: Any
) -> ChatOpenAI: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["anthropic"], **kwargs: Any
) -> ChatAnthropic: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["azure_openai"], **kwargs: Any
) -> AzureChatOpenAI: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["baseten"], **kwargs: Any
) -> ChatBaseten: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["cohere"], **kwargs: Any
) -> ChatCohere: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["deepseek"], **kwargs: Any
) -> ChatDeepSeek: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["fireworks"], **kwargs: Any
) -> ChatFireworks: ...
@overload
def init_chat_model(model: str, *, model_provider: Literal["groq"], **kwargs: Any) -> ChatGroq: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["mistralai"], **kwargs: Any
) -> ChatMistralAI: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["meta"], **kwargs: Any
) -> ChatMetaModel: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["nvidia"], **kwargs: Any
) -> ChatNVIDIA: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["ollama"], **kwargs: Any
) -> ChatOllama: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["openrouter"], **kwargs: Any
) -> ChatOpenRouter: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["perplexity"], **kwargs: Any
) -> ChatPerplexity: ...
@overload
def init_chat_model(
    model: str, *, model_provider: Literal["together"], **kwargs: Any
) -> ChatTogether: ...
@overload
def init_chat_model(model: str, *, model_provider: Literal["xai"], **kwargs: Any) -> ChatXAI: ...
@overload
def init_chat_model(
    model: str, *, model_provider: str | None = None, **kwargs: Any
) -> BaseChatModel: ...
def init_chat_model(model: str, *, model_provider: str | None = None, **kwargs: Any) -> Any:
    """LangChain's ``init_chat_model(model, *, model_provider=None, **kwargs)``, cached.

    Same arguments, same provider inference (``"gemini..."`` means Vertex AI there, so pass
    ``model_provider="google_genai"`` or ``"google_genai:gemini-2.5-flash"`` for the Gemini
    API), the same class built once and shared from the default cache. LangChain's
    run-time configurable models (no ``model``, ``configurable_fields``) are not cached.
    """
    for name in ("configurable_fields", "config_prefix"):
        if name in kwargs:
            raise TypeError(
                f"{name}= makes a run-time configurable model, which llmcache does not cache; "
                "use langchain.chat_models.init_chat_model for it"
            )
    import llmcache

    name, provider = parse_model(model, model_provider)
    return llmcache.default_cache.get(name, provider, **kwargs)
