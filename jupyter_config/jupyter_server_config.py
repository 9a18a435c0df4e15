"""JupyterLab settings for ``make lab`` (read through ``JUPYTER_CONFIG_DIR``).

The app settings directory here holds ``overrides.json``: the news feed is off, so JupyterLab
neither asks about it nor contacts any address outside loopback. User settings and workspaces
land under ``lab/`` beside this file (git-ignored), never in the home directory.
"""

from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (injected by traitlets)

c.LabApp.app_settings_dir = str(Path(__file__).resolve().parent / "lab" / "settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# The default extension manager asks PyPI for the newest version of each installed extension.
c.LabApp.extension_manager = "readonly"
