"""The coverage audit app: findings, a coverage heat map and each finding's witness."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
import pandas as pd

from sonet_policy.analysis.coverage import (
    FINDING_SORTS,
    coverage_matrix,
    coverage_shares,
    finding_text,
    findings_table,
    matrix_inputs,
    pair_findings,
    share_label,
    share_matrix,
    uncited_clauses,
)
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.widgets.base import STATUS_COLOURS, STATUS_ORDER, PNGFigure, _App, error_html, render_png, show_html
from sonet_policy.widgets.explorer import ScenarioExplorer
from sonet_policy.widgets.heatmap import ShareHeatMap

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn
    from matplotlib.figure import Figure


def _panels(decisions: list[str]) -> tuple[Figure, list]:
    """A figure with one panel per decision, stacked (the two coverage heat maps)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 1.3 * len(decisions) + 1.2), dpi=90, layout="constrained")
    return fig, list(fig.subplots(len(decisions), 1, squeeze=False)[:, 0])


def _label_panel(ax, matrix: pd.DataFrame, decision: str, *, last: bool) -> None:
    """A panel's labels: the matrix's rows down, its columns across (named under the last panel only), the
    decision to the left."""
    ax.set_yticks(range(len(matrix.index)), list(matrix.index), fontsize=8)
    ax.set_xticks(range(len(matrix.columns)), list(matrix.columns) if last else [], rotation=90, fontsize=7)
    ax.set_ylabel(decision, rotation=0, ha="right", va="center", fontsize=9)


def coverage_heatmap(book: RuleBook) -> PNGFigure:
    """The heat map areas x devices, one panel per decision, coloured covered / gap / conflict."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    decisions = list(book.decisions)
    fig, axes = _panels(decisions)
    cmap = ListedColormap(["#bdbdbd", *(STATUS_COLOURS[s] for s in STATUS_ORDER)])
    value = {"n/a": 0, **{s: k + 1 for k, s in enumerate(STATUS_ORDER)}}
    for ax, name in zip(axes, decisions, strict=True):
        m = coverage_matrix(book, name)
        ax.imshow(m.replace(value).to_numpy(dtype=float), cmap=cmap, vmin=0, vmax=3, aspect="auto")
        _label_panel(ax, m, name, last=ax is axes[-1])
    fig.legend(
        handles=[Patch(color=STATUS_COLOURS[s], label=s) for s in STATUS_ORDER],
        loc="outside upper center",
        ncols=3,
        fontsize=9,
    )
    return render_png(fig, f"coverage heat map: {len(decisions)} decisions x areas x {len(book.models)} devices")


def coverage_share_figure(shares: pd.DataFrame) -> Figure:
    """The figure of :func:`coverage_share_heatmap` (a :class:`matplotlib.figure.Figure`, not rendered): one
    panel per decision, each cell coloured by the share of the pair's scenarios the decision answers and
    printing it (:func:`~sonet_policy.analysis.coverage.share_label`: ``97%``); grey and empty where every combination
    is ruled out. Pale yellow is little covered, dark green all: no red, which the charts keep for conflicts.

    >>> from sonet_policy.analysis.coverage import coverage_shares
    >>> fig = coverage_share_figure(coverage_shares(rows="area", columns="device"))
    >>> sorted({t.get_text() for t in fig.axes[0].texts})
    ['100%']
    """
    import matplotlib as mpl

    decisions = list(dict.fromkeys(shares["decision"]))
    fig, axes = _panels(decisions)
    cmap = mpl.colormaps["YlGn"].with_extremes(bad="#bdbdbd")
    image = None
    for ax, name in zip(axes, decisions, strict=True):
        m = share_matrix(shares, name)
        values = m.to_numpy(dtype=float)
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            text = share_label(v)
            if text:
                colour = "white" if v > 0.6 else "black"
                ax.text(j, i, text, ha="center", va="center", rotation=90, fontsize=6.5, color=colour)
        _label_panel(ax, m, name, last=ax is axes[-1])
    if image is not None:
        fig.colorbar(image, ax=list(axes), label="share covered", shrink=0.6)
    return fig


def coverage_share_heatmap(shares: pd.DataFrame) -> PNGFigure:
    """The heat map of :func:`~sonet_policy.analysis.coverage.coverage_shares` (:func:`coverage_share_figure`): one
    panel per decision, each cell the share of the pair's scenarios the decision answers, printed in the cell
    (1 = every combination of the other inputs covered, 0 = none); grey where every combination is ruled out.
    A pair with one uncovered corner is a near-1 cell, not a solid alarm."""
    rows, columns = shares.columns[0], shares.columns[1]
    decisions = list(dict.fromkeys(shares["decision"]))
    return render_png(
        coverage_share_figure(shares),
        f"coverage heat map: share covered, {len(decisions)} decisions x {rows} x {columns} pairs",
    )


def pair_options(shares: pd.DataFrame) -> list[tuple[str, tuple[str, str]]]:
    """``(label, (row value, column value))`` of every pair some decision leaves partly open (a gap or a
    conflict share above 0), worst first; the label gives each such decision's covered share as the heat map
    prints it (:func:`~sonet_policy.analysis.coverage.share_label`: rounded down).

    >>> from sonet_policy.analysis.coverage import coverage_shares
    >>> options = pair_options(coverage_shares(rows="area", columns="device"))
    >>> options[0][0].split(":")[0], len(options[0][1])
    ('west × PR-600KI', 2)
    """
    rows, columns = shares.columns[0], shares.columns[1]
    open_ = shares[(shares["gap"] > 0) | (shares["conflict"] > 0)]
    out = []
    for (r, c), part in open_.groupby([rows, columns], sort=False):
        worst = float(part["covered_share"].min())
        text = ", ".join(f"{d} {share_label(s)}" for d, s in zip(part["decision"], part["covered_share"], strict=True))
        out.append((worst, f"{r} × {c}: covered {text}", (str(r), str(c))))
    out.sort(key=lambda t: t[0])  # stable: ties keep the axes' order
    return [(label, pair) for _, label, pair in out]


def _finding_label(i: int, rec: pd.Series) -> str:
    head = f"#{i} {rec['kind']}" + (f" · {rec['decision']}" if rec["decision"] else "")
    text = finding_text(rec["scope"]) or finding_text(rec["rules"])
    return f"{head}: {text}"[:110]


class AuditView(_App):
    """The coverage audit: findings table (sortable), a clickable heat map of the share covered (a cell click
    opens the pair's findings, as the pair picker under it does; the two stay in step), uncited clauses, and
    each finding's witness in the explorer's answer view. ``heatmap`` is the same map as a PNG (a static image,
    drawn when asked for). The audit runs at start and again on the button (it reloads the rule book
    from its folder, so edits to the CSVs show).

    >>> view = AuditView()
    >>> view.pick(view.witness_options()[0][1])
    >>> view.explorer.explanation.status in ("uncovered", "conflict", "ok")
    True
    """

    def __init__(self, *, rulebook: RuleBook | None = None, population: pd.DataFrame | None = None) -> None:
        from sonet_policy.widgets.tables import grid

        self.book = rulebook or default_rulebook()
        self.population = population
        self.sort_by = w.Dropdown(options=list(FINDING_SORTS), value="kind", description="sort by")
        self.sort_by.add_class("sp-audit-sort")
        self.rerun = w.Button(description="Reload rule book and re-run the audit", layout=w.Layout(width="320px"))
        self.finding = w.Dropdown(description="witness of", layout=w.Layout(width="720px"))
        self.finding.add_class("sp-audit-finding")
        self.pair = w.Dropdown(description="findings of", layout=w.Layout(width="720px"))
        self.pair.add_class("sp-audit-pair")
        self.table_out, self.map_out, self.clauses_out = w.Output(), w.Output(), w.Output()
        self.pair_out = w.Output()
        self.map = ShareHeatMap()
        self._heatmap: PNGFigure | None = None
        self.downloads = w.HTML()
        self.downloads.add_class("sp-downloads")
        self.files: dict[str, bytes] = {}
        self.grid = grid(pd.DataFrame(), caption="findings")
        self.pair_grid = grid(pd.DataFrame(), caption="findings of the pair", page_length=10)
        self.explorer = ScenarioExplorer(rulebook=self.book)
        self.findings = pd.DataFrame()
        self.shares = pd.DataFrame()
        self.pair_findings = pd.DataFrame()
        self.run()
        self.sort_by.observe(lambda change: self.show_table(), names="value")
        self.finding.observe(lambda change: self._show_witness(change["new"]), names="value")
        self.pair.observe(lambda change: self._picked_pair(change["new"]), names="value")
        self.map.observe(lambda change: self._clicked(change["new"]), names="selected")
        self.rerun.on_click(lambda button: self.run(reload=True))
        rows, columns = matrix_inputs(self.book)
        self.widget = w.VBox(
            [
                self.rerun,
                w.HTML("<h3>Findings</h3>"),
                self.sort_by,
                self.table_out,
                self.grid.widget,
                self.downloads,
                w.HTML(f"<h3>Coverage: share of each {rows} x {columns} pair covered, per decision</h3>"),
                self.map_out,
                self.map,
                self.pair,
                self.pair_out,
                self.pair_grid.widget,
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
        from sonet_policy.analysis.audit import audit
        from sonet_policy.book.load import load_rulebook
        from sonet_policy.widgets.downloads import download_links

        try:
            if reload:
                self.book = load_rulebook(self.book.folder)
                self.explorer.book = self.book
            self.findings = audit(self.book, population=self.population)
            rows, columns = matrix_inputs(self.book)
            self.shares = coverage_shares(self.book, rows=rows, columns=columns)
            self._heatmap = None
            self.uncited = uncited_clauses(self.book)
        except Exception as exc:  # a broken CSV shows its problems in the app
            for out in (self.table_out, self.map_out, self.clauses_out):
                show_html(out, error_html(exc))
            self.downloads.value = ""
            self.map.show(None)
            return
        self.show_table()
        links = download_links(
            {
                "findings": findings_table(self.findings) if not self.findings.empty else self.findings,
                "coverage": self.shares,
            },
            stem="audit",
        )
        self.files = links.files
        self.downloads.value = links.html
        self.map_out.outputs = ()
        self.map.show(self.shares)
        if self.uncited.empty:
            show_html(self.clauses_out, "<p>Every clause of the page is cited by a rule or a constraint.</p>")
        else:
            show_html(self.clauses_out, self.uncited.to_html(index=False, escape=True))
        pairs = pair_options(self.shares)
        self.pair.options = pairs
        if pairs:
            self.pair.value = pairs[0][1]
        self._show_pair(self.pair.value)
        options = self.witness_options()
        self.finding.options = options  # (resets the value to None)
        if options:
            self.finding.value = options[0][1]
        self._show_witness(self.finding.value)  # the dropdown and the explorer agree from the start

    @property
    def heatmap(self) -> PNGFigure:
        """The share heat map as a PNG (:func:`coverage_share_heatmap`), for a static image."""
        if self._heatmap is None:
            self._heatmap = coverage_share_heatmap(self.shares)
        return self._heatmap

    def open_pair(self, row_value: str, column_value: str) -> pd.DataFrame:
        """Open the findings of one pair of the heat map (a row value, a column value), as a cell click does:
        the grid below the map lists them, the pair picker shows the pair (blank for a pair no decision leaves
        open), the map outlines it; returns them. Raises ValueError for a value that is not on the map's axes.
        """
        rows, columns = self.shares.columns[0], self.shares.columns[1]
        for axis, value in ((rows, row_value), (columns, column_value)):
            if str(value) not in set(self.shares[axis].astype(str)):
                raise ValueError(f"{value!r} is not a value of {axis} on the heat map")
        pair = (str(row_value), str(column_value))
        if pair in {value for _, value in self.pair.options} and self.pair.value != pair:
            self.pair.value = pair  # the observer shows the findings
        else:
            if pair not in {value for _, value in self.pair.options}:
                self.pair.value = None  # the picker lists only open pairs: it shows none (the observer skips None)
            self._show_pair(pair)
        return self.pair_findings

    def _picked_pair(self, pair: tuple[str, str] | None) -> None:
        if pair is not None:
            self._show_pair(pair)

    def _clicked(self, selected: list[str]) -> None:
        if len(selected) != 3:
            return
        try:
            self.open_pair(selected[1], selected[2])
        except ValueError as exc:  # a map drawn before a reload: say so under the map
            show_html(self.pair_out, error_html(exc))

    def _show_pair(self, pair: tuple[str, str] | None) -> None:
        if pair is None or self.findings.empty:
            self.pair_findings = self.findings.iloc[0:0]
            show_html(self.pair_out, "<p>Every pair is covered by every decision.</p>" if pair is None else "")
            self.pair_grid.update(pd.DataFrame())
            return
        rows, columns = self.shares.columns[0], self.shares.columns[1]
        self.pair_findings = pair_findings(self.findings, {rows: pair[0], columns: pair[1]})
        part = self.shares[(self.shares[rows] == pair[0]) & (self.shares[columns] == pair[1])]
        text = "; ".join(
            f"{d}: {c}/{n} covered, {g} gap, {k} conflict"
            for d, n, c, g, k in part[["decision", "scenarios", "covered", "gap", "conflict"]].itertuples(index=False)
        )
        show_html(
            self.pair_out,
            f"<p class='sp-pair'><b>{html.escape(f'{rows}={pair[0]}, {columns}={pair[1]}')}</b>: "
            f"{len(self.pair_findings)} finding(s). {html.escape(text)}</p>",
        )
        if list(self.map.selected[1:]) != list(pair):
            self.map.selected = ["", *pair]  # a pair picked in the picker: outlined in every decision
        table = findings_table(self.pair_findings) if not self.pair_findings.empty else pd.DataFrame()
        if not table.empty:
            table["#"] = list(self.pair_findings.index)
        self.pair_grid.update(table, caption=f"findings of {rows}={pair[0]}, {columns}={pair[1]}")

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
        """The findings in the grid, in the order of the sort dropdown (a header click sorts them too)."""
        if self.findings.empty:
            show_html(self.table_out, "<p>No findings: every decision answers every valid combination once.</p>")
            self.grid.update(pd.DataFrame())
            return
        self.table_out.outputs = ()
        self.grid.update(self.table())

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
