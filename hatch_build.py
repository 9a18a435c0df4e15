"""Build hook: compile llmcache's optional C hit path (``llmcache/_hitpath.c``).

A wheel built where a C compiler works holds the extension and is tagged for this platform.
Elsewhere, or with ``LLMCACHE_NO_EXTENSIONS=1``, it is pure Python and works the same, with a
slower cache hit. An editable install compiles the extension next to its source, where the
checkout on ``sys.path`` finds it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("llmcache") / "_hitpath.c"


def compile_extension(root: Path) -> Path | None:
    """Compile the extension into ``llmcache/``; its path, or None (with a warning) if it failed."""
    source = root / SOURCE
    target = source.with_name("_hitpath" + sysconfig.get_config_var("EXT_SUFFIX"))
    linker = shlex.split(sysconfig.get_config_var("LDSHARED") or "cc -shared")
    include = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory() as scratch:
        built = Path(scratch) / target.name
        command = [*linker, "-O2", "-fPIC", f"-I{include}", str(source), "-o", str(built)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"llmcache: no C hit path ({exc}); pure Python", file=sys.stderr)
            return None
        if done.returncode != 0:
            print(f"llmcache: no C hit path, the compiler failed:\n{done.stderr}", file=sys.stderr)
            return None
        os.replace(built, target)  # never a half-written extension in the package
    return target


class HitPathBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if os.environ.get("LLMCACHE_NO_EXTENSIONS"):
            return
        target = compile_extension(Path(self.root))
        if target is None or version == "editable":
            return
        build_data["force_include"][str(target)] = f"llmcache/{target.name}"
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
