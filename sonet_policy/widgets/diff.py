"""The policy diff app: the baseline against a changed copy."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as w
import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.widgets.base import _App, error_html, show_html

if TYPE_CHECKING:  # the diff module loads only when a diff runs
    from sonet_policy.analysis.diff import DiffResult


def diff_html(result: DiffResult) -> str:
    """A diff's summary, notes and changes as HTML tables (every string escaped by pandas)."""
    parts = [
        "<div class='sonet-diff'>",
        f"<p>before: <code>{html.escape(str(result.book_a.folder))}</code> ({html.escape(result.book_a.hash)}),"
        f" after: <code>{html.escape(str(result.book_b.folder))}</code> ({html.escape(result.book_b.hash)})</p>",
    ]
    parts += [f"<p>note: {html.escape(n)}</p>" for n in result.axis_notes]
    parts.append(result.summary().to_html(index=False))
    if not result.changes.empty:
        cols = ["decision", "scope", "cells", "before_code", "after_code", "before_rules", "after_rules"]
        parts.append(result.changes[cols].to_html(index=False))
    parts.append("</div>")
    return "\n".join(parts)


def what_if_labels() -> dict[str, str]:
    """The named what-ifs of ``data/what_ifs.csv``: label -> name."""
    from sonet_policy.analysis.whatif import what_ifs

    table = what_ifs()
    return dict(zip(table["label"], table["what_if"], strict=True))


def build_what_if(name: str, dst: str | Path) -> Path:
    """Write the what-if copy ``name`` (a label or a name of ``data/what_ifs.csv``) into the new folder
    ``dst``; the baseline is only read. Returns the folder. Raises KeyError for an unknown name.

    >>> import tempfile
    >>> build_what_if("West adopts East's device table", Path(tempfile.mkdtemp()) / "w").name
    'w'
    """
    from sonet_policy.analysis.whatif import build_what_if as build

    return build(what_if_labels().get(name, name), dst)


def rules_involved(result: DiffResult) -> pd.DataFrame:
    """The rules named in a diff's changed boxes: rule id, decision, side (before, after or both), boxes.

    >>> import tempfile
    >>> from sonet_policy.analysis.diff import diff
    >>> from sonet_policy.analysis.whatif import west_adopts_east
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


def _rule_sources(book: RuleBook) -> dict[str, tuple[str, ...]]:
    return {r.rule_id: r.source for rules in book.rules.values() for r in rules}


def _clause_text(book: RuleBook) -> dict[str, str]:
    clauses = book.clauses.reset_index(drop=True) if "clause_id" in book.clauses.columns else book.clauses.reset_index()
    return dict(zip(clauses["clause_id"].astype(str), clauses["text_ja"].astype(str), strict=True))


def changes_with_clauses(result: DiffResult) -> pd.DataFrame:
    """The changed scenarios of a diff with the page's clauses behind them: ``before_clauses`` and
    ``after_clauses`` (the ids the rules on each side cite) and ``clauses_ja`` (each cited clause's Japanese text,
    ``id 「text」``, the after side's page first, then the before side's for a clause it no longer has).

    >>> import tempfile
    >>> from sonet_policy.analysis.diff import diff
    >>> from sonet_policy.analysis.whatif import west_adopts_east
    >>> table = changes_with_clauses(diff(default_rulebook(), west_adopts_east(tempfile.mkdtemp() + "/w")))
    >>> table.loc[0, "before_clauses"], table.loc[0, "clauses_ja"].startswith("dev.")
    ('dev.w.r2 dev.w.n2', True)
    """
    table = result.changes[CHANGE_VIEW_COLUMNS].copy()
    sources = {"before": _rule_sources(result.book_a), "after": _rule_sources(result.book_b)}
    text = {**_clause_text(result.book_a), **_clause_text(result.book_b)}
    for side in ("before", "after"):
        table[f"{side}_clauses"] = [
            " ".join(dict.fromkeys(c for rule in re.split(r"[\s,|]+", str(rules)) for c in sources[side].get(rule, ())))
            for rules in table[f"{side}_rules"]
        ]
    table["clauses_ja"] = [
        "\n".join(f"{c} 「{text.get(c, '(not on the page)')}」" for c in dict.fromkeys(f"{b} {a}".split()))
        for b, a in zip(table["before_clauses"], table["after_clauses"], strict=True)
    ]
    return table


DIFF_TABLES = ("Per decision", "Changed scenarios", "Rules involved", "Customers changing answer (before → after)")
_FILE_NAMES = dict(zip(DIFF_TABLES, ("per-decision", "changes", "rules", "transitions"), strict=True))
CHANGE_VIEW_COLUMNS = ["decision", "scope", "cells", "before_code", "after_code", "before_rules", "after_rules"]


A_FOLDER = "a folder"
PROPOSAL_PREFIX = "proposal "


def proposal_folders(root: Path | str | None = None) -> dict[str, Path]:
    """The proposals under ``root`` (default :func:`sonet_policy.analysis.proposals.proposals_dir`): name -> folder,
    each
    a folder holding a ``decisions.csv``, sorted by name; empty when there is no such folder.

    >>> import tempfile
    >>> from sonet_policy.analysis.proposals import create_proposal
    >>> root = tempfile.mkdtemp()
    >>> _ = create_proposal("mine", root=root)
    >>> list(proposal_folders(root))
    ['mine']
    """
    from sonet_policy.analysis.proposals import proposals_dir

    root = Path(root) if root is not None else proposals_dir()
    try:
        found = sorted(p for p in root.iterdir() if p.is_dir() and (p / "decisions.csv").is_file())
    except OSError:
        return {}
    return {p.name: p for p in found if not p.name.startswith(".")}


class DiffView(_App):
    """The baseline against a changed copy, behind a button: changed scenarios (with the page's clauses),
    rules involved, customers changing answer by decision. The dropdown offers the shipped what-ifs (written to
    a temporary folder), the proposals found under ``proposals`` (default
    :func:`sonet_policy.analysis.proposals.proposals_dir`; **↻** looks again) and, last, any folder typed in the box.

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
        proposals: Path | str | None = None,
    ) -> None:
        self.book = rulebook or default_rulebook()
        self.proposals_root = proposals
        self.proposals: dict[str, Path] = {}
        self._population = population
        self.population_size, self.seed_value = population_size, seed
        self.what_if = w.Dropdown(description="compare", layout=w.Layout(width="420px"))
        self.what_if.add_class("sp-diff-choice")
        self.refresh = w.Button(description="↻", tooltip="look for proposals again", layout=w.Layout(width="3em"))
        self.refresh.on_click(lambda button: self.find_proposals())
        self.folder = w.Text(placeholder=f"folder of a changed copy (for '{A_FOLDER}')", layout=w.Layout(width="360px"))
        self.find_proposals()
        self.button = w.Button(description="Compare with the baseline", button_style="primary")
        self.out = w.Output()
        self.result = None
        from sonet_policy.widgets.tables import grid

        self.grids = {title: grid(pd.DataFrame(), caption=title) for title in DIFF_TABLES}
        self.downloads = w.HTML()
        self.downloads.add_class("sp-downloads")
        self.files: dict[str, bytes] = {}
        self.button.on_click(lambda button: self.run())
        self.widget = w.VBox(
            [
                w.HBox([self.what_if, self.refresh, self.folder, self.button]),
                self.out,
                *(g.widget for g in self.grids.values()),
                self.downloads,
            ]
        )
        self.widget.add_class("sp-diff")
        show_html(self.out, "<p>Choose a what-if or a proposal and press the button.</p>")

    def find_proposals(self) -> list[str]:
        """Look for proposals again; the dropdown offers the what-ifs, the proposals found, then a typed folder.
        Keeps the choice when it is still offered. Returns the proposals' names."""
        self.proposals = proposal_folders(self.proposals_root)
        options = [*what_if_labels(), *(f"{PROPOSAL_PREFIX}{name}" for name in self.proposals), A_FOLDER]
        current = self.what_if.value
        self.what_if.options = options
        self.what_if.value = current if current in options else options[0]
        return list(self.proposals)

    @property
    def population(self) -> pd.DataFrame:
        if self._population is None:
            from sonet_policy.analysis.population import synthetic_population

            self._population = synthetic_population(self.population_size, seed=self.seed_value)
        return self._population

    def run(self) -> None:
        """Build the changed copy in a temporary folder (or take the folder), diff it, and show the tables."""
        import tempfile

        from sonet_policy.analysis.diff import diff

        choice = self.what_if.value or ""
        try:
            if choice == A_FOLDER:
                other = self.folder.value.strip()
                if not other:
                    raise ValueError("type the folder of a changed copy of the rule book")
                self.result = diff(self.book, other, population=self.population)
            elif choice.startswith(PROPOSAL_PREFIX) and choice.removeprefix(PROPOSAL_PREFIX) in self.proposals:
                self.result = diff(
                    self.book, self.proposals[choice.removeprefix(PROPOSAL_PREFIX)], population=self.population
                )
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
        from sonet_policy.widgets.downloads import download_links

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
            DIFF_TABLES[1]: changes_with_clauses(r),
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
