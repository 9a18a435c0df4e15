"""The build thread: runs a factory off every event loop, then logs how the build went.

Each build thread knows, in a ``threading.local``, the keys it is building: its own, and those of
the build threads that started it (a factory asking for another model starts that build from
its thread). A request for one of them from that thread can never be answered, whether the
factory asks directly, through ``asyncio.run`` or through ``warm``, so it raises
:class:`~llmcache.ReentrantBuildError` at once. A wait through some other thread (a factory
that hands the request to an executor) is not seen: ``build_timeout`` ends it instead.
Nothing rides on context variables, so a task that copied a build's context is a caller like
any other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ._errors import BuildAbortedError, BuildStartError
from ._flight import Flight
from ._keys import CacheKey, mask_url_credentials

__all__ = ["building", "forget_builds", "log_build", "start_build"]

logger = logging.getLogger("llmcache")

BuildKey = tuple[object, Any]  # (the cache's token, store key)
Finish = Callable[[Flight, Any, "BaseException | None", float, bool], None]


class _Building(threading.local):
    keys: frozenset[BuildKey] = frozenset()  # outside build threads: nothing


_local = _Building()


def building() -> frozenset[BuildKey]:
    """The keys this thread is building (empty outside build threads)."""
    return _local.keys


def forget_builds() -> None:
    """In a forked child: the thread that forked builds nothing there."""
    _local.keys = frozenset()


def start_build(
    flight: Flight, token: object, model_name: str, kwargs: dict[str, Any], finish: Finish
) -> None:
    """Run the flight's factory in a new daemon thread; ``finish`` records the outcome.

    If the thread cannot start, the flight is finished with :class:`BuildStartError`, which is
    also raised here.
    """
    keys = building() | {(token, flight.store_key)}
    thread = threading.Thread(
        target=_build,
        args=(flight, keys, model_name, kwargs, finish),
        name=f"llmcache-build[{flight.key}]",
        daemon=True,
    )
    try:
        thread.start()
    except BaseException as exc:
        # Ctrl-C can land after the thread started (``start`` waits for it to run): then the
        # build goes on, finishes the flight itself, and the interrupt is the caller's.
        if not flight.claim():
            raise
        error = BuildStartError(
            f"could not start the thread that builds {flight.key}: {type(exc).__name__}"
        )
        error.__cause__ = exc
        finish(flight, None, error, 0.0, False)
        if not isinstance(exc, Exception):
            raise  # KeyboardInterrupt, SystemExit: the caller's, as raised
        raise error from exc


def _build(
    flight: Flight,
    keys: frozenset[BuildKey],
    model_name: str,
    kwargs: dict[str, Any],
    finish: Finish,
) -> None:
    if not flight.claim():
        return  # its starter was interrupted before this thread ran, and finished it
    _local.keys = keys
    model: Any = None
    error: BaseException | None = None
    start = time.perf_counter()
    try:
        try:
            model = flight.provider.factory(model_name, **kwargs)
        except BaseException as exc:
            error = deliverable(exc, flight.key)
        else:
            if flight.provider.prepare is not None:
                try:
                    flight.provider.prepare(model)
                except Exception as exc:  # an optimisation only: never fail the build
                    logger.debug("preparing %s failed: %r", flight.key, type(exc).__name__)
    finally:
        finish(flight, model, error, time.perf_counter() - start, True)


def deliverable(exc: BaseException, key: CacheKey) -> BaseException:
    """The error every waiter gets: the factory's own, unless re-raising it would stop a loop
    or break a coroutine (``StopIteration``) in each waiter."""
    if isinstance(exc, Exception) and not isinstance(exc, StopIteration | StopAsyncIteration):
        return exc
    wrapped = BuildAbortedError(f"the factory building {key} raised {type(exc).__name__}")
    wrapped.__cause__ = exc
    return wrapped


def log_build(key: CacheKey, seconds: float, error: BaseException | None, slow: float) -> None:
    """INFO for a build, WARNING for a slow one or a failure (shown with no logging set up)."""
    if error is not None:
        logger.warning(
            "building %s model %r failed after %.3f s: %s",
            key.provider,
            mask_url_credentials(key.model_name),
            seconds,
            type(error).__name__,
        )
        return
    level = logging.WARNING if seconds > slow else logging.INFO
    logger.log(
        level,
        "built %s model %r in %.3f s%s",
        key.provider,
        mask_url_credentials(key.model_name),
        seconds,
        f" (slower than {slow:g} s: warm it at start-up)" if level == logging.WARNING else "",
    )
