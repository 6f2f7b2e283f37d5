"""Cross-decision invariants as the book declares them: what the page says about the answers of two decisions
at once.

Each decision table is checked alone by the audit; the page's statements also cross tables (a router whose
function NTT stops remotely cannot keep carrying Wi-Fi). ``invariants.csv`` in the rule book folder holds
those statements as data, one per row, in the grammar of the rule tables (no expression is ever evaluated):

* ``invariant_id``; optional condition columns named after inputs (cell grammar: ``-``, ``a|b``, day ranges);
* ``when_<decision>``: codes (``a|b``; ``-`` or empty: any) the decision must answer for the row to apply. A
  ``conflict`` applies when one of its deciding rules answers such a code (the tables say it, among others);
* ``then_decision`` with ``then_in`` (codes it must answer) or ``then_not_in`` (codes it must not answer);
* ``source`` (clause ids, ``|``-separated; at least one), ``note`` and, optional, ``cited_hash`` (the stamp of
  the cited text, as in the rule tables: ``python -m sonet_policy source stamp``).

This module reads and checks the file (:func:`load_invariants`) and what needs only the compiled grids
(:func:`axes`, :func:`involved_inputs`, :func:`clause_scope_problems`). Checking answers against the invariants
is the engine's (:mod:`sonet_policy.engine.invariants`: ``violations``, ``explain_violations``); the audit's
``inconsistency`` findings are the analysis's (:mod:`sonet_policy.analysis.invariants`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import FINDING_CODES
from sonet_policy.book.conditions import Axis, Condition, parse_cell
from sonet_policy.book.csvfile import Problems
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ConditionError, RuleBookError

FILE = "invariants.csv"
FIXED = ("invariant_id", "then_decision", "then_in", "then_not_in", "source", "note", "cited_hash")
WHEN = "when_"


_INVARIANTS: Slot[list[Invariant]] = Slot("invariants")


@dataclass(frozen=True)
class Invariant:
    """One parsed row of ``invariants.csv``."""

    invariant_id: str
    row: int
    conditions: dict[str, Condition]
    when: dict[str, frozenset[str]]
    then_decision: str
    then_in: frozenset[str]
    then_not_in: frozenset[str]
    source: tuple[str, ...]
    note: str = ""

    @property
    def decisions(self) -> tuple[str, ...]:
        """The decisions the invariant reads: the ``when`` ones, then the ``then`` one."""
        return (*self.when, self.then_decision)

    def statement(self) -> str:
        """The invariant as one line: ``where device_action is none and setup is wlan_1g: ipv4 is not continues``."""
        parts = [f"{name} is {cond.describe()}" for name, cond in self.conditions.items() if not cond.any]
        parts += [f"{d} answers {' or '.join(sorted(codes))}" for d, codes in self.when.items()]
        then = (
            f"{self.then_decision} is {' or '.join(sorted(self.then_in))}"
            if self.then_in
            else f"{self.then_decision} is not {' or '.join(sorted(self.then_not_in))}"
        )
        return (f"where {' and '.join(parts)}: " if parts else "everywhere: ") + then


def axes(book: RuleBook) -> dict[str, Axis]:
    """The finite axis of every input (category values, the catalogue, false/true, the day intervals), from the
    compiled grids.

    >>> from sonet_policy import default_rulebook
    >>> axes(default_rulebook())["days_since_phone_stop"].labels
    ('empty', '0-31', '>=32')
    """
    return book.compiled().axes


def domain_of(book: RuleBook, name: str) -> tuple[str, ...] | None:
    """The values a condition cell on input ``name`` may name: its declared domain, the catalogue's models for
    a ``catalogue`` domain, None for an integer input (ranges are checked by the parser).

    >>> from sonet_policy import default_rulebook
    >>> len(domain_of(default_rulebook(), "device")) == len(default_rulebook().models)
    True
    """
    spec = book.inputs[name]
    if spec.type == "integer":
        return None
    return book.models if spec.domain == ("catalogue",) else spec.domain


def load_invariants(book: RuleBook) -> list[Invariant]:
    """The invariants of ``book`` (``invariants.csv`` in its folder; none when the file is absent), cached on the
    book. Raises RuleBookError naming file, row, column and value for every problem at once.

    >>> from sonet_policy import default_rulebook
    >>> [i.invariant_id for i in load_invariants(default_rulebook())][:2]
    ['INV-ROUTER-WIFI', 'INV-ROUTER-IPV4']
    """
    return book.cache.get(_INVARIANTS, lambda: _load(book))


def _load(book: RuleBook) -> list[Invariant]:
    path = book.folder / FILE
    found: list[Invariant] = []
    if path.is_file():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame.columns = [str(c).strip() for c in frame.columns]
        found = _parse(frame, book)
    return found


def _codes(book: RuleBook, decision: str) -> set[str]:
    c = book.codes
    return set(c.loc[c["decision"] == decision, "code"]) | set(FINDING_CODES)


def _parse(frame: pd.DataFrame, book: RuleBook) -> list[Invariant]:
    """Every row of invariants.csv; raises RuleBookError with every problem (a broken header first, alone)."""
    problems = Problems()
    _check_columns(frame, book, problems)
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    seen: set[str] = set()
    out = [_parse_row(rec, i + 2, frame, book, seen, problems) for i, rec in enumerate(frame.to_dict("records"))]
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    return out


def _check_columns(frame: pd.DataFrame, book: RuleBook, problems: Problems) -> None:
    for col in ("invariant_id", "then_decision", "source"):
        if col not in frame.columns:
            problems.add(FILE, 0, col, "", problem="required column is missing")
    for col in frame.columns:
        if col in FIXED or col in book.inputs:
            continue
        if not (col.startswith(WHEN) and col[len(WHEN) :] in book.decisions):
            problems.add(
                FILE, 0, col, "", problem="unknown column: an input, when_<decision>, or one of " + ", ".join(FIXED)
            )


def _parse_row(
    rec: dict[str, str], row: int, frame: pd.DataFrame, book: RuleBook, seen: set[str], problems: Problems
) -> Invariant:
    """One invariant (its problems listed)."""
    iid = rec["invariant_id"].strip()
    if not iid:
        problems.add(FILE, row, "invariant_id", "", problem="invariant_id is empty")
    elif iid in seen:
        problems.add(FILE, row, "invariant_id", iid, problem="duplicate invariant id")
    seen.add(iid)
    conditions: dict[str, Condition] = {}
    for name, spec in book.inputs.items():
        if name not in frame.columns:
            continue
        cell = rec[name].strip() or "-"
        try:
            conditions[name] = parse_cell(cell, name, spec.type, domain_of(book, name))
        except ConditionError as exc:
            problems.add(FILE, row, name, cell, problem=str(exc))
    when = _when(rec, row, frame, book, problems)
    then = rec["then_decision"].strip()
    then_in, then_not_in = _then(rec, row, then, when, frame, book, problems)
    source = tuple(p.strip() for p in rec["source"].split("|") if p.strip())
    _check_citation(rec, row, source, book, problems)
    return Invariant(iid, row, conditions, when, then, then_in, then_not_in, source, rec.get("note", ""))


def _when(
    rec: dict[str, str], row: int, frame: pd.DataFrame, book: RuleBook, problems: Problems
) -> dict[str, frozenset[str]]:
    """The ``when_<decision>`` cells: the codes each decision must answer (empty or ``-``: any)."""
    when: dict[str, frozenset[str]] = {}
    for col in frame.columns:
        if not col.startswith(WHEN) or col in FIXED:
            continue
        decision, cell = col[len(WHEN) :], rec[col].strip()
        if cell in ("", "-"):
            continue
        codes = frozenset(p.strip() for p in cell.split("|"))
        for code in sorted(codes - _codes(book, decision)):
            problems.add(FILE, row, col, code, problem=f"not a code of {decision} (codes.csv)")
        when[decision] = codes
    return when


def _then(
    rec: dict[str, str],
    row: int,
    then: str,
    when: dict[str, frozenset[str]],
    frame: pd.DataFrame,
    book: RuleBook,
    problems: Problems,
) -> tuple[frozenset[str], frozenset[str]]:
    """``then_in`` and ``then_not_in``: exactly one of them names codes of the then decision."""
    sets = {}
    for col in ("then_in", "then_not_in"):
        cell = rec[col].strip() if col in frame.columns else ""
        sets[col] = frozenset(p.strip() for p in cell.split("|") if p.strip())
    if then not in book.decisions:
        problems.add(FILE, row, "then_decision", then, problem="unknown decision")
    else:
        for col, codes in sets.items():
            for code in sorted(codes - _codes(book, then)):
                problems.add(FILE, row, col, code, problem=f"not a code of {then} (codes.csv)")
    if bool(sets["then_in"]) == bool(sets["then_not_in"]):
        problems.add(FILE, row, "then_in", "", problem="write exactly one of then_in and then_not_in")
    if then in when:
        problems.add(FILE, row, "then_decision", then, problem="the then decision is also a when decision")
    return sets["then_in"], sets["then_not_in"]


def _check_citation(rec: dict[str, str], row: int, source: tuple[str, ...], book: RuleBook, problems: Problems) -> None:
    """At least one clause, every one of the page, and a well-formed stamp."""
    if not source:
        problems.add(FILE, row, "source", "", problem="every invariant cites at least one clause")
    clause_ids = set(book.clauses.index)
    for cid in source:
        if cid not in clause_ids:
            problems.add(FILE, row, "source", cid, problem="unknown clause id (data/source/clauses.csv)")
    stamp = rec.get("cited_hash", "").strip()
    if stamp and not re.fullmatch(r"[0-9a-f]{12}", stamp):
        problems.add(FILE, row, "cited_hash", stamp, problem="cited_hash is empty or 12 hex digits (source stamp)")


def involved_inputs(book: RuleBook, invariant: Invariant) -> list[str]:
    """The inputs an invariant's check enumerates: those its decisions read, its own conditions, and those any
    constraint reads (so that validity is exact), in the rule book's input order."""
    wanted = {name for d in invariant.decisions for name in book.decisions[d].inputs}
    wanted |= {name for name, cond in invariant.conditions.items() if not cond.any}
    wanted |= {name for c in book.constraints for name, cond in c.conditions.items() if not cond.any}
    return [name for name in axes(book) if name in wanted]


def clause_scope_problems(book: RuleBook, *, section_scope: pd.DataFrame) -> list[str]:
    """Rules that cite a clause of a section outside that section's scope (``section_scope``: columns
    ``section`` and ``applies_to``, a cell ``input=condition`` such as a table that holds in one area only): a
    rule citing it must restrict that input to within the condition. One message per offending citation.

    >>> from sonet_policy import default_rulebook
    >>> scope = pd.DataFrame([dict(section="devices.east", applies_to="area=east")])
    >>> clause_scope_problems(default_rulebook(), section_scope=scope)
    []
    """
    grid = axes(book)
    section_of = dict(zip(book.clauses["clause_id"], book.clauses["section"], strict=True))
    limits: dict[str, tuple[str, np.ndarray]] = {}
    for rec in section_scope.itertuples(index=False):
        name, _, cell = str(rec.applies_to).partition("=")
        spec = book.inputs[name.strip()]
        cond = parse_cell(cell.strip(), name.strip(), spec.type, domain_of(book, name.strip()))
        limits[str(rec.section)] = (name.strip(), cond.mask(grid[name.strip()]))
    out = []
    for rules in book.rules.values():
        for r in rules:
            for cid in r.source:
                limit = limits.get(section_of.get(cid, ""))
                if limit is None:
                    continue
                name, allowed = limit
                cond = r.conditions.get(name)
                held = np.ones(len(allowed), dtype=bool) if cond is None else cond.mask(grid[name])
                if (held & ~allowed).any():
                    out.append(
                        f"{r.rule_id} ({r.decision}) cites {cid} of section {section_of[cid]}, which holds only where "
                        f"{name} is within its scope, but the rule's {name} condition is "
                        f"{'any' if cond is None else cond.describe()}"
                    )
    return out
