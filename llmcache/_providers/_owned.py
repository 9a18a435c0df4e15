"""What an adapter made for one model, closed with it: the one record every provider shares.

An adapter gives a model clients of llmcache's own: loop-local async httpx clients (from
:func:`~llmcache._loops.loop_local_async_client`) and, where the SDK would otherwise make one per
model that nobody closes, a sync client or transport. :func:`own` records them for the model;

- when the model is garbage, its sync clients are closed (the loop-local ones close themselves
  then, each pool on its own loop: see :mod:`llmcache._loops`), so a provider with this record
  is ``closed_when_collected``;
- :func:`close_owned` and :func:`aclose_owned` are the provider's ``close``/``aclose`` hooks.

Models are pydantic objects (unhashable, and closed to new attributes), so the record is keyed
by ``id(model)`` and removed by a finalizer on the model: an id cannot be reused while its
entry exists. In a forked child nothing is closed (it could write on the parent's sockets).
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .._loops import is_loop_local_client

__all__ = ["Owned", "aclose_owned", "close_owned", "own", "owned"]


@dataclass(slots=True)
class Owned:
    """One model's clients of llmcache's own."""

    loop_local: list[Any] = field(default_factory=list)
    """Loop-local async clients: ``close_from_any_thread()``, ``await aclose()``."""
    sync: list[Callable[[], Any]] = field(default_factory=list)
    """Closers of sync clients or transports (``client.close``)."""


_lock = threading.Lock()
_records: dict[int, Owned] = {}


def _reset_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a parent thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def own(
    model: object, *, loop_local: Iterable[Any] = (), sync: Iterable[Callable[[], Any]] = ()
) -> Owned:
    """Record clients made for ``model``; its sync ones are closed when it is garbage."""
    record = Owned(
        [client for client in loop_local if is_loop_local_client(client)],
        list(sync),
    )
    for client in record.loop_local:
        client.close_with(model)  # the model dies by refcount, its SDK client often in a cycle
    key = id(model)
    with _lock:
        _records[key] = record
    weakref.finalize(model, _collected, key, record, os.getpid())
    return record


def owned(model: object) -> Owned | None:
    """The record of ``model``, if an adapter made one."""
    return _records.get(id(model))


def _collected(key: int, record: Owned, pid: int) -> None:
    with _lock:
        if _records.get(key) is record:
            del _records[key]
    if os.getpid() == pid:
        _close_sync(record)


def _take(model: object) -> Owned | None:
    with _lock:
        return _records.pop(id(model), None)


def _close_sync(record: Owned) -> None:
    closers, record.sync = record.sync, []
    for close in closers:
        with contextlib.suppress(Exception):
            close()


def close_owned(model: Any) -> None:
    """The ``close`` hook: every client the adapter made, each loop's pool on its own loop."""
    record = _take(model)
    if record is None:
        return
    for client in record.loop_local:
        client.close_from_any_thread()
    _close_sync(record)


async def aclose_owned(model: Any) -> None:
    """The ``aclose`` hook: as :func:`close_owned`, awaited on the caller's loop."""
    record = _take(model)
    if record is None:
        return
    for client in record.loop_local:
        await client.aclose()
    _close_sync(record)
