"""Encoding choices attached to audit findings: where a finding exists because of how an ambiguous passage was
read (``encoding_choices.csv``, read by :mod:`sonet_policy.book.readings`), the audit says so next to it.

A finding matches a choice when kind and decision are equal, it involves every rule the choice names (a gap:
no rule), and its witness meets the choice's conditions.
"""

from __future__ import annotations

import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.invariants import axes
from sonet_policy.book.model import RuleBook
from sonet_policy.book.readings import choice_condition, load_choices
from sonet_policy.engine.invariants import positions

_RECORDS: Slot[list[dict[str, str]]] = Slot("encoding_choice_records")
ANNOTATIONS = ("invariant", "encoding_choices")  # the audit's columns after its own


def _meets(book: RuleBook, rec: dict[str, str], pos: dict[str, int] | None) -> bool:
    """The witness (its axis positions; None: no witness) meets the choice's condition columns."""
    grid = axes(book)
    for name in (n for n in rec if n in book.inputs):
        cond = choice_condition(book, name, rec[name])
        if cond.any:
            continue
        if pos is None or pos[name] < 0 or not cond.mask(grid[name])[pos[name]]:
            return False
    return True


def _witness_positions(book: RuleBook, witnesses: list[object]) -> list[dict[str, int] | None]:
    """Axis positions of every witness, read in one call (None where a finding has no witness)."""
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
