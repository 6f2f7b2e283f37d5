"""The widget apps the notebooks and the Voilà dashboard show.

Each app is a class that holds its controls, an ``Output`` widget and a plain compute step that tests call
directly. Callback output is written as ``out.outputs = ()`` then ``out.append_display_data(HTML(...))``:
never ``with out:`` and never ``interact``, which break strict nbval and intermittently hang Voilà.
An app displays as its widget; its plain-text form is a short summary of what it shows (nbval compares it).

* :class:`ScenarioExplorer`: one scenario, five answer cards, recomputed on every change (explain takes about 20 ms).
* :class:`AuditView`: the audit's findings, a coverage heat map and each finding's witness (needs
  :mod:`sonet_policy.audit`).
* :class:`PopulationView`: a synthetic customer base evaluated in one call (needs :mod:`sonet_policy.population`).
* :class:`DiffView`: a baseline against a changed copy (needs :mod:`sonet_policy.diff`).

>>> app = ScenarioExplorer(area="west", plan="other", device="rv-230se", setup="v6plus_router",
...                        keep_number=False, days=31)
>>> app.codes["device_action"], app.codes["ipv4"]
('mail_exchange', 'pppoe_router')
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
import pandas as pd
from IPython.display import HTML

from .display import WidgetApp
from .engine import CompiledBook, broadcast
from .explain import Explanation, explain, render_html
from .rules import RuleBook, default_rulebook

if TYPE_CHECKING:  # matplotlib and the diff module load only when a view needs them
    from matplotlib.figure import Figure

    from .diff import DiffResult

STATUS_ORDER = ("covered", "gap", "conflict")
STATUS_COLOURS = {"covered": "#2e7d32", "gap": "#f9a825", "conflict": "#c62828"}


def explorer_defaults(book: RuleBook) -> dict[str, object]:
    """The scenario the explorer starts with, from the declarations: each input's first value (a boolean:
    true; an integer: empty where empty is a value of its own, else its minimum).

    >>> list(explorer_defaults(default_rulebook()).values())
    ['east', '10g', 'PR-600KI', 'wlan_1g', True, None]
    """
    out: dict[str, object] = {}
    for name, spec in book.inputs.items():
        if spec.type == "boolean":
            out[name] = True
        elif spec.type == "integer":
            out[name] = None if spec.empty == "null" else int(spec.minimum)
        else:
            out[name] = spec.domain[0] if spec.domain else ""
    return out


def show_html(out: w.Output, markup: str) -> None:
    """Replace what ``out`` shows by ``markup`` (the pattern that passes nbval strictly and keeps Voilà alive)."""
    out.outputs = ()
    out.append_display_data(HTML(markup))


def error_html(exc: BaseException) -> str:
    """An unexpected error as an escaped message, so it shows in the app instead of vanishing in a callback."""
    name, text = html.escape(type(exc).__name__), html.escape(str(exc))
    return f"<div class='sp-error' style='color:#c62828'><b>{name}</b>: {text}</div>"


def domain_options(book: RuleBook, name: str) -> list[tuple[str, str]]:
    """``(label, code)`` pairs of a categorical input, labelled from ``inputs.csv``'s description.

    >>> domain_options(default_rulebook(), "area")
    [('east · NTT東日本', 'east'), ('west · NTT西日本', 'west')]
    """
    spec = book.inputs[name]
    labels: dict[str, str] = {}
    for part in spec.description.split(", "):
        code, sep, label = part.partition(" = ")
        if sep:
            labels[code.strip()] = label.strip()
    return [(f"{code} · {labels[code]}" if code in labels else code, code) for code in spec.domain]


class _App(WidgetApp):
    """Displays as its ``widget``; plain text is :meth:`summary`."""

    widget: w.Widget


@dataclass(frozen=True)
class AnswerCards:
    """The explorer's answer view of one explanation: HTML cards in a notebook, the CLI's text as plain text.

    >>> cards = AnswerCards(explain_scenario(explorer_defaults(default_rulebook())))
    >>> "data-code='keeps_working'" in cards._repr_html_(), repr(cards).startswith("scenario: area")
    (True, True)
    """

    explanation: Explanation

    def _repr_html_(self) -> str:
        return render_html(self.explanation)

    def __repr__(self) -> str:
        return str(self.explanation)


def answer_cards(**scenario: object) -> AnswerCards:
    """:class:`AnswerCards` of one scenario (keywords as for :func:`~sonet_policy.explain.explain`)."""
    return AnswerCards(explain(**scenario))


def explain_scenario(scenario: Mapping[str, object], *, rulebook: RuleBook | None = None) -> Explanation:
    """The explorer's compute step: :func:`~sonet_policy.explain.explain` of one scenario dict.

    >>> explain_scenario({**explorer_defaults(default_rulebook()), "device": "ＰＲ－６００ＫＩ"}).codes["device_action"]
    'keeps_working'
    """
    return explain(rulebook=rulebook, **dict(scenario))


def _css_names(name: str, headers: tuple[str, ...]) -> list[str]:
    """CSS classes of an input's control: ``sp-<input>`` and ``sp-<alias>`` for each ASCII header alias."""
    out = [f"sp-{name.replace('_', '-')}"]
    for h in headers:
        if h.isascii() and h.replace("_", "").replace("-", "").isalnum():
            out.append(f"sp-{h.replace('_', '-')}")
    return out


class ScenarioExplorer(_App):
    """Controls for one scenario, built from the book's declared inputs (``inputs.csv``), and its answer
    cards, recomputed on every change.

    A category input is a dropdown, a catalogue input a combobox taking any spelling, a boolean a checkbox, an
    integer a number box (with an "empty" checkbox where empty is a value of its own). Keywords set the first
    scenario (input names or their header aliases); ``set(...)`` changes controls as a person would;
    ``inputs[name]`` is an input's control, ``empty[name]`` its "empty" checkbox; ``explanation``, ``codes`` and
    ``html`` hold what the cards show.

    >>> app = ScenarioExplorer()
    >>> app.set(plan="sml", setup="wlan_router_10g")
    >>> app.explanation.status, "10g" in app.explanation.error
    ('partial', True)
    """

    def __init__(self, *, rulebook: RuleBook | None = None, **scenario: object) -> None:
        self.book = rulebook or default_rulebook()
        self.inputs: dict[str, w.ValueWidget] = {}
        self.empty: dict[str, w.Checkbox] = {}
        for name, spec in self.book.inputs.items():
            label = f"{name} {spec.label_ja}".strip()
            if spec.type == "category":
                control = w.Dropdown(options=domain_options(self.book, name), description=label)
            elif spec.type == "catalogue":
                control = w.Combobox(
                    options=list(spec.domain),
                    ensure_option=False,
                    continuous_update=False,
                    placeholder="any spelling",
                    description=label,
                )
            elif spec.type == "boolean":
                control = w.Checkbox(description=f"{spec.label_en or name} {spec.label_ja}".strip(), indent=True)
            else:
                control = w.BoundedIntText(min=int(spec.minimum), max=10**9, description=label)
                if spec.empty == "null":
                    box = w.Checkbox(description=f"{spec.label_en or name}: empty", indent=True)
                    for css in _css_names(name, spec.headers):
                        box.add_class(f"{css}-empty")
                    self.empty[name] = box
            for css in _css_names(name, spec.headers):
                control.add_class(css)
            self.inputs[name] = control
        self.out = w.Output()
        self.out.add_class("sp-answers")
        for control in self.controls:
            control.style = {"description_width": "150px"} if not isinstance(control, w.Checkbox) else {}
            control.layout = w.Layout(width="420px")
        self.explanation: Explanation | None = None
        self.html = ""
        self._holding = True
        self.set(**{**explorer_defaults(self.book), **scenario})
        self._holding = False
        for control in self.controls:
            control.observe(self._changed, names="value")
        self.update()
        choices = [c for n, c in self.inputs.items() if self.book.inputs[n].type in ("category", "catalogue")]
        others = [c for c in self.controls if not any(c is x for x in choices)]
        self.widget = w.VBox([w.HBox([w.VBox(choices), w.VBox(others)]), self.out])
        self.widget.add_class("sp-explorer")

    def __getattr__(self, attr: str) -> w.ValueWidget:
        """An input's control by its name or a header alias (``app.days``)."""
        inputs = self.__dict__.get("inputs")
        book = self.__dict__.get("book")
        if inputs is not None and book is not None:
            from .text import header_key

            name = book.header_lookup().get(header_key(attr))
            if name in inputs:
                return inputs[name]
        raise AttributeError(attr)

    @property
    def controls(self) -> list[w.ValueWidget]:
        out: list[w.ValueWidget] = []
        for name, control in self.inputs.items():
            out.append(control)
            if name in self.empty:
                out.append(self.empty[name])
        return out

    @property
    def scenario(self) -> dict[str, object]:
        """The scenario the controls describe (an integer is None while its "empty" box is ticked)."""
        out: dict[str, object] = {}
        for name, control in self.inputs.items():
            spec = self.book.inputs[name]
            if spec.type == "boolean":
                out[name] = bool(control.value)
            elif spec.type == "integer":
                out[name] = None if name in self.empty and self.empty[name].value else int(control.value)
            else:
                out[name] = control.value
        return out

    @property
    def codes(self) -> dict[str, str]:
        """The code each card shows; ``{"scenario": "invalid"}`` for an invalid scenario."""
        if self.explanation is None:
            return {}
        return self.explanation.codes if self.explanation.status != "invalid" else {"scenario": "invalid"}

    def set(self, **values: object) -> None:
        """Set controls by input name or header alias (an integer: None ticks its "empty" box)."""
        lookup = self.book.header_lookup()
        from .text import header_key

        named = {}
        for key, value in values.items():
            name = key if key in self.inputs else lookup.get(header_key(key))
            if name is None:
                raise TypeError(f"unknown control(s): {key}")
            named[name] = value
        held, self._holding = self._holding, True
        try:
            for name, value in named.items():
                spec, control = self.book.inputs[name], self.inputs[name]
                if spec.type == "boolean":
                    control.value = bool(value)
                elif spec.type == "integer":
                    empty = value is None or value == ""
                    if name in self.empty:
                        self.empty[name].value = empty
                    if not empty:
                        control.value = int(value)  # type: ignore[call-overload]
                elif spec.type == "catalogue":
                    control.value = "" if value is None else str(value)
                else:
                    control.value = str(value)
        finally:
            self._holding = held
        if not held:
            self.update()

    def _changed(self, change: dict) -> None:
        if not self._holding:
            self.update()

    def update(self) -> None:
        """Recompute the answer and redraw the cards (an error shows in the app, not as a traceback)."""
        for name, box in self.empty.items():
            self.inputs[name].disabled = bool(box.value)
        try:
            self.explanation = explain_scenario(self.scenario, rulebook=self.book)
            self.html = render_html(self.explanation)
        except Exception as exc:  # shown to the analyst, not swallowed
            self.explanation = None
            self.html = error_html(exc)
        show_html(self.out, self.html)

    def summary(self) -> str:
        s = self.scenario
        head = "ScenarioExplorer: " + " ".join(f"{k}={'empty' if v is None else v}" for k, v in s.items())
        if self.explanation is None:
            return f"{head}\n  error (see the app)"
        if self.explanation.status == "invalid":
            return f"{head}\n  invalid: {self.explanation.error}"
        error = f"\n  error: {self.explanation.error}" if self.explanation.error else ""
        return head + "\n  " + " ".join(f"{k}={v}" for k, v in self.codes.items()) + error


class Dashboard(_App):
    """The Voilà dashboard: the explorer, and the audit when :mod:`sonet_policy.audit` is installed."""

    def __init__(self, *, rulebook: RuleBook | None = None, **scenario: object) -> None:
        self.book = rulebook or default_rulebook()
        self.explorer = ScenarioExplorer(rulebook=self.book, **scenario)
        self.explorer.widget.add_class("sp-dashboard-explorer")
        self.tabs: dict[str, _App] = {"Scenario explorer": self.explorer}
        if _has_module("audit"):
            self.tabs["Coverage audit"] = AuditView(rulebook=self.book)
        self.widget = w.Tab(children=[app.widget for app in self.tabs.values()], titles=list(self.tabs))

    def summary(self) -> str:
        return "Dashboard: " + ", ".join(self.tabs) + "\n" + self.explorer.summary()


def dashboard(*, rulebook: RuleBook | None = None, **scenario: object) -> Dashboard:
    """The dashboard app (``notebooks/dashboard.ipynb`` shows it; ``make dashboard`` serves it with Voilà)."""
    return Dashboard(rulebook=rulebook, **scenario)


def _has_module(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(f"sonet_policy.{name}") is not None


# --------------------------------------------------------------------------------------------- plots


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


# --------------------------------------------------------------------------------------------- audit

_STATUS_RANK = {"ok": 0, "uncovered": 1, "conflict": 2}


def _matrix_inputs(book: RuleBook) -> tuple[str, str]:
    """The two inputs a coverage matrix spans: a category input (rows) and the catalogue (columns), else the
    first two inputs."""
    kinds = {n: s.type for n, s in book.inputs.items()}
    cols = next((n for n, t in kinds.items() if t == "catalogue"), None)
    rows = next((n for n, t in kinds.items() if t == "category" and n != cols), None)
    names = [n for n in book.inputs if n not in (rows, cols)]
    rows = rows or names.pop(0)
    cols = cols or names.pop(0)
    return rows, cols


def coverage_matrix(book: RuleBook, decision: str) -> pd.DataFrame:
    """Rows x columns (a category input x the catalogue: see :func:`_matrix_inputs`) for one decision:
    ``conflict`` if any valid combination of the other inputs is a conflict, else ``gap`` if any is uncovered,
    else ``covered`` (``n/a``: every combination ruled out).

    >>> m = coverage_matrix(default_rulebook(), "procedure")
    >>> m.shape, set(m.to_numpy().ravel())
    ((2, 40), {'covered'})
    """
    compiled: CompiledBook = book.compiled()
    grid = compiled.decisions[decision]
    rows, cols = _matrix_inputs(book)
    rank_of_outcome = np.array([_STATUS_RANK[o.status] for o in grid.outcomes], dtype=np.int8)
    rank = np.where(grid.invalid, -1, rank_of_outcome[grid.outcome_id])
    dims = (*grid.inputs, *(n for n in (rows, cols) if n not in grid.inputs))
    full = broadcast(rank, grid.inputs, grid.shape, dims)
    full = np.broadcast_to(full, tuple(len(compiled.axes[n].labels) for n in dims))
    worst = full.max(axis=tuple(k for k, n in enumerate(dims) if n not in (rows, cols))) if len(dims) > 2 else full
    kept = [n for n in dims if n in (rows, cols)]
    if kept != [rows, cols]:
        worst = worst.T
    labels = np.array(["n/a", *STATUS_ORDER], dtype=object)[worst + 1]
    return pd.DataFrame(
        labels,
        index=pd.Index(compiled.axes[rows].labels, name=rows),
        columns=pd.Index(compiled.axes[cols].labels, name=cols),
    )


def coverage_counts(book: RuleBook) -> pd.DataFrame:
    """How many (area, device) pairs each decision covers, leaves a gap in, or answers in conflict.

    >>> coverage_counts(default_rulebook()).loc["procedure", "covered"]
    np.int64(80)
    """
    rows = {d: coverage_matrix(book, d).stack().value_counts() for d in book.decisions}
    frame = pd.DataFrame(rows).T.reindex(columns=list(STATUS_ORDER)).fillna(0).astype("int64")
    frame.index.name = "decision"
    return frame


def coverage_heatmap(book: RuleBook) -> PNGFigure:
    """The heat map areas x devices, one panel per decision, coloured covered / gap / conflict."""
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    decisions = list(book.decisions)
    fig = Figure(figsize=(12, 1.3 * len(decisions) + 1.2), dpi=90, layout="constrained")
    axes = fig.subplots(len(decisions), 1, squeeze=False)[:, 0]
    cmap = ListedColormap(["#bdbdbd", *(STATUS_COLOURS[s] for s in STATUS_ORDER)])
    value = {"n/a": 0, **{s: k + 1 for k, s in enumerate(STATUS_ORDER)}}
    for ax, name in zip(axes, decisions, strict=True):
        m = coverage_matrix(book, name)
        ax.imshow(m.replace(value).to_numpy(dtype=float), cmap=cmap, vmin=0, vmax=3, aspect="auto")
        ax.set_yticks(range(len(m.index)), list(m.index), fontsize=8)
        ax.set_xticks(range(len(m.columns)), list(m.columns) if ax is axes[-1] else [], rotation=90, fontsize=7)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.legend(
        handles=[Patch(color=STATUS_COLOURS[s], label=s) for s in STATUS_ORDER],
        loc="outside upper center",
        ncols=3,
        fontsize=9,
    )
    return render_png(fig, f"coverage heat map: {len(decisions)} decisions x areas x {len(book.models)} devices")


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):  # an encoding choice (a dict) shows as its id
        return ", ".join(str(v.get("choice_id", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


FINDING_SORTS = ("kind", "decision", "rules", "scope")


def findings_table(findings: pd.DataFrame, *, sort_by: str = "kind") -> pd.DataFrame:
    """The audit's findings as text columns for a table, sorted by ``sort_by`` (a stable sort: ties keep the
    audit's order). The ``#`` column is the finding's row in the audit (what :class:`AuditView` lists).

    >>> from sonet_policy.audit import audit
    >>> findings_table(audit(), sort_by="decision")["decision"].is_monotonic_increasing
    True
    """
    if sort_by not in findings.columns:
        raise ValueError(f"cannot sort findings by {sort_by!r}; choose one of {', '.join(findings.columns)}")
    table = pd.DataFrame({"#": range(len(findings))}, index=findings.index)
    for col in findings.columns:
        table[col] = findings[col].map(_cell_text).astype("str") if col != "customers" else findings[col]
    key = "#" if sort_by == "kind" else sort_by
    return table.sort_values(key, kind="stable").reset_index(drop=True)


def uncited_clauses(book: RuleBook) -> pd.DataFrame:
    """The page's clauses that no rule and no constraint cites (``normative`` says whether one should be).

    >>> set(uncited_clauses(default_rulebook()).columns) >= {"clause_id", "normative", "text_ja"}
    True
    """
    cited = {cid for rules in book.rules.values() for r in rules for cid in r.source}
    cited |= {cid for c in book.constraints for cid in c.source}
    clauses = book.clauses.reset_index(drop=True) if "clause_id" in book.clauses.columns else book.clauses.reset_index()
    out = clauses[~clauses["clause_id"].isin(sorted(cited))]
    return out[["clause_id", "section", "normative", "text_ja", "text_en"]].reset_index(drop=True)


def _finding_label(i: int, rec: pd.Series) -> str:
    head = f"#{i} {rec['kind']}" + (f" · {rec['decision']}" if rec["decision"] else "")
    text = _cell_text(rec["scope"]) or _cell_text(rec["rules"])
    return f"{head}: {text}"[:110]


class AuditView(_App):
    """The coverage audit: findings table (sortable), heat map, uncited clauses, and each finding's witness
    in the explorer's answer view. The audit runs at start and again on the button (it reloads the rule book
    from its folder, so edits to the CSVs show).

    >>> view = AuditView()
    >>> view.pick(view.witness_options()[0][1])
    >>> view.explorer.explanation.status in ("uncovered", "conflict", "ok")
    True
    """

    def __init__(self, *, rulebook: RuleBook | None = None, population: pd.DataFrame | None = None) -> None:
        self.book = rulebook or default_rulebook()
        self.population = population
        self.sort_by = w.Dropdown(options=list(FINDING_SORTS), value="kind", description="sort by")
        self.sort_by.add_class("sp-audit-sort")
        self.rerun = w.Button(description="Reload rule book and re-run the audit", layout=w.Layout(width="320px"))
        self.finding = w.Dropdown(description="witness of", layout=w.Layout(width="720px"))
        self.finding.add_class("sp-audit-finding")
        self.table_out, self.map_out, self.clauses_out = w.Output(), w.Output(), w.Output()
        self.explorer = ScenarioExplorer(rulebook=self.book)
        self.findings = pd.DataFrame()
        self.run()
        self.sort_by.observe(lambda change: self.show_table(), names="value")
        self.finding.observe(lambda change: self._show_witness(change["new"]), names="value")
        self.rerun.on_click(lambda button: self.run(reload=True))
        self.widget = w.VBox(
            [
                self.rerun,
                w.HTML("<h3>Findings</h3>"),
                self.sort_by,
                self.table_out,
                w.HTML("<h3>Coverage: areas x devices per decision</h3>"),
                self.map_out,
                w.HTML("<h3>Clauses no rule cites</h3>"),
                self.clauses_out,
                w.HTML("<h3>A finding's witness in the explorer</h3>"),
                self.finding,
                self.explorer.widget,
            ]
        )
        self.widget.add_class("sp-audit")

    def run(self, *, reload: bool = False) -> None:
        """Run the audit (reloading the rule book from its folder first when ``reload``) and redraw."""
        from .audit import audit
        from .rules import load_rulebook

        try:
            if reload:
                self.book = load_rulebook(self.book.folder)
                self.explorer.book = self.book
            self.findings = audit(self.book, population=self.population)
            self.heatmap = coverage_heatmap(self.book)
            self.uncited = uncited_clauses(self.book)
        except Exception as exc:  # a broken CSV shows its problems in the app
            for out in (self.table_out, self.map_out, self.clauses_out):
                show_html(out, error_html(exc))
            return
        self.show_table()
        show_html(self.map_out, self.heatmap.html())
        if self.uncited.empty:
            show_html(self.clauses_out, "<p>Every clause of the page is cited by a rule or a constraint.</p>")
        else:
            show_html(self.clauses_out, self.uncited.to_html(index=False, escape=True))
        options = self.witness_options()
        self.finding.options = options  # (resets the value to None)
        if options:
            self.finding.value = options[0][1]
        self._show_witness(self.finding.value)  # the dropdown and the explorer agree from the start

    def witness_options(self) -> list[tuple[str, int]]:
        """``(label, row)`` of every finding that has a witness scenario."""
        return [
            (_finding_label(i, rec), i)
            for i, (_, rec) in enumerate(self.findings.iterrows())
            if isinstance(rec["witness"], dict)
        ]

    def table(self) -> pd.DataFrame:
        return findings_table(self.findings, sort_by=self.sort_by.value)

    def show_table(self) -> None:
        if self.findings.empty:
            show_html(self.table_out, "<p>No findings: every decision answers every valid combination once.</p>")
            return
        show_html(self.table_out, self.table().to_html(index=False, escape=True))

    def pick(self, row: int) -> None:
        """Choose finding ``row`` in the dropdown: the explorer moves to its witness."""
        if row not in {value for _, value in self.finding.options}:
            raise ValueError(f"finding {row} has no witness scenario")
        if self.finding.value != row:
            self.finding.value = row  # the observer shows the witness
        else:
            self._show_witness(row)

    def _show_witness(self, row: int | None) -> None:
        if row is not None:
            self.explorer.set(**self.findings.iloc[int(row)]["witness"])

    def summary(self) -> str:
        counts = self.findings["kind"].value_counts() if not self.findings.empty else pd.Series(dtype="int64")
        text = ", ".join(
            f"{k} {counts.get(k, 0)}"
            for k in ("gap", "conflict", "overlap", "dead_rule", "uncited_clause", "inconsistency")
        )
        return f"AuditView: {len(self.findings)} finding(s): {text}; sorted by {self.sort_by.value}"


# --------------------------------------------------------------------------------------------- population

SYNTHETIC_NOTE = (
    "SYNTHETIC customer base: invented customers drawn from documented shares "
    "(sonet_policy.population.assumptions()), not So-net figures."
)


def groupings(book: RuleBook) -> dict[str, tuple[str, ...]]:
    """The groupings the population view offers: the first two category inputs together, then each alone.

    >>> list(groupings(default_rulebook()))[0]
    'area and plan'
    """
    names = [n for n, spec in book.inputs.items() if spec.type == "category"]
    out: dict[str, tuple[str, ...]] = {}
    if len(names) >= 2:
        out[f"{names[0]} and {names[1]}"] = (names[0], names[1])
    out.update({n: (n,) for n in names})
    return out


@dataclass
class PopulationImpact:
    """A customer base, its answers (one ``evaluate`` call) and the counts the population view shows."""

    population: pd.DataFrame
    answers: pd.DataFrame
    summary: pd.DataFrame  # impact_summary by the grouping
    counts: pd.DataFrame  # impact (tidy: group, decision, code, customers, share)
    by: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        return bool(self.population.attrs.get("synthetic", False))

    def totals(self) -> pd.DataFrame:
        """Customers per code of each decision over the whole base: index (decision, code), customers, share."""
        whole = self.counts.groupby(["decision", "code"], sort=True)["customers"].sum().astype("int64").to_frame()
        whole["share"] = (whole["customers"] / max(len(self.population), 1)).round(4)
        return whole


def population_impact(
    population: pd.DataFrame, *, by: tuple[str, ...] | None = None, rulebook: RuleBook | None = None
) -> PopulationImpact:
    """Evaluate ``population`` in one call and count the impact per group of ``by``.

    >>> from sonet_policy.population import synthetic_population
    >>> result = population_impact(synthetic_population(500, seed=1))
    >>> int(result.summary["customers"].sum()), result.synthetic
    (500, True)
    """
    from .evaluate import evaluate
    from .population import impact, impact_summary

    if by is None:
        from .population import default_by

        by = default_by(rulebook)
    answers = evaluate(population, rulebook=rulebook)
    return PopulationImpact(
        population,
        answers,
        impact_summary(answers, population, by=by),
        impact(answers, population, by=by),
        tuple(by),
    )


def impact_bars(result: PopulationImpact) -> PNGFigure:
    """Bar plots per group: customers by device action (stacked), and customers who lose IPv4 or Wi-Fi or
    fall into a gap or conflict."""
    from matplotlib.figure import Figure

    s = result.summary
    labels = [" / ".join(map(str, row)) for row in s[list(result.by)].itertuples(index=False)] if result.by else ["all"]
    x = np.arange(len(s))
    fig = Figure(figsize=(13, 4.2), dpi=90, layout="constrained")
    left, right = fig.subplots(1, 2)
    bottom = np.zeros(len(s))
    from .population import impact_measures

    table = impact_measures()
    stacked = table[table["kind"] == "each_code"]
    prefix = stacked["measure"].iloc[0] if not stacked.empty else "\0"
    for col in [c for c in s.columns if c.startswith(prefix)]:
        left.bar(x, s[col], bottom=bottom, label=col.removeprefix(prefix))
        bottom += s[col].to_numpy()
    # every valid customer has one device action: a code above, or no answer (a gap or a conflict)
    unanswered = s["customers"].to_numpy() - s["invalid"].to_numpy() - bottom
    left.bar(x, unanswered, bottom=bottom, label="gap or conflict", color="#9e9e9e", hatch="//")
    left.set_title(stacked["decision"].iloc[0].replace("_", " ") if not stacked.empty else "", fontsize=10)
    left.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    measures = [m for m in table.loc[table["kind"] != "each_code", "measure"] if m in s.columns] + ["gap", "conflict"]
    width = 0.8 / len(measures)
    for k, col in enumerate(measures):
        right.bar(x + (k - 1.5) * width, s[col], width=width, label=col)
    right.set_title(", ".join(m.replace("_", " ") for m in measures), fontsize=10)
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in (left, right):
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("customers", fontsize=9)
    kind = "SYNTHETIC customers" if result.synthetic else "customers"
    fig.suptitle(f"{len(result.population):,} {kind} by {' and '.join(result.by) or 'nothing'}", fontsize=11)
    return render_png(fig, f"bar plots: {len(result.population)} {kind} by {', '.join(result.by) or 'nothing'}")


class PopulationView(_App):
    """A synthetic customer base (size and seed as controls) evaluated in one call behind a button: counts
    tables and bar plots by the chosen grouping. ``population=`` shows an analyst's own frame instead.

    >>> view = PopulationView(n=1000, seed=7)
    >>> view.run()
    >>> int(view.result.summary["customers"].sum())
    1000
    """

    def __init__(
        self,
        *,
        n: int = 10_000,
        seed: int = 0,
        population: pd.DataFrame | None = None,
        rulebook: RuleBook | None = None,
    ) -> None:
        self.book = rulebook or default_rulebook()
        self.own_population = population
        self.n = w.BoundedIntText(value=n, min=1, max=5_000_000, description="customers")
        self.seed = w.IntText(value=seed, description="seed")
        self.groupings = groupings(self.book)
        self.by = w.Dropdown(options=list(self.groupings), description="group by")
        self.button = w.Button(description="Generate and evaluate", button_style="primary")
        self.out = w.Output()
        self.result: PopulationImpact | None = None
        self.button.on_click(lambda button: self.run())
        note = "" if population is not None else SYNTHETIC_NOTE
        self.widget = w.VBox(
            [w.HTML(f"<b>{html.escape(note)}</b>"), w.HBox([self.n, self.seed, self.by, self.button]), self.out]
        )
        self.widget.add_class("sp-population")
        show_html(self.out, "<p>Press the button to generate and evaluate the customer base.</p>")

    def run(self) -> None:
        """Generate (or take the given frame), evaluate in one call, and show tables and plots."""
        from .population import synthetic_population

        try:
            if self.own_population is not None:
                population = self.own_population
            else:
                population = synthetic_population(int(self.n.value), seed=int(self.seed.value))
            self.result = population_impact(population, by=self.groupings[self.by.value], rulebook=self.book)
            plot = impact_bars(self.result)
        except Exception as exc:  # shown in the app
            show_html(self.out, error_html(exc))
            return
        head = SYNTHETIC_NOTE if self.result.synthetic else "Customer base given by the analyst."
        show_html(
            self.out,
            f"<p><b>{html.escape(head)}</b> {len(population):,} customers.</p>"
            + self.result.summary.to_html(index=False)
            + "<h4>Customers per answer (whole base)</h4>"
            + self.result.totals().to_html()
            + plot.html(),
        )

    def summary(self) -> str:
        kind = "synthetic" if self.own_population is None else "given"
        if self.result is None:
            return f"PopulationView ({kind}): not run yet"
        s = self.result.summary
        return (
            f"PopulationView ({kind}): {int(s['customers'].sum())} customers by {', '.join(self.result.by)}; "
            f"gap {int(s['gap'].sum())}, conflict {int(s['conflict'].sum())}, invalid {int(s['invalid'].sum())}"
        )


# --------------------------------------------------------------------------------------------- diff


def what_if_labels() -> dict[str, str]:
    """The named what-ifs of ``data/what_ifs.csv``: label -> name."""
    from .diff import what_ifs

    table = what_ifs()
    return dict(zip(table["label"], table["what_if"], strict=True))


def build_what_if(name: str, dst: str | Path) -> Path:
    """Write the what-if copy ``name`` (a label or a name of ``data/what_ifs.csv``) into the new folder
    ``dst``; the baseline is only read. Returns the folder. Raises KeyError for an unknown name.

    >>> import tempfile
    >>> build_what_if("West adopts East's device table", Path(tempfile.mkdtemp()) / "w").name
    'w'
    """
    from .diff import build_what_if as build

    return build(what_if_labels().get(name, name), dst)


def rules_involved(result: DiffResult) -> pd.DataFrame:
    """The rules named in a diff's changed boxes: rule id, decision, side (before, after or both), boxes.

    >>> import tempfile
    >>> from sonet_policy.diff import diff, west_adopts_east
    >>> r = diff(default_rulebook(), west_adopts_east(tempfile.mkdtemp() + "/w"))
    >>> rules_involved(r).set_index("rule_id").loc["DEV-W-2", "side"]
    'before'
    """
    rows = []
    for side in ("before", "after"):
        for decision, rules in zip(result.changes["decision"], result.changes[f"{side}_rules"], strict=True):
            for rule_id in re.split(r"[\s,|]+", str(rules).strip()):
                if rule_id:
                    rows.append({"rule_id": rule_id, "decision": decision, "side": side})
    if not rows:
        return pd.DataFrame(columns=["rule_id", "decision", "side", "boxes"])
    frame = pd.DataFrame(rows)
    boxes = frame.groupby(["rule_id", "decision"], sort=False).size().rename("boxes")
    sides = frame.groupby(["rule_id", "decision"], sort=False)["side"].agg(
        lambda s: "both" if s.nunique() == 2 else s.iloc[0]
    )
    out = pd.concat([sides, boxes], axis=1).reset_index()
    return out.sort_values(["decision", "rule_id"], kind="stable").reset_index(drop=True)


CHANGE_VIEW_COLUMNS = ["decision", "scope", "cells", "before_code", "after_code", "before_rules", "after_rules"]


class DiffView(_App):
    """The baseline against a changed copy (a named what-if written to a temporary folder, or an analyst's
    folder), behind a button: changed scenarios, rules involved, customers changing answer by decision.

    >>> view = DiffView(population_size=2000)
    >>> view.run()
    >>> view.result.changed_decisions
    ['device_action']
    """

    def __init__(
        self,
        *,
        rulebook: RuleBook | None = None,
        population: pd.DataFrame | None = None,
        population_size: int = 10_000,
        seed: int = 0,
    ) -> None:
        self.book = rulebook or default_rulebook()
        self._population = population
        self.population_size, self.seed_value = population_size, seed
        self.what_if = w.Dropdown(
            options=[*what_if_labels(), "a folder"], description="what-if", layout=w.Layout(width="420px")
        )
        self.folder = w.Text(placeholder="folder of a changed copy (for 'a folder')", layout=w.Layout(width="420px"))
        self.button = w.Button(description="Compare with the baseline", button_style="primary")
        self.out = w.Output()
        self.result = None
        self.button.on_click(lambda button: self.run())
        self.widget = w.VBox([w.HBox([self.what_if, self.folder, self.button]), self.out])
        self.widget.add_class("sp-diff")
        show_html(self.out, "<p>Choose a what-if and press the button.</p>")

    @property
    def population(self) -> pd.DataFrame:
        if self._population is None:
            from .population import synthetic_population

            self._population = synthetic_population(self.population_size, seed=self.seed_value)
        return self._population

    def run(self) -> None:
        """Build the changed copy in a temporary folder (or take the folder), diff it, and show the tables."""
        import tempfile

        from .diff import diff

        try:
            if self.what_if.value == "a folder":
                other = self.folder.value.strip()
                if not other:
                    raise ValueError("type the folder of a changed copy of the rule book")
                self.result = diff(self.book, other, population=self.population)
            else:
                with tempfile.TemporaryDirectory(prefix="sonet-what-if-") as tmp:
                    copy = build_what_if(self.what_if.value, f"{tmp}/rules")
                    self.result = diff(self.book, copy, population=self.population)
        except Exception as exc:  # a broken copy shows its problems in the app
            show_html(self.out, error_html(exc))
            return
        r = self.result
        kind = "SYNTHETIC customers" if self.population.attrs.get("synthetic") else "customers"
        parts = [
            f"<p>Baseline {html.escape(r.book_a.hash)} vs changed copy {html.escape(r.book_b.hash)}; "
            f"population: {len(self.population):,} {kind}.</p>",
            "<h4>Per decision</h4>",
            r.summary().to_html(index=False),
            "<h4>Changed scenarios</h4>",
            r.changes[CHANGE_VIEW_COLUMNS].to_html(index=False),
            "<h4>Rules involved</h4>",
            rules_involved(r).to_html(index=False),
        ]
        if r.transitions is not None:
            parts += ["<h4>Customers changing answer (before → after)</h4>", r.transitions.to_html(index=False)]
        show_html(self.out, "".join(parts))

    def summary(self) -> str:
        if self.result is None:
            return "DiffView: not run yet"
        s = self.result.summary()
        moved = ", ".join(f"{d} {int(c)}" for d, c in zip(s["decision"], s["changed"], strict=True))
        return (
            f"DiffView: {self.what_if.value}: {len(self.result.changes)} changed box(es); customers changing: {moved}"
        )
