"""Suite-wide safety and shared helpers.

Every test runs with the loopback-only socket guard, with Google's metadata server pointed at a
closed loopback port, and without real API keys; a test during which any code tried to reach
another address fails, even if the SDK swallowed the refusal.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from llmcache.lab import netguard

for _name in (
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
):
    os.environ.pop(_name, None)
# Any ADC probe goes to a closed loopback port, never to 169.254.169.254.
os.environ["GCE_METADATA_HOST"] = "127.0.0.1:9"
os.environ["GCE_METADATA_IP"] = "127.0.0.1:9"
os.environ["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1"


def pytest_configure(config: pytest.Config) -> None:
    netguard.install()


@pytest.fixture(autouse=True)
def _no_traffic_outside_loopback() -> Iterator[None]:
    netguard.install()  # again: a plugin may have restored the original socket methods
    assert netguard.installed()
    netguard.take_violations()
    yield
    violations = netguard.take_violations()
    if violations:
        pytest.fail(f"code tried to reach non-loopback addresses: {violations}", pytrace=False)


@pytest.fixture(autouse=True)
def _fresh_default_cache() -> Iterator[None]:
    import llmcache

    llmcache.clear_cache()
    yield
    llmcache.clear_cache()


@pytest.fixture
def fresh_baselines() -> Iterator[None]:
    """The lab's specimen caches empty before and after the test, and no factory left set."""
    from llmcache.lab import baselines

    baselines.reset()
    yield
    baselines.reset()
    baselines.FACTORIES.clear()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll ``condition`` (usually a cache counter) until it holds; fail after ``timeout`` s.

    Tests order threads by what the cache has counted, never by sleeping a guessed time.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}", pytrace=False)
        time.sleep(0.001)


def sync_callers(cache: Any, count: int, *args: Any) -> tuple[list[threading.Thread], list[Any]]:
    """``count`` threads calling ``cache.get(*args)``; each appends its model or its error."""
    outcomes: list[Any] = []

    def call() -> None:
        try:
            outcomes.append(cache.get(*args))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=call, daemon=True) for _ in range(count)]
    for t in threads:
        t.start()
    return threads, outcomes


class CountingFactory:
    """A provider factory that counts its calls, can block, fail, or wait for a gate."""

    def __init__(
        self,
        delay: float = 0.0,
        fail: BaseException | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.delay = delay
        self.fail = fail
        self.gate = gate
        self.calls = 0
        self.threads: list[threading.Thread] = []
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, model_name: str, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
            self.threads.append(threading.current_thread())
        self.started.set()
        if self.gate is not None and not self.gate.wait(timeout=30):
            raise TimeoutError("test gate never opened")
        if self.delay:
            time.sleep(self.delay)  # the blocking constructor under test
        if self.fail is not None:
            raise self.fail
        return FakeModel(model_name, kwargs)


class FakeModel:
    def __init__(self, model_name: str, kwargs: dict[str, Any]) -> None:
        self.model_name = model_name
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"FakeModel({self.model_name!r})"
