"""The example FastAPI app under uvicorn, against the loopback Gemini fake, timed over HTTP."""

from __future__ import annotations

from llmcache.lab import app_server, experiments, tables
from llmcache.lab.isolation import netns_available


def test_uvicorn_serves_the_warmed_example_app_and_each_worker_reports_its_loop_gap() -> None:
    result = app_server.run_isolated(
        {"design": "llmcache-warmed", "workers": 1, "clients": 2, "latency": 0.0, "auth": "api-key"}
    )

    assert result["isolation"] == ("netns" if netns_available() else "guard")
    assert [q.get("status") for q in result["requests"]] == [200, 200], result["requests"]
    assert [q["answer"] for q in result["requests"]] == ["ok", "ok"]  # the fake's reply, via 4.x
    assert all(0 < q["seconds"] < q["since_launch"] for q in result["requests"])
    assert 0 < result["accept_seconds"] < min(q["since_launch"] for q in result["requests"])
    [worker] = result["workers"]
    assert worker["requests"] == 2
    assert str(worker["pid"]) == result["requests"][0]["worker"]
    assert worker["serving_worst_gap"] > 0 and worker["startup_worst_gap"] > 0
    # warmed in the lifespan: one build before the port opened, none for the requests
    assert worker["startup_constructions"] == 1 and worker["constructions"] == 1
    assert worker.get("netguard_violations", []) == []
    assert result.get("netguard_violations", []) == []
    live = result["worker_live"]  # GET /lab/worker, before shutdown
    assert live["pid"] == worker["pid"] and live["serving_worst_gap_so_far"] > 0

    data = {
        "runs": [{"labels": {"auth_env": "api-key", "workers": 1, "design": "x"}, "result": result}]
    }
    [row] = tables.app_server_table(data)
    assert row["failed_requests"] == 0 and row["constructions_serving"] == 0
    assert row["loop_worst_gap_s"] == worker["serving_worst_gap"]


def test_quick_profile_runs_both_worker_counts_and_fewer_designs_without_a_key() -> None:
    planned = experiments.plan(experiments.PROFILES["quick"], ["app_server"])
    labels = [t.labels for t in planned]

    assert {(x["workers"]) for x in labels if x["auth_env"] == "api-key"} == {1, 2}
    # the designs the notebook's claims compare (the full profile runs every design)
    assert {x["design"] for x in labels if x["auth_env"] == "api-key"} == {
        "llmcache-warmed",
        "llmcache",
        "no-cache",
    }
    assert {x["design"] for x in labels if x["auth_env"] == "adc-refuse"} == {
        "no-cache",
        "llmcache-warmed",
    }


def test_the_baselines_build_counter_passes_the_constructor_kwargs(fresh_baselines: None) -> None:
    """The designs pass a tenant's key and settings to the constructor: the counter wrapped
    around each baseline factory must hand them on (it dropped them, and every no-cache,
    functools.cache and asyncio.Lock request of the app failed with a TypeError)."""
    from llmcache.lab import baselines
    from llmcache.lab.app_server import _Constructions

    baselines.FACTORIES["lab"] = lambda model_name, **kwargs: (model_name, kwargs)
    counted = _Constructions()
    assert baselines.FACTORIES["lab"]("m", google_api_key="k") == ("m", {"google_api_key": "k"})
    assert counted.baselines == 1
