"""The providers experiment: its plan covers every provider, design and pattern (quick: one
provider per adapter, llmcache); a real probe answers; its tables and heatmap read the JSON."""

from __future__ import annotations

from typing import Any

import pytest

from llmcache._providers import ADAPTERS, AS_BUILT
from llmcache.lab import experiments, loops, matrix, providers, tables
from llmcache.lab.probe_runner import run_probe


def _plan(profile: str) -> list[experiments.Task]:
    return experiments.plan(experiments.PROFILES[profile], ["providers"])


def test_the_providers_are_the_built_in_ones_and_every_covered_one() -> None:
    assert set(providers.PROVIDERS) == {"google_genai", "openai", *ADAPTERS, *AS_BUILT}
    for provider, (module, _) in providers.MECHANISMS.items():
        if provider in ADAPTERS:
            assert ADAPTERS[provider][0] == module, provider
        if provider in AS_BUILT:
            assert module == "(none)", provider


def test_the_full_plan_is_every_provider_by_every_design_by_every_pattern() -> None:
    tasks = _plan("full")
    assert [t.labels["provider"] for t in tasks] == list(providers.PROVIDERS)
    for task in tasks:
        provider = task.labels["provider"]
        venv = matrix.PROVIDER_VENV_OF.get(provider, providers.VENV)
        assert task.venv is not None and task.venv.name == venv == providers.venv_of(provider)
        assert task.config["mode"] == "providers" and task.config["sdk"] == "providers"
        assert task.config["designs"] == list(loops.DESIGNS)
        assert "patterns" not in task.config  # the probe's default: every pattern
        assert not task.waits or experiments.PROFILES["full"].parallel_waits == 1
    assert providers.DESIGNS == loops.DESIGNS
    assert len(providers.PATTERNS) == 5 and providers.DEV_PATTERN in providers.PATTERNS
    assert set(providers.PATTERNS) == {*providers.FORKED_PATTERNS, providers.DEV_PATTERN}


def test_the_quick_plan_covers_every_adapter_with_llmcache_in_every_pattern() -> None:
    """Every adapter function of the ``providers`` venv; those in a venv of their own are
    measured in every pattern by their own tests (``tests/test_vertexai_every_loop.py``)."""
    tasks = _plan("quick")
    chosen = [t.labels["provider"] for t in tasks]
    assert chosen == list(providers.QUICK_PROVIDERS)
    shared_venv = {p: where for p, where in ADAPTERS.items() if p not in matrix.PROVIDER_VENV_OF}
    assert {ADAPTERS[p] for p in chosen} == set(shared_venv.values())  # every adapter function
    for task in tasks:
        assert task.config["designs"] == ["llmcache"]
        assert "patterns" not in task.config
        assert task.waits  # overlapped with the other waiting measurements in make test


def _packages(spec: matrix.VenvSpec) -> set[str]:
    return {r.split("[")[0].split(">")[0].split("<")[0].split("=")[0] for r in spec.requirements}


def test_the_providers_venv_holds_every_adapted_integration() -> None:
    spec = matrix.spec_named(providers.VENV)
    assert spec in matrix.ALL_VENVS and spec not in matrix.MATRIX
    packages = _packages(spec)
    from llmcache.lab.fake_providers import OWN_VENV_FAKES, PROVIDER_FAKES

    assert {f.package for f in PROVIDER_FAKES.values()} <= packages
    assert {"langchain-google-genai", "langchain-openai"} <= packages
    for provider, fake in OWN_VENV_FAKES.items():  # kept out of the shared venv: it conflicts
        own = matrix.spec_named(matrix.PROVIDER_VENV_OF[provider])
        assert own in matrix.PROVIDER_VENVS and fake.package in _packages(own)
        assert fake.package not in packages


def test_leak_lines_are_the_ones_the_provider_tests_count() -> None:
    stderr = (
        b"INFO fine\n"
        b"sys:1: ResourceWarning: unclosed <socket.socket fd=7>\n"
        b"Unclosed client session\n"
        b"client_session: <aiohttp.client.ClientSession object at 0x7f>\n"
    )
    assert providers._leaks(stderr) == [
        "sys:1: ResourceWarning: unclosed <socket.socket fd=7>",
        "Unclosed client session",
    ]
    assert providers._leaks(b"") == []


# -- a real probe --------------------------------------------------------------------------------


def test_a_short_real_run_of_one_provider_answers() -> None:
    """ollama, llmcache and functools.cache, in sequential loops and the -X dev close pattern:
    llmcache answers every call and closes clean; LangChain's model cached by functools.cache
    fails from its second loop (the positive control)."""
    spec = matrix.spec_named(providers.VENV)
    python = matrix.ensure_venv(spec)
    config = {
        "sdk": spec.sdk,
        "mode": "providers",
        "provider": "ollama",
        "designs": ["functools.cache", "llmcache"],
        "patterns": ["sequential loops", providers.DEV_PATTERN],
        "latency": 0.0,
    }
    result = run_probe(python, config, timeout=240, env=spec.run_env)
    assert result["provider"] == "ollama"
    assert "langchain-ollama" in result["versions"]
    assert result["import"]["seconds"] > 0 and "error" not in result["import"]
    assert set(result["builds"]) == {"construct_1", "construct_2", "construct_llmcache"}
    assert not result.get("netguard_violations")
    data = {"runs": [{"labels": {"provider": "ollama"}, "result": result}]}
    rows = {(r["design"], r["pattern"]): r for r in providers.outcome_table(data)}
    assert set(rows) == {(d, p) for d in config["designs"] for p in config["patterns"]}
    for pattern in config["patterns"]:
        assert rows[("llmcache", pattern)]["errors"] == 0, rows[("llmcache", pattern)]
        assert rows[("llmcache", pattern)]["calls"] > 0
    control = rows[("functools.cache", "sequential loops")]
    assert control["calls"] == 3 and control["errors"] >= 1, control
    dev = next(r for r in result["runs"] if r["pattern"] == providers.DEV_PATTERN)
    assert dev["dev_mode"] is True  # the close pattern really ran under -X dev
    labels = {c["call"] for c in dev["calls"]}
    assert {"close", "close: clean", "aclose", "aclose: clean"} <= labels
    cost = providers.cost_table(data)[0]
    assert cost["first_call_gap_ms llmcache"] is not None


# -- tables and the plot -----------------------------------------------------------------------


def _call(label: str, outcome: str = "ok", **more: Any) -> dict[str, Any]:
    return {"call": label, "outcome": outcome, "seconds": 0.01, **more}


SAMPLE: dict[str, Any] = {
    "runs": [
        {
            "labels": {"provider": "groq"},
            "result": {
                "provider": "groq",
                "versions": {"langchain-groq": "1.1.3", "groq": "0.37.1"},
                "import": {"seconds": 1.5},
                "builds": {
                    "construct_1": {"outcome": "ok", "seconds": 0.2},
                    "construct_2": {"outcome": "ok", "seconds": 0.01},
                    "construct_llmcache": {"outcome": "ok", "seconds": 0.03},
                },
                "runs": [
                    {
                        "design": "functools.cache",
                        "pattern": "sequential loops",
                        "builds": 1,
                        "calls": [
                            _call("loop 1", worst_gap=0.2),
                            _call(
                                "loop 2", "RuntimeError", error="RuntimeError: Event loop is closed"
                            ),
                            _call(
                                "loop 3", "RuntimeError", error="RuntimeError: Event loop is closed"
                            ),
                        ],
                    },
                    {
                        "design": "llmcache",
                        "pattern": "sequential loops",
                        "builds": 1,
                        "calls": [
                            _call("loop 1", worst_gap=0.004),
                            _call("loop 2", worst_gap=0.002),
                            _call("loop 3", worst_gap=0.003),
                        ],
                    },
                    {
                        "design": "llmcache",
                        "pattern": providers.DEV_PATTERN,
                        "builds": None,
                        "calls": [_call("close"), _call("close: clean", leak_lines=0)],
                    },
                ],
            },
        },
        {"labels": {"provider": "ollama"}, "error": "probe timed out after 600 s"},
    ]
}


def test_the_outcome_table_counts_failed_calls_and_names_their_exceptions() -> None:
    rows = providers.outcome_table(SAMPLE)
    by = {(r["provider"], r["design"], r["pattern"]): r for r in rows}
    control = by[("groq", "functools.cache", "sequential loops")]
    assert (control["calls"], control["errors"]) == (3, 2)
    assert control["outcomes"] == "RuntimeError 2"
    assert control["first_error"] == "RuntimeError: Event loop is closed"
    assert by[("groq", "llmcache", "sequential loops")]["errors"] == 0
    assert by[("groq", "llmcache", providers.DEV_PATTERN)]["calls"] == 2
    failed = by[("ollama", "(all)", "(all)")]
    assert failed["calls"] == 0 and "timed out" in failed["outcomes"]
    assert tables.TABLES["providers"] is providers.outcome_table


def test_the_cost_table_gives_imports_builds_and_first_call_gaps() -> None:
    (row,) = providers.cost_table(SAMPLE)
    assert row["provider"] == "groq" and row["import_s"] == 1.5
    assert row["construct_1_ms"] == pytest.approx(200)
    assert row["construct_llmcache_ms"] == pytest.approx(30)
    assert row["first_call_gap_ms functools.cache"] == pytest.approx(200)
    assert row["first_call_gap_ms llmcache"] == pytest.approx(4)
    assert row["later_call_gap_ms llmcache"] == pytest.approx(3)


def test_known_limits_name_a_covered_provider_and_a_pattern() -> None:
    for provider, pattern in providers.KNOWN_LIMITS:
        assert provider in providers.PROVIDERS and pattern in providers.PATTERNS


def test_the_mechanism_table_lists_every_covered_provider() -> None:
    rows = providers.mechanism_table(SAMPLE)
    assert [r["provider"] for r in rows] == list(providers.PROVIDERS)
    groq = next(r for r in rows if r["provider"] == "groq")
    assert groq["measured"] and "langchain-groq 1.1.3" in groq["versions"]
    assert not next(r for r in rows if r["provider"] == "xai")["measured"]


def test_the_heatmap_has_a_panel_per_measured_design() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from llmcache.lab.plots import concurrency as plots

    rows = providers.outcome_table(SAMPLE)
    fig = plots.plot_providers(rows, providers.PROVIDERS, providers.DESIGNS, providers.PATTERNS)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["functools.cache", "llmcache"]
    texts = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {"2/3", "0/3"} <= texts
    plt.close(fig)
