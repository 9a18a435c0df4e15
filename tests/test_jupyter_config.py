"""``make lab`` uses the repo's Jupyter config: JupyterLab never asks about (or fetches) news."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from jupyterlab.commands import get_app_dir  # type: ignore[import-untyped]
from jupyterlab_server.settings_utils import get_settings
from traitlets.config.loader import PyFileConfigLoader

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "jupyter_config"
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
# make's own prerequisites are taken as built: these tests look at the lab command only.
MAKE_LAB = ["make", "--no-print-directory", "-o", "lab-venvs", "-o", ".venv/.installed", "lab"]
# A make running this suite (make test) must not pass its flags or jobserver on.
MAKE_ENV = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def test_make_lab_points_jupyter_at_the_repo_config() -> None:
    done = subprocess.run(
        [*MAKE_LAB, "-n"],
        cwd=ROOT,
        env=MAKE_ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"JUPYTER_CONFIG_DIR={CONFIG_DIR} " in done.stdout, done.stdout
    assert "jupyter lab" in done.stdout


def test_repo_config_turns_the_news_prompt_off(tmp_path: Path) -> None:
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(CONFIG_DIR)).load_config()
    app_settings_dir = config.LabApp.app_settings_dir
    assert Path(app_settings_dir).is_relative_to(CONFIG_DIR)
    assert config.LabApp.news_url is None
    schema = _schema(
        get_settings(
            app_settings_dir,
            str(Path(get_app_dir()) / "schemas"),
            str(tmp_path),  # no user settings: what a fresh checkout sees
            schema_name=NOTIFICATION,
        )[0]
    )
    assert schema["properties"]["fetchNews"]["default"] == "false"  # "none" asks the user


def test_repo_config_never_asks_pypi_about_extensions() -> None:
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(CONFIG_DIR)).load_config()
    assert config.LabApp.extension_manager == "readonly"  # "pypi" lists newest versions


def _schema(settings: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = settings["schema"]
    return schema


@pytest.mark.slow
def test_served_lab_has_news_off(tmp_path: Path) -> None:
    """The real thing: ``make lab`` on a free loopback port, its settings API read."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "test-token"
    args = f"--port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}"
    env = {**MAKE_ENV, "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path)}
    lab = subprocess.Popen(
        [*MAKE_LAB, f"LAB_ARGS={args}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                assert lab.poll() is None, "make lab exited"
                assert time.monotonic() < deadline, "JupyterLab did not start in 90 s"
                time.sleep(0.2)
        url = f"{base}/lab/api/settings/{NOTIFICATION}?token={token}"
        with urllib.request.urlopen(url, timeout=10) as response:
            served = json.load(response)
        assert _schema(served)["properties"]["fetchNews"]["default"] == "false"
        with urllib.request.urlopen(f"{base}/lab/api/news?token={token}", timeout=10) as response:
            assert json.load(response) == {"news": []}
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
