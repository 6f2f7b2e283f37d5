"""Encoding choices attached to audit findings: where a finding exists because of how an ambiguous passage was
read, the audit says so next to it.

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
from sonet_policy.book.conditions import parse_cell
from sonet_policy.book.rules import RuleBook
from sonet_policy.errors import ConditionError, RuleBookError

FILE = "encoding_choices.csv"
_CHOICES: Slot[pd.DataFrame] = Slot("encoding_choices")
_RECORDS: Slot[list[dict[str, str]]] = Slot("encoding_choice_records")
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
                _condition(book, name, rec[name])
            except ConditionError as exc:
                add(row, name, rec[name], str(exc))
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    return frame


def _condition(book: RuleBook, name: str, cell: str):
    from sonet_policy.book.invariants import domain_of

    return parse_cell(cell.strip() or "-", name, book.inputs[name].type, domain_of(book, name))


def _meets(book: RuleBook, rec: dict[str, str], pos: dict[str, int] | None) -> bool:
    """The witness (its axis positions; None: no witness) meets the choice's condition columns."""
    from sonet_policy.book.invariants import axes

    grid = axes(book)
    for name in (n for n in rec if n in book.inputs):
        cond = _condition(book, name, rec[name])
        if cond.any:
            continue
        if pos is None or pos[name] < 0 or not cond.mask(grid[name])[pos[name]]:
            return False
    return True


def _witness_positions(book: RuleBook, witnesses: list[object]) -> list[dict[str, int] | None]:
    """Axis positions of every witness, read in one call (None where a finding has no witness)."""
    from sonet_policy.book.invariants import positions

    rows = [w for w in witnesses if isinstance(w, dict)]
    if not rows:
        return [None] * len(witnesses)
    pos = positions(pd.DataFrame(rows, dtype=object), rulebook=book)
    out: list[dict[str, int] | None] = []
    k = 0
    for w in witnesses:
        if isinstance(w, dict):
            out.append({name: int(p[k]) for name, p in pos.items()})
            k += 1
        else:
            out.append(None)
    return out


def choices_for(finding: dict, *, rulebook: RuleBook, _pos: dict[str, int] | None = None) -> list[dict[str, str]]:
    """The encoding choices a finding (a row of the audit, or a dict with kind, decision, rules, witness)
    comes from: ``choice_id``, ``passage``, ``reading``, ``alternative``.

    >>> from sonet_policy import default_rulebook
    >>> finding = dict(kind="gap", decision="ipv4", rules=[], witness=dict(area="east", plan="other",
    ...     device="PR-400NE", setup="v6plus_router", keep_number=False, days_since_phone_stop=None))
    >>> [c["choice_id"] for c in choices_for(finding, rulebook=default_rulebook())]
    ['EC-PRE-STOP']
    """
    book = rulebook
    records = book.cache.get(_RECORDS, lambda: load_choices(book).to_dict(orient="records"))  # once per book
    out = []
    rules = set(finding.get("rules") or [])
    pos = _pos
    for rec in records:
        if rec["kind"] != finding.get("kind") or rec["decision"] != finding.get("decision"):
            continue
        wanted = set(filter(None, rec["rules"].split("|")))
        if (wanted and not wanted <= rules) or (not wanted and rules):
            continue
        if pos is None and isinstance(finding.get("witness"), dict):
            pos = _witness_positions(book, [finding["witness"]])[0]
        if not _meets(book, rec, pos):
            continue
        out.append({k: rec[k] for k in ("choice_id", "passage", "reading", "alternative")})
    return out


ANNOTATIONS = ("invariant", "encoding_choices")  # the audit's columns after its own


def annotate(findings: pd.DataFrame, *, rulebook: RuleBook, found: list[dict] | None = None) -> pd.DataFrame:
    """``findings`` with two more columns: ``invariant`` (the invariant id of an inconsistency, taken from
    ``found``, the finding dicts in frame order; "" for other kinds) and ``encoding_choices`` (per finding the
    list of choices it comes from; an empty list where none)."""
    findings = findings.copy()
    ids = [str(f.get("invariant", "")) for f in found] if found is not None else [""] * len(findings)
    findings["invariant"] = pd.Series(ids, index=findings.index, dtype="str")
    if load_choices(rulebook).empty:  # no recorded readings (a book without encoding_choices.csv)
        findings["encoding_choices"] = [[] for _ in range(len(findings))]
        return findings
    records = findings.to_dict(orient="records")
    positions = _witness_positions(rulebook, [rec.get("witness") for rec in records])
    findings["encoding_choices"] = [
        choices_for(rec, rulebook=rulebook, _pos=pos) for rec, pos in zip(records, positions, strict=True)
    ]
    return findings
