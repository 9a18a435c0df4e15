"""What :meth:`ModelCache.warm` accepts, and how its results come back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._keys import mask_url_credentials

__all__ = ["ModelSpec", "WarmSpec", "parse_specs", "results_or_group"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model to build in :meth:`ModelCache.warm`."""

    model_name: str
    provider: str | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # kwargs may hold an API key: show only their names.
        names = sorted(self.kwargs)
        shown = mask_url_credentials(self.model_name)
        return f"ModelSpec({shown!r}, provider={self.provider!r}, kwargs={names})"


WarmSpec = str | tuple[str, str | None] | Mapping[str, Any] | ModelSpec
"""A model name, a ``(model_name, provider)`` tuple, a mapping
``{"model_name": ..., "provider": ..., **kwargs}``, or a :class:`ModelSpec`."""


def parse_specs(specs: Iterable[WarmSpec]) -> list[ModelSpec]:
    if isinstance(specs, str | Mapping | ModelSpec):
        raise TypeError(
            "specs must be an iterable of specs, e.g. a list: warm(['gemini-2.5-flash'])"
        )
    parsed = []
    for spec in specs:
        if isinstance(spec, ModelSpec):
            parsed.append(spec)
        elif isinstance(spec, str):
            parsed.append(ModelSpec(spec))
        elif isinstance(spec, tuple) and len(spec) == 2:
            parsed.append(ModelSpec(spec[0], spec[1]))
        elif isinstance(spec, Mapping):
            rest = dict(spec)
            if "model_name" not in rest:
                raise ValueError(f"a spec mapping needs 'model_name'; got keys {sorted(rest)}")
            name = rest.pop("model_name")
            parsed.append(ModelSpec(name, rest.pop("provider", None), rest))
        else:
            raise TypeError(
                "each spec must be a model name, a (model_name, provider) tuple, a mapping "
                f"with 'model_name', or a ModelSpec; got {type(spec).__name__}"
            )
    return parsed


def results_or_group(outcomes: list[tuple[Any, BaseException | None]]) -> list[Any]:
    """The models in order, or an ``ExceptionGroup`` of every build that failed."""
    errors = [error for _, error in outcomes if error is not None]
    if errors:
        raise BaseExceptionGroup(f"{len(errors)} of {len(outcomes)} models failed to build", errors)
    return [model for model, _ in outcomes]
