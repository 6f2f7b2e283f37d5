"""What every widget app shares: the display contract, HTML output, PNG figures."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as w
from IPython.display import HTML

from ..display import WidgetApp

if TYPE_CHECKING:  # matplotlib and the diff module load only when a view needs them
    from matplotlib.figure import Figure


STATUS_ORDER = ("covered", "gap", "conflict")
STATUS_COLOURS = {"covered": "#2e7d32", "gap": "#f9a825", "conflict": "#c62828"}


def show_html(out: w.Output, markup: str) -> None:
    """Replace what ``out`` shows by ``markup`` (the pattern that passes nbval strictly and keeps Voilà alive)."""
    out.outputs = ()
    out.append_display_data(HTML(markup))


def error_html(exc: BaseException) -> str:
    """An unexpected error as an escaped message, so it shows in the app instead of vanishing in a callback."""
    name, text = html.escape(type(exc).__name__), html.escape(str(exc))
    return f"<div class='sp-error' style='color:#c62828'><b>{name}</b>: {text}</div>"


class _App(WidgetApp):
    """Displays as its ``widget``; plain text is :meth:`summary`."""

    widget: w.Widget


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(f"sonet_policy.{name}") is not None


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
