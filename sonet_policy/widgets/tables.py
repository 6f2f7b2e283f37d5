"""Any DataFrame as an interactive grid: sort by a header, filter a column, search every cell.

The grid is itables' ``ITable`` widget (DataTables in an anywidget): its JavaScript ships inside the itables
wheel and reaches the browser over the kernel's widget channel, so it works offline, in JupyterLab and in
Voilà alike, needs no trusted notebook, and an app can replace a grid's rows in place (:meth:`Grid.update`).
Cells are escaped (never read as HTML), text is left-aligned (``dt-left``) and wraps inside its column (no
``nowrap`` class) instead of stretching the table sideways.

In a saved notebook the widget is a pointer that dies with the kernel, so a grid's plain text is the frame
itself (a fixed layout, cut at :data:`TEXT_ROWS` rows): that is what nbval compares and what a reopened
notebook shows (``sonet_policy.files.notebooks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from sonet_policy.widgets.app import WidgetApp

TEXT_ROWS = 20
TEXT_WIDTH = 60  # characters of one cell in the plain-text form
# DataTables' column menu (a button beside each header): sort both ways, a search box and a pick-list of the
# column's values. No separate "order" button: a click on the header itself sorts (ColumnControl's order
# button would take sorting away from the header).
COLUMN_CONTROL: list[Any] = [["orderAsc", "orderDesc", "spacer", "search", "searchList"]]


def cell_text(value: object) -> str:
    """One cell as the grid and the text form show it: a mapping as ``k=v, …``, a list as ``a, b``,
    missing values as "".

    >>> cell_text({"area": "west", "device": ["RS-500KI", "RS-500MI"]}), cell_text(None), cell_text(3)
    ('area=west, device=RS-500KI|RS-500MI', '', '3')
    """
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, Mapping):
        return ", ".join(
            f"{k}={'|'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in value.items()
        )
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(map(str, value))
    return str(value)


def gridable(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose object columns hold text (:func:`cell_text`), numbers and booleans kept,
    with a flat index turned into columns when it carries information (a named or non-range index).

    >>> gridable(pd.DataFrame({"scope": [{"area": "east"}], "n": [2]})).to_dict("records")
    [{'scope': 'area=east', 'n': 2}]
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"a grid shows a pandas DataFrame, not {type(frame).__name__}")
    out = frame.copy()
    informative = any(name is not None for name in out.index.names) or not isinstance(out.index, pd.RangeIndex)
    if informative:
        out = out.reset_index()
    out.columns = [cell_text(c) if not isinstance(c, str) else c for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].map(cell_text).astype("str")
    return out


def plain_text(frame: pd.DataFrame, *, caption: str = "", rows: int = TEXT_ROWS) -> str:
    """The grid's plain-text form: a one-line head (caption, rows x columns) and the first ``rows`` rows.

    >>> print(plain_text(pd.DataFrame({"code": ["kept", "abolished"]}), caption="number"))
    number: 2 rows x 1 column
         code
         kept
    abolished
    """
    shown = gridable(frame)
    n, m = shown.shape
    head = f"{caption + ': ' if caption else ''}{n} row{'s' if n != 1 else ''} x {m} column{'s' if m != 1 else ''}"
    if n == 0 or m == 0:
        return head
    body = shown.head(rows).to_string(index=False, max_colwidth=TEXT_WIDTH)
    more = f"\n… {n - rows} more row(s) in the grid" if n > rows else ""
    return f"{head}\n{body}{more}"


def grid_options(frame: pd.DataFrame, *, page_length: int = 15) -> dict[str, Any]:
    """The DataTables options every grid uses (a dict, so tests and apps can read them).

    >>> opts = grid_options(pd.DataFrame({"a": [1]}))
    >>> opts["classes"], opts["allow_html"], opts["showIndex"]
    ('display compact cell-border', False, False)
    """
    return {
        "classes": "display compact cell-border",  # without itables' default "nowrap": long prose wraps
        "columnDefs": [{"className": "dt-left", "targets": "_all"}],
        "columnControl": COLUMN_CONTROL,
        "text_in_header_can_be_selected": False,  # itables' default makes only a small icon sort; the header sorts
        "pageLength": page_length,
        "lengthMenu": [10, 15, 25, 50, 100, 500],
        # search first, and always (itables hides the controls of a table that fits one page; a search box that
        # comes and goes with the row count is harder to find)
        "layout": {"topStart": "search", "topEnd": "pageLength", "bottomStart": "info", "bottomEnd": "paging"},
        "allow_html": False,
        "showIndex": False,
        "maxBytes": 0,  # never downsample: every row of the frame is in the grid
        "style": "table-layout:auto;width:100%;margin:0",
        "autoWidth": False,
    }


class Grid(WidgetApp):
    """One DataFrame as an itables grid (``widget``); plain text is :func:`plain_text` of the frame.

    >>> g = Grid(pd.DataFrame({"decision": ["wifi", "ipv4"], "n": [2, 1]}), caption="findings")
    >>> g.frame.shape, g.summary().splitlines()[0]
    ((2, 2), 'findings: 2 rows x 2 columns')
    """

    def __init__(self, frame: pd.DataFrame, *, caption: str = "", page_length: int = 15) -> None:
        from itables.widget import ITable

        self.caption = caption
        self.page_length = page_length
        self.frame = gridable(frame)
        self.widget = ITable(self.frame, caption=caption or None, **grid_options(self.frame, page_length=page_length))
        self.widget.add_class("sp-grid")

    def update(self, frame: pd.DataFrame, *, caption: str | None = None) -> None:
        """Show other rows (and columns) in the same widget, keeping the grid's options."""
        if caption is not None:
            self.caption = caption
        self.frame = gridable(frame)
        self.widget.update(
            self.frame, caption=self.caption or None, **grid_options(self.frame, page_length=self.page_length)
        )

    def summary(self) -> str:
        return plain_text(self.frame, caption=self.caption)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        if isinstance(bundle, tuple):  # anywidget answers (data, metadata)
            bundle = bundle[0]
        return {**bundle, "text/plain": self.summary()}


def grid(frame: pd.DataFrame, *, caption: str = "", page_length: int = 15) -> Grid:
    """Show ``frame`` as a sortable, filterable, searchable grid with left-aligned wrapped text.

    Every column has a menu (sort, search, pick values); the box above searches every cell; the index is
    shown as columns when it carries information. Returns a :class:`Grid` (display it, or put ``.widget`` in
    an app). Raises TypeError when ``frame`` is not a DataFrame.

    >>> g = grid(pd.DataFrame({"clause": ["※1 …", "※4 …"]}), caption="footnotes")
    >>> print(g.summary())
    footnotes: 2 rows x 1 column
    clause
      ※1 …
      ※4 …
    """
    return Grid(frame, caption=caption, page_length=page_length)


__all__: Sequence[str] = ("Grid", "cell_text", "grid", "grid_options", "gridable", "plain_text")
