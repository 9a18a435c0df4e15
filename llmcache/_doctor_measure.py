"""``python -m llmcache._doctor_measure PROVIDER``: the program ``llmcache doctor --measure`` runs.

It runs in a fresh process so that the import and the first construction it times are really
the first in their process. It prints one JSON object: ``import_s``, ``construct_1_s``,
``construct_2_s`` and ``blocking_calls`` (``None`` when blockbuster is not installed). The
model gets a fake key and a closed loopback endpoint; the doctor also points the metadata
server at a closed loopback port, so nothing here reaches the network.
"""

from __future__ import annotations

import asyncio
import json
import sys
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


def blocking_calls(build: Callable[[], Any]) -> list[str] | None:
    """Names of the blocking calls ``build`` makes inside a running loop; None without blockbuster.

    blockbuster raises at the first blocking call; its wrapper is swapped for one that notes the
    call and lets it proceed, so one build lists them all. Its own allow-list is kept.
    """
    try:
        import blockbuster.blockbuster as bb
    except ImportError:
        return None
    seen: list[str] = []

    def wrap(
        modules: Any,
        excluded: Any,
        func: Callable[..., Any],
        name: str,
        can_block: list[tuple[str, Any]],
        predicate: Callable[..., bool],
    ) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return func(*args, **kwargs)
            if predicate(*args, **kwargs):
                return func(*args, **kwargs)
            frame = sys._getframe(1)
            while frame is not None:  # blockbuster's own allow-list
                filename = frame.f_code.co_filename.replace("\\", "/")
                if any(
                    filename.endswith(f) and frame.f_code.co_name in fns for f, fns in can_block
                ):
                    return func(*args, **kwargs)
                frame = frame.f_back  # type: ignore[assignment]
            if name not in seen:
                seen.append(name)
            return func(*args, **kwargs)

        return wrapper

    async def on_loop() -> None:
        buster.activate()  # wraps each function through bb._wrap_blocking, patched here
        try:
            build()
        finally:
            buster.deactivate()

    original = bb._wrap_blocking
    bb._wrap_blocking = wrap  # type: ignore[assignment]  # ours ignores modules
    try:
        buster = bb.BlockBuster()
        asyncio.run(on_loop())
    finally:
        bb._wrap_blocking = original
    return seen


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
    out["blocking_calls"] = blocking_calls(build)
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
