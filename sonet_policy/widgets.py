"""The widget apps the notebooks and the Voilà dashboard show.

Each app is a class that holds its controls, an ``Output`` widget and a plain compute step that tests call
directly. Callback output is written as ``out.outputs = ()`` then ``out.append_display_data(HTML(...))``:
never ``with out:`` and never ``interact``, which break strict nbval and intermittently hang Voilà.
An app displays as its widget; its plain-text form is a short summary of what it shows (nbval compares it).

* :class:`ScenarioExplorer`: one scenario, five answer cards, recomputed on every change (explain < 20 ms).
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
from collections.abc import Mapping
from dataclasses import dataclass

import ipywidgets as w
import numpy as np
import pandas as pd
from IPython.display import HTML

from .engine import INPUT_ORDER, CompiledBook
from .explain import Explanation, explain, render_html
from .rules import RuleBook, default_rulebook

STATUS_ORDER = ("covered", "gap", "conflict")
STATUS_COLOURS = {"covered": "#2e7d32", "gap": "#f9a825", "conflict": "#c62828"}
EXPLORER_DEFAULTS: dict[str, object] = {
    "area": "east",
    "plan": "10g",
    "device": "PR-600KI",
    "setup": "wlan_1g",
    "keep_number": True,
    "days": None,
}


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


class _App:
    """Displays as its ``widget``; plain text is :meth:`summary`."""

    widget: w.Widget

    def summary(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()


@dataclass(frozen=True)
class AnswerCards:
    """The explorer's answer view of one explanation: HTML cards in a notebook, the CLI's text as plain text.

    >>> cards = AnswerCards(explain_scenario(EXPLORER_DEFAULTS))
    >>> "data-code='keeps_working'" in cards._repr_html_(), repr(cards).startswith("scenario: area=east")
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

    >>> explain_scenario({**EXPLORER_DEFAULTS, "device": "ＰＲ－６００ＫＩ"}).codes["device_action"]
    'keeps_working'
    """
    return explain(rulebook=rulebook, **dict(scenario))


class ScenarioExplorer(_App):
    """Controls for one scenario and its five answer cards, recomputed on every change.

    Keywords set the first scenario (``area``, ``plan``, ``device``, ``setup``, ``keep_number``, ``days``;
    ``days=None`` while the phone has not stopped). ``set(...)`` changes controls as a person would;
    ``explanation``, ``codes`` and ``html`` hold what the cards show.

    >>> app = ScenarioExplorer()
    >>> app.set(plan="sml", setup="wlan_router_10g")
    >>> app.explanation.status, "10g" in app.explanation.error
    ('invalid', True)
    """

    def __init__(self, *, rulebook: RuleBook | None = None, **scenario: object) -> None:
        self.book = rulebook or default_rulebook()
        start = {**EXPLORER_DEFAULTS, **scenario}
        self.area = w.Dropdown(options=domain_options(self.book, "area"), description="area エリア")
        self.plan = w.Dropdown(options=domain_options(self.book, "plan"), description="plan プラン")
        self.device = w.Combobox(
            options=list(self.book.models),
            ensure_option=False,
            continuous_update=False,
            placeholder="model on the label, any spelling",
            description="device 機器名",
        )
        self.setup = w.Dropdown(options=domain_options(self.book, "setup"), description="setup 利用環境")
        self.keep_number = w.Checkbox(description="keeps the number (ports it out) 番号継続", indent=True)
        self.days = w.BoundedIntText(min=0, max=100_000, description="days 停止後日数")
        self.not_stopped = w.Checkbox(description="phone not stopped yet (days empty)", indent=True)
        self.out = w.Output()
        for control, css in [
            (self.area, "sp-area"),
            (self.plan, "sp-plan"),
            (self.device, "sp-device"),
            (self.setup, "sp-setup"),
            (self.keep_number, "sp-keep"),
            (self.days, "sp-days"),
            (self.not_stopped, "sp-not-stopped"),
            (self.out, "sp-answers"),
        ]:
            control.add_class(css)
            if control is not self.out:
                control.style = {"description_width": "150px"} if not isinstance(control, w.Checkbox) else {}
                control.layout = w.Layout(width="420px")
        self.explanation: Explanation | None = None
        self.html = ""
        self._holding = True
        self.set(**start)
        self._holding = False
        for control in self.controls:
            control.observe(self._changed, names="value")
        self.update()
        self.widget = w.VBox(
            [
                w.HBox([w.VBox([self.area, self.plan, self.device, self.setup]), w.VBox(self.controls[4:])]),
                self.out,
            ]
        )
        self.widget.add_class("sp-explorer")

    @property
    def controls(self) -> list[w.ValueWidget]:
        return [self.area, self.plan, self.device, self.setup, self.keep_number, self.days, self.not_stopped]

    @property
    def scenario(self) -> dict[str, object]:
        """The scenario the controls describe (``days`` is None while the phone has not stopped)."""
        return {
            "area": self.area.value,
            "plan": self.plan.value,
            "device": self.device.value,
            "setup": self.setup.value,
            "keep_number": bool(self.keep_number.value),
            "days_since_phone_stop": None if self.not_stopped.value else int(self.days.value),
        }

    @property
    def codes(self) -> dict[str, str]:
        """The code each card shows; ``{"scenario": "invalid"}`` for an invalid scenario."""
        if self.explanation is None:
            return {}
        return self.explanation.codes if self.explanation.status != "invalid" else {"scenario": "invalid"}

    def set(self, **values: object) -> None:
        """Set controls by input name (``days`` or ``days_since_phone_stop``; None ticks "not stopped")."""
        if "days_since_phone_stop" in values:
            values["days"] = values.pop("days_since_phone_stop")
        unknown = set(values) - {"area", "plan", "device", "setup", "keep_number", "days"}
        if unknown:
            raise TypeError(f"unknown control(s): {', '.join(sorted(unknown))}")
        held, self._holding = self._holding, True
        try:
            for name in ("area", "plan", "setup"):
                if name in values:
                    getattr(self, name).value = str(values[name])
            if "device" in values:
                self.device.value = "" if values["device"] is None else str(values["device"])
            if "keep_number" in values:
                self.keep_number.value = bool(values["keep_number"])
            if "days" in values:
                days = values["days"]
                self.not_stopped.value = days is None or days == ""
                if not self.not_stopped.value:
                    self.days.value = int(days)
        finally:
            self._holding = held
        if not held:
            self.update()

    def _changed(self, change: dict) -> None:
        if not self._holding:
            self.update()

    def update(self) -> None:
        """Recompute the answer and redraw the cards (an error shows in the app, not as a traceback)."""
        self.days.disabled = bool(self.not_stopped.value)
        try:
            self.explanation = explain_scenario(self.scenario, rulebook=self.book)
            self.html = render_html(self.explanation)
        except Exception as exc:  # shown to the analyst, not swallowed
            self.explanation = None
            self.html = error_html(exc)
        show_html(self.out, self.html)

    def summary(self) -> str:
        s = self.scenario
        days = "empty" if s["days_since_phone_stop"] is None else s["days_since_phone_stop"]
        head = (
            f"ScenarioExplorer: area={s['area']} plan={s['plan']} device={s['device']} setup={s['setup']} "
            f"keep_number={s['keep_number']} days={days}"
        )
        if self.explanation is None:
            return f"{head}\n  error (see the app)"
        if self.explanation.status == "invalid":
            return f"{head}\n  invalid: {self.explanation.error}"
        return head + "\n  " + " ".join(f"{k}={v}" for k, v in self.codes.items())


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


def render_png(fig, description: str) -> PNGFigure:
    """Render a :class:`matplotlib.figure.Figure` with the Agg canvas (no display, no pyplot state, no
    version or date in the PNG's metadata: the same figure gives the same bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return PNGFigure(buf.getvalue(), description)


# --------------------------------------------------------------------------------------------- audit

_STATUS_RANK = {"ok": 0, "uncovered": 1, "conflict": 2}


def coverage_matrix(book: RuleBook, decision: str) -> pd.DataFrame:
    """Areas x devices for one decision: ``conflict`` if any valid combination of the other inputs is a
    conflict, else ``gap`` if any is uncovered, else ``covered`` (``n/a``: every combination ruled out).

    >>> m = coverage_matrix(default_rulebook(), "procedure")
    >>> m.shape, set(m.to_numpy().ravel())
    ((2, 40), {'covered'})
    """
    compiled: CompiledBook = book.compiled()
    grid = compiled.decisions[decision]
    rank_of_outcome = np.array([_STATUS_RANK[o.status] for o in grid.outcomes], dtype=np.int8)
    rank = rank_of_outcome[grid.outcome_id]
    rank = np.where(compiled.invalid, -1, rank).reshape(compiled.shape)
    keep = (INPUT_ORDER.index("area"), INPUT_ORDER.index("device"))
    worst = rank.max(axis=tuple(k for k in range(len(INPUT_ORDER)) if k not in keep))
    labels = np.array(["n/a", *STATUS_ORDER], dtype=object)[worst + 1]
    return pd.DataFrame(
        labels,
        index=pd.Index(compiled.axes["area"].labels, name="area"),
        columns=pd.Index(compiled.axes["device"].labels, name="device"),
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
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
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
        self.finding.observe(lambda change: self.pick(change["new"]), names="value")
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
        self.finding.options = self.witness_options()

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

    def pick(self, row: int | None) -> None:
        """Show the witness of finding ``row`` in the explorer (the explorer's controls move to it)."""
        if row is None:
            return
        self.explorer.set(**self.findings.iloc[int(row)]["witness"])

    def summary(self) -> str:
        counts = self.findings["kind"].value_counts() if not self.findings.empty else pd.Series(dtype="int64")
        text = ", ".join(
            f"{k} {counts.get(k, 0)}" for k in ("gap", "conflict", "overlap", "dead_rule", "uncited_clause")
        )
        return f"AuditView: {len(self.findings)} finding(s): {text}; sorted by {self.sort_by.value}"
