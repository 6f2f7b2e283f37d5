"""Encoding choices: where a finding of the audit exists because of how an ambiguous passage was read, the book
records the reading (:mod:`sonet_policy.analysis.readings` attaches them to the findings).

``encoding_choices.csv`` in the rule book folder holds one row per reading: ``choice_id``, the finding it
explains (``kind``, ``decision``, ``rules``: ``|``-separated rule ids the finding must involve, empty for a
gap), optional condition columns named after inputs (cell grammar; the finding's witness must satisfy them),
``passage`` (clause ids), ``reading`` (what was encoded and why) and ``alternative`` (the other reading and
what it would change). A finding matches a choice when kind and decision are equal, it involves every rule
the choice names (a gap: no rule), and its witness meets the conditions.
"""

from __future__ import annotations

import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.conditions import Condition, parse_cell
from sonet_policy.book.invariants import domain_of
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ConditionError, RuleBookError

FILE = "encoding_choices.csv"
_CHOICES: Slot[pd.DataFrame] = Slot("encoding_choices")
FIXED = ("choice_id", "kind", "decision", "rules", "passage", "reading", "alternative")
OPTIONAL = ("cited_hash",)  # the stamp of the passage a person read (source stamp), as on the rules


def load_choices(book: RuleBook) -> pd.DataFrame:
    """The encoding choices of ``book`` (empty when the file is absent), checked: known decisions and clauses,
    parseable conditions (a rule id that a what-if copy dropped is no error: that choice matches nothing).
    Raises RuleBookError with every problem at once.

    >>> from sonet_policy import default_rulebook
    >>> "EC-PRE-STOP" in set(load_choices(default_rulebook())["choice_id"])
    True
    """
    return book.cache.get(_CHOICES, lambda: _load(book))


def _load(book: RuleBook) -> pd.DataFrame:
    path = book.folder / FILE
    if not path.is_file():
        return pd.DataFrame(columns=list(FIXED))
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    problems: list[dict] = []

    def add(row: int, column: str, value: object, problem: str) -> None:
        problems.append(dict(file=FILE, row=row, column=column, value=value, problem=problem))

    for col in FIXED:
        if col not in frame.columns:
            add(0, col, "", "required column is missing")
    for col in frame.columns:
        if col not in FIXED + OPTIONAL and col not in book.inputs:
            add(0, col, "", "unknown column (an input of inputs.csv, or one of " + ", ".join(FIXED) + ")")
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    clause_ids = set(book.clauses.index)
    for i, rec in frame.iterrows():
        row = int(i) + 2
        if rec["decision"] and rec["decision"] not in book.decisions:
            add(row, "decision", rec["decision"], "unknown decision")
        for cid in filter(None, rec["passage"].split("|")):
            if cid not in clause_ids:
                add(row, "passage", cid, "unknown clause id (data/source/clauses.csv)")
        if not rec["reading"].strip():
            add(row, "reading", "", "say what was read and why")
        for name in (c for c in frame.columns if c in book.inputs):
            try:
                choice_condition(book, name, rec[name])
            except ConditionError as exc:
                add(row, name, rec[name], str(exc))
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    return frame


def choice_condition(book: RuleBook, name: str, cell: str) -> Condition:
    """A choice's condition cell on input ``name``, parsed (raises ConditionError); empty means any."""
    return parse_cell(cell.strip() or "-", name, book.inputs[name].type, domain_of(book, name))
