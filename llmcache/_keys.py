"""Cache keys: provider + model + every kwarg, frozen by value, with secrets reduced to hashes.

The key is what the cache compares and what it may print, so:

- equal configurations give equal keys and different ones different keys: values are tagged by
  type (``True``, ``1`` and ``1.0`` differ), NaN equals NaN, and mappings, sequences, sets,
  dataclasses and pydantic models compare by value; objects with no value semantics (a callback
  handler, an HTTP client) compare by identity, and the key holds them so an id is never reused;
- it is safe to show: secrets (values under names such as ``api_key``, ``auth`` or
  ``default_headers``, or the second item of a pair such as ``("Authorization", ...)``) become
  a keyed hash whose salt is random per process, a URL's userinfo and secret query values are
  masked, and arbitrary objects show only their type.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import os
import re
from collections.abc import Mapping, Set
from typing import Any

__all__ = ["CacheKey", "freeze_kwargs", "is_secret_name", "mask_url_credentials"]

_SALT = os.urandom(16)
# Names whose values are credentials: API keys, tokens, passwords, HTTP auth and headers.
_SECRET_NAME_PARTS = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "auth",
    "header",
    "cookie",
)
_MAX_DEPTH = 32
# Userinfo runs to the last "@" before the path: a password may hold an unescaped "@".
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]*@")
# A query parameter, whose value is masked when its name marks a credential (``?key=...``).
_QUERY_PARAM = re.compile(r"(?P<name>[?&;][^=&#;\s]*=)[^&#;\s'\"]*")
# Scalars shown as they are; any other object shows only its type.
_SHOWN_SCALARS = (bool, int, float, complex)


def is_secret_name(name: str) -> bool:
    """Whether a kwarg's name marks its value as a secret (``google_api_key``, ``auth``...)."""
    lowered = name.lower()
    return any(part in lowered for part in _SECRET_NAME_PARTS)


def mask_url_credentials(text: str) -> str:
    """``https://user:pw@host/?key=k`` -> ``https://***@host/?key=***``: a URL's userinfo and
    its query values under secret names (``key``, ``access_token``...) are credentials."""
    masked = _USERINFO.sub(r"\g<scheme>***@", text)
    return _QUERY_PARAM.sub(_mask_query_value, masked) if "=" in masked else masked


def _mask_query_value(param: re.Match[str]) -> str:
    name = param["name"]
    return f"{name}***" if is_secret_name(name[1:-1]) else param[0]


def _names_a_secret(value: Any) -> bool:
    """Whether ``value`` is a name (str or bytes) that marks what goes with it as a secret."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return isinstance(value, str) and is_secret_name(value)


class _Tag:
    """A marker that opens a frozen container, so a frozen list never equals a frozen dict."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_LIST = _Tag("list")
_TUPLE = _Tag("tuple")
_DICT = _Tag("dict")
_SET = _Tag("set")
_RECORD = _Tag("record")
_SCALAR = _Tag("scalar")
_NAN = _Tag("nan")


@dataclasses.dataclass(frozen=True, slots=True)
class SecretDigest:
    """A secret as the key holds it: a salted HMAC of its type and bytes, never reversible."""

    digest: str

    def __repr__(self) -> str:
        return f"<secret {self.digest[:12]}>"


class _Identity:
    """A value with no value semantics: equal only to itself, shown only by its type."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)

    def __repr__(self) -> str:
        return f"<{type(self.value).__qualname__} object>"


def _digest(secret: str | bytes) -> SecretDigest:
    kind, data = (b"s", secret.encode()) if isinstance(secret, str) else (b"b", bytes(secret))
    return SecretDigest(hmac.new(_SALT, kind + data, hashlib.sha256).hexdigest())


def _secret_text(value: Any) -> str | bytes | None:
    """The plain text of a secret-like value (``SecretStr``, ``SecretBytes``), else None."""
    get_secret = getattr(value, "get_secret_value", None)
    if callable(get_secret):
        plain = get_secret()
        if isinstance(plain, str | bytes):
            return plain
    return None


def _record_fields(value: Any) -> dict[str, Any] | None:
    """Fields of a dataclass instance or pydantic model (compared by value), else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.compare}
    model_fields = getattr(type(value), "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(value, "model_dump"):
        return {name: getattr(value, name, None) for name in model_fields}
    return None


def _freeze(value: Any, secret: bool, depth: int = 0) -> Any:
    if value is None or type(value) is str:
        return _digest(value) if secret and value is not None else value
    if isinstance(value, str | bytes | bytearray):
        data = bytes(value) if isinstance(value, bytearray) else value
        return _digest(data) if secret else (_SCALAR, type(value), data)
    if depth > _MAX_DEPTH:
        return _Identity(value)
    plain = _secret_text(value)
    if plain is not None:
        return _digest(plain)
    if isinstance(value, float) and math.isnan(value):
        return (_SCALAR, type(value), _NAN)
    if isinstance(value, Mapping):
        return (
            _DICT,
            frozenset(
                (
                    _freeze(k, secret, depth + 1),
                    _freeze(v, secret or (isinstance(k, str) and is_secret_name(k)), depth + 1),
                )
                for k, v in value.items()
            ),
        )
    if isinstance(value, list | tuple):
        tag = _LIST if isinstance(value, list) else _TUPLE
        if len(value) == 2 and _names_a_secret(value[0]):
            # A (name, value) pair, such as a header: as secret as its name says.
            pair = (_freeze(value[0], secret, depth + 1), _freeze(value[1], True, depth + 1))
            return (tag, type(value), pair)
        return (tag, type(value), tuple(_freeze(v, secret, depth + 1) for v in value))
    if isinstance(value, Set):
        return (_SET, frozenset(_freeze(v, secret, depth + 1) for v in value))
    fields = _record_fields(value)
    if fields is not None:
        frozen = tuple(
            (name, _freeze(v, secret or is_secret_name(name), depth + 1))
            for name, v in fields.items()
        )
        return (_RECORD, type(value), frozen)
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    return (_SCALAR, type(value), value)


def freeze_kwargs(kwargs: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Kwargs as a sorted, hashable tuple compared by value; secrets become salted digests."""
    return tuple((name, _freeze(kwargs[name], is_secret_name(name))) for name in sorted(kwargs))


def _show(frozen: Any) -> str:
    """The repr of a frozen value: never a secret, a URL's userinfo, or an object's repr."""
    if isinstance(frozen, str):
        return repr(mask_url_credentials(frozen))
    if not isinstance(frozen, tuple) or not frozen or not isinstance(frozen[0], _Tag):
        return repr(frozen)  # None, SecretDigest, _Identity
    tag = frozen[0]
    if tag is _SCALAR:
        _, kind, value = frozen
        if value is _NAN:
            return "nan"
        if isinstance(value, str):
            return repr(mask_url_credentials(value))
        if isinstance(value, bytes):
            return mask_url_credentials(repr(value))
        if isinstance(value, _SHOWN_SCALARS):
            return repr(value)
        return f"<{kind.__qualname__} object>"
    if tag is _LIST or tag is _TUPLE:
        items = ", ".join(_show(v) for v in frozen[2])
        return f"[{items}]" if tag is _LIST else f"({items}{',' if len(frozen[2]) == 1 else ''})"
    if tag is _DICT:
        pairs = sorted(f"{_show(k)}: {_show(v)}" for k, v in frozen[1])
        return "{" + ", ".join(pairs) + "}"
    if tag is _SET:
        return "{" + ", ".join(sorted(_show(v) for v in frozen[1])) + "}"
    _, kind, fields = frozen  # _RECORD
    return f"{kind.__qualname__}(" + ", ".join(f"{n}={_show(v)}" for n, v in fields) + ")"


class CacheKey(tuple[str, str, tuple[tuple[str, Any], ...]]):
    """One model configuration: ``(provider, model_name, frozen kwargs)``.

    A tuple, so hashing and comparing run in C. Safe to log: its repr never holds a secret in
    plain text.
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
        args = "".join(f", {name}={_show(value)}" for name, value in self.kwargs)
        return f"CacheKey({self.provider}:{mask_url_credentials(self.model_name)}{args})"

    def __str__(self) -> str:
        return f"{self.provider}:{mask_url_credentials(self.model_name)}"
