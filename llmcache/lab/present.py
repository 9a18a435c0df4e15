"""How the notebooks show a measurement to a reader: tables with human headers, prose rendered as
Markdown.

A notebook states the numbers; these helpers only shape them, so every report reads the same:
no index column, no NaN, units in the headers, long text wrapped inside a 1,200 px page, and
deterministic HTML (a fixed table id), so that re-running a notebook on the same data leaves
its saved outputs unchanged.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Column", "markdown", "table"]

Format = str | Callable[[Any], str]


class Column:
    """One column of a shown table: its source name, header (with unit) and format.

    ``fmt`` is a format spec such as ``"{:.2f}"`` or a function of the value; ``wrap`` lets a
    long text wrap at ``width`` (CSS) instead of widening the table; ``align`` (CSS, e.g.
    ``"left"`` for text beside numbers) overrides the page's default alignment of the cells.
    """

    def __init__(
        self,
        source: str,
        header: str,
        fmt: Format | None = None,
        *,
        wrap: bool = False,
        width: str = "22em",
        align: str | None = None,
    ) -> None:
        self.source = source
        self.header = header
        self.fmt = fmt
        self.wrap = wrap
        self.width = width
        self.align = align


def table(
    frame: Any,
    columns: list[Column] | Mapping[str, str],
    *,
    caption: str | None = None,
    precision: int = 2,
) -> Any:
    """A pandas Styler of ``frame``'s chosen columns, ready to display.

    ``columns`` is a list of :class:`Column`, or a mapping of source name to header (numbers
    then shown with ``precision`` decimals). Missing values show as an empty cell.
    """
    if isinstance(columns, Mapping):
        columns = [Column(source, header) for source, header in columns.items()]
    missing = [c.source for c in columns if c.source not in frame.columns]
    if missing:
        raise KeyError(f"no column(s) {missing} in {list(frame.columns)}")
    shown = frame[[c.source for c in columns]].copy()
    shown.columns = [c.header for c in columns]
    shown = shown.reset_index(drop=True)
    formats: dict[str, Format] = {}
    for column in columns:
        if column.fmt is not None:
            formats[column.header] = column.fmt
        elif _is_float(shown[column.header]):
            formats[column.header] = f"{{:,.{precision}f}}"
    # the id is derived from what is shown, not random: the same data gives the same HTML
    uid = hashlib.sha256(
        repr((caption, [c.header for c in columns], len(shown))).encode()
    ).hexdigest()[:10]
    styler = _table_class()(shown).set_uuid(f"t{uid}").hide(axis="index").format(formats, na_rep="")
    styler = styler.set_table_styles(
        [
            {"selector": "", "props": "border-collapse: collapse; font-size: 0.85em;"},
            {
                "selector": "th",
                "props": "text-align: left; vertical-align: bottom; padding: 3px 8px; "
                "border-bottom: 1px solid #999; white-space: normal; max-width: 10em;",
            },
            {"selector": "td", "props": "padding: 2px 8px; vertical-align: top;"},
            {"selector": "caption", "props": "caption-side: top; text-align: left; color: #555;"},
        ]
    )
    for column in columns:
        if column.wrap:
            styler = styler.set_properties(
                subset=[column.header],
                **{"white-space": "normal", "max-width": column.width, "min-width": "8em"},
            )
        else:
            styler = styler.set_properties(subset=[column.header], **{"white-space": "nowrap"})
    for column in columns:
        if column.align:
            styler = styler.set_properties(subset=[column.header], **{"text-align": column.align})
    if caption:
        styler = styler.set_caption(caption)
    return styler


@functools.cache
def _table_class() -> Any:
    """A Styler whose plain-text form is the table as text: the default one names its memory
    address, which would change a saved notebook at every run."""
    from pandas.io.formats.style import Styler  # type: ignore[import-untyped]

    class Table(Styler):  # type: ignore[misc]
        def __repr__(self) -> str:
            shown = self.data.copy()
            return str(shown.to_string(index=False, na_rep=""))

    return Table


def _is_float(series: Any) -> bool:
    return str(series.dtype).startswith("float")


def markdown(text: str) -> Any:
    """Prose for the reader, written from the measurements: an IPython Markdown object."""
    from IPython.display import Markdown

    return Markdown(text)  # type: ignore[no-untyped-call]
