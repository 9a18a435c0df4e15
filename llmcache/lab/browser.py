"""The notebooks as a reader runs them: JupyterLab in headless Chromium, Run All, then checks.

``python -m llmcache.lab.browser`` (``make browser-test``) starts JupyterLab on a free loopback
port with a token of its own and the repo's ``jupyter_config/``, on a copy of ``notebooks/``
under ``--out`` (so Run All and autosave never touch the committed notebooks), and drives
Debian's Chromium through Playwright (no browser download). For each notebook it opens it,
clears the outputs and runs all cells from the Run menu, waits until every code cell has an
execution count and the kernel is idle, saves, then checks:

- no error: no output of type ``error`` in the notebook's model (a cell that raised), and no
  stderr box whose text holds a Python traceback (an exception printed and swallowed); other
  stderr boxes are listed, not failed;
- every figure rendered: each ``img`` of an image output has loaded with a natural width, and
  their number equals the ``image/png`` outputs of the saved copy and of the committed notebook;
- Run All reproduces the committed outputs: each code cell's text outputs (streams,
  ``text/plain``, ``text/html``) in the saved copy equal the committed notebook's, object
  addresses and the random ids of pandas' styled tables aside;
- Chromium asked nothing outside loopback.

Screenshots of the whole notebook, one viewport at a time, land in ``--out``. JupyterLab and its
kernels are shut down at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import REPO_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

NOTEBOOKS = REPO_ROOT / "notebooks"
LOOPBACK = "127.0.0.1"

# Chromium talks to loopback only: no background services, and every host name but 127.0.0.1
# resolves to nothing, every other address goes to a proxy port where nothing listens.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--metrics-recording-only",
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {LOOPBACK}",
    f"--proxy-server=http://{LOOPBACK}:9",
    f"--proxy-bypass-list={LOOPBACK}",
]

# Every cell in the DOM (JupyterLab otherwise leaves cells out of sight unrendered), and no
# autosave racing the explicit save after Run All.
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

# The open notebook, read from JupyterLab's own model (window.jupyterapp, exposed by
# --LabApp.expose_app_in_browser): where Run All stands, and each output's type.
_STATE_JS = """(path) => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.context || panel.context.path !== path || !panel.content.model) {
    return null;
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  const model = panel.content.model;
  for (let i = 0; i < model.cells.length; i++) {
    const cell = model.cells.get(i);
    if (cell.type !== "code") continue;
    const outputs = [];
    for (let j = 0; j < cell.outputs.length; j++) {
      const out = cell.outputs.get(j).toJSON();
      outputs.push({type: out.output_type, ename: out.ename || null, evalue: out.evalue || null});
    }
    cells.push({index: i, count: cell.executionCount, state: cell.executionState || null,
                empty: cell.sharedModel.getSource().trim() === "", outputs: outputs});
  }
  const pending = Array.from(panel.node.querySelectorAll(".jp-InputPrompt"))
    .filter((p) => p.textContent.includes("*")).length;
  return {kernel: kernel ? kernel.status : null, ready: panel.sessionContext.isReady,
          dirty: panel.context.model.dirty, pending: pending, cells: cells};
}"""

_OPENED_JS = f"""(path) => {{
  const s = ({_STATE_JS})(path);
  return !!s && s.ready && s.kernel === "idle";
}}"""

_SAVED_JS = f"""(path) => {{
  const s = ({_STATE_JS})(path);
  return !!s && !s.dirty;
}}"""

_RUN_DONE_JS = f"""(path) => {{
  const s = ({_STATE_JS})(path);
  if (!s || s.kernel !== "idle" || s.pending) return false;
  const raised = s.cells.some((c) => c.outputs.some((o) => o.type === "error"));
  return raised || s.cells.every((c) => (c.count !== null || c.empty) && c.state !== "running");
}}"""

_CLEARED_JS = f"""(path) => {{
  const s = ({_STATE_JS})(path);
  return !!s && s.cells.every((c) => c.count === null && c.outputs.length === 0);
}}"""

# Image outputs as rendered, once each has finished decoding (or failed to).
_IMAGES_JS = """async () => {
  const panel = window.jupyterapp.shell.currentWidget;
  const imgs = Array.from(panel.node.querySelectorAll(".jp-OutputArea-output img"));
  await Promise.all(imgs.map((img) => img.decode().catch(() => null)));
  const cells = panel.content.widgets;
  return imgs.map((img) => ({
    cell: cells.findIndex((c) => c.node.contains(img)), complete: img.complete,
    width: img.naturalWidth, height: img.naturalHeight}));
}"""

_STDERR_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets;
  const sel = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]';
  return Array.from(panel.node.querySelectorAll(sel)).map((box) => ({
    cell: cells.findIndex((c) => c.node.contains(box)), text: box.innerText}));
}"""

TRACEBACK = "Traceback (most recent call last)"

# What differs between two runs on the same data and is no finding: object addresses in reprs,
# and the random id pandas' Styler gives each table's CSS.
SANITIZE = [
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0xADDRESS"),
    (re.compile(r"(?<![\w])T_[0-9a-f]{5}(?![0-9a-f])"), "T_UUID"),
]


@dataclass
class Outcome:
    """What one notebook's run showed: failures fail the run, notes are only printed."""

    name: str
    cells: int = 0
    figures: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    """A loopback port nothing listens on now (JupyterLab binds it right after)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _log(message: str) -> None:
    print(f"browser: {message}", flush=True)


@dataclass
class Lab:
    """A running JupyterLab: where to reach it, and its process (a session of its own)."""

    url: str
    token: str
    process: subprocess.Popen[bytes]


@contextmanager
def jupyterlab(root: Path, state: Path, timeout: float) -> Iterator[Lab]:
    """JupyterLab serving ``root``, shut down with its kernels when the block ends."""
    port, token = free_port(), secrets.token_hex(16)
    for name, settings in USER_SETTINGS.items():
        path = state / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    args = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ip={LOOPBACK}",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={state / 'user-settings'}",
        f"--LabApp.workspaces_dir={state / 'workspaces'}",
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(REPO_ROOT / "jupyter_config"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
    )
    log = (state / "jupyterlab.log").open("wb")
    process = subprocess.Popen(
        args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_for_server(url, token, process, timeout)
        _log(f"JupyterLab {url} (pid {process.pid}, log {state / 'jupyterlab.log'})")
        yield Lab(url, token, process)
    finally:
        _shut_down(url, token, process)
        log.close()


def _wait_for_server(
    url: str, token: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    """Until the server answers its status API (or fails to start)."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"{url}/api/status", headers={"Authorization": f"token {token}"}
    )
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"JupyterLab did not answer {url} within {timeout:.0f} s")
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)  # returns early only if the server died


def _shut_down(url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    """Ask the server to stop (it shuts its kernels down), then end its session's processes."""
    if process.poll() is None:
        request = urllib.request.Request(
            f"{url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=10).close()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(ProcessLookupError):  # what its kernels left in its session
        os.killpg(process.pid, signal.SIGKILL)
    _log(f"JupyterLab stopped (exit {process.returncode})")


def text_outputs(cell: dict[str, Any]) -> list[str]:
    """A code cell's outputs as text: streams, and each result's text/plain and text/html."""
    texts = []
    for out in cell.get("outputs", []):
        kind = out["output_type"]
        if kind == "stream":
            texts.append(f"[{out['name']}]\n{_join(out['text'])}")
        elif kind in ("execute_result", "display_data"):
            for mime in ("text/plain", "text/html"):
                if mime in out.get("data", {}):
                    texts.append(f"[{mime}]\n{_join(out['data'][mime])}")
        elif kind == "error":
            texts.append(f"[error]\n{out['ename']}: {out['evalue']}")
    return texts


def _join(text: str | list[str]) -> str:
    joined = text if isinstance(text, str) else "".join(text)
    for pattern, replacement in SANITIZE:
        joined = pattern.sub(replacement, joined)
    return joined


def png_outputs(notebook: dict[str, Any]) -> int:
    """How many image/png outputs a notebook holds."""
    return sum(
        "image/png" in out.get("data", {})
        for cell in notebook["cells"]
        for out in cell.get("outputs", [])
    )


def compare_outputs(committed: dict[str, Any], ran: dict[str, Any]) -> list[str]:
    """Each code cell whose text outputs differ: its index and the first differing line."""
    diffs = []
    if len(committed["cells"]) != len(ran["cells"]):
        return [f"{len(ran['cells'])} cells after Run All, {len(committed['cells'])} committed"]
    for index, (old, new) in enumerate(zip(committed["cells"], ran["cells"], strict=True)):
        if old["cell_type"] != "code":
            continue
        old_lines = [line for text in text_outputs(old) for line in text.splitlines()]
        new_lines = [line for text in text_outputs(new) for line in text.splitlines()]
        if old_lines == new_lines:
            continue
        line = next(
            (n for n, (a, b) in enumerate(zip(old_lines, new_lines, strict=False)) if a != b),
            min(len(old_lines), len(new_lines)),
        )
        committed_line = old_lines[line] if line < len(old_lines) else "<no more output>"
        ran_line = new_lines[line] if line < len(new_lines) else "<no more output>"
        diffs.append(
            f"cell {index}, output line {line + 1}: committed {_clip(committed_line)!r}, "
            f"Run All {_clip(ran_line)!r}"
        )
    return diffs


def _clip(line: str, width: int = 120) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."


def run_notebook(page: Page, lab: Lab, name: str, out: Path, timeout_s: float) -> Outcome:
    """Open ``name``, clear it, Run All from the Run menu, save, check, and screenshot it."""
    outcome = Outcome(name)
    started = time.monotonic()
    stem = Path(name).stem
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")  # no earlier tabs
    page.wait_for_function(
        _OPENED_JS,
        arg=name,
        timeout=120_000,
    )
    _log(f"{name}: opened, kernel idle")
    page.screenshot(path=out / f"{stem}-opened.png")

    _menu(page, "Edit", "editmenu:clear-all")
    page.wait_for_function(_CLEARED_JS, arg=name, timeout=30_000)
    _menu(page, "Run", "runmenu:run-all")
    _log(f"{name}: Run All")
    page.wait_for_function(_RUN_DONE_JS, arg=name, timeout=timeout_s * 1000, polling=500)
    _log(f"{name}: kernel idle after {time.monotonic() - started:.0f} s")
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function(_SAVED_JS, arg=name)
    state = page.evaluate(_STATE_JS, name)

    outcome.cells = len(state["cells"])
    raised = set()
    for cell in state["cells"]:
        if cell["count"] is None and not cell["empty"]:
            outcome.failures.append(f"cell {cell['index']} did not run")
        for output in cell["outputs"]:
            if output["type"] == "error":
                raised.add(cell["index"])
                evalue = _clip(output["evalue"] or "")
                outcome.failures.append(f"cell {cell['index']} raised {output['ename']}: {evalue}")
    for box in page.evaluate(_STDERR_JS):
        first = _clip(box["text"].strip().splitlines()[0] if box["text"].strip() else "")
        if box["cell"] in raised:
            continue  # the error output itself, rendered as a stderr box
        if TRACEBACK in box["text"]:
            outcome.failures.append(f"cell {box['cell']}: a traceback on stderr ({first!r})")
        else:
            lines = len(box["text"].strip().splitlines())
            outcome.notes.append(f"cell {box['cell']}: stderr, {lines} line(s): {first!r}")

    images = page.evaluate(_IMAGES_JS)
    outcome.figures = len(images)
    for image in images:
        if not image["complete"] or image["width"] == 0:
            outcome.failures.append(f"cell {image['cell']}: a figure did not render")
    ran = json.loads((out / "notebooks" / name).read_text())
    committed = json.loads((NOTEBOOKS / name).read_text())
    expected = png_outputs(committed)
    if len(images) != png_outputs(ran) or len(images) != expected:
        outcome.failures.append(
            f"{len(images)} figures shown, {png_outputs(ran)} saved, {expected} committed"
        )
    diffs = [f"not the committed output: {diff}" for diff in compare_outputs(committed, ran)]
    outcome.failures.extend(diffs)

    shots = _screenshots(page, out, stem)
    outcome.seconds = time.monotonic() - started
    _log(
        f"{name}: {outcome.cells} code cells, {outcome.figures} figures, "
        f"{len(outcome.failures)} failures, {shots} screenshots, {outcome.seconds:.0f} s"
    )
    page.evaluate(
        "async () => { const p = window.jupyterapp.shell.currentWidget;"
        " await p.sessionContext.shutdown(); p.dispose(); }"
    )
    return outcome


def _menu(page: Page, menu: str, command: str) -> None:
    """Click ``menu`` in the menu bar, then its item for ``command``, as a reader would."""
    page.locator(".lm-MenuBar-item", has_text=menu).first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()


def _screenshots(page: Page, out: Path, stem: str) -> int:
    """The whole notebook, one viewport at a time, top to bottom (not the blank past its end)."""
    scroller = "window.jupyterapp.shell.currentWidget.node.querySelector('.jp-WindowedPanel-outer')"
    bottom, view = page.evaluate(
        f"""() => {{
          const s = {scroller};
          const last = window.jupyterapp.shell.currentWidget.content.widgets.at(-1).node;
          const end = last.getBoundingClientRect().bottom - s.getBoundingClientRect().top;
          return [end + s.scrollTop, s.clientHeight];
        }}"""
    )
    step = max(view - 40, 1)
    last = max(int(bottom) - view + 40, 0)  # and a margin below the last cell
    tops = [*range(0, last, step), last]
    for count, top in enumerate(tops, 1):
        page.evaluate(f"(top) => {{ {scroller}.scrollTop = top; }}", top)
        page.screenshot(path=out / f"{stem}-{count:02d}.png")
    return len(tops)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcache.lab.browser", description=__doc__)
    parser.add_argument("notebooks", nargs="*", help="names under notebooks/ (default: all)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / ".lab" / "browser")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per notebook")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    names = args.notebooks or sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    out: Path = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    (out / "notebooks").mkdir(parents=True)
    for name in names:
        shutil.copy2(NOTEBOOKS / name, out / "notebooks" / name)
    given = {k: v for k, v in os.environ.items() if k.startswith("LLMCACHE_")}
    _log(f"{len(names)} notebooks copied to {out / 'notebooks'}; env {given or 'none'}")

    outcomes: list[Outcome] = []
    outside: list[str] = []
    with jupyterlab(out / "notebooks", out, timeout=120) as lab, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})

            def guard(route: Route) -> None:
                host = urlsplit(route.request.url).hostname
                if route.request.url.startswith(("data:", "blob:")) or host == LOOPBACK:
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            for name in names:
                try:
                    outcomes.append(run_notebook(page, lab, name, out, args.timeout))
                except Exception as exc:  # one notebook's failure is reported, the next runs
                    outcome = Outcome(name, failures=[f"{type(exc).__name__}: {exc}"])
                    with contextlib.suppress(Exception):  # a crashed page has no picture
                        page.screenshot(path=out / f"{Path(name).stem}-failed.png")
                    outcomes.append(outcome)
        finally:
            browser.close()

    failed = 0
    for outcome in outcomes:
        for note in outcome.notes:
            _log(f"{outcome.name}: note: {note}")
        for failure in outcome.failures:
            _log(f"{outcome.name}: FAIL: {failure}")
        failed += bool(outcome.failures)
    for url in outside:
        _log(f"FAIL: Chromium asked for {url} (outside loopback; blocked)")
    errors = sum(len(o.failures) for o in outcomes) + len(outside)
    print(
        f"browser smoke: {len(outcomes)} notebooks, {sum(o.cells for o in outcomes)} cells, "
        f"{sum(o.figures for o in outcomes)} figures, {errors} errors (screenshots in {out})"
    )
    print(f"notebooks: {len(outcomes) - failed} passed, {failed} failed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
