"""Run a coroutine in a fresh event loop on its own thread.

Scenarios want a fresh loop, as a fresh app has; a notebook kernel already runs one in its main
thread, where ``asyncio.run`` is refused. A thread of its own works in both places.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_fresh(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` in a new thread; return its result or raise its exception."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, name="lab-fresh-loop")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: T = box["result"]
    return result
