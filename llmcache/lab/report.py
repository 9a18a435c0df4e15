"""Write ``reports/README.md`` (and the README's findings) from a results folder.

``python -m llmcache.lab.report REPORT_DIR [--readme README.md]``: every number comes from the
JSON in ``REPORT_DIR/data`` through :mod:`llmcache.lab.tables`; nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from . import tables

START, END = "<!-- report:start -->", "<!-- report:end -->"
NOTEBOOKS = (
    ("01_cold_start_reproduced", "The cold start, reproduced"),
    ("02_sdk_3x_vs_4x", "langchain-google-genai 3.x against 4.x"),
    ("03_concurrency_and_event_loop", "Concurrency and the event loop"),
)


def _s(value: Any, digits: int = 2) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def headline(data: Path) -> str:
    """The findings table: first request by SDK and auth, the cache designs, SDK costs."""
    auth = {(r["venv"], r["auth_env"]): r for r in tables.auth_table(tables.load(data, "auth"))}
    app = {
        (r["venv"], r["auth_env"], r["design"]): r
        for r in tables.app_table(tables.load(data, "app"))
    }
    sdk = {r["venv"]: r for r in tables.sdk_table(tables.load(data, "sdk"))}
    meta = tables.load(data, "auth")["metadata"]
    lines = [
        f"Measured {meta['date_utc']} on {meta['cpu_model']} ({meta['cpu_count']} CPUs, "
        f"{meta['memory_gib']} GiB), Python {meta['python']}, profile `{meta['profile']}`, "
        f"commit `{meta['git_commit'][:10]}`, isolation {meta['isolation']}. Model servers are "
        "loopback fakes; their answer delay is a **simulated model latency**; everything else is "
        "measured.",
        "",
        *_in_short(auth, app, sdk, meta["profile_settings"]["app_concurrency"]),
        *_hit_cost_sentence(data),
        "",
        "**First request (construction + first `ainvoke`, seconds, simulated latency 0)**",
        "",
        "| auth environment | 3.2.0 (gRPC) | 4.x (REST) | outcome |",
        "|---|---|---|---|",
    ]
    for env in (
        "api-key",
        "adc-blackhole",
        "adc-refuse",
        "adc-slow-valid",
        "adc-blackhole NO_GCE_CHECK=true",
        "adc-blackhole NO_GCE_CHECK=True",
        "adc-blackhole timeout=1 retries=1",
    ):
        old, new = auth.get(("lcgg-3.2.0", env)), auth.get(("lcgg-4.x", env))
        if old is None or new is None:
            continue
        outcome = old["error"] or new["error"] or "answer"
        lines.append(
            f"| {env} | {_s(old['first_request_s'])} | {_s(new['first_request_s'])} | {outcome} |"
        )
    latency = next(iter(app.values()))["simulated_model_latency_s"]
    concurrency = meta["profile_settings"]["app_concurrency"]
    lines += [
        "",
        f"**{concurrency} concurrent first requests, API key, simulated model latency "
        f"{latency:g} s**",
        "",
        "| SDK | design | slowest request (s) | constructions | loop worst gap (s) |",
        "|---|---|---|---|---|",
    ]
    for (venv, env, design), row in app.items():
        if env == "api-key":
            lines.append(
                f"| {venv} | {design} | {_s(row['first_request_max_s'])} | "
                f"{_s(row['constructions'], 0)} | {_s(row['loop_worst_gap_s'], 3)} |"
            )
    lines += [
        "",
        "**SDK costs (fresh process, medians)**",
        "",
        "| configuration | import (s) | 1st build (ms) | next build (ms) | 1st ainvoke (ms) |",
        "|---|---|---|---|---|",
    ]
    for row in sdk.values():
        lines.append(
            f"| {row['configuration']} | {_s(row['import_s'])} | {_s(row['construct_1_ms'], 0)} | "
            f"{_s(row['construct_2_ms'], 1)} | {_s(row['ainvoke_1_ms'], 0)} |"
        )
    return "\n".join(lines)


def _in_short(
    auth: dict[tuple[str, str], Any],
    app: dict[tuple[str, str, str], Any],
    sdk: dict[str, Any],
    concurrency: int,
) -> list[str]:
    """The findings as sentences, every number read from the tables."""
    lines = ["In short:", ""]
    try:
        hole = [auth[(v, "adc-blackhole")]["first_request_s"] for v in ("lcgg-3.2.0", "lcgg-4.x")]
        key = [auth[(v, "api-key")]["first_request_s"] for v in ("lcgg-3.2.0", "lcgg-4.x")]
        true4 = auth[("lcgg-4.x", "adc-blackhole NO_GCE_CHECK=true")]["first_request_s"]
        trap4 = auth[("lcgg-4.x", "adc-blackhole NO_GCE_CHECK=True")]["first_request_s"]
        lines.append(
            f"- The seconds come from Google's Application Default Credentials probing the GCE "
            f"metadata server when no API key is given: with a silent metadata address the first "
            f"request waits {hole[0]:.1f} s (3.x) / {hole[1]:.1f} s (4.x Vertex) and then fails, "
            f"against {key[0]:.2f} s / {key[1]:.2f} s with a key. `NO_GCE_CHECK=true` cuts it to "
            f"{true4:.2f} s; `NO_GCE_CHECK=True` is ignored ({trap4:.1f} s)."
        )
        gap = auth[("lcgg-3.2.0", "adc-blackhole")]["loop_gap_s"]
        lines.append(
            f"- 3.x probes inside the constructor, on the event loop (worst loop gap {gap:.1f} s), "
            "and, when credentials do exist, again at the first `ainvoke`; 4.x probes at the "
            "first call, in a thread."
        )
        cached = app.get(("lcgg-3.2.0", "adc-refuse", "functools.cache"))
        ours = app.get(("lcgg-3.2.0", "adc-refuse", "llmcache"))
        if cached and ours:
            lines.append(
                f"- Without credentials, `functools.cache` and the asyncio.Lock design retry the "
                f"failing 3.x construction for every request ({cached['constructions']:.0f} "
                f"builds, loop frozen {cached['loop_worst_gap_s']:.1f} s); llmcache builds once, "
                f"off the loop (loop gap {ours['loop_worst_gap_s'] * 1e3:.0f} ms)."
            )
        shared = app.get(("lcgg-4.x", "adc-refuse", "llmcache"))
        separate = app.get(("lcgg-4.x", "adc-refuse", "no-cache"))
        if shared and separate:
            lines.append(
                f"- The one case where a shared client is slower: 4.x without credentials, "
                f"{concurrency} concurrent first requests through one shared client (llmcache, "
                f"or any cache) wait for each other's ADC lookups: the slowest takes "
                f"{shared['first_request_max_s']:.1f} s against "
                f"{separate['first_request_max_s']:.1f} s with no cache (a client per request). "
                "All of them fail either way: give the SDK credentials."
            )
        lines.append(
            f"- Building a 4.x model costs {sdk['lcgg-4.x']['construct_1_ms']:.0f} ms "
            f"(3.x: {sdk['lcgg-3.2.0']['construct_1_ms']:.0f} ms); importing it "
            f"{sdk['lcgg-4.x']['import_s']:.2f} s, or "
            f"{sdk['lcgg-4.x-nobytecode']['import_s']:.2f} s without bytecode. "
            "Cache the model and build it off the loop."
        )
    except KeyError as missing:
        lines.append(f"- (a summary needs the measurement {missing}, absent from this run)")
    return lines


def _hit_cost_sentence(data: Path) -> list[str]:
    """What a hit costs with the four kwargs an app passes, and without: read from ``hit_cost``
    (nothing when this run has no such measurement)."""
    if not (data / "hit_cost.json").exists():
        return []
    rows = {r["design"]: r for r in tables.hit_cost_table(tables.load(data, "hit_cost"))}
    try:
        sync, aio = rows["llmcache sync"], rows["llmcache async"]
        us = {k: (r["ns_4_kwargs"] / 1e3, r["ns_no_kwargs"] / 1e3) for k, r in rows.items()}
        sync_base, aio_base = us[sync["baseline"]], us[aio["baseline"]]
    except (KeyError, TypeError):  # a run made before the kwargs case
        return []
    return [
        f"- A cache hit with the four kwargs an app passes (`google_api_key`, `temperature`, "
        f"`max_retries`, `timeout`) costs {us['llmcache sync'][0]:.2f} us through `get_model` "
        f"against {sync_base[0]:.2f} us for `{sync['baseline']}` "
        f"({sync['x_baseline_4_kwargs']:.1f}x), and {us['llmcache async'][0]:.2f} us through "
        f"`await get_model_async` against {aio_base[0]:.2f} us for the {aio['baseline']} design "
        f"({aio['x_baseline_4_kwargs']:.1f}x). Without kwargs: {us['llmcache sync'][1]:.2f} us "
        f"against {sync_base[1]:.2f} us ({sync['x_baseline_no_kwargs']:.1f}x), and "
        f"{us['llmcache async'][1]:.2f} us against {aio_base[1]:.2f} us "
        f"({aio['x_baseline_no_kwargs']:.1f}x)."
    ]


def write_report_readme(report_dir: Path) -> Path:
    data = report_dir / "data"
    meta = tables.load(data, "auth")["metadata"]
    pages = "\n".join(
        f"- [{title}]({name}.html)"
        for name, title in NOTEBOOKS
        if (report_dir / f"{name}.html").exists()
    )
    figures = "\n".join(
        f"- [{p.stem}](figures/{p.name})" for p in sorted((report_dir / "figures").glob("*.png"))
    )
    raw = "\n".join(f"- [{p.name}](data/{p.name})" for p in sorted(data.glob("*.json")))
    text = f"""# llmcache cold-start report

Generated by `make report` from the raw data in `data/` (never edited by hand). Machine:
{meta["hostname"]}, {meta["platform"]}. Date: {meta["date_utc"]}.

## Headline

{headline(data)}

## Pages (no code)

{pages}

## Figures (PNG; SVG beside each)

{figures}

## Raw data

{raw}
"""
    path = report_dir / "README.md"
    path.write_text(text)
    return path


def update_readme(readme: Path, report_dir: Path) -> None:
    """Replace the findings block of the project README with the report's headline."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} lacks the {START} ... {END} markers")
    block = f"{START}\n{headline(report_dir / 'data')}\n{END}"
    readme.write_text(
        re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcache.lab.report", description=__doc__)
    parser.add_argument("report_dir", type=Path)
    parser.add_argument("--readme", type=Path, help="also refresh this README's findings block")
    args = parser.parse_args(argv)
    if not (args.report_dir / "data" / "auth.json").exists():
        parser.error(f"{args.report_dir}/data has no lab results (run the lab first)")
    print(write_report_readme(args.report_dir))
    if args.readme:
        update_readme(args.readme, args.report_dir)
        print(args.readme)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
