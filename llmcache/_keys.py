"""Cache keys: provider + model + every kwarg, frozen, with secrets reduced to salted hashes.

The key is what the cache compares and what it may print, so it must be hashable, deterministic
for equal configurations, and safe to show: an API key never appears in it, only a keyed hash
whose salt is random per process (the hash cannot be looked up in a table of known keys).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CacheKey", "freeze_kwargs", "is_secret_name"]

_SALT = os.urandom(16)
# The list, plus HTTP's Authorization header (default_headers={"Authorization": ...}).
_SECRET_NAME_PARTS = ("key", "token", "secret", "password", "credentials", "authorization")


def is_secret_name(name: str) -> bool:
    """Whether a kwarg's name marks its value as a secret (``google_api_key``, ``token``...)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAME_PARTS)


@dataclass(frozen=True, slots=True)
class SecretDigest:
    """A secret as the key holds it: a salted HMAC, equal for equal secrets, never reversible."""

    digest: str

    def __repr__(self) -> str:
        return f"<secret {self.digest[:12]}>"


@dataclass(frozen=True, slots=True, eq=False)
class OpaqueValue:
    """A value that cannot be frozen or shown (an unhashable object, a credentials object).

    It compares by equality when the value is hashable and by identity otherwise; it keeps a
    reference to the value so that an ``id`` is never reused while the key lives.
    """

    value: Any

    def _identity(self) -> object:
        try:
            hash(self.value)
        except TypeError:
            return ("id", id(self.value))
        return ("eq", self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpaqueValue) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return f"<{type(self.value).__qualname__} object>"


def _digest(secret: str | bytes) -> SecretDigest:
    data = secret.encode() if isinstance(secret, str) else secret
    return SecretDigest(hmac.new(_SALT, data, hashlib.sha256).hexdigest())


def _secret_text(value: Any) -> str | bytes | None:
    """The plain text of a secret-like value (``SecretStr``, ``SecretBytes``), else None."""
    get_secret = getattr(value, "get_secret_value", None)
    if callable(get_secret):
        plain = get_secret()
        if isinstance(plain, str | bytes):
            return plain
    return None


def _freeze(value: Any, *, secret: bool) -> Any:
    plain = _secret_text(value)
    if plain is not None:
        return _digest(plain)
    if secret:
        if isinstance(value, str | bytes):
            return _digest(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            return _freeze_all(value)
        return OpaqueValue(value)
    if value is None or isinstance(value, str | bytes | bool | int | float):
        return value
    if isinstance(value, Mapping):
        items = (
            (k, _freeze(v, secret=isinstance(k, str) and is_secret_name(k)))
            for k, v in value.items()
        )
        return ("dict", tuple(sorted(items, key=lambda item: repr(item[0]))))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_freeze(v, secret=False) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(_freeze(v, secret=False) for v in value))
    return OpaqueValue(value)


def _freeze_all(value: Any) -> Any:
    """Freeze a container held under a secret name: every string inside is hashed."""
    if isinstance(value, str | bytes):
        return _digest(value)
    if isinstance(value, Mapping):
        items = ((k, _freeze_all(v)) for k, v in value.items())
        return ("dict", tuple(sorted(items, key=lambda item: repr(item[0]))))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_freeze_all(v) for v in value))
    if isinstance(value, set | frozenset):
        return ("set", frozenset(_freeze_all(v) for v in value))
    return _freeze(value, secret=True)


def freeze_kwargs(kwargs: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Kwargs as a sorted, hashable tuple; secrets become salted digests."""
    return tuple(
        (name, _freeze(kwargs[name], secret=is_secret_name(name))) for name in sorted(kwargs)
    )


class CacheKey(tuple[str, str, tuple[tuple[str, Any], ...]]):
    """One model configuration: ``(provider, model_name, frozen kwargs)``.

    A tuple, so hashing and comparing run in C on every cache hit. Safe to log: its repr never
    holds a secret in plain text.
    """

    __slots__ = ()

    def __new__(
        cls, provider: str, model_name: str, kwargs: tuple[tuple[str, Any], ...] = ()
    ) -> CacheKey:
        return super().__new__(cls, (provider, model_name, kwargs))

    @classmethod
    def build(cls, provider: str, model_name: str, kwargs: Mapping[str, Any]) -> CacheKey:
        return cls(provider, model_name, freeze_kwargs(kwargs) if kwargs else ())

    @property
    def provider(self) -> str:
        return self[0]

    @property
    def model_name(self) -> str:
        return self[1]

    @property
    def kwargs(self) -> tuple[tuple[str, Any], ...]:
        return self[2]

    def __repr__(self) -> str:
        args = "".join(f", {name}={value!r}" for name, value in self.kwargs)
        return f"CacheKey({self.provider}:{self.model_name}{args})"

    def __str__(self) -> str:
        return f"{self.provider}:{self.model_name}"
