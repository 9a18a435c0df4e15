"""Cache keys: provider + model + every kwarg, compared by value and type, shown masked.

A key holds the values themselves, so building one is cheap enough to do on every hit:

- equal configurations give equal keys and different ones different keys: every value is tagged
  with its type (``True``, ``1`` and ``1.0`` are three configurations), NaN equals NaN, and
  mappings, sequences, sets, dataclasses and pydantic models compare by value; objects with no
  value semantics (a callback handler, an HTTP client) compare by identity, and the key holds
  them so an id is never reused;
- it is safe to show: wherever a key is printed (repr, logs, thread names, errors, stats),
  values under secret names (``api_key``, ``auth``, ``default_headers``...), the second item of
  a pair such as ``("Authorization", ...)``, a URL's userinfo and secret query values are masked,
  and arbitrary objects show only their type. The model holds the key in memory anyway; what
  must never show it is everything the cache prints.

A key is ``((provider, model_name, names), values, types)``: the kwarg names sorted, and the
values and their types in that order. Plain values (str, int, float, bool, None, bytes,
complex) are kept as they are; any other value is replaced by a frozen, hashable form and its
type slot by :data:`FROZEN`, so a raw non-plain value never equals a frozen one.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Set
from typing import Any

__all__ = [
    "FROZEN",
    "PLAIN_TYPES",
    "CacheKey",
    "canonical_values",
    "is_secret_name",
    "mask_url_credentials",
]

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
MASK = "***"

PLAIN_TYPES = frozenset({str, int, float, bool, type(None), bytes, complex})
"""Types whose values a key holds as they are: ``==`` within one of them is value equality."""


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
    """A marker private to keys: no value a caller passes can equal one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


FROZEN = _Tag("frozen")
"""The type slot of a value the key holds in frozen form."""
_LIST = _Tag("list")
_TUPLE = _Tag("tuple")
_DICT = _Tag("dict")
_SET = _Tag("set")
_RECORD = _Tag("record")
_SCALAR = _Tag("scalar")
_NAN = _Tag("nan")


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


class _Secret:
    """A secret's text (from a ``SecretStr``): equal to, and hashed as, the text itself, so it
    is the same configuration, but shown masked under any name."""

    __slots__ = ("text",)

    def __init__(self, text: str | bytes) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Secret):
            return type(other.text) is type(self.text) and other.text == self.text
        return type(other) is type(self.text) and other == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return MASK


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
        # As pydantic's own ``==``: the fields, then extra fields and private attributes.
        fields = {name: getattr(value, name, None) for name in model_fields}
        for extra in ("__pydantic_extra__", "__pydantic_private__"):
            more = getattr(value, extra, None)
            if isinstance(more, dict):
                fields.update((f"{extra}.{name}", v) for name, v in more.items())
        return fields
    return None


def _freeze(value: Any, depth: int = 0) -> Any:
    """A hashable form of ``value`` that compares by value and type."""
    kind = type(value)
    if kind in PLAIN_TYPES:
        if kind is float and math.isnan(value):
            return (_SCALAR, float, _NAN)
        return (_SCALAR, kind, value)
    if depth > _MAX_DEPTH:
        return _Identity(value)
    plain = _secret_text(value)
    if plain is not None:
        return (_SCALAR, type(plain), _Secret(plain))
    if isinstance(value, Mapping):
        items = frozenset((_freeze(k, depth + 1), _freeze(v, depth + 1)) for k, v in value.items())
        return (_DICT, items)
    if isinstance(value, list | tuple):
        tag = _LIST if isinstance(value, list) else _TUPLE
        return (tag, kind, tuple(_freeze(v, depth + 1) for v in value))
    if isinstance(value, Set):
        return (_SET, frozenset(_freeze(v, depth + 1) for v in value))
    fields = _record_fields(value)
    if fields is not None:
        return (_RECORD, kind, tuple((n, _freeze(v, depth + 1)) for n, v in fields.items()))
    if isinstance(value, float) and math.isnan(value):
        return (_SCALAR, kind, _NAN)
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    return (_SCALAR, kind, value)


def canonical_values(
    kwargs: Mapping[str, Any], names: tuple[str, ...]
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """``(values, types)`` of ``kwargs`` in the order of ``names``, as a key holds them."""
    values: list[Any] = []
    types: list[Any] = []
    for name in names:
        value = kwargs[name]
        kind = type(value)
        if kind in PLAIN_TYPES and not (kind is float and math.isnan(value)):
            values.append(value)
            types.append(kind)
            continue
        plain = _secret_text(value)
        if plain is not None:  # a SecretStr is its text: the same configuration, kept masked
            values.append(_Secret(plain))
            types.append(type(plain))
            continue
        values.append(_freeze(value))
        types.append(FROZEN)
    return tuple(values), tuple(types)


def _show_plain(value: Any) -> str:
    if isinstance(value, _Secret):
        return MASK
    if isinstance(value, str):
        return repr(mask_url_credentials(value))
    if isinstance(value, bytes):
        return mask_url_credentials(repr(value))
    if value is None or isinstance(value, bool | int | float | complex):
        return repr(value)
    return f"<{type(value).__qualname__} object>"


def _show(frozen: Any, secret: bool) -> str:
    """The text of a frozen value: never a secret, a URL's userinfo, or an object's repr."""
    if isinstance(frozen, _Identity):
        return MASK if secret else repr(frozen)
    tag = frozen[0]
    if tag is _SCALAR:
        if secret:
            return MASK
        return "nan" if frozen[2] is _NAN else _show_plain(frozen[2])
    if tag is _LIST or tag is _TUPLE:
        items = frozen[2]
        if len(items) == 2 and items[0][0] is _SCALAR and _names_a_secret(items[0][2]):
            # A (name, value) pair, such as a header: as secret as its name says.
            shown = [_show(items[0], secret), _show(items[1], True)]
        else:
            shown = [_show(v, secret) for v in items]
        text = ", ".join(shown)
        return f"[{text}]" if tag is _LIST else f"({text}{',' if len(items) == 1 else ''})"
    if tag is _DICT:
        pairs = []
        for k, v in frozen[1]:
            named_secret = k[0] is _SCALAR and _names_a_secret(k[2])
            pairs.append(f"{_show(k, secret)}: {_show(v, secret or named_secret)}")
        return "{" + ", ".join(sorted(pairs)) + "}"
    if tag is _SET:
        return "{" + ", ".join(sorted(_show(v, secret) for v in frozen[1])) + "}"
    _, kind, fields = frozen  # _RECORD
    fields_shown = (f"{n}={_show(v, secret or is_secret_name(n))}" for n, v in fields)
    return f"{kind.__qualname__}(" + ", ".join(fields_shown) + ")"


def show_value(name: str, value: Any, kind: Any) -> str:
    """How a key shows one kwarg's value."""
    secret = is_secret_name(name)
    if kind is FROZEN:
        return _show(value, secret)
    return MASK if secret else _show_plain(value)


class CacheKey(tuple[tuple[str, str, tuple[str, ...]], tuple[Any, ...], tuple[Any, ...]]):
    """One model configuration: ``((provider, model_name, names), values, types)``.

    A tuple, so hashing and comparing run in C, and equal to the plain tuple a hit builds.
    Safe to log: its repr and str never show a secret.
    """

    __slots__ = ()

    @classmethod
    def build(cls, provider: str, model_name: str, kwargs: Mapping[str, Any]) -> CacheKey:
        names = tuple(sorted(kwargs))
        values, types = canonical_values(kwargs, names)
        return cls(((provider, model_name, names), values, types))

    @property
    def provider(self) -> str:
        return self[0][0]

    @property
    def model_name(self) -> str:
        return self[0][1]

    @property
    def names(self) -> tuple[str, ...]:
        """The kwarg names, sorted."""
        return self[0][2]

    @property
    def kwargs(self) -> dict[str, str]:
        """Each kwarg as the key shows it (secrets masked)."""
        return {
            name: show_value(name, value, kind)
            for name, value, kind in zip(self[0][2], self[1], self[2], strict=True)
        }

    def __repr__(self) -> str:
        args = "".join(f", {name}={shown}" for name, shown in self.kwargs.items())
        return f"CacheKey({self}{args})"

    def __str__(self) -> str:
        return f"{self.provider}:{mask_url_credentials(self.model_name)}"
