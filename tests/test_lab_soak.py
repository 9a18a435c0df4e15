"""The soak experiment: its plan, what it reads from /proc and the server's log, its slopes, and a
short real run of the example app under uvicorn against the loopback fakes."""

from __future__ import annotations

import gc
import json
import os
import socket
from typing import Any

import pytest

from llmcache.lab import designs, experiments, measure, soak, tables
from llmcache.lab.isolation import netns_available
from llmcache.lab.sdk_under_test import FAKE_GOOGLE_KEY, FAKE_OPENAI_KEY
from llmcache.lab.soak_worker import Instruments

# -- the plan ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "soaked"),
    [("quick", ["llmcache"]), ("full", list(designs.names(designs.SOAK)))],
)
def test_each_profile_soaks_its_designs_side_by_side_for_each_provider(
    profile: str, soaked: list[str]
) -> None:
    planned = experiments.plan(experiments.PROFILES[profile], ["soak"])

    # quick: the design the notebook asserts on; full: every design of the soak
    assert [t.labels["provider"] for t in planned] == ["google", "openai"]
    for task in planned:
        assert task.config["designs"] == soaked
        assert task.waits and task.bench is not None and task.seconds == task.config["seconds"]
    assert set(designs.names(designs.SOAK)) == {
        "no-cache",
        "functools.cache",
        "asyncio.Lock",
        "llmcache",
    }


def test_quick_soaks_under_a_minute_and_full_ten_minutes_per_provider() -> None:
    assert experiments.SOAK_PLANS["quick"].seconds <= 55
    assert experiments.SOAK_PLANS["full"].seconds == 600


# -- /proc ---------------------------------------------------------------------------------------


def test_sampling_counts_this_process_fds_sockets_connections_to_a_port_and_rss() -> None:
    before = soak.sample_process(os.getpid(), upstream_port=1)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = server.accept()
            with accepted:
                during = soak.sample_process(os.getpid(), upstream_port=port)

    assert during["fds"] - before["fds"] == 3  # listening, client, accepted
    assert during["sockets"] - before["sockets"] == 3
    assert during["upstream"] == 1 and before["upstream"] == 0  # only the client connects to it
    assert during["upstream_close_wait"] == 0
    assert during["rss_kib"] > 1024


def test_proc_texts_parse() -> None:
    table = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
        "  timeout inode\n"
        "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0"
        "        0 4242 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:C350 0100007F:1F90 08 00000000:00000000 00:00000000 00000000     0"
        "        0 4343 1 0000000000000000 20 4 30 10 -1\n"
    )

    assert soak.tcp_sockets(table) == [
        {"local_port": 8080, "remote_port": 0, "state": 10, "inode": 4242},
        {"local_port": 50000, "remote_port": 8080, "state": 8, "inode": 4343},
    ]
    assert soak.rss_kib("Name:\tpython\nVmRSS:\t  123456 kB\nVmSwap:\t0 kB\n") == 123456
    assert soak.socket_inodes(["socket:[4242]", "/dev/null", "pipe:[7]", "socket:[1]"]) == {
        4242,
        1,
    }


# -- the server's log ------------------------------------------------------------------------------


def test_unclosed_and_resource_warning_lines_are_counted_by_kind_and_hints_are_not() -> None:
    lines = {
        "Unclosed client session": "Unclosed client session",
        "client_session: <aiohttp.client.ClientSession object at 0x7f>": None,
        "/x/sslproto.py:120: ResourceWarning: unclosed transport <_SSLProtocolTransport fd=9>": (
            "ResourceWarning: unclosed transport <_SSLProtocolTransport ...>"
        ),
        "/x/socket.py:7: ResourceWarning: unclosed <socket.socket fd=12, family=2>": (
            "ResourceWarning: unclosed <socket.socket ...>"
        ),
        "ResourceWarning: Enable tracemalloc to get the object allocation traceback": None,
        "Unclosed connector": "Unclosed connector",
        "INFO: started": None,
    }

    assert {line: soak.warning_kind(line) for line in lines} == lines


def test_fake_keys_and_tenant_keys_are_masked() -> None:
    text = f"key {FAKE_GOOGLE_KEY}-tenant-11 and {FAKE_OPENAI_KEY} end"

    assert soak.mask(text) == "key <fake key> and <fake key> end"


def test_a_chunked_body_is_complete_only_with_its_last_chunk() -> None:
    assert measure._dechunk(b"2\r\nok\r\n0\r\n\r\n") == (b"ok", True)
    assert measure._dechunk(b"2\r\nok\r\n") == (b"ok", False)
    assert measure._dechunk(b"5\r\nok") == (b"ok", False)


# -- slopes and the table --------------------------------------------------------------------


def test_the_least_squares_slope() -> None:
    assert soak.fit_slope([0, 1, 2, 3], [5, 7, 9, 11]) == pytest.approx(2.0)
    assert soak.fit_slope([0, 1, 2, 3], [1, 0, 1, 0]) == pytest.approx(-0.2)
    assert soak.fit_slope([1, 2], [1, 2]) is None  # too few points
    assert soak.fit_slope([4, 4, 4], [1, 2, 3]) is None  # no spread


def test_the_flat_band_is_the_tolerance_or_the_noise_over_the_rotations_fitted() -> None:
    assert soak.tolerance(20, 8, 4000) == 20  # a long run: the tolerance
    assert soak.tolerance(20, 8, 100) == 80  # a short one: 8 fds over 100 rotations
    assert soak.tolerance(20, 8, soak.MIN_ROTATIONS - 1) is None  # no per-rotation slope


def _samples(fds: Any, rss_kib: Any, rotations: Any, seconds: int = 50) -> list[dict[str, Any]]:
    found = [
        {
            "t": float(t),
            "fds": fds(t),
            "sockets": fds(t) - 4,
            "upstream": fds(t) - 8,
            "rss_kib": rss_kib(t),
            "rotations": rotations(t),
            "app": {"models": {"live": 4, "closed": rotations(t) - 4}, "sessions": {"open": 4}},
        }
        for t in range(0, seconds + 1, 2)
    ]
    return [*found, {**found[-1], "final": True}]


def _result(**designs_samples: list[dict[str, Any]]) -> dict[str, Any]:
    settings = {"seconds": 50.0, "warmup": 0.2}
    found = {
        name.replace("_", "-"): {
            "samples": samples,
            "answered": {"ask": 10, "stream": 9},
            "failed": {"stream": 1} if name == "leaky" else {},
            "errors": {"ConnectionError: cut": 1} if name == "leaky" else {},
            "latency": {"mean_s": 0.01, "max_s": 0.1},
            "warnings": {"total": 3, "at_shutdown": 1, "kinds": {}},
        }
        for name, samples in designs_samples.items()
    }
    return {"settings": settings, "soak_seconds": 50.0, "designs": found}


def test_the_table_fits_after_warm_up_per_1000_rotations_and_judges_against_the_band() -> None:
    result = _result(
        # one socket and 2 MiB per rotation, 10 rotations a second
        leaky=_samples(lambda t: 20 + 10 * t, lambda t: 100_000 + 20_480 * t, lambda t: 10 * t),
        # flat, 10 rotations a second; a spike during warm-up is left out
        flat=_samples(lambda t: 50 if t < 10 else 20 + t % 4, lambda t: 100_000, lambda t: 10 * t),
        # builds once per tenant, then never again
        settled=_samples(lambda t: 20, lambda t: 100_000 + t, lambda t: min(t, 12)),
    )
    data = {
        "runs": [
            {"labels": {"provider": "google"}, "result": result},
            {"labels": {"provider": "openai"}, "error": "probe timed out"},
        ]
    }
    rows = {(r["provider"], r["design"]): r for r in tables.TABLES["soak"](data)}

    leaky = rows[("google", "leaky")]
    assert leaky["fds_per_1k_rotations"] == pytest.approx(1000)
    assert leaky["upstream_per_1k_rotations"] == pytest.approx(1000)
    assert leaky["rss_mib_per_1k_rotations"] == pytest.approx(2000)
    assert leaky["fds_per_min"] == pytest.approx(600)
    assert leaky["rotations"] == 500 and leaky["rotations_fitted"] == 400
    assert leaky["fds_flat"] is False and leaky["rss_flat"] is False
    assert (leaky["answered"], leaky["failed"], leaky["error"]) == (19, 1, "ConnectionError: cut")
    assert leaky["unclosed_warnings"] == 3 and leaky["unclosed_at_shutdown"] == 1
    flat = rows[("google", "flat")]
    assert abs(flat["fds_per_1k_rotations"]) < flat["fds_band_per_1k"] == 20
    assert flat["fds_flat"] is True and flat["rss_flat"] is True
    assert flat["fds_start"] < 30  # the first sample after warm-up
    settled = rows[("google", "settled")]
    assert settled["fds_per_1k_rotations"] is None and settled["fds_flat"] is None
    assert settled["rss_mib_per_min"] == pytest.approx(60 / 1024)
    assert rows[("openai", "(all)")]["error"] == "probe timed out"


def test_the_plot_shows_each_design_and_states_llmcache_slopes_in_its_title() -> None:
    import matplotlib

    matplotlib.use("Agg")
    result = _result(
        no_cache=_samples(lambda t: 20, lambda t: 100_000, lambda t: 10 * t),
        llmcache=_samples(lambda t: 20 + 10 * t, lambda t: 100_000, lambda t: 10 * t),
    )
    figure = soak.plot_soak({"runs": [{"labels": {"provider": "google"}, "result": result}]})

    title = figure._suptitle.get_text()
    assert title.endswith("per 1,000 rotations after warm-up: google +1000 fds, +0 MiB (flat)")
    fds_axis = figure.axes[0]
    assert [t.get_text().split(":")[0] for t in fds_axis.get_legend().get_texts()] == [
        "no-cache",
        "llmcache",
    ]


# -- inside the app --------------------------------------------------------------------------


class _Model:
    """Unhashable, as LangChain's pydantic models are."""

    __hash__ = None  # type: ignore[assignment]


class _Session:
    def __init__(self) -> None:
        self.closed = False


def test_instruments_attribute_sessions_to_the_model_of_the_request_and_count_closes() -> None:
    found = Instruments()
    first, second = _Model(), _Model()
    assert found.saw(first) == 1
    kept = _Session()
    found.opened(kept)  # opened while serving with the first model
    assert found.saw(second) == 2 and found.saw(first) == 1
    gone = _Session()
    found.opened(gone)  # attributed to the first model again
    found.saw(second)
    closed = _Session()
    found.opened(closed)
    found.closed(closed)

    report = found.report()
    assert report["models"] == {"seen": 2, "live": 2, "with_sessions": 2, "closed": 1}
    assert report["sessions"]["opened"] == 3 and report["sessions"]["open"] == 2
    del gone, second
    gc.collect()
    kept.closed = True  # closed some other way: read at the report

    report = found.report()
    assert report["sessions"]["collected_unclosed"] == 1 and report["sessions"]["closed"] == 2
    assert report["models"]["live"] == 1 and report["models"]["seen"] == 2


# -- a short real run ------------------------------------------------------------------------------


def test_a_short_soak_serves_both_kinds_of_request_through_uvicorn_and_samples_the_server() -> None:
    result = soak.run_isolated(
        {"sdk": "google", "designs": ["no-cache", "llmcache"], "seconds": 4, "interval": 1}
    )

    assert result["isolation"] == ("netns" if netns_available() else "guard")
    assert set(result["designs"]) == {"no-cache", "llmcache"}
    for design, found in result["designs"].items():
        assert found["answered"]["ask"] > 3 and found["answered"]["stream"] > 3, design
        assert found["failed"] == {}, (design, found["errors"])
        samples = found["samples"]
        assert len(samples) >= 5 and samples[-1].get("final")
        assert all(s["fds"] > s["sockets"] > 0 and s["rss_kib"] > 10_000 for s in samples)
        assert samples[-1]["rotations"] >= 2  # at least two tenants got a model each
        assert samples[-1]["app"]["models"]["with_sessions"] >= 1
        assert samples[-1]["upstream"] >= 0
        assert found["exit_code"] == 0 and found["netguard_violations"] == []
    assert result["designs"]["llmcache"]["samples"][-1]["app"]["cache"]["constructions"] >= 2
    assert result["designs"]["no-cache"]["samples"][-1]["app"]["cache"] is None
    text = json.dumps(result)
    assert FAKE_GOOGLE_KEY not in text and FAKE_OPENAI_KEY not in text


def test_the_app_answers_with_openai_when_told() -> None:
    result = soak.run_isolated({"sdk": "openai", "designs": ["llmcache"], "seconds": 2})

    found = result["designs"]["llmcache"]
    assert found["answered"]["ask"] > 1 and found["answered"]["stream"] > 1
    assert found["failed"] == {}, found["errors"]
    assert found["samples"][-1]["app"]["sessions"]["by_class"]  # httpx clients, counted
