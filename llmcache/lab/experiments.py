"""The lab's experiments and profiles: which probes to run, how often, with which settings.

Each experiment expands into tasks; a task is one fresh-process probe (or one in-process bench)
whose raw result is kept whole in the experiment's JSON file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import designs
from ._fake_http import DEFAULT_SIMULATED_MODEL_LATENCY
from .matrix import MATRIX, VenvSpec, spec_named
from .providers import QUICK_PROVIDERS

__all__ = [
    "AUTH_ENVS",
    "DOCKER_DEFAULTS",
    "DOCKER_VENVS",
    "EXPERIMENTS",
    "LANGGRAPH_CASES",
    "PROFILES",
    "SOAK_PLANS",
    "Profile",
    "SoakPlan",
    "Task",
    "plan",
]

DOCKER_DEFAULTS = "docker-defaults"
"""The plan's Docker image as it most likely was, measured only in the no-bytecode venvs
(:data:`DOCKER_VENVS`, ``PYTHONDONTWRITEBYTECODE=1``): no API key, ADC against a metadata
server silent for 2.5 s on every request (a lab setting, under google-auth's 3 s timeout, so
that credentials do arrive)."""

AUTH_ENVS: dict[str, dict[str, Any]] = {
    "api-key": {"auth": "api-key"},
    "adc-blackhole": {"auth": "adc", "metadata": "blackhole"},
    "adc-refuse": {"auth": "adc", "metadata": "refuse"},
    "adc-slow-valid": {"auth": "adc", "metadata": "slow-valid", "metadata_delay": 0.5},
    "adc-blackhole NO_GCE_CHECK=true": {
        "auth": "adc",
        "metadata": "blackhole",
        "env": {"NO_GCE_CHECK": "true"},
    },
    "adc-blackhole NO_GCE_CHECK=True": {
        "auth": "adc",
        "metadata": "blackhole",
        "env": {"NO_GCE_CHECK": "True"},
    },
    "adc-blackhole timeout=1 retries=1": {
        "auth": "adc",
        "metadata": "blackhole",
        "env": {"GCE_METADATA_TIMEOUT": "1", "GCE_METADATA_DETECT_RETRIES": "1"},
    },
    DOCKER_DEFAULTS: {"auth": "adc", "metadata": "slow-valid", "metadata_delay": 2.5},
}
"""The auth environments of the issue. ``adc`` means no API key: 3.x runs
``google.auth.default()``; 4.x is built with ``vertexai=True`` (its ADC path). The slow-valid
metadata server answers each request after 0.5 s (2.5 s in :data:`DOCKER_DEFAULTS`), a lab
setting, not a measured GCE figure."""

WAITING_AUTH_ENVS = frozenset(
    {
        "adc-blackhole",
        "adc-refuse",
        "adc-slow-valid",
        "adc-blackhole NO_GCE_CHECK=True",
        "adc-blackhole timeout=1 retries=1",
    }
)
"""Auth environments whose first request is seconds of metadata timeouts and backoff: their
``auth`` measurements may overlap (:attr:`Task.waits`). The fast ones, whose small figures the
notebooks compare, run alone."""

AUTH_VENVS = ("lcgg-3.2.0", "lcgg-4.x")
DOCKER_VENVS = ("lcgg-3.2.0-nobytecode", "lcgg-4.x-nobytecode")
APP_VENVS = ("lcgg-3.2.0", "lcgg-4.x")
THROUGHPUT_VENVS = ("lcgg-3.2.0", "lcgg-4.x", "lcgg-4.x-httpx", "openai")


@dataclass(frozen=True)
class LangGraphCase:
    """One setting of the agent under ``langgraph dev``: a server venv, an SDK, an auth
    environment of :data:`AUTH_ENVS`."""

    venv: str
    sdk: str
    auth_env: str

    @property
    def has_credentials(self) -> bool:
        """Whether a model can answer at all (a silent metadata server gives none)."""
        return self.auth_env in ("api-key", "adc-slow-valid")


LANGGRAPH_CASES: dict[str, LangGraphCase] = {
    "3.2.0 API key": LangGraphCase("langgraph-3.2.0", "google", "api-key"),
    "4.x API key": LangGraphCase("langgraph-4.x", "google", "api-key"),
    "OpenAI API key": LangGraphCase("langgraph-4.x", "openai", "api-key"),
    "3.2.0 ADC, silent metadata": LangGraphCase("langgraph-3.2.0", "google", "adc-blackhole"),
    "4.x Vertex ADC, silent metadata": LangGraphCase("langgraph-4.x", "google", "adc-blackhole"),
    "3.2.0 ADC, slow-valid metadata": LangGraphCase("langgraph-3.2.0", "google", "adc-slow-valid"),
    "4.x Vertex ADC, slow-valid metadata": LangGraphCase(
        "langgraph-4.x", "google", "adc-slow-valid"
    ),
}
"""The ``langgraph`` experiment's cases, in table order. Without a key, 3.x runs
``google.auth.default()`` and 4.x is built with ``vertexai=True`` (as ``examples/app.py``)."""


@dataclass(frozen=True)
class Profile:
    name: str
    sdk_runs: int
    auth_runs: int
    app_runs: int
    app_concurrency: int
    app_auth: tuple[str, ...]
    throughput_calls: int
    throughput_concurrency: int
    hit_number: int
    simulated_model_latency: float = DEFAULT_SIMULATED_MODEL_LATENCY
    first_call_venvs: tuple[str, ...] = ("lcgg-4.x", "openai")
    """SDK venvs of the ``first_call`` experiment."""
    loops_rounds: int = 1
    """Times each pattern of the ``loops`` experiment runs, per SDK and design."""
    sdk_venvs: tuple[str, ...] | None = None
    """SDK venvs of the ``sdk`` experiment; None: the whole matrix."""
    app_designs: tuple[str, ...] | None = None
    """Designs of the ``app`` and ``app_server`` experiments; None: every design of the
    registry."""
    loops_designs: tuple[str, ...] | None = None
    """Designs of the ``loops`` experiment; None: every one of :data:`loops.DESIGNS`."""
    waiters_repeat: int = 5
    """Runs of each case of the ``waiters`` experiment."""
    concurrency_callers: int = 10
    """Concurrent callers per scenario of the ``concurrency`` experiment (a failing build has
    :data:`llmcache.lab.concurrency.FAILING_CALLERS`, two keys two)."""
    providers: tuple[str, ...] | None = None
    """Providers of the ``providers`` experiment; None: every one of
    :data:`llmcache.lab.providers.PROVIDERS`."""
    providers_designs: tuple[str, ...] | None = None
    """Designs of the ``providers`` experiment; None: every one of :data:`loops.DESIGNS`."""
    langgraph_cases: tuple[str, ...] | None = None
    """Cases of the ``langgraph`` experiment; None: every one of :data:`LANGGRAPH_CASES`."""
    langgraph_designs: tuple[str, ...] | None = None
    """Designs of the ``langgraph`` experiment; None: every design the ``app`` one shows."""
    parallel_waits: int = 1
    """How many measurements marked :attr:`Task.waits` may run at once; 1 runs everything alone
    (the full profile, whose numbers the report publishes)."""


PROFILES = {
    "quick": Profile(
        "quick",
        sdk_runs=1,  # make test: the notebooks' conclusions hold by wide margins; full repeats
        auth_runs=1,
        app_runs=1,
        app_concurrency=3,
        app_auth=("api-key", "adc-refuse"),
        throughput_calls=300,
        throughput_concurrency=50,
        hit_number=50_000,
        first_call_venvs=("lcgg-4.x",),
        # what the notebooks assert and compare; the full profile measures every venv and design
        sdk_venvs=("lcgg-3.2.0", "lcgg-4.x", "lcgg-4.x-nobytecode", "openai"),
        app_designs=("no-cache", "llmcache", "llmcache-warmed"),
        loops_designs=("llmcache",),
        # one provider per adapter, llmcache only: what notebook 03 asserts
        providers=QUICK_PROVIDERS,
        providers_designs=("llmcache",),
        waiters_repeat=3,
        langgraph_cases=("3.2.0 API key", "4.x API key", "3.2.0 ADC, silent metadata"),
        langgraph_designs=("no-cache", "asyncio.Lock", "llmcache", "llmcache-warmed"),
        parallel_waits=4,
    ),
    "full": Profile(
        "full",
        sdk_runs=10,
        auth_runs=3,
        app_runs=3,
        app_concurrency=10,
        app_auth=("api-key", "adc-refuse"),
        throughput_calls=1000,
        throughput_concurrency=50,
        hit_number=200_000,
        loops_rounds=3,
    ),
}


@dataclass(frozen=True)
class Task:
    """One measurement: a probe in ``venv`` with ``config``, or an in-process bench."""

    experiment: str
    labels: dict[str, Any]
    venv: VenvSpec | None = None
    config: dict[str, Any] = field(default_factory=dict)
    timeout: float = 300
    bench: Callable[[], Any] | None = None
    waits: bool = False
    """Its time is mostly waiting (metadata timeouts and backoff, simulated model latency): it may
    overlap other such tasks (see :attr:`Profile.parallel_waits`), so its CPU-bound figures
    (import, construction) are not what it is there to measure."""
    seconds: float = 0.0
    """How long it runs when that is known beforehand (a soak): overlapped measurements start
    longest first, so that a long one does not run alone at the end."""

    def describe(self) -> str:
        return " ".join(str(v) for v in self.labels.values())


def _sdk_tasks(profile: Profile) -> list[Task]:
    return [
        Task(
            "sdk",
            {"venv": spec.name, "label": spec.label, "run": run},
            spec,
            {"sdk": spec.sdk, "mode": "sdk", "auth": "api-key", "latency": 0.0},
            timeout=120,
        )
        for run in range(profile.sdk_runs)
        for spec in MATRIX
        if profile.sdk_venvs is None or spec.name in profile.sdk_venvs
    ]


def _auth_tasks(profile: Profile) -> list[Task]:
    return [
        Task(
            "auth",
            {"venv": venv, "auth_env": auth_env, "run": run},
            spec_named(venv),
            {"sdk": "google", "mode": "auth", "latency": 0.0, **settings},
            timeout=180,
            waits=auth_env in WAITING_AUTH_ENVS,
        )
        for run in range(profile.auth_runs)
        for auth_env, settings in AUTH_ENVS.items()
        for venv in (DOCKER_VENVS if auth_env == DOCKER_DEFAULTS else AUTH_VENVS)
    ]


def _app_tasks(profile: Profile) -> list[Task]:
    tasks = []
    for run in range(profile.app_runs):
        for venv in APP_VENVS:
            for auth_env in profile.app_auth:
                for design in profile.app_designs or designs.names(designs.APP):
                    if auth_env != "api-key" and run > 0:
                        continue  # seconds of metadata probes per request: one run shows it
                    config = {
                        "sdk": "google",
                        "mode": "app",
                        "design": design,
                        "concurrency": profile.app_concurrency,
                        "latency": profile.simulated_model_latency,
                        **AUTH_ENVS[auth_env],
                    }
                    labels = {"venv": venv, "auth_env": auth_env, "design": design, "run": run}
                    # seconds of simulated model latency or metadata retries: mostly waiting
                    tasks.append(
                        Task("app", labels, spec_named(venv), config, timeout=600, waits=True)
                    )
    return tasks


def _throughput_tasks(profile: Profile) -> list[Task]:
    tasks = []
    for venv in THROUGHPUT_VENVS:
        spec = spec_named(venv)
        config = {
            "sdk": spec.sdk,
            "mode": "throughput",
            "auth": "api-key",
            "latency": 0.0,
            "calls": profile.throughput_calls,
            "concurrency": profile.throughput_concurrency,
        }
        tasks.append(Task("throughput", {"venv": venv, "label": spec.label}, spec, config))
    # Each fake's own capacity, raw client and no SDK, in the same run: the SDK rows' ceiling.
    from .fake_capacity import FAKES

    for fake, (venv, sdk, client) in FAKES.items():
        config = {
            "sdk": sdk,
            "mode": "capacity",
            "latency": 0.0,
            "calls": profile.throughput_calls * 4,  # a raw client is faster: a similar duration
            "concurrency": profile.throughput_concurrency,
        }
        labels = {"venv": venv, "label": f"raw {client} client -> {fake} fake", "fake": fake}
        tasks.append(Task("throughput", labels, spec_named(venv), config))
    return tasks


def _hit_cost_tasks(profile: Profile) -> list[Task]:
    from .hitcost import measure_hit_costs

    return [
        Task(
            "hit_cost",
            {"number": profile.hit_number},
            bench=lambda: measure_hit_costs(number=profile.hit_number, repeat=9),
        )
    ]


def _waiters_tasks(profile: Profile) -> list[Task]:
    from .waiters import TASKS, measure_waiters

    return [
        Task(
            "waiters",
            {"tasks": TASKS},
            bench=lambda: measure_waiters(repeat=profile.waiters_repeat),
        )
    ]


def _concurrency_tasks(profile: Profile) -> list[Task]:
    """Notebook 03's scenarios in this process, one after the other in fresh event loops: each
    records a loop's worst gap, so it runs alone (not overlapped)."""
    from .concurrency import measure_concurrency

    return [
        Task(
            "concurrency",
            {"callers": profile.concurrency_callers},
            timeout=600,
            bench=lambda: measure_concurrency(callers=profile.concurrency_callers),
        )
    ]


def _loops_tasks(profile: Profile) -> list[Task]:
    from . import loops

    return [
        Task(
            "loops",
            {"venv": venv},
            spec_named(venv),
            {
                "sdk": spec_named(venv).sdk,
                "mode": "loops",
                "latency": 0.0,
                "rounds": profile.loops_rounds,
                "designs": list(profile.loops_designs or loops.DESIGNS),
            },
            timeout=900,
            # it records each call's outcome, not its time (a call that hangs waits out its
            # timeout): it may overlap other waiting measurements
            waits=True,
        )
        for venv in loops.VENVS
    ]


def _providers_tasks(profile: Profile) -> list[Task]:
    """One fresh probe per provider in its venv (``providers``, every covered integration, or
    one of its own: :func:`llmcache.lab.providers.venv_of`)."""
    from . import loops, providers

    return [
        Task(
            "providers",
            {"provider": provider},
            spec_named(providers.venv_of(provider)),
            {
                "sdk": "providers",
                "mode": "providers",
                "provider": provider,
                "latency": 0.0,
                "designs": list(profile.providers_designs or loops.DESIGNS),
            },
            timeout=600,
            # as loops: it records each call's outcome; its import and build times are
            # published from the full profile, which runs it alone
            waits=True,
        )
        for provider in profile.providers or providers.PROVIDERS
    ]


def _first_call_tasks(profile: Profile) -> list[Task]:
    runs = 5  # median of 5 per-process ratios: one process hit by the load cannot decide it
    plans = [(run, False) for run in range(runs)] + [(0, True)]  # attribution runs last
    tasks = []
    for run, attribute in plans:
        for venv in profile.first_call_venvs:
            spec = spec_named(venv)
            for prepare in (False, True):  # interleaved: load on the machine hits both alike
                config = {
                    "sdk": spec.sdk,
                    "mode": "first_call",
                    "auth": "api-key",
                    "latency": 0.0,
                    "prepare": prepare,
                    "attribute": attribute,
                }
                labels = {"venv": venv, "prepare": prepare, "attribute": attribute, "run": run}
                tasks.append(Task("first_call", labels, spec, config, timeout=120))
    return tasks


@dataclass(frozen=True)
class AppServerPlan:
    """Which ``app_server`` runs a profile makes (it gives runs, clients, auth environments)."""

    workers: tuple[int, ...] = (1, 2)
    multi_worker_designs: tuple[str, ...] | None = None
    """Designs also run with more than one worker; None: every design."""
    adc_workers: tuple[int, ...] = (1, 2)
    """Worker counts without an API key (every request waits seconds of metadata probes)."""
    adc_designs: tuple[str, ...] | None = None
    """Designs run without an API key; None: every design."""

    def wants(self, design: str, workers: int, adc: bool) -> bool:
        if workers not in (self.adc_workers if adc else self.workers):
            return False
        several = self.multi_worker_designs
        if workers > 1 and several is not None and design not in several:
            return False
        return not (adc and self.adc_designs is not None and design not in self.adc_designs)


APP_SERVER_PLANS = {
    "quick": AppServerPlan(
        multi_worker_designs=("llmcache-warmed",),
        adc_workers=(1,),
        adc_designs=("no-cache", "llmcache-warmed"),
    ),
    "full": AppServerPlan(adc_workers=(1,)),
}


def _app_server_tasks(profile: Profile) -> list[Task]:
    """The ``app_server`` runs: design x workers x auth environment (``profile.app_auth``)."""
    from .app_server import run_isolated

    plan = APP_SERVER_PLANS.get(profile.name, AppServerPlan())
    found = []
    for run in range(profile.app_runs):
        for auth_env in profile.app_auth:
            adc = auth_env != "api-key"
            if adc and run > 0:
                continue  # seconds of metadata probes per request: one run shows it
            for workers in sorted({*plan.workers, *plan.adc_workers}):
                for design in profile.app_designs or designs.names(designs.APP):
                    if not plan.wants(design, workers, adc):
                        continue
                    config = {
                        "design": design,
                        "workers": workers,
                        "clients": profile.app_concurrency,
                        "latency": 0.0,
                        **AUTH_ENVS[auth_env],
                    }
                    labels = {"auth_env": auth_env, "workers": workers, "design": design}
                    found.append(
                        Task(
                            "app_server",
                            {**labels, "run": run},
                            config=config,
                            bench=functools.partial(run_isolated, config),
                            # without a key every request waits out metadata backoff
                            waits=adc,
                        )
                    )
    return found


def _langgraph_tasks(profile: Profile) -> list[Task]:
    """One server life per case and design: the agent under ``langgraph dev``."""
    tasks = []
    for case_name in profile.langgraph_cases or tuple(LANGGRAPH_CASES):
        case = LANGGRAPH_CASES[case_name]
        for design in profile.langgraph_designs or designs.names(designs.APP):
            config = {
                "sdk": case.sdk,
                "mode": "langgraph",
                "design": design,
                "latency": 0.0,
                **AUTH_ENVS[case.auth_env],
            }
            labels = {"case": case_name, "design": design, "credentials": case.has_credentials}
            # What a server life measures is BlockingErrors and answers; its seconds (polling
            # runs, metadata timeouts) need no quiet machine: it may overlap other waits.
            tasks.append(Task("langgraph", labels, spec_named(case.venv), config, 300, waits=True))
    return tasks


@dataclass(frozen=True)
class SoakPlan:
    """What a profile's ``soak`` runs (see :mod:`llmcache.lab.soak`): one probe per provider,
    every design of :data:`designs.SOAK` side by side in it, for ``seconds``."""

    seconds: float
    providers: tuple[str, ...]
    clients: int
    """HTTP clients per design, half ``/ask``, half ``/stream``."""
    rate: float
    """Requests per second of each client."""
    interval: float
    """Seconds between samples."""
    designs: tuple[str, ...] | None = None
    """Designs soaked; None: every one of :data:`designs.SOAK`."""


SOAK_PLANS = {
    # make test: about a minute with the servers' start and stop, overlapping other waits; the
    # design the notebook asserts on (two servers, not eight, on a machine busy with the rest)
    "quick": SoakPlan(50, ("google", "openai"), 2, 4.0, 2.0, designs=("llmcache",)),
    # 10 minutes per provider, alone on the machine: a few thousand rotations per design
    "full": SoakPlan(600, ("google", "openai"), clients=4, rate=4.0, interval=5.0),
}


def _soak_tasks(profile: Profile) -> list[Task]:
    """One soak per provider, its designs side by side (they count fds, bytes and failures per
    rotation, not seconds): it may overlap other waiting measurements."""
    from .soak import run_isolated

    plan = SOAK_PLANS.get(profile.name, SOAK_PLANS["quick"])
    tasks = []
    for provider in plan.providers:
        config = {
            "sdk": provider,
            "designs": list(plan.designs or designs.names(designs.SOAK)),
            "seconds": plan.seconds,
            "clients": plan.clients,
            "rate": plan.rate,
            "interval": plan.interval,
        }
        tasks.append(
            Task(
                "soak",
                {"provider": provider},
                config=config,
                bench=functools.partial(run_isolated, config),
                waits=True,
                seconds=plan.seconds,
            )
        )
    return tasks


EXPERIMENTS: dict[str, Callable[[Profile], list[Task]]] = {
    "hit_cost": _hit_cost_tasks,
    "waiters": _waiters_tasks,
    "concurrency": _concurrency_tasks,
    "sdk": _sdk_tasks,
    "auth": _auth_tasks,
    "app": _app_tasks,
    "app_server": _app_server_tasks,
    "throughput": _throughput_tasks,
    "first_call": _first_call_tasks,
    "loops": _loops_tasks,
    "providers": _providers_tasks,
    "langgraph": _langgraph_tasks,
    "soak": _soak_tasks,
}


def plan(profile: Profile, only: list[str] | None = None) -> list[Task]:
    """Every task of ``profile`` (restricted to the experiments in ``only``)."""
    names = only or list(EXPERIMENTS)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"unknown experiment(s) {unknown}; expected some of {list(EXPERIMENTS)}")
    return [task for name in names for task in EXPERIMENTS[name](profile)]
