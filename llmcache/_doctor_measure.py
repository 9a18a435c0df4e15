"""``python -m llmcache._doctor_measure PROVIDER``: the program ``llmcache doctor --measure`` runs.

It runs in a fresh process so that the import and the first construction it times are really
the first in their process. It prints one JSON object: ``import_s``, ``construct_1_s``,
``construct_2_s`` and ``blocking_calls`` (``None`` when blockbuster is not installed). The
model gets a fake key and a closed loopback endpoint; the doctor also points the metadata
server at a closed loopback port, so nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

FAKE_KEY = "doctor-fake-key"
CLOSED_ENDPOINT = "http://127.0.0.1:9"


def model_factory(provider: str) -> Callable[[], Any]:
    """Import ``provider``'s chat model and return a constructor pointed at a closed port."""
    from pydantic import SecretStr

    key = SecretStr(FAKE_KEY)
    if provider == "openai":
        from langchain_openai import ChatOpenAI

        return lambda: ChatOpenAI(
            model="gpt-4o-mini", api_key=key, base_url=f"{CLOSED_ENDPOINT}/v1"
        )
    from langchain_google_genai import ChatGoogleGenerativeAI

    return lambda: ChatGoogleGenerativeAI(
        model="gemini-2.0-flash", google_api_key=key, base_url=CLOSED_ENDPOINT
    )


def short_path(filename: str) -> str:
    """A file name relative to site-packages (or its base name): short, and machine-free."""
    marker = "site-packages/"
    return filename.split(marker, 1)[1] if marker in filename else os.path.basename(filename)


def record_blocking_calls(fn: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run ``fn`` on a running loop under blockbuster, recording every blocking call.

    blockbuster raises at the first blocking call; its wrapper is swapped for one that records
    the call (function, first frame outside the stdlib, count) and lets it proceed, so one run
    lists all of them. Its own allow-list (``can_block_functions``) is kept. Needs blockbuster.
    """
    import blockbuster.blockbuster as bb

    seen: dict[tuple[str, str], int] = {}
    stdlib = os.path.dirname(os.__file__)
    original_wrap = bb._wrap_blocking

    def recording_wrap(
        modules: Any,
        excluded_modules: Any,
        func: Callable[..., Any],
        func_name: str,
        can_block_functions: list[tuple[str, Any]],
        can_block_predicate: Callable[..., bool],
    ) -> Callable[..., Any]:
        local = threading.local()

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(local, "busy", False):
                return func(*args, **kwargs)
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return func(*args, **kwargs)
            local.busy = True
            try:
                if can_block_predicate(*args, **kwargs):
                    return func(*args, **kwargs)
                frame = inspect.currentframe()
                frame = frame.f_back if frame else None
                where = None
                while frame is not None:
                    name = frame.f_code.co_filename.replace("\\", "/")
                    if any(
                        name.endswith(f) and frame.f_code.co_name in fns
                        for f, fns in can_block_functions
                    ):
                        return func(*args, **kwargs)
                    if (
                        where is None
                        and not name.startswith((stdlib, "<"))
                        and "/blockbuster/" not in name
                    ):
                        where = f"{short_path(name)}:{frame.f_lineno} {frame.f_code.co_name}"
                    frame = frame.f_back
                key = (func_name, where or "?")
                seen[key] = seen.get(key, 0) + 1
                return func(*args, **kwargs)
            finally:
                local.busy = False

        return wrapper

    bb._wrap_blocking = recording_wrap
    try:
        buster = bb.BlockBuster()

        async def on_loop() -> None:
            buster.activate()  # wraps each function through bb._wrap_blocking
            try:
                fn()
            finally:
                buster.deactivate()

        asyncio.run(on_loop())
    finally:
        bb._wrap_blocking = original_wrap
    return [{"call": k[0], "where": k[1], "count": n} for k, n in sorted(seen.items())]


def measure(provider: str) -> dict[str, Any]:
    """Import, first and second construction times, and the blocking calls of a construction."""
    out: dict[str, Any] = {}
    start = time.perf_counter()
    build = model_factory(provider)
    out["import_s"] = time.perf_counter() - start
    for step in ("construct_1_s", "construct_2_s"):
        start = time.perf_counter()
        build()
        out[step] = time.perf_counter() - start
    try:
        out["blocking_calls"] = record_blocking_calls(build)
    except ImportError:  # blockbuster is optional
        out["blocking_calls"] = None
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("google", "openai"):
        print("usage: python -m llmcache._doctor_measure google|openai", file=sys.stderr)
        return 2
    print(json.dumps(measure(args[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
