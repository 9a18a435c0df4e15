"""``python -m llmcache.lab``: build the SDK matrix and run the experiments, recording raw JSON.

    python -m llmcache.lab run --profile quick|full [--only NAME ...] --out DIR
    python -m llmcache.lab venvs            # build (or check) the SDK matrix only
    python -m llmcache.lab summary DIR      # print the tables of a results folder

Every result file holds the machine's metadata and every raw run; tables are derived from them
(``llmcache.lab.tables``), never typed in.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol, TextIO

from . import REPO_ROOT, experiments, isolation, matrix, tables
from .probe_runner import ProbeError, run_probe

SIMULATED_NOTE = (
    "model servers are loopback fakes; their answer delay is a SIMULATED model latency "
    "(see simulated_model_latency); everything else is measured"
)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _memory_gib() -> float | None:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def machine_metadata(profile: experiments.Profile) -> dict[str, Any]:
    """Where, when and with what this run was made."""
    from .sdk_under_test import versions

    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "profile": profile.name,
        "profile_settings": {k: v for k, v in vars(profile).items() if k != "name"},
        "isolation": "netns (unshare -n)" if isolation.netns_available() else "socket guard",
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
        "lab_python_versions": versions(),
        "note": SIMULATED_NOTE,
    }


class ProgressView(Protocol):
    """What :func:`run` tells about its measurements as they go."""

    def begin(self, total: int) -> None: ...
    def start(self, what: str) -> None: ...
    def finish(self, what: str, seconds: float, error: str | None = None) -> None: ...


class Progress:
    """A one-line progress bar on a terminal; one line per task elsewhere (CI logs)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.done = 0
        self.started = time.monotonic()
        self.stream = stream
        self.tty = stream.isatty()

    def begin(self, total: int) -> None:
        self.total = total

    def _bar(self) -> str:
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        elapsed = time.monotonic() - self.started
        return f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:5.0f}s"

    def start(self, what: str) -> None:
        if self.tty:
            self.stream.write(f"\r\033[K{self._bar()} {what}")
            self.stream.flush()

    def finish(self, what: str, seconds: float, error: str | None = None) -> None:
        self.done += 1
        status = f"FAILED: {error}" if error else f"{seconds:.1f}s"
        if self.tty:
            self.stream.write(f"\r\033[K{self._bar()} {what} {status}")
            if self.done == self.total or error:
                self.stream.write("\n")
        else:
            self.stream.write(f"{self._bar()} {what} {status}\n")
        self.stream.flush()


def _write(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)  # a reader never sees half a file


def run(
    profile_name: str,
    only: list[str] | None,
    out: Path,
    log: TextIO = sys.stderr,
    *,
    latency: float | None = None,
    concurrency: int | None = None,
    app_auth: list[str] | None = None,
    callers: int | None = None,
    show_summary: bool = True,
    progress: ProgressView | None = None,
) -> int:
    """Run the experiments of a profile into ``out``; 0 when every measurement succeeded.

    ``progress`` shows the measurements as they go (a notebook's bar); by default a line on
    ``log``.
    """
    profile = experiments.PROFILES[profile_name]
    if latency is not None:
        if latency < 0:
            raise ValueError("--latency must be >= 0")
        profile = dataclasses.replace(profile, simulated_model_latency=latency)
    if concurrency is not None:
        if concurrency < 1:
            raise ValueError("--concurrency must be >= 1")
        profile = dataclasses.replace(profile, app_concurrency=concurrency)
    if callers is not None:
        if callers < 1:
            raise ValueError("callers must be >= 1")
        profile = dataclasses.replace(profile, concurrency_callers=callers)
    if app_auth:
        unknown = [a for a in app_auth if a not in experiments.AUTH_ENVS]
        if unknown:
            known = list(experiments.AUTH_ENVS)
            raise ValueError(f"unknown auth environment(s) {unknown}; expected some of {known}")
        profile = dataclasses.replace(profile, app_auth=tuple(app_auth))
    tasks = experiments.plan(profile, only)
    out.mkdir(parents=True, exist_ok=True)
    needed = {t.venv.name: t.venv for t in tasks if t.venv is not None}
    for spec in needed.values():
        matrix.ensure_venv(spec, log=lambda message: print(message, file=log))
    metadata = machine_metadata(profile)
    print(
        f"llmcache lab: profile {profile.name}, {len(tasks)} measurements, "
        f"isolation {metadata['isolation']}, results in {out}",
        file=log,
    )
    files: dict[str, dict[str, Any]] = {}
    for task in tasks:
        files.setdefault(
            task.experiment,
            {"experiment": task.experiment, "complete": False, "metadata": metadata, "runs": []},
        )
    plan_order = {id(task): index for index, task in enumerate(tasks)}
    done: dict[str, list[tuple[int, dict[str, Any]]]] = {name: [] for name in files}
    if progress is None:
        progress = Progress(len(tasks), log)
    else:
        progress.begin(len(tasks))
    lock = threading.Lock()
    failures = 0
    run_started = time.perf_counter()

    def record_done(task: experiments.Task, record: dict[str, Any]) -> None:
        nonlocal failures
        with lock:
            failures += "error" in record
            done[task.experiment].append((plan_order[id(task)], record))
            payload = files[task.experiment]
            payload["runs"] = [r for _, r in sorted(done[task.experiment], key=lambda x: x[0])]
            payload["task_seconds"] = sum(r["wall_seconds"] for r in payload["runs"])
            _write(out / f"{task.experiment}.json", payload)  # nothing lost if interrupted
            error = record.get("error")
            what = f"{task.experiment}: {task.describe()}"
            progress.finish(what, record["wall_seconds"], error.splitlines()[0] if error else None)

    # Measurements whose time is waiting (metadata timeouts, backoff) overlap each other, when
    # the profile allows; everything else runs alone, so CPU timings see a quiet machine.
    waiting = [t for t in tasks if t.waits] if profile.parallel_waits > 1 else []
    waiting.sort(key=lambda t: -t.seconds)  # known long ones first; the others in plan order
    if waiting:
        progress.start(f"{len(waiting)} waiting measurements, {profile.parallel_waits} at a time")
        with concurrent.futures.ThreadPoolExecutor(profile.parallel_waits) as pool:
            futures = {pool.submit(_measure, task, overlapped=True): task for task in waiting}
            for future in concurrent.futures.as_completed(futures):
                record_done(futures[future], future.result())
    overlapped = {id(task) for task in waiting}
    for task in tasks:
        if id(task) in overlapped:
            continue
        progress.start(f"{task.experiment}: {task.describe()}")
        record_done(task, _measure(task))
    for name, payload in files.items():
        payload["complete"] = True
        _write(out / f"{name}.json", payload)
    print(_cost_summary(files, time.perf_counter() - run_started), file=log)
    if show_summary:
        print(file=log)
        print(summary(out, list(files)), file=sys.stdout)
    if failures:
        print(f"{failures} measurement(s) failed; see 'error' in the JSON files", file=log)
    return 1 if failures else 0


def _measure(task: experiments.Task, *, overlapped: bool = False) -> dict[str, Any]:
    """Run one task; its record (result or error, wall seconds)."""
    started = time.perf_counter()
    record: dict[str, Any] = {"labels": task.labels}
    try:
        if task.bench is not None:
            record["result"] = task.bench()
        else:
            assert task.venv is not None
            record["result"] = run_probe(
                task.venv.python, task.config, timeout=task.timeout, env=task.venv.run_env
            )
    except (ProbeError, OSError, ValueError) as exc:
        record["error"] = str(exc)[:4000]
    record["wall_seconds"] = time.perf_counter() - started
    if task.venv is not None:
        record["venv"] = task.venv.name
    if overlapped:
        record["overlapped"] = True  # ran beside other waiting measurements
    return record


def _cost_summary(files: dict[str, dict[str, Any]], wall: float | None = None) -> str:
    """What each experiment cost: measurements and their summed seconds (and the run's wall
    time, when known)."""
    parts = []
    for name, payload in files.items():
        runs = payload["runs"]
        overlapped = sum(1 for r in runs if r.get("overlapped"))
        note = f", {overlapped} overlapped" if overlapped else ""
        seconds = sum(r["wall_seconds"] for r in runs)
        parts.append(f"  {name:12} {len(runs):3} measurements {seconds:7.1f} s{note}")
    if wall is not None:
        parts.append(f"  wall time of the run: {wall:.1f} s")
    return "seconds per experiment (summed over its measurements):\n" + "\n".join(parts)


def summary(out: Path, names: list[str] | None = None) -> str:
    """The derived tables of a results folder, as text."""
    parts = [f"({SIMULATED_NOTE})"]
    for name, make in tables.TABLES.items():
        if names is not None and name not in names:
            continue
        path = out / f"{name}.json"
        if not path.exists():
            continue
        parts.append(f"\n## {name}\n")
        parts.append(tables.format_table(make(tables.load(out, name))))
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmcache.lab",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser("run", help="run experiments and write JSON results")
    run_cmd.add_argument("--profile", choices=sorted(experiments.PROFILES), default="quick")
    run_cmd.add_argument(
        "--only",
        nargs="+",
        choices=list(experiments.EXPERIMENTS),
        metavar="NAME",
        help=f"run only these experiments: {', '.join(experiments.EXPERIMENTS)}",
    )
    run_cmd.add_argument("--out", type=Path, required=True, help="folder for the JSON results")
    run_cmd.add_argument(
        "--latency", type=float, help="simulated model latency of the app scenario, seconds"
    )
    run_cmd.add_argument("--concurrency", type=int, help="concurrent first requests (app)")
    run_cmd.add_argument(
        "--app-auth",
        nargs="+",
        metavar="ENV",
        help="auth environments of the app and app_server experiments: "
        + ", ".join(experiments.AUTH_ENVS),
    )
    commands.add_parser("venvs", help="build the SDK matrix venvs (uv) and list them")
    summary_cmd = commands.add_parser("summary", help="print the tables of a results folder")
    summary_cmd.add_argument("out", type=Path)
    args = parser.parse_args(argv)

    if args.command == "run":
        try:
            return run(
                args.profile,
                args.only,
                args.out,
                latency=args.latency,
                concurrency=args.concurrency,
                app_auth=args.app_auth,
            )
        except ValueError as exc:
            parser.error(str(exc))
    if args.command == "venvs":
        for spec in matrix.ALL_VENVS:
            python = matrix.ensure_venv(spec)
            print(f"{spec.name:22} {spec.label:50} {python}")
        return 0
    if not args.out.is_dir():
        parser.error(f"{args.out} is not a folder of results")
    print(summary(args.out))
    results = {p.stem: json.loads(p.read_text()) for p in sorted(args.out.glob("*.json"))}
    print("\n" + _cost_summary(results))
    return 0
