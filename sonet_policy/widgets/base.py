"""What every widget app shares: the display contract, HTML output, PNG figures."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as w
from IPython.display import HTML

from sonet_policy.analysis.coverage import STATES
from sonet_policy.widgets.app import WidgetApp

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn
    from matplotlib.figure import Figure


STATUS_ORDER = STATES  # the coverage states, in the order of the heat maps' legends
STATUS_COLOURS = {"covered": "#2e7d32", "gap": "#f9a825", "conflict": "#c62828"}
UNANSWERED_COLOUR = "#9e9e9e"  # no answer at all (invalid, or a gap or conflict counted together)
# colours for answers and measures: none of them is the red, amber or green of a finding, nor the grey
SERIES_PALETTE = ("#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#393b79", "#7b4173", "#5254a3", "#637939")


def series_colours(names: list[str]) -> dict[str, str]:
    """One colour per name, the same meaning in every chart: ``covered``, ``gap`` and ``conflict`` their
    :data:`STATUS_COLOURS` (red is a conflict and nothing else), ``invalid`` grey, every other name (answers,
    measures) a colour of :data:`SERIES_PALETTE` in order, never a status colour.

    >>> colours = series_colours(["continues", "conflict", "stops"])
    >>> colours["conflict"] == STATUS_COLOURS["conflict"], colours["continues"] != colours["stops"]
    (True, True)
    """
    fixed = {**STATUS_COLOURS, "invalid": UNANSWERED_COLOUR}
    out: dict[str, str] = {}
    k = 0
    for name in dict.fromkeys(names):
        if name in fixed:
            out[name] = fixed[name]
        else:
            out[name] = SERIES_PALETTE[k % len(SERIES_PALETTE)]
            k += 1
    return out


def show_html(out: w.Output, markup: str) -> None:
    """Replace what ``out`` shows by ``markup`` (the pattern that passes nbval strictly and keeps Voilà alive)."""
    out.outputs = ()
    out.append_display_data(HTML(markup))


def error_lines(exc: BaseException, *, most: int = 10) -> list[str]:
    """What went wrong, in the domain's words and without the Python class name: one line per problem of a
    broken rule book (file, row, column, the problem and the value), else the error's own message on one line
    (an OS error as its file and reason). At most ``most`` lines, the last saying how many more.

    >>> error_lines(FileNotFoundError(2, "No such file or directory", "/tmp/nowhere"))
    ['/tmp/nowhere: No such file or directory']
    >>> error_lines(KeyError("no what-if named 'x'"))
    ["no what-if named 'x'"]
    """
    from sonet_policy.errors import RuleBookError

    if isinstance(exc, RuleBookError) and not exc.problems.empty:
        lines = [f"rule book {exc.folder}: {len(exc.problems)} problem(s)"] if exc.folder else []
        for rec in exc.problems.itertuples(index=False):
            where = str(rec.file) + (f", row {rec.row}" if str(rec.row) not in ("", "0") else "")
            where += f", column {rec.column}" if rec.column else ""
            value = f" (value {str(rec.value)[:80]!r})" if str(rec.value) else ""
            lines.append(f"{where}: {rec.problem}{value}")
        if len(lines) > most:
            lines = [*lines[: most - 1], f"… and {len(lines) - most + 1} more problem(s)"]
        return lines
    if isinstance(exc, OSError) and exc.strerror:
        return [f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc.strerror)]
    text = exc.args[0] if isinstance(exc, KeyError) and len(exc.args) == 1 else exc
    return [" ".join(str(text).split()) or "something went wrong; nothing was shown"]


def error_html(exc: BaseException) -> str:
    """An error as escaped lines (:func:`error_lines`: no Python class name), so it shows in the app instead of
    vanishing in a callback.

    >>> error_html(ValueError("wifi.csv, row 3: <bad>"))
    "<div class='sp-error' style='color:#c62828'>wifi.csv, row 3: &lt;bad&gt;</div>"
    """
    lines = "<br>".join(html.escape(line) for line in error_lines(exc))
    return f"<div class='sp-error' style='color:#c62828'>{lines}</div>"


class _App(WidgetApp):
    """Displays as its ``widget``; plain text is :meth:`summary`."""

    widget: w.Widget


@dataclass(frozen=True)
class PNGFigure:
    """A rendered plot: ``image/png`` in a notebook, its description as plain text (nbval compares the text)."""

    png: bytes
    description: str

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return self.description

    def html(self) -> str:
        """An ``<img>`` tag with the PNG inline (for an Output widget)."""
        data = base64.b64encode(self.png).decode("ascii")
        return f"<img alt='{html.escape(self.description)}' src='data:image/png;base64,{data}'/>"


def render_png(fig: Figure, description: str) -> PNGFigure:
    """Render a :class:`matplotlib.figure.Figure` with the Agg canvas (no display, no pyplot state, no
    version or date in the PNG's metadata: the same figure gives the same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return PNGFigure(buf.getvalue(), description)
