"""The population impact app: a (synthetic) customer base evaluated in one call, counts and bar plots."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

import ipywidgets as w
import numpy as np
import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.widgets.base import (
    UNANSWERED_COLOUR,
    PNGFigure,
    _App,
    error_html,
    render_png,
    series_colours,
    show_html,
)

if TYPE_CHECKING:  # matplotlib loads only when a figure is drawn
    from matplotlib.figure import Figure

SYNTHETIC_NOTE = (
    "SYNTHETIC customer base: invented customers drawn from documented shares "
    "(sonet_policy.analysis.population.assumptions()), not So-net figures."
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

    >>> from sonet_policy.analysis.population import synthetic_population
    >>> result = population_impact(synthetic_population(500, seed=1))
    >>> int(result.summary["customers"].sum()), result.synthetic
    (500, True)
    """
    from sonet_policy.analysis.population import impact, impact_summary
    from sonet_policy.engine.evaluate import evaluate

    if by is None:
        from sonet_policy.analysis.population import default_by

        by = default_by(rulebook)
    answers = evaluate(population, rulebook=rulebook)
    return PopulationImpact(
        population,
        answers,
        impact_summary(answers, population, by=by),
        impact(answers, population, by=by),
        tuple(by),
    )


def impact_figure(result: PopulationImpact) -> Figure:
    """The figure of :func:`impact_bars` (a :class:`matplotlib.figure.Figure`, not rendered): per group,
    customers by the stacked decision's codes, and customers per measure; every bar carries its value, and a
    name has one colour across both panels (:func:`~sonet_policy.widgets.base.series_colours`: red is a
    conflict only, amber a gap).

    >>> from sonet_policy.analysis.population import synthetic_population
    >>> fig = impact_figure(population_impact(synthetic_population(300, seed=2)))
    >>> len(fig.axes), all(ax.texts for ax in fig.axes)
    (2, True)
    """
    from matplotlib.figure import Figure

    from sonet_policy.analysis.population import impact_measures

    s = result.summary
    labels = [" / ".join(map(str, row)) for row in s[list(result.by)].itertuples(index=False)] if result.by else ["all"]
    x = np.arange(len(s))
    fig = Figure(figsize=(13, 4.6), dpi=90, layout="constrained")
    left, right = fig.subplots(1, 2)
    bottom = np.zeros(len(s))
    table = impact_measures()
    stacked = table[table["kind"] == "each_code"]
    prefix = stacked["measure"].iloc[0] if not stacked.empty else "\0"
    codes = [c for c in s.columns if c.startswith(prefix)]
    measures = [m for m in table.loc[table["kind"] != "each_code", "measure"] if m in s.columns] + ["gap", "conflict"]
    colours = series_colours([c.removeprefix(prefix) for c in codes] + measures)

    tallest = max(float(s["customers"].max()) if len(s) else 0.0, 1.0)

    def label(ax, bars, values, *, least: float = 0.0, **kwargs) -> None:
        texts = [f"{int(v):,}" if v and v >= least else "" for v in values]
        ax.bar_label(bars, labels=texts, fontsize=7, **kwargs)

    for col in codes:
        name = col.removeprefix(prefix)
        values = s[col].to_numpy()
        bars = left.bar(x, values, bottom=bottom, label=name, color=colours[name])
        label(left, bars, values, least=0.04 * tallest, label_type="center")  # a thin slice: in the total only
        bottom += values
    # every valid customer has one device action: a code above, or no answer (a gap or a conflict)
    unanswered = s["customers"].to_numpy() - s["invalid"].to_numpy() - bottom
    bars = left.bar(x, unanswered, bottom=bottom, label="gap or conflict", color=UNANSWERED_COLOUR, hatch="//")
    label(left, bars, unanswered, least=0.04 * tallest, label_type="center")
    totals = s["customers"].to_numpy() - s["invalid"].to_numpy()
    for xi, total in zip(x, totals, strict=True):  # each stack's total above it
        left.annotate(
            f"{int(total):,}", (xi, total), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7
        )
    left.margins(y=0.08)
    left.set_title(stacked["decision"].iloc[0].replace("_", " ") if not stacked.empty else "", fontsize=10)
    left.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    width = 0.8 / len(measures)
    for k, col in enumerate(measures):
        values = s[col].to_numpy()
        bars = right.bar(x + (k - (len(measures) - 1) / 2) * width, values, width=width, label=col, color=colours[col])
        label(right, bars, values, padding=1, rotation=90)
    right.margins(y=0.15)  # room for the values above the bars
    right.set_title(", ".join(m.replace("_", " ") for m in measures), fontsize=10)
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in (left, right):
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("customers", fontsize=9)
    kind = "SYNTHETIC customers" if result.synthetic else "customers"
    fig.suptitle(f"{len(result.population):,} {kind} by {' and '.join(result.by) or 'nothing'}", fontsize=11)
    return fig


def impact_bars(result: PopulationImpact) -> PNGFigure:
    """Bar plots per group (:func:`impact_figure`): customers by device action (stacked), and customers who
    lose IPv4 or Wi-Fi or fall into a gap or conflict; each bar with its value."""
    kind = "SYNTHETIC customers" if result.synthetic else "customers"
    return render_png(
        impact_figure(result), f"bar plots: {len(result.population)} {kind} by {', '.join(result.by) or 'nothing'}"
    )


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
        from sonet_policy.widgets.tables import grid

        self.book = rulebook or default_rulebook()
        self.own_population = population
        self.n = w.BoundedIntText(value=n, min=1, max=5_000_000, description="customers")
        self.seed = w.IntText(value=seed, description="seed")
        self.groupings = groupings(self.book)
        self.by = w.Dropdown(options=list(self.groupings), description="group by")
        self.button = w.Button(
            description="Generate and evaluate", button_style="primary", layout=w.Layout(width="200px")
        )
        self.upload = w.FileUpload(accept=".csv,.xlsx", multiple=False, description="Customer file (CSV/Excel)")
        self.upload.layout = w.Layout(width="240px")
        self.upload.add_class("sp-population-upload")
        self.upload_note = w.HTML()
        self.upload_note.add_class("sp-upload-note")
        self.out = w.Output()
        self.summary_grid = grid(pd.DataFrame(), caption="impact by group")
        self.totals_grid = grid(pd.DataFrame(), caption="customers per answer (whole base)")
        self.downloads = w.HTML()
        self.downloads.add_class("sp-downloads")
        self.files: dict[str, bytes] = {}
        self.result: PopulationImpact | None = None
        self.button.on_click(lambda button: self.run())
        self.upload.observe(lambda change: self.load_upload(change["new"]), names="value")
        note = "" if population is not None else SYNTHETIC_NOTE
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{html.escape(note)}</b>"),
                w.HBox([self.n, self.seed, self.by, self.button]),
                w.HBox([self.upload, self.upload_note]),
                self.out,
                self.summary_grid.widget,
                self.totals_grid.widget,
                self.downloads,
            ]
        )
        self.widget.add_class("sp-population")
        show_html(self.out, "<p>Press the button to generate and evaluate the customer base.</p>")

    def load_upload(self, value: object) -> None:
        """Read an uploaded customer file (the ``value`` of the FileUpload: CSV or Excel, headers in English or
        Japanese, as the CLI reads them) and evaluate it in place of the synthetic base. A file that cannot be
        read is one line in the app (no traceback, no Python class name); the view keeps what it showed."""
        from sonet_policy.widgets.downloads import read_upload

        if not value:
            return
        try:
            frame = read_upload(value, rulebook=self.book)
        except Exception as exc:  # the reader's own one-line message
            self.upload_note.value = error_html(exc)
            return
        name = frame.attrs.get("uploaded_file") or getattr(frame.attrs.get("scenario_file"), "path", "the file")
        self.own_population = frame
        self.upload_note.value = (
            f"<span class='sp-upload-ok'>{html.escape(str(name))}: {len(frame):,} customer(s) read</span>"
        )
        self.run()
        said = self.row_problems()
        if said:
            self.upload_note.value += f" <span class='sp-upload-rows'>{html.escape(said)}</span>"

    def row_problems(self, *, most: int = 3) -> str:
        """The rows of the evaluated base that have a problem, each named by its row (in an uploaded workbook
        the row Excel shows, in a CSV its line) with the reason, at most ``most`` of them; empty if none."""
        if self.result is None or "error" not in self.result.answers.columns:
            return ""
        errors = self.result.answers["error"].astype("string").fillna("")
        bad = errors[errors.ne("")]
        if bad.empty:
            return ""
        listed = "; ".join(f"row {row}: {text}" for row, text in bad.head(most).items())
        more = f"; … and {len(bad) - most} more" if len(bad) > most else ""
        return f"{len(bad):,} row(s) with a problem: {listed}{more}"

    def run(self) -> None:
        """Generate (or take the given frame), evaluate in one call, and show tables and plots."""
        from sonet_policy.analysis.population import synthetic_population
        from sonet_policy.widgets.downloads import download_links

        try:
            if self.own_population is not None:
                population = self.own_population
            else:
                population = synthetic_population(int(self.n.value), seed=int(self.seed.value))
            self.result = population_impact(population, by=self.groupings[self.by.value], rulebook=self.book)
            plot = impact_bars(self.result)
        except Exception as exc:  # shown in the app, one line
            show_html(self.out, error_html(exc))
            return
        head = SYNTHETIC_NOTE if self.result.synthetic else "Customer base given by the analyst."
        totals = self.result.totals().reset_index()
        self.summary_grid.update(self.result.summary)
        self.totals_grid.update(totals)
        tables = {"summary": self.result.summary, "totals": totals}
        if not self.result.synthetic:  # an analyst's customers: their answers, one row per input row
            tables["answers"] = self.result.answers
        links = download_links(tables, stem="population")
        self.files = links.files
        self.downloads.value = links.html
        show_html(
            self.out,
            f"<p><b>{html.escape(head)}</b> {len(population):,} customers.</p>" + plot.html(),
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
