"""Behaviour 9: one INFO line per build, WARNING above the slow threshold."""

from __future__ import annotations

import logging

import pytest
from conftest import CountingFactory

from llmcache import ModelCache


def test_each_build_logs_provider_model_and_seconds_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="llmcache")
    cache = ModelCache({"fake": CountingFactory()})

    cache.get("model-x", "fake")
    cache.get("model-x", "fake")  # a hit logs nothing

    records = [r for r in caplog.records if r.name == "llmcache"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO
    assert "fake" in records[0].getMessage()
    assert "'model-x'" in records[0].getMessage()
    assert records[0].getMessage().rstrip().endswith(" s")


def test_build_slower_than_threshold_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmcache")
    cache = ModelCache({"fake": CountingFactory(delay=0.1)}, slow_threshold=0.05)

    cache.get("m", "fake")

    (record,) = [r for r in caplog.records if r.name == "llmcache"]
    assert record.levelno == logging.WARNING
    assert "slower than 0.05 s" in record.getMessage()


def test_default_slow_threshold_is_two_seconds() -> None:
    assert ModelCache().slow_threshold == 2.0
    with pytest.raises(ValueError, match="slow_threshold"):
        ModelCache(slow_threshold=-1)


def test_failed_build_logs_a_warning_with_the_error_type(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmcache")
    cache = ModelCache({"fake": CountingFactory(fail=KeyError("x"))})

    with pytest.raises(KeyError):
        cache.get("m", "fake")

    (record,) = [r for r in caplog.records if r.name == "llmcache"]
    assert record.levelno == logging.WARNING
    assert "failed" in record.getMessage() and "KeyError" in record.getMessage()


async def test_sync_call_on_a_running_loop_warns_that_it_blocks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="llmcache")
    cache = ModelCache({"fake": CountingFactory()})

    cache.get("m", "fake")

    assert any("blocks a running event loop" in r.getMessage() for r in caplog.records)
