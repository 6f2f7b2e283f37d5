"""A new version of the page against a rule book: which rules now stand on changed text, and a proposal that
carries the new page.

``python -m sonet_policy source diff NEW.txt`` compares the new page with the book's clauses
(:func:`compare`: the text side is :func:`sonet_policy.source.revision.compare_clauses`, the pairing
:mod:`sonet_policy.source.alignment`). On top of what changed in the text, the report lists every rule,
constraint and invariant citing an ``edited`` or ``removed`` clause (stale rules), and numbers that changed
inside cited clauses with the condition cells of the citing rules that use that number or its neighbour
(「32 日以上」 is ``>=32``, its complement ``[0,31]``).

``python -m sonet_policy source update NEW.txt --proposal NAME`` writes a proposal (:func:`update`): a copy of
the rule book whose rules are stamped (``cited_hash``) with the text they were reviewed against, the new page,
the new clause table (old ids kept for unchanged, moved and edited clauses; new ids for added ones; removed
clauses kept, empty, so the rules citing them still load and show as stale) and the rebuilt catalogue.
``source review`` re-stamps rules and marks clauses reviewed once a person has read them (:func:`review`);
``source stamp`` stamps rules that carry no hash yet (:func:`stamp`).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from sonet_policy.analysis.proposals import create_proposal, proposals_dir, read_table, refuse_baseline, write_table
from sonet_policy.analysis.stale import CITING_FILES
from sonet_policy.book.invariants import load_invariants
from sonet_policy.book.load import load_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import PageError
from sonet_policy.files.write import write_atomically
from sonet_policy.paths import CLAUSES_CSV, DEVICES_CSV, PAGE_TXT, RULES_DIR
from sonet_policy.source.citations import stamp_texts, text_citations
from sonet_policy.source.clauses import NORMATIVE_KINDS, book_sources, cited_hash, read_clauses
from sonet_policy.source.revision import RevisionReport, compare_clauses, folder_page, number_changes


class Citation(NamedTuple):
    """A rule, constraint or invariant of a book as its file holds it: id, file, row in that file (the header
    is row 1; 0 when not found), the clause ids it cites and its raw condition cells."""

    rule_id: str
    table: str
    row: int
    source: tuple[str, ...]
    cells: dict[str, str]


def compare(new_page: str, *, rulebook: RuleBook | str | Path | None = None) -> RevisionReport:
    """Compare the text of a new page with the clauses of ``rulebook`` (a RuleBook, a folder, or None for the
    shipped book), and list the rules citing changed clauses. Never raises on page text: lines it cannot
    parse are in ``report.problems``.

    >>> from sonet_policy.source.clauses import page_text
    >>> report = compare(page_text().replace("PR-200NE |", "PR-200NE PR-300NE |", 1))
    >>> report.counts()["edited"], report.devices.values.tolist()
    (1, [['added', 'east', 'PR-300NE', 'dev.e.r2']])
    >>> [s["rule_id"] for s in report.stale_rules]
    ['DEV-E-2', 'INV-EXCHANGE-WIFI']
    """
    book = rulebook if isinstance(rulebook, RuleBook) else load_rulebook(rulebook or RULES_DIR)
    report = compare_clauses(new_page, book.clauses, old_page=folder_page(book.folder))
    clauses = report.clauses
    relocated_rows = clauses["status"].eq("moved") & clauses["old_id"].ne(clauses["new_id"])
    changed = clauses[clauses["status"].isin(("edited", "removed")) | relocated_rows].set_index("old_id")
    citations = _citations(book)
    citations += [Citation(c.row_id, c.table, c.row, c.source, {}) for c in text_citations(book.folder)]
    integer_inputs = {name for name, spec in book.inputs.items() if spec.type == "integer"}
    return dataclasses.replace(
        report,
        stale_rules=_stale_rules(changed, citations),
        numbers=_number_uses(changed, citations, integer_inputs),
    )


def _stale_rules(changed: pd.DataFrame, citations: list[Citation]) -> list[dict]:
    """Every citation of a changed clause (``changed``: the report's rows by old id), with old and new text."""
    stale = []
    for c in citations:
        hits = [cid for cid in c.source if cid in changed.index]
        if not hits:
            continue
        texts = [
            dict(
                clause_id=cid,
                status=changed.at[cid, "status"],
                old_text=_none(changed.at[cid, "old_text"]),
                new_text=_none(changed.at[cid, "new_text"]),
            )
            for cid in hits
        ]
        stale.append(dict(rule_id=c.rule_id, table=c.table, row=c.row, clauses=texts))
    return stale


def _number_uses(changed: pd.DataFrame, citations: list[Citation], integer_inputs: set[str]) -> list[dict]:
    """Per number changed in an edited, cited clause: the condition cells of the citing rules that use it."""
    cited = {cid for c in citations for cid in c.source}
    numbers = []
    for cid, rec in changed[changed["status"] == "edited"].iterrows():
        if cid not in cited:
            continue
        for before, after in number_changes(rec["old_text"], rec["new_text"]):
            uses: list[dict] = []
            for c in citations:
                if cid not in c.source:
                    continue
                for number in (n for n in (before, after) if n is not None):
                    for column, cell, match in _cells_using(number, c.cells, integer_inputs):
                        use = dict(rule_id=c.rule_id, table=c.table, column=column, cell=cell, match=match)
                        if use not in uses:
                            uses.append(use)
            numbers.append(dict(clause_id=cid, old=before, new=after, cells=uses))
    return numbers


def _cells_using(number: int, cells: dict[str, str], integer_inputs: set[str]) -> list[tuple[str, str, str]]:
    """(column, cell, match) for each integer condition cell holding ``number`` (exact) or ``number ± 1``
    (adjacent: 「32 日以上経過していない」 is ``[0,31]``)."""
    out = []
    for column, cell in cells.items():
        if column not in integer_inputs:
            continue
        found = {int(x) for x in re.findall(r"\d+", cell)}
        if number in found:
            out.append((column, cell, "exact"))
        elif found & {number - 1, number + 1}:
            out.append((column, cell, "adjacent"))
    return out


def _none(value: object) -> object:
    return None if pd.isna(value) else value


def _citations(book: RuleBook) -> list[Citation]:
    """Every rule, constraint and invariant of the book, with its file, row and raw condition cells."""
    out = []
    for name, rules in book.rules.items():
        table = book.tables[name].reset_index(drop=True)
        rows = {rid: k + 2 for k, rid in reversed(list(enumerate(table["rule_id"])))}
        frame = table.set_index("rule_id", drop=False)
        for r in rules:
            row = frame.loc[r.rule_id]
            row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
            cells = {c: str(row[c]) for c in book.decisions[name].inputs if c in row.index}
            out.append(Citation(r.rule_id, f"{name}.csv", rows.get(r.rule_id, 0), r.source, cells))
    items = {
        "constraint_id": [(c.constraint_id, c.source) for c in book.constraints],
        "invariant_id": [(i.invariant_id, i.source) for i in load_invariants(book)],
    }
    for file, id_col in CITING_FILES:
        path = book.folder / file
        raw = read_table(path) if path.is_file() else None
        for rid, source in items[id_col]:
            cells, row = {}, 0
            if raw is not None:
                at = raw.index[raw[id_col] == rid]
                if len(at):
                    row = int(at[0]) + 2
                    cells = {k: str(raw.at[at[0], k]) for k in book.inputs if k in raw.columns}
            out.append(Citation(rid, file, row, source, cells))
    return out


# ---------------------------------------------------------------- proposals on a new page ----


def _rule_tables(folder: Path) -> list[tuple[str, str]]:
    """(file, id column) of every table of ``folder`` whose rows cite clauses: the decision tables, then
    ``constraints.csv`` and ``invariants.csv`` where the folder has them."""
    files = [(f"{d}.csv", "rule_id") for d in read_table(folder / "decisions.csv")["decision"]]
    return files + [(file, id_col) for file, id_col in CITING_FILES if (folder / file).is_file()]


def stamp(
    folder: Path | str,
    *,
    clauses: pd.DataFrame | None = None,
    ids: list[str] | None = None,
    missing_only: bool = True,
) -> list[str]:
    """Record in each rule's (constraint's, invariant's) ``cited_hash`` the hash of the clause texts it cites.

    ``clauses`` is the clause table the rules were reviewed against (default: the folder's own, else the
    shipped one); ``ids`` limits the stamp to those rule/constraint/invariant ids; ``missing_only`` stamps only
    rows with no hash yet. Writes through :func:`sonet_policy.analysis.proposals.write_table` (never the baseline:
    raises
    BaselineWriteError there). Returns the ids stamped.

    >>> import tempfile
    >>> folder = create_proposal("stamped", root=tempfile.mkdtemp())
    >>> stamp(folder)  # the shipped book is stamped already
    []
    """
    folder = refuse_baseline(folder)
    table = clauses if clauses is not None else read_clauses(book_sources(folder)[1])
    texts = dict(zip(table["clause_id"], table["text_ja"], strict=True))
    done: list[str] = []
    for file, id_col in _rule_tables(folder):
        frame = read_table(folder / file)
        if "cited_hash" not in frame.columns:
            frame["cited_hash"] = ""
        changed = False
        for k, rec in frame.iterrows():
            if ids is not None and rec[id_col] not in ids:
                continue
            if missing_only and rec["cited_hash"]:
                continue
            cited = [c.strip() for c in str(rec["source"]).split("|") if c.strip()]
            value = cited_hash([texts.get(c, "") for c in cited])
            if value != rec["cited_hash"]:
                frame.at[k, "cited_hash"] = value
                changed = True
            done.append(rec[id_col])
        if changed:
            write_table(folder / file, frame)
    done += stamp_texts(folder, texts, write=write_table, ids=ids, missing_only=missing_only)  # citations.csv
    return done


def review(folder: Path | str, ids: list[str], *, kind: str | None = None) -> dict[str, list[str]]:
    """A person has re-read these rules, constraints or clauses of the proposal in ``folder``: rules and
    constraints are re-stamped against the current clause texts (their ``stale_citation`` goes away); clauses
    are marked ``reviewed``. A new clause stays normative unless ``kind`` gives the kind the person read it as
    (``warning``, ``note``, ``heading`` …: ``normative`` follows, true only for rule and exception).

    Returns ``{"rules": [...], "clauses": [...]}``; raises ValueError for an id that is none of these.

    >>> import tempfile
    >>> review(create_proposal("reviewed", root=tempfile.mkdtemp()), ["WIFI-1"])
    {'rules': ['WIFI-1'], 'clauses': []}
    """
    folder = refuse_baseline(folder)
    book = load_rulebook(folder)
    rule_ids = set(book.rule_index) | {c.constraint_id for c in book.constraints}
    rule_ids |= {i.invariant_id for i in load_invariants(book)}
    rule_ids |= {c.row_id for c in text_citations(folder)}  # the rows of the tables citations.csv names
    clause_ids = set(book.clauses["clause_id"])
    unknown = [i for i in ids if i not in rule_ids and i not in clause_ids]
    if unknown:
        raise ValueError(f"not a rule, constraint, invariant or clause of {folder}: {', '.join(unknown)}")
    rules = [i for i in ids if i in rule_ids]
    clause_list = [i for i in ids if i not in rule_ids]
    if rules:
        stamp(folder, ids=rules, missing_only=False)
    if clause_list:
        _mark_reviewed(folder, clause_list, kind)
    return {"rules": rules, "clauses": clause_list}


def _mark_reviewed(folder: Path, clause_ids: list[str], kind: str | None) -> None:
    """Mark clauses of the proposal's own clause table reviewed (and of ``kind``, when given)."""
    own = folder / CLAUSES_CSV.name
    if not own.is_file():
        raise ValueError(f"{folder} carries no clauses.csv of its own (made by source update): nothing to review")
    table = read_clauses(own).reset_index(drop=True)
    if "reviewed" not in table.columns:
        table["reviewed"] = "true"
    table["normative"] = table["normative"].map({True: "true", False: "false"})
    chosen = table["clause_id"].isin(clause_ids)
    table.loc[chosen, "reviewed"] = "true"
    if kind:
        table.loc[chosen, "kind"] = kind
        table.loc[chosen, "normative"] = "true" if kind in NORMATIVE_KINDS else "false"
    write_table(own, table)


def update(
    new_page: str,
    name: str,
    *,
    base: Path | str = RULES_DIR,
    root: Path | str | None = None,
) -> tuple[Path, RevisionReport]:
    """Write proposal ``name``: a copy of rule book ``base`` on the new page (see the module docstring).

    The rules are first stamped (``cited_hash``, where they carry none) with the texts of ``base``'s clauses,
    the text they were reviewed against; then the new page, its clause table and its catalogue are written
    beside them. Returns (the proposal folder, the report). Raises :class:`PageError` (nothing written) when a
    line of the new page cannot be read, ValueError for a bad name, FileExistsError when the proposal exists.

    >>> import tempfile
    >>> from sonet_policy.source.clauses import page_text
    >>> folder, report = update(page_text(), "same-page", root=tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.glob("*s.csv") if p.name in ("clauses.csv", "devices.csv", "inputs.csv"))
    ['clauses.csv', 'devices.csv', 'inputs.csv']
    """
    book = load_rulebook(base)
    report = compare(new_page, rulebook=book)
    if len(report.problems):
        raise PageError(report.problems)
    folder = create_proposal(name, base=base, root=root or proposals_dir())
    stamp(folder, clauses=book.clauses)
    write_table(folder / CLAUSES_CSV.name, report.new_clauses)
    write_table(folder / DEVICES_CSV.name, report.new_catalogue)
    page = refuse_baseline(folder / PAGE_TXT.name)
    write_atomically(page, lambda tmp: tmp.write_text(new_page, encoding="utf-8"))
    return folder, report
