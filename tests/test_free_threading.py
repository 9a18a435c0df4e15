"""On a free-threaded CPython, llmcache keeps the GIL off: no module of it (nor anything it
imports to build a model) re-enables it. ``make test-matrix`` runs this on 3.13t, where
``LLMCACHE_EXPECT_FREE_THREADING=1`` turns a skip into a failure."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading

import pytest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

pytestmark = pytest.mark.skipif(
    not FREE_THREADED and not os.environ.get("LLMCACHE_EXPECT_FREE_THREADING"),
    reason="not a free-threaded build",
)

CHECK = """
import sys, threading
import llmcache
cache = llmcache.ModelCache({"p": lambda name, **kw: object()})
model = cache.get("m", "p", temperature=0.2)
assert cache.get("m", "p", temperature=0.2) is model
print(sys._is_gil_enabled())
"""


def test_the_interpreter_is_free_threaded() -> None:
    assert FREE_THREADED, f"{sys.executable} is not a free-threaded build"


def test_gil_stays_off_after_import_and_a_build() -> None:
    """In a child without ``PYTHON_GIL``: an extension lacking free-threading support would
    turn the GIL back on there (``PYTHON_GIL=0`` would hide it)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", CHECK],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False", done.stdout + done.stderr


def test_gil_is_off_in_this_run() -> None:
    import llmcache

    cache = llmcache.ModelCache({"p": lambda name, **kw: object()})
    cache.get("m", "p")
    assert not sys._is_gil_enabled()  # type: ignore[attr-defined]


def test_hits_from_many_threads_are_counted_exactly() -> None:
    """Hits take no lock: with threads really in parallel, none may be lost or double-counted."""
    import llmcache

    cache = llmcache.ModelCache({"p": lambda name, **kw: object()})
    model = cache.get("m", "p", temperature=0.2)
    threads, calls = 8, 20_000
    start = threading.Barrier(threads)
    wrong: list[object] = []

    def hammer() -> None:
        start.wait()
        for _ in range(calls):
            if cache.get("m", "p", temperature=0.2) is not model:
                wrong.append(1)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert wrong == []
    assert cache.stats().hits == threads * calls
