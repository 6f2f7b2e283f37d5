"""The audit's stale citations: rules, constraints and invariants reviewed against other text than the page
now says.

Each row of a rule book that cites clauses may record in ``cited_hash`` the hash of the texts it was reviewed
against (:func:`sonet_policy.source.clauses.cited_hash`; ``source stamp`` writes it). When the page changes
under it (a proposal made by ``source update`` carries the new clause table), the hash no longer matches and
the row is a ``stale_citation`` finding until a person re-reads it (``source review``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sonet_policy.analysis.cells import Projection, rule_scope, witness
from sonet_policy.book.invariants import FILE as INVARIANTS_CSV
from sonet_policy.book.invariants import load_invariants
from sonet_policy.book.model import RuleBook
from sonet_policy.source.citations import stale_text_citations
from sonet_policy.source.clauses import cited_hash

CITING_FILES = (("constraints.csv", "constraint_id"), (INVARIANTS_CSV, "invariant_id"))  # besides the rule tables


def stale_citations(book: RuleBook) -> list[dict]:
    """Findings of kind ``stale_citation``: every rule, constraint and invariant whose ``cited_hash`` no longer
    matches the text of the clauses it cites (a rule with no hash is not checked; an invariant's message names
    its file and row, and its id is in the ``invariant`` column). Each has the rule's scope over its
    decision's inputs, the clauses whose text changed with old and new text, and a witness (a valid scenario
    the rule matches). Used by :func:`sonet_policy.analysis.audit.audit`.

    >>> from sonet_policy.book.load import load_rulebook
    >>> stale_citations(load_rulebook())
    []
    """
    texts = dict(zip(book.clauses["clause_id"], book.clauses["text_ja"], strict=True))
    previous = {}
    if "previous_text_ja" in book.clauses.columns:
        previous = {c: t for c, t in zip(book.clauses["clause_id"], book.clauses["previous_text_ja"], strict=True) if t}
    recorded = _recorded_hashes(book)
    out: list[dict] = []
    items = list(_citing(book))
    for k, (item, decision, source) in enumerate(items):
        rid = getattr(item, "rule_id", None) or getattr(item, "constraint_id", None) or item.invariant_id
        if rid not in recorded or recorded[rid] == cited_hash([texts.get(c, "") for c in source]):
            continue
        changed = [c for c in source if c in previous] or list(source)
        said = "; ".join(
            f"{c}: 「{previous.get(c, '(not recorded)')}」 → 「{texts.get(c, '') or '(removed from the page)'}」"
            for c in changed
        )
        scope, cells, seen = _where(book, item, rid, decision)
        invariant = getattr(item, "invariant_id", "")
        what = f"Rule {rid} of {decision}" if decision else f"Constraint {rid}"
        if invariant:
            what = f"Invariant {rid} ({INVARIANTS_CSV} row {item.row})"
        out.append(
            dict(
                kind="stale_citation",
                decision=decision,
                scope=scope,
                rules=[rid],
                clauses=changed,
                message=(
                    f"{what} was reviewed against other text than the page now says (cited_hash "
                    f"{recorded[rid]}): {said}. Re-read it, edit it if needed, then: "
                    f"python -m sonet_policy source review {rid} --proposal <name>."
                ),
                witness=seen,
                invariant=invariant,
                _cells=cells,
                _order=(k, -1),
            )
        )
    out += stale_text_citations(book.folder, texts, previous, order=len(items))  # the tables citations.csv names
    return out


def _recorded_hashes(book: RuleBook) -> dict[str, str]:
    """{id: the ``cited_hash`` recorded} for every rule, constraint and invariant that records one."""
    frames = [(book.tables[name], "rule_id") for name in book.rules]
    for file, id_col in CITING_FILES:
        path = book.folder / file
        if path.is_file():
            frames.append((pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"), id_col))
    recorded: dict[str, str] = {}
    for frame, id_col in frames:
        if "cited_hash" in frame.columns:
            pairs = zip(frame[id_col], frame["cited_hash"], strict=True)
            recorded.update({i: h.strip() for i, h in pairs if str(h).strip()})
    return recorded


def _citing(book: RuleBook) -> list[tuple[object, str, tuple[str, ...]]]:
    """(item, its decision or "", the clause ids it cites) for every rule, then constraint, then invariant."""
    items = [(r, r.decision, r.source) for rules in book.rules.values() for r in rules]
    items += [(c, "", c.source) for c in book.constraints]
    items += [(i, "", i.source) for i in load_invariants(book)]
    return items


def _where(book: RuleBook, item: object, rid: str, decision: str) -> tuple[dict, np.ndarray | None, dict | None]:
    """A rule's scope over its decision's inputs, the valid cells of its decision's own grid it matches (as the
    audit's other findings) and a witness; nothing for a constraint or an invariant."""
    if not decision:
        return {}, None, None
    compiled = book.compiled()
    proj = Projection(compiled, decision)
    i = [r.rule_id for r in proj.grid.rules].index(rid)
    cells = proj.grid.matches[i] & proj.valid
    first = cells.nonzero()[0]
    seen = witness(compiled, int(first[0]), decision) if first.size else None
    return rule_scope(item, compiled, proj.inputs), cells, seen
