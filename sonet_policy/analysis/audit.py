"""Coverage audit: where the rule book answers nothing, answers twice, or holds rules and clauses that never
count. Everything is read off the compiled grid (:mod:`sonet_policy.book.compile`), so the audit is exact: every
combination of the domain is looked at, none is sampled.

Kinds of finding, each judged by the decision's hit policy:

* ``gap``: combinations no rule answers (combinations that a constraint rules out are not gaps);
* ``conflict`` (UNIQUE, ANY): deciding rules give different outputs and none is declared an exception of the
  other;
* ``overlap`` (UNIQUE, ANY): more than one deciding rule, all with the same outputs (redundant: a warning);
* ``dead_rule``: a rule that decides in no valid combination: its condition is empty or only matches ruled-out
  combinations, a matching exception always overrides it, or (FIRST) an earlier rule always shadows it,
  (PRIORITY) a rule with a higher-priority answer always masks it;
* ``uncited_clause``: a normative clause of the page that no rule and no constraint cites;
* ``inconsistency``: an invariant of ``invariants.csv`` (a statement of the page across decisions) that does
  not hold (:mod:`sonet_policy.book.invariants`). Findings that come from a recorded reading of an ambiguous
  passage carry it in ``encoding_choices`` (:mod:`sonet_policy.book.readings`).
* ``stale_citation``: a rule, constraint or invariant whose ``cited_hash`` no longer matches the clauses it cites
  (the page changed under it; :mod:`sonet_policy.analysis.stale`).

Each decision is compiled over its own inputs (the ``wifi`` table reads area, device and setup), and adjacent
cells with the same kind and rules are merged into a few boxes (:func:`sonet_policy.book.scope.merge_cells`): one
finding per box. A cell where every scenario is ruled out by a constraint that blocks the decision is no gap.

With a population, each finding counts the rows that fall into its scope (``customers``), and
:func:`rule_usage` counts per rule the rows it matched, decided and won: a rule that decides no row is dead in
practice even if it is alive in theory.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sonet_policy.analysis.cells import Projection, rule_scope, witness
from sonet_policy.analysis.invariants import findings as _cross_decision
from sonet_policy.analysis.invariants import rows_in_finding as _inconsistent_rows
from sonet_policy.analysis.readings import annotate as _annotate
from sonet_policy.analysis.stale import stale_citations
from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import DecisionGrid
from sonet_policy.book.invariants import load_invariants as _load_invariants
from sonet_policy.book.load import default_rulebook, load_rulebook
from sonet_policy.book.model import Rule, RuleBook
from sonet_policy.book.scope import describe, merge_cells, scope_mask
from sonet_policy.engine.encode import encode

KINDS = ("gap", "conflict", "overlap", "dead_rule", "uncited_clause", "inconsistency", "stale_citation")
COLUMNS = ["kind", "decision", "scope", "rules", "clauses", "message", "witness"]
USAGE_COLUMNS = ["decision", "rule_id", "hit_policy", "answer", "matched", "decided", "won", "dead_in_practice"]
_NEEDS_ONE = ("UNIQUE", "ANY")  # hit policies under which several deciding rules are a conflict or an overlap


_CLAUSE_JA: Slot[dict[str, str]] = Slot("clause_ja")


def _book(rulebook: RuleBook | str | Path | None) -> RuleBook:
    if rulebook is None:
        return default_rulebook()
    if isinstance(rulebook, RuleBook):
        return rulebook
    return load_rulebook(rulebook)


def _clause_text(book: RuleBook, cids: list[str]) -> str:
    """``id 「Japanese text」`` for each clause (the texts are looked up once per book)."""
    texts = book.cache.get(_CLAUSE_JA, lambda: dict(zip(book.clauses.index, book.clauses["text_ja"], strict=True)))
    return "; ".join(f"{cid} 「{texts[cid]}」" if cid in texts else cid for cid in cids)


def _answer_text(rule: Rule) -> str:
    extra = [f"{name}={value or 'none'}" for name, value in rule.outputs[1:]]
    return rule.answer + (f" ({', '.join(extra)})" if extra else "")


def _clauses_of(rules: list[Rule]) -> list[str]:
    """The clause ids the rules cite, each once, in citation order."""
    return list(dict.fromkeys(cid for r in rules for cid in r.source))


def _near_rules(grid: DecisionGrid, proj: Projection, sub_cell: int) -> str:
    """The rules closest to answering ``sub_cell``: they fail on exactly one input, and of those the ones whose
    holding conditions are the most specific (a condition on one of two areas weighs 1/2, on 14 of 40 devices
    26/40). This is what an analyst compares a gap with."""
    compiled = proj.compiled
    pos = grid.positions(int(sub_cell))
    scored = []
    for r in grid.rules:
        failing, weight = [], 0.0
        for name in grid.inputs:
            cond = r.conditions.get(name)
            if cond is None or cond.any:
                continue
            mask = cond.mask(compiled.axes[name])
            if mask[pos[name]]:
                weight += 1.0 - mask.mean()
            else:
                failing.append(f"{name} is {_short(cond.describe())}")
        if len(failing) == 1:
            scored.append((weight, f"{r.rule_id} ({failing[0]})"))
    if not scored:
        return ""
    best = max(w for w, _ in scored)
    return "; ".join(text for w, text in scored if w >= best - 1e-9)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _findings_of_decision(book: RuleBook, name: str) -> list[dict]:
    compiled = book.compiled()
    grid = compiled.decisions[name]
    proj = Projection(compiled, name)
    valid = proj.valid
    outcome = grid.outcome_id
    position = {r.rule_id: i for i, r in enumerate(grid.rules)}
    out: list[dict] = []

    for k, oc in enumerate(grid.outcomes):
        mask = valid & (outcome == k)
        if not mask.any():
            continue
        chosen = [grid.rules[position[rid]] for rid in oc.rules]
        if oc.status == "uncovered":
            kind = "gap"
        elif oc.status == "conflict" and grid.hit_policy in _NEEDS_ONE:
            kind = "conflict"
        elif oc.status == "ok" and grid.hit_policy in _NEEDS_ONE and len(oc.rules) > 1:
            kind = "overlap"
        else:
            continue
        clauses = _clauses_of(chosen)
        for scope in merge_cells(mask, proj.axes(), proj.inputs):
            in_scope = _scope_cells(scope, proj)
            sub = int(np.flatnonzero(in_scope)[0])
            where = describe(scope)
            if kind == "gap":
                near = _near_rules(grid, proj, sub)
                message = (
                    f"No rule of {name} answers {where}: the page gives no answer there, so {name} is uncovered."
                    + (f" Closest rules (one condition fails): {near}." if near else "")
                )
            elif kind == "conflict":
                said = "; ".join(f"{r.rule_id} answers {_answer_text(r)}" for r in chosen)
                message = (
                    f"Rules of {name} disagree on {where}: {said}. None is declared an exception of the other, so "
                    f"under {grid.hit_policy} the answer is conflict. Clauses: {_clause_text(book, clauses)}."
                )
            else:
                pooled = f" (alternatives pooled: {oc.alternatives})" if oc.alternatives else ""
                message = (
                    f"Rules {', '.join(r.rule_id for r in chosen)} of {name} all decide {where} with the same answer "
                    f"{oc.code}{pooled}: redundant (a warning, not an error). "
                    f"Clauses: {_clause_text(book, clauses)}."
                )
            out.append(
                dict(
                    kind=kind,
                    decision=name,
                    scope=scope,
                    rules=[r.rule_id for r in chosen],
                    clauses=clauses,
                    message=message,
                    witness=witness(compiled, sub, name),
                    _cells=in_scope,
                    _order=(position[chosen[0].rule_id] if chosen else -1, sub),
                )
            )
    out.extend(_dead_rules(book, grid, proj))
    return out


def _scope_cells(scope: dict, proj: Projection) -> np.ndarray:
    return scope_mask(scope, proj.axes(), proj.inputs).reshape(-1) & proj.valid


def _dead_rules(book: RuleBook, grid: DecisionGrid, proj: Projection) -> list[dict]:
    compiled = proj.compiled
    valid = proj.valid
    matches = grid.matches & valid
    deciding = grid.deciding & valid
    winners = grid.winners & valid
    active = winners if grid.hit_policy in ("FIRST", "PRIORITY") else deciding
    alive = active.any(axis=1)
    order = " > ".join(book.priority(grid.name)) if grid.hit_policy == "PRIORITY" else ""
    out = []
    for i in np.flatnonzero(~alive):
        rule = grid.rules[int(i)]
        m = matches[i]
        others: list[Rule] = []
        if not m.any():
            if grid.matches[i].any():
                reason = "it matches only combinations that a constraint rules out"
            else:
                reason = "its condition is empty: no combination of the domain satisfies it"
        elif not deciding[i].any():
            others = [
                r for j, r in enumerate(grid.rules) if rule.rule_id in r.exception_of and (grid.matches[j] & m).any()
            ]
            names = ", ".join(o.rule_id for o in others)
            reason = f"wherever it matches, an exception that also matches overrides it ({names})"
        else:
            beaten = winners[:, deciding[i]].any(axis=1)
            others = [r for j, r in enumerate(grid.rules) if beaten[j] and j != i]
            if grid.hit_policy == "FIRST":
                reason = f"under FIRST an earlier rule always matches too ({', '.join(o.rule_id for o in others)})"
            else:
                reason = (
                    "under PRIORITY a rule with an answer of higher or equal priority always decides too "
                    f"({', '.join(o.rule_id for o in others)}; codes.csv order: {order})"
                )
        scope = rule_scope(rule, compiled, proj.inputs)
        clauses = list(rule.source)
        first = np.flatnonzero(m)
        out.append(
            dict(
                kind="dead_rule",
                decision=grid.name,
                scope=scope,
                rules=[rule.rule_id, *(o.rule_id for o in others)],
                clauses=clauses,
                message=(
                    f"Rule {rule.rule_id} of {grid.name} ({_answer_text(rule)}) never decides: {reason}. "
                    f"Clauses: {_clause_text(book, clauses)}."
                ),
                witness=witness(compiled, int(first[0]), grid.name) if first.size else None,
                _cells=m,
                _order=(int(i), int(first[0]) if first.size else -1),
            )
        )
    return out


def _uncited(book: RuleBook) -> list[dict]:
    cited = {cid for rules in book.rules.values() for r in rules for cid in r.source}
    cited |= {cid for c in book.constraints for cid in c.source}
    cited |= {cid for inv in _load_invariants(book) for cid in inv.source}  # an invariant cites clauses too
    table = book.clauses
    normative = table["normative"].astype(str).str.lower() == "true"
    out = []
    for k, (cid, rec) in enumerate(table[normative].iterrows()):
        if cid in cited:
            continue
        out.append(
            dict(
                kind="uncited_clause",
                decision="",
                scope={},
                rules=[],
                clauses=[cid],
                message=(
                    f"Clause {cid} (section {rec['section']}, line {rec['line']}) is normative but no rule or "
                    f"constraint cites it: 「{rec['text_ja']}」 ({rec['text_en']})."
                ),
                witness=None,
                _cells=None,
                _order=(k, -1),
            )
        )
    return out


def audit(rulebook: RuleBook | str | Path | None = None, *, population: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every finding of ``rulebook`` (a RuleBook, a folder, or None for the shipped book), one row each.

    Columns: ``kind`` (gap, conflict, overlap, dead_rule, uncited_clause, inconsistency), ``decision`` ("" for
    a clause; an inconsistency: the decision whose answer breaks the invariant),
    ``scope`` (input -> value or list of values, only the decision's own inputs; an input left out means any
    value), ``rules`` (rule ids), ``clauses`` (clause ids), ``message`` (plain English with the Japanese text of
    the clauses involved) and ``witness`` (one scenario inside the scope, for ``explain(**witness)``; None for
    an uncited clause or a rule whose condition is empty). With ``population`` (a frame of scenarios) a column
    ``customers`` counts the rows inside each finding's scope that its decision answers (a dead rule: the rows
    it matches; NA for a clause; an inconsistency: the rows that break the invariant inside the scope), then
    ``invariant`` (the invariant id of an inconsistency) and ``encoding_choices`` (the recorded readings the
    finding comes from, ``encoding_choices.csv``). Rows are ordered by kind (in the order above), decision (book
    order), first rule, first cell. Per-rule counts over a population: :func:`rule_usage`. Raises RuleBookError
    for a folder that fails to load.

    >>> findings = audit()
    >>> sorted(set(findings["kind"]))
    ['conflict', 'gap', 'inconsistency', 'overlap']
    >>> gap = findings[(findings["kind"] == "gap") & (findings["decision"] == "device_action")].iloc[0]
    >>> gap["scope"]
    {'area': 'west', 'device': ['RS-500KI', 'RS-500MI']}
    """
    book = _book(rulebook)
    found: list[dict] = []
    for name in book.decisions:
        found.extend(_findings_of_decision(book, name))
    found.extend(_uncited(book))
    found.extend(_cross_decision(book))
    found.extend(stale_citations(book))
    kind_rank = {k: i for i, k in enumerate(KINDS)}
    decision_rank = {d: i for i, d in enumerate(book.decisions)}
    found.sort(key=lambda f: (kind_rank[f["kind"]], decision_rank.get(f["decision"], -1), f["_order"]))
    frame = pd.DataFrame([{c: f[c] for c in COLUMNS} for f in found], columns=COLUMNS)
    for col in ("kind", "decision", "message"):
        frame[col] = frame[col].astype("str")
    if population is not None:
        frame["customers"] = pd.array(_customers(book, found, population), dtype="Int64")
    return _annotate(frame, rulebook=book, found=found)


def _population_cells(book: RuleBook, population: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per decision, the cells of the population's rows that it answers (rows it cannot answer left out)."""
    if not isinstance(population, pd.DataFrame):
        raise TypeError(f"population must be a pandas DataFrame, not {type(population).__name__}")
    compiled = book.compiled()
    enc = encode(population, compiled)
    out = {}
    for name in book.decisions:
        cell = enc.cell(compiled, name)
        out[name] = cell[cell >= 0]
    return out


def _customers(book: RuleBook, found: list[dict], population: pd.DataFrame) -> list[object]:
    compiled = book.compiled()
    cells = _population_cells(book, population)
    per_decision: dict[str, np.ndarray] = {}
    counts: list[object] = []
    for f in found:
        if f["kind"] == "inconsistency":  # the rows that break the invariant inside the scope
            counts.append(int(_inconsistent_rows(population, finding=f, rulebook=book).sum()))
            continue
        if f["_cells"] is None:
            counts.append(pd.NA)
            continue
        name = f["decision"]
        if name not in per_decision:
            per_decision[name] = np.bincount(cells[name], minlength=compiled.decisions[name].n_cells)
        counts.append(int(per_decision[name][f["_cells"]].sum()))
    return counts


def rows_in_scope(
    population: pd.DataFrame, finding: Mapping[str, object], *, rulebook: RuleBook | str | Path | None = None
) -> pd.Series:
    """Which rows of ``population`` fall inside one finding (a row of :func:`audit`, or any mapping with
    ``decision`` and ``scope``): a boolean Series on the population's index, so ``population[mask]`` hands back
    the customers behind a finding. Rows the finding's decision cannot answer are never inside; an uncited
    clause holds no row.

    >>> frame = pd.DataFrame([dict(area="west", plan="10g", device="RS-500MI", setup="wlan_1g", keep_number="no"),
    ...                       dict(area="east", plan="10g", device="RS-500MI", setup="wlan_1g", keep_number="no")])
    >>> rows_in_scope(frame, {"decision": "device_action", "scope": {"area": "west", "device": ["RS-500MI"]}}).tolist()
    [True, False]
    """
    book = _book(rulebook)
    decision = str(finding.get("decision") or "")
    if finding.get("kind") == "inconsistency":
        rows = _inconsistent_rows(population, finding=dict(finding), rulebook=book)
        return pd.Series(rows, index=population.index)
    if not decision:
        return pd.Series(False, index=population.index, dtype=bool)
    if decision not in book.decisions:
        raise ValueError(f"decision {decision!r} is not in the rule book ({', '.join(book.decisions)})")
    compiled = book.compiled()
    proj = Projection(compiled, decision)
    inside = scope_mask(dict(finding.get("scope") or {}), proj.axes(), proj.inputs).reshape(-1)
    cell = encode(population, compiled).cell(compiled, decision)
    ok = cell >= 0
    out = np.zeros(len(population), dtype=bool)
    out[ok] = inside[cell[ok]]
    return pd.Series(out, index=population.index, dtype=bool)


def rule_usage(rulebook: RuleBook | str | Path | None, population: pd.DataFrame) -> pd.DataFrame:
    """Per rule, how many rows of ``population`` (those its decision answers) it matched, decided and won.

    Columns: decision, rule_id, hit_policy, answer, ``matched`` (its conditions hold), ``decided`` (it matched
    and no matching exception overrode it; under UNIQUE/ANY this includes rows where it is one side of a
    conflict), ``won`` (the row's answer came from it), ``dead_in_practice`` (it decided no row; under FIRST
    and PRIORITY: it won no row).
    Rows the decision cannot answer (a bad value it reads, a combination a constraint rules out for it) count
    nowhere.

    >>> frame = pd.DataFrame([dict(area="east", plan="sml", device="PR-600KI", setup="wlan_1g",
    ...                            keep_number=True, days_since_phone_stop=None)])
    >>> usage = rule_usage(None, frame)
    >>> usage.set_index("rule_id").loc[["V4-SML-1", "V4-SML-2"], ["matched", "decided"]].values.tolist()
    [[1, 0], [1, 1]]
    """
    book = _book(rulebook)
    compiled = book.compiled()
    cells = _population_cells(book, population)
    parts = []
    for name, grid in compiled.decisions.items():
        counts = np.bincount(cells[name], minlength=grid.n_cells).astype(np.int64)
        matched = grid.matches.astype(np.int64) @ counts if len(grid.rules) else np.zeros(0, dtype=np.int64)
        decided = grid.deciding.astype(np.int64) @ counts if len(grid.rules) else np.zeros(0, dtype=np.int64)
        won = grid.winners.astype(np.int64) @ counts if len(grid.rules) else np.zeros(0, dtype=np.int64)
        dead = (won if grid.hit_policy in ("FIRST", "PRIORITY") else decided) == 0
        parts.append(
            pd.DataFrame(
                {
                    "decision": name,
                    "rule_id": [r.rule_id for r in grid.rules],
                    "hit_policy": grid.hit_policy,
                    "answer": [r.answer for r in grid.rules],
                    "matched": matched,
                    "decided": decided,
                    "won": won,
                    "dead_in_practice": dead,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[USAGE_COLUMNS] if parts else pd.DataFrame(columns=USAGE_COLUMNS)


def counts(findings: pd.DataFrame) -> dict[str, int]:
    """Findings per kind, every kind present (zero where none)."""
    vc = findings["kind"].value_counts()
    return {k: int(vc.get(k, 0)) for k in KINDS}


def to_records(findings: pd.DataFrame) -> list[dict]:
    """Findings as plain JSON-ready dicts (the ``--format json`` output)."""
    records = []
    for rec in findings.to_dict(orient="records"):
        if "customers" in rec:
            rec["customers"] = None if pd.isna(rec["customers"]) else int(rec["customers"])
        records.append(rec)
    return records


def render_text(findings: pd.DataFrame, *, book: RuleBook | None = None, usage: pd.DataFrame | None = None) -> str:
    """Findings as text for a terminal: a count line, then one block per finding."""
    c = counts(findings)
    head = "audit"
    if book is not None:
        head += f" of rule book {book.hash} ({book.folder})"
    lines = [f"{head}: " + ", ".join(f"{v} {k}" for k, v in c.items())]
    for k, rec in enumerate(findings.to_dict(orient="records"), start=1):
        lines.append("")
        title = f"{k}. [{rec['kind']}]" + (f" {rec['decision']}" if rec["decision"] else "")
        if rec["kind"] != "uncited_clause":
            title += f"  {describe(rec['scope'])}"
        lines.append(title)
        if rec["rules"]:
            lines.append(f"   rules: {', '.join(rec['rules'])}")
        lines.append(f"   {rec['message']}")
        if rec["witness"]:
            w = ", ".join(f"{key}={'empty' if v is None else v}" for key, v in rec["witness"].items())
            lines.append(f"   witness: {w}")
        if "customers" in rec and not pd.isna(rec["customers"]):
            lines.append(f"   customers: {int(rec['customers'])}")
        for choice in rec.get("encoding_choices") or []:
            lines.append(f"   encoding choice {choice['choice_id']}: {choice['reading']}")
            lines.append(f"      other reading: {choice['alternative']}")
    if usage is not None:
        dead = usage[usage["dead_in_practice"]]
        lines.append("")
        lines.append(f"rules dead in practice (decided no row of the population): {len(dead)}")
        for rec in dead.itertuples(index=False):
            lines.append(f"   {rec.decision} {rec.rule_id} ({rec.answer}): matched {rec.matched} rows")
    return "\n".join(lines)
