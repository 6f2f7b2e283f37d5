"""The audit's ``inconsistency`` findings: where the book's answers break a cross-decision invariant.

:func:`findings` checks each invariant over *every* combination of the inputs its decisions, its own
conditions and the constraints read (:func:`sonet_policy.engine.invariants.checked_domain`: the declared
domains, the catalogue and the day cut points), so it is exact; each violation comes back merged into readable
scopes with a witness. :func:`rows_in_finding` finds the customers of a population behind one finding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.invariants import Invariant, axes, involved_inputs, load_invariants
from sonet_policy.book.model import RuleBook
from sonet_policy.book.scope import describe, merge_cells
from sonet_policy.engine.invariants import CheckedDomain, checked_domain, positions, rule_answers, violations


def findings(book: RuleBook) -> list[dict]:
    """Every violation of every invariant over the whole domain, as audit findings of kind ``inconsistency``:
    one per invariant, combination of deciding rules and box of the enumerated grid (``scope`` over the
    inputs involved). ``rules`` lists the deciding rules of the ``when`` decisions, then of the ``then``
    decision; ``clauses`` the invariant's own, then those rules'.

    >>> from sonet_policy import default_rulebook
    >>> sorted({f["invariant"] for f in findings(default_rulebook())})
    ['INV-ROUTER-IPV4']
    """
    out: list[dict] = []
    if not load_invariants(book):
        return out
    domain = checked_domain(book)
    rules_of: dict[str, tuple[np.ndarray, list[str]]] = {}  # per decision: rule_answers, computed once
    for k, inv in enumerate(load_invariants(book)):
        broken = domain.broken[:, k]
        if not broken.any():
            continue
        for d in inv.decisions:
            if d not in rules_of:
                rules_of[d] = rule_answers(book, domain.answers["rules"], d)
        found = _Broken(book, domain, k, inv, [rules_of[d] for d in inv.decisions])
        out.extend(found.findings(broken))
    return out


@dataclass
class _Broken:
    """One invariant's violations over the domain, grouped by the deciding rules of the decisions it reads."""

    book: RuleBook
    domain: CheckedDomain
    k: int  # the invariant's column in the domain's tables
    inv: Invariant
    per_decision: list[tuple[np.ndarray, list[str]]]  # rule_answers of each decision the invariant reads

    def findings(self, broken: np.ndarray) -> list[dict]:
        # every combination of the inputs involved: the domain's rows, projected (the decisions involved, the
        # invariant and the constraints read no other input, so rows that differ elsewhere agree)
        inputs = involved_inputs(self.book, self.inv)
        grid = axes(self.book)
        labels = {name: grid[name].labels for name in inputs}
        pos = self.domain.positions
        key = np.zeros(len(self.domain.frame), dtype=np.int64)
        for codes, filtered in self.per_decision:
            key = key * (len(filtered) + 1) + codes
        out = []
        for group in pd.unique(key[broken]):
            rows = broken & (key == group)
            shaped = np.zeros([len(labels[n]) for n in inputs], dtype=bool)
            shaped[tuple(pos[n][rows] for n in inputs)] = True
            for scope in merge_cells(shaped, labels, inputs):
                out.append(self._finding(rows, scope, labels))
        return out

    def _finding(self, rows: np.ndarray, scope: dict, labels: dict[str, tuple[str, ...]]) -> dict:
        """The finding of one scope of the rows that one combination of deciding rules breaks."""
        inv, answers, frame = self.inv, self.domain.answers, self.domain.frame
        first = int(np.flatnonzero(rows)[0])
        rules = [rid for codes, filtered in self.per_decision for rid in filtered[codes[first]].split()]
        index = self.book.rule_index
        clauses = list(dict.fromkeys([*inv.source, *(c for rid in rules for c in index[rid].source)]))
        said = "; ".join(
            f"{d} {answers[d].iloc[first]} ({filtered[codes[first]] or 'no rule'})"
            for d, (codes, filtered) in zip(inv.decisions, self.per_decision, strict=True)
        )
        message = (
            f"Invariant {inv.invariant_id} ({inv.statement()}) does not hold on {describe(scope)}: {said}. "
            f"{inv.note} Clauses: {_clause_text(self.book, clauses)}."
        )
        in_box = rows.copy()
        for name, wanted in scope.items():
            values = {wanted} if isinstance(wanted, str) else set(wanted)
            ok = np.array([lab in values for lab in labels[name]])
            in_box &= ok[self.domain.positions[name]]
        w = int(np.flatnonzero(in_box)[0])
        return dict(
            kind="inconsistency",
            decision=inv.then_decision,
            scope=scope,
            rules=rules,
            clauses=clauses,
            message=message,
            witness={name: _plain(frame[name].iloc[w]) for name in frame.columns},
            invariant=inv.invariant_id,
            _cells=None,
            _order=(self.k, w),
        )


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _clause_text(book: RuleBook, cids: list[str]) -> str:
    texts = book.clauses["text_ja"]
    return "; ".join(f"{cid} 「{texts[cid]}」" if cid in texts.index else cid for cid in cids)


def rows_in_finding(population: pd.DataFrame, *, finding: dict, rulebook: RuleBook) -> np.ndarray:
    """Which rows of ``population`` are behind one ``inconsistency`` finding: they break its invariant and
    fall inside its scope. A boolean array in row order.

    >>> from sonet_policy import default_rulebook
    >>> pop = pd.DataFrame([dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False),
    ...                     dict(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)])
    >>> f = dict(invariant="INV-ROUTER-IPV4", scope={"area": "west", "plan": "sml"})
    >>> rows_in_finding(pop, finding=f, rulebook=default_rulebook()).tolist()
    [True, False]
    """
    broken = violations(population, rulebook=rulebook)
    iid = str(finding.get("invariant") or "")
    if iid not in broken.columns:
        return np.zeros(len(population), dtype=bool)
    inside = broken[iid].to_numpy().copy()
    pos = positions(population, rulebook=rulebook)
    grid = axes(rulebook)
    for name, wanted in dict(finding.get("scope") or {}).items():
        values = {wanted} if isinstance(wanted, str) else {str(v) for v in wanted}
        allowed = np.append(np.array([lab in values for lab in grid[name].labels]), False)
        inside &= allowed[pos[name]]
    return inside
