"""The policy diff app: the baseline against a changed copy."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w
import pandas as pd

from ..rules import RuleBook, default_rulebook

if TYPE_CHECKING:  # matplotlib and the diff module load only when a view needs them
    from ..diff import DiffResult

from .base import _App, error_html, show_html


def what_if_labels() -> dict[str, str]:
    """The named what-ifs of ``data/what_ifs.csv``: label -> name."""
    from ..whatif import what_ifs

    table = what_ifs()
    return dict(zip(table["label"], table["what_if"], strict=True))


def build_what_if(name: str, dst: str | Path) -> Path:
    """Write the what-if copy ``name`` (a label or a name of ``data/what_ifs.csv``) into the new folder
    ``dst``; the baseline is only read. Returns the folder. Raises KeyError for an unknown name.

    >>> import tempfile
    >>> build_what_if("West adopts East's device table", Path(tempfile.mkdtemp()) / "w").name
    'w'
    """
    from ..whatif import build_what_if as build

    return build(what_if_labels().get(name, name), dst)


def rules_involved(result: DiffResult) -> pd.DataFrame:
    """The rules named in a diff's changed boxes: rule id, decision, side (before, after or both), boxes.

    >>> import tempfile
    >>> from sonet_policy.diff import diff
    >>> from sonet_policy.whatif import west_adopts_east
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


DIFF_TABLES = ("Per decision", "Changed scenarios", "Rules involved", "Customers changing answer (before → after)")
_FILE_NAMES = dict(zip(DIFF_TABLES, ("per-decision", "changes", "rules", "transitions"), strict=True))
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
        from ..tables import grid

        self.grids = {title: grid(pd.DataFrame(), caption=title) for title in DIFF_TABLES}
        self.downloads = w.HTML()
        self.downloads.add_class("sp-downloads")
        self.files: dict[str, bytes] = {}
        self.button.on_click(lambda button: self.run())
        self.widget = w.VBox(
            [
                w.HBox([self.what_if, self.folder, self.button]),
                self.out,
                *(g.widget for g in self.grids.values()),
                self.downloads,
            ]
        )
        self.widget.add_class("sp-diff")
        show_html(self.out, "<p>Choose a what-if and press the button.</p>")

    @property
    def population(self) -> pd.DataFrame:
        if self._population is None:
            from ..population import synthetic_population

            self._population = synthetic_population(self.population_size, seed=self.seed_value)
        return self._population

    def run(self) -> None:
        """Build the changed copy in a temporary folder (or take the folder), diff it, and show the tables."""
        import tempfile

        from ..diff import diff

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
            for g in self.grids.values():
                g.update(pd.DataFrame())
            self.downloads.value, self.files = "", {}
            return
        from ..downloads import download_links

        r = self.result
        kind = "SYNTHETIC customers" if self.population.attrs.get("synthetic") else "customers"
        tables = self.tables()
        for title, g in self.grids.items():
            g.update(tables.get(title, pd.DataFrame()))
        links = download_links({_FILE_NAMES[t]: frame for t, frame in tables.items()}, stem="diff")
        self.files, self.downloads.value = links.files, links.html
        show_html(
            self.out,
            f"<p>Baseline {html.escape(r.book_a.hash)} vs changed copy {html.escape(r.book_b.hash)}; "
            f"population: {len(self.population):,} {kind}. Tables: {html.escape(', '.join(tables))}.</p>",
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The diff's tables by title (what the grids show and the downloads hold); empty before a run."""
        r = self.result
        if r is None:
            return {}
        out = {
            DIFF_TABLES[0]: r.summary(),
            DIFF_TABLES[1]: r.changes[CHANGE_VIEW_COLUMNS],
            DIFF_TABLES[2]: rules_involved(r),
        }
        if r.transitions is not None:
            out[DIFF_TABLES[3]] = r.transitions
        return out

    def summary(self) -> str:
        if self.result is None:
            return "DiffView: not run yet"
        s = self.result.summary()
        moved = ", ".join(f"{d} {int(c)}" for d, c in zip(s["decision"], s["changed"], strict=True))
        return (
            f"DiffView: {self.what_if.value}: {len(self.result.changes)} changed box(es); customers changing: {moved}"
        )
