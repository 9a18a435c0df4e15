"""The wheel users install: the cache, its types and ``llmcache doctor``, never the lab.

The wheel is built the way pip builds it (PEP 517, through uv) but without build isolation, so
offline, from the hatchling in the dev extra. It is then installed into a throwaway venv whose
only copy of llmcache is the wheel's, and ``llmcache doctor`` runs there (without ``--measure``,
whose SDK import takes seconds: a static check stands in for it).
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from llmcache.lab.matrix import find_uv

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str | Path, **kwargs: Any) -> str:
    """stdout of ``argv``, which must succeed."""
    done = subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=120, **kwargs
    )
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    out: str = done.stdout
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = ("build", "--wheel", "--no-build-isolation", "--offline", "--quiet")
    _run(find_uv(), *build, "--python", sys.executable, "--out-dir", out, ROOT)
    (built,) = out.glob("llmcache_singleflight-*.whl")  # the PyPI name; imported as llmcache
    return built


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def _entry_points(wheel: Path) -> configparser.ConfigParser:
    (path,) = [n for n in _names(wheel) if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment, method-assign]  # keep names' case
    with zipfile.ZipFile(wheel) as zf:
        parser.read_string(zf.read(path).decode())
    return parser


def test_wheel_holds_the_cache_its_types_and_the_doctor(wheel: Path) -> None:
    names = set(_names(wheel))
    for needed in ("__init__.py", "__main__.py", "py.typed", "_cache.py", "_doctor.py"):
        assert f"llmcache/{needed}" in names, sorted(names)


def test_wheel_is_pure_python(wheel: Path) -> None:
    """No compiled code: one wheel for every platform and interpreter, free-threaded too."""
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert not [n for n in _names(wheel) if n.endswith((".so", ".pyd", ".c"))]
    assert not list((ROOT / "llmcache").glob("*.c"))


def test_wheel_leaves_the_lab_out(wheel: Path) -> None:
    names = _names(wheel)
    assert [n for n in names if n.startswith("llmcache/")], names  # the package itself is there
    assert [n for n in names if n.startswith("llmcache/lab")] == []


def test_console_script_is_the_doctor(wheel: Path) -> None:
    assert _entry_points(wheel)["console_scripts"]["llmcache"].strip() == "llmcache._doctor:main"


def test_every_entry_point_names_a_module_in_the_wheel(wheel: Path) -> None:
    names = set(_names(wheel))
    entry_points = _entry_points(wheel)
    targets = [
        (f"{group}:{name}", target.split(":")[0].strip())
        for group in entry_points.sections()
        for name, target in entry_points[group].items()
    ]
    assert targets
    for entry, module in targets:
        path = module.replace(".", "/")
        assert {f"{path}.py", f"{path}/__init__.py"} & names, f"{entry} -> {module} not in wheel"


def _imported_modules(source: str, module: str) -> set[str]:
    """Every module ``source`` (the code of ``module``) imports, relative imports resolved, and
    every string that starts like a module name (``import_module(...)``, ``python -m ...``)."""
    package = module.split(".")[:-1]  # modules are named by path: llmcache.__init__, ...
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value.split()[0] if node.value.strip() else "")
    return found


def test_the_wheels_code_imports_only_what_the_wheel_holds(wheel: Path) -> None:
    """Imports inside functions too: ``doctor --measure`` must work where the lab is absent."""
    with zipfile.ZipFile(wheel) as zf:
        sources = {
            name[: -len(".py")].replace("/", "."): zf.read(name).decode()
            for name in zf.namelist()
            if name.endswith(".py")
        }
    modules = {m.removesuffix(".__init__") for m in sources}
    assert {"llmcache", "llmcache._doctor"} <= modules
    missing: dict[str, list[str]] = {}
    for module, source in sources.items():
        for name in sorted(_imported_modules(source, module)):
            if name.split(".")[0] != "llmcache":
                continue
            known = {name, name.rpartition(".")[0]} & modules  # a module, or a name in one
            if name.startswith("llmcache.lab") or not known:
                missing.setdefault(module, []).append(name)
    assert missing == {}


def test_installed_wheel_runs_the_doctor(wheel: Path, tmp_path: Path) -> None:
    venv, uv = tmp_path / "venv", find_uv()
    python = venv / "bin" / "python"
    _run(uv, "venv", "--quiet", "--python", sys.executable, venv)
    _run(uv, "pip", "install", "--quiet", "--offline", "--no-deps", "--python", python, wheel)
    # The SDKs come from this venv's site-packages as a plain path entry: its editable-install
    # .pth (which would put the checkout, lab included, on sys.path) is not processed there.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    where = "import json, llmcache._doctor as d; print(json.dumps(d.__file__))"
    location = json.loads(_run(python, "-c", where, env=env, cwd=tmp_path))
    assert location.startswith(str(venv)), location  # the wheel's copy, not the checkout
    # Exit status 1 only means the doctor found a trap in this environment.
    doctor: list[str | Path] = [
        venv / "bin" / "llmcache",
        "doctor",
        "--json",
        "--provider",
        "openai",
    ]
    done = subprocess.run(
        doctor, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(done.stdout)
    assert report["provider"] == "openai"
    assert {"sdk", "credentials"} <= {f["check"] for f in report["findings"]}, report


def test_the_pypi_name_is_ours_and_the_release_publishes_it() -> None:
    """``llmcache`` on PyPI is an unrelated project: ours is llmcache-singleflight, imported as
    llmcache, and the release workflow publishes it by trusted publishing (no stored token)."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "llmcache-singleflight"
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "id-token: write" in release
    assert "pypa/gh-action-pypi-publish@" in release
    assert "password:" not in release
    for page in (ROOT / "README.md", ROOT / "docs" / "install.md"):
        assert "pip install llmcache-singleflight" in page.read_text(), page
