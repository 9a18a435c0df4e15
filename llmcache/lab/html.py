"""A notebook as a shared HTML report: no code, offline, titled by its first heading.

``python -m llmcache.lab.html NOTEBOOK... --output-dir DIR``: what ``jupyter nbconvert --to html
--no-input`` writes, from JupyterLab's template without the scripts it would load from CDNs
(require.js, MathJax, mermaid, widgets: ``templates/offline``), so that a page reads the same
with no network, and with the notebook's first Markdown heading as the page's ``<title>`` (not
its file name).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

TEMPLATES = Path(__file__).resolve().parent / "templates"
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def first_heading(nb: nbformat.NotebookNode) -> str | None:
    """The text of the notebook's first Markdown heading, without Markdown's emphasis marks."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and (match := _HEADING.search(cell.source)):
            return re.sub(r"[*_`]", "", match[1]).strip() or None
    return None


def convert(notebook: Path, output_dir: Path) -> Path:
    """Write ``output_dir/<notebook's stem>.html`` and return its path."""
    from nbconvert import HTMLExporter

    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    title = first_heading(nb)
    if title:
        nb.metadata["title"] = title
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="offline",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    output_dir.mkdir(parents=True, exist_ok=True)
    out = output_dir / f"{notebook.stem}.html"
    out.write_text(body, encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llmcache.lab.html", description=__doc__)
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--output-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    for notebook in args.notebooks:
        print(convert(notebook, args.output_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
