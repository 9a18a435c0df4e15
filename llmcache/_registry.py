"""Providers by name, and the route from a call's arguments to its key.

A *route* answers, for one ``(model_name, provider, kwarg names in call order)``, everything a
hit needs before it can look the model up: the resolved provider (given, parsed from
``"provider:model"``, inferred, or one of LangChain's aliases), the key's prefix, and how to pick
the kwarg values in sorted order. Routes hold no values, so clearing or evicting models never
makes one stale; registering a provider can, so it starts a new generation with no routes, and
a route resolved during a registration is not kept.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import UnknownProviderError
from ._keys import mask_url_credentials
from ._langchain import (
    infer_langchain_provider,
    langchain_factory,
    resolve_provider,
    split_model,
    unknown_provider_error,
)
from ._providers import Provider, adapted_provider, infer_provider

__all__ = ["Registry", "Route", "check_call"]

_ROUTE_LIMIT = 1024  # distinct call shapes kept; past it the table starts over


def check_call(model_name: object, provider: object) -> None:
    """Raise the caller's error for a model name or provider of the wrong kind."""
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__}")
    if not model_name.strip():
        raise ValueError("model_name must not be empty")
    if provider is not None and not isinstance(provider, str):
        raise TypeError(f"provider must be a str or None, got {type(provider).__name__}")


class Route:
    """How a call of one shape finds its key."""

    __slots__ = ("generation", "getter", "key", "names", "per_loop", "prefix", "provider", "single")

    def __init__(
        self,
        provider_name: str,
        model_name: str,
        names: tuple[str, ...],
        provider: Provider,
        generation: int,
    ) -> None:
        self.names = names
        self.prefix = (provider_name, model_name, names)
        self.provider = provider
        self.per_loop = provider.per_loop
        self.generation = generation
        self.getter: Callable[[Mapping[str, Any]], Any] | None = (
            operator.itemgetter(*names) if names else None
        )
        self.single = len(names) == 1  # itemgetter of one name returns the value, not a tuple
        self.key: tuple[Any, ...] = (self.prefix, (), ())  # the whole key when there are no kwargs


class Registry:
    """The providers of one cache. Its methods expect the cache's lock held."""

    def __init__(self) -> None:
        self.providers: dict[str, Provider] = {}
        self.generation = 0
        self.routes: dict[tuple[Any, ...], Route] = {}
        """``(model_name, provider, kwarg names) -> Route``; replaced, never emptied in place,
        so a hit reading it without the lock sees one generation or the next."""

    def register(self, name: str, provider: Provider) -> None:
        self.providers[name] = provider
        self.generation += 1
        self.routes = {}

    def route(self, given_model: str, given: str | None, names: tuple[str, ...]) -> Route:
        """Resolve the route of a validated call (see :func:`check_call`) and keep it."""
        model_name, provider = given_model, given
        if provider is None:  # "provider:model", LangChain's convention
            model_name, provider = split_model(model_name, None, self.providers)
        if provider is None:
            provider = infer_provider(model_name) or infer_langchain_provider(model_name)
            if provider is None:
                raise UnknownProviderError(
                    f"cannot infer the provider of model {mask_url_credentials(model_name)!r}; "
                    "pass provider=, "
                    f"one of {sorted(self.providers)}"
                )
        name = resolve_provider(provider, self.providers)
        spec = self.providers.get(name)
        if spec is None:  # one of LangChain's providers: registered on first use
            factory = langchain_factory(name)
            if factory is None:
                raise unknown_provider_error(name, sorted(self.providers))
            # An adapted provider gets loop-local clients; the rest as LangChain builds them.
            spec = self.providers[name] = adapted_provider(name) or Provider(factory)
        route = Route(name, model_name, tuple(sorted(names)), spec, self.generation)
        if len(self.routes) >= _ROUTE_LIMIT:
            self.routes = {}
        self.routes[given_model, given, names] = route
        return route
