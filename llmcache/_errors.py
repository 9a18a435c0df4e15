"""llmcache's own errors, so callers can catch them apart from the SDKs' (which pass unchanged).

Each also derives from the builtin that older code caught (``ValueError``, ``RuntimeError``,
``TimeoutError``, ``ImportError``), so ``except ValueError`` around ``get_model`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "BuildAbortedError",
    "BuildStartError",
    "BuildTimeoutError",
    "CacheError",
    "ProviderNotInstalledError",
    "ReentrantBuildError",
    "UnknownProviderError",
]


class CacheError(Exception):
    """Base class of every error llmcache raises itself."""


class UnknownProviderError(CacheError, ValueError):
    """No provider of that name is registered (or none can be inferred from the model name)."""


class ProviderNotInstalledError(CacheError, ImportError):
    """The provider is known, but the package that implements it is not installed."""


class ReentrantBuildError(CacheError, RuntimeError):
    """A factory asked, from its build thread (directly, through ``asyncio.run``, ``warm`` or
    the builds it started), for the model it is building: waiting would never end."""


class BuildTimeoutError(CacheError, TimeoutError):
    """A waiter gave up after ``build_timeout`` seconds; the build itself goes on. Also the end
    of a wait that could never finish (a factory waiting, through another thread, on its own
    model): the message names the key."""


class BuildAbortedError(CacheError):
    """A factory raised something that must not be re-raised in every waiter.

    ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` and ``StopIteration`` from a
    factory would stop an event loop or break a coroutine in each waiter; they arrive wrapped
    in this error instead, with the original as ``__cause__``.
    """


class BuildStartError(CacheError, RuntimeError):
    """The cache could not start the thread that builds a model (a process limit, or the
    interpreter shutting down)."""
