"""Explain one scenario: every answer with the rules that fired, the Japanese clauses they cite, and why
each other rule of the table did not fire."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field

import numpy as np

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.invariants import explain_violations
from sonet_policy.book.rules import Rule, RuleBook, default_rulebook
from sonet_policy.engine.answer import lookup_of, read_scenario
from sonet_policy.engine.values import is_missing

FINDING_LABELS = {
    "uncovered": ("該当するルールがありません (ページに記載なし)", "Uncovered: the page gives no answer"),
    "conflict": ("ルールが矛盾しています", "Conflict: clauses of the page disagree"),
    "invalid": ("回答できません (入力が不足または不正です)", "Not answered: a field it reads is missing or invalid"),
}


@dataclass
class ClauseRef:
    clause_id: str
    text_ja: str
    text_en: str
    footnote: bool


@dataclass
class RuleTrace:
    """One rule of a decision table and what it did for this scenario.

    ``state``: ``fired`` (decided), ``conflicting`` (matched, disagrees with another), ``overridden`` (matched,
    but an exception that also matched wins), ``shadowed`` (matched, the hit policy took another),
    ``not_matching`` (a condition fails: see ``reasons``).
    """

    rule_id: str
    state: str
    answer: str
    note: str
    reasons: list[str] = field(default_factory=list)
    clauses: list[ClauseRef] = field(default_factory=list)


@dataclass
class DecisionAnswer:
    decision: str
    question_en: str
    question_ja: str
    status: str
    code: str
    label_ja: str
    label_en: str
    next_step_en: str
    alternatives: list[dict[str, str]]
    rules: list[RuleTrace]
    next_step_ja: str = ""
    invariants: list[dict[str, object]] = field(default_factory=list)  # cross-decision statements it breaks

    @property
    def fired(self) -> list[RuleTrace]:
        return [r for r in self.rules if r.state in ("fired", "conflicting")]

    @property
    def footnotes(self) -> list[ClauseRef]:
        seen, out = set(), []
        for r in self.fired:
            for c in r.clauses:
                if c.footnote and c.clause_id not in seen:
                    seen.add(c.clause_id)
                    out.append(c)
        return out


@dataclass
class Explanation:
    """The answer for one scenario. Renders as HTML in a notebook, as text (``str``) and as JSON."""

    scenario: dict[str, object]
    resolved: dict[str, str]
    status: str
    error: str
    decisions: list[DecisionAnswer]
    rulebook_hash: str
    labels: dict[str, str] = field(default_factory=dict)  # input -> its Japanese label (inputs.csv label_ja)

    def __getitem__(self, decision: str) -> DecisionAnswer:
        for d in self.decisions:
            if d.decision == decision:
                return d
        raise KeyError(decision)

    @property
    def codes(self) -> dict[str, str]:
        """The code of each decision (``{}`` for an invalid scenario)."""
        return {d.decision: d.code for d in self.decisions}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["scenario"] = {k: _plain(v) for k, v in self.scenario.items()}
        for d, src in zip(out["decisions"], self.decisions, strict=True):
            d["footnotes"] = [asdict(c) for c in src.footnotes]
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def _head(self) -> str:
        return ", ".join(
            f"{k} ({self.labels[k]})={v}" if self.labels.get(k) else f"{k}={v}" for k, v in self.resolved.items()
        )

    def __str__(self) -> str:
        lines = [f"scenario: {self._head()}", f"status: {self.status}"]
        if self.error:
            lines.append(f"error: {self.error}")
        for d in self.decisions:
            lines.append("")
            lines.append(f"[{d.decision}] {d.question_en} ({d.question_ja})")
            lines.append(f"  answer: {d.code}  {d.label_en}")
            if d.label_ja:
                lines.append(f"          {d.label_ja}")
            if d.next_step_ja and d.status == "ok":
                lines.append(f"  次に:   {d.next_step_ja}")
            if d.next_step_en and d.status == "ok":
                lines.append(f"  next:   {d.next_step_en}")
            for inv in d.invariants:
                lines.append(
                    f"  inconsistent: {inv['invariant_id']} ({inv['statement']}); clauses {', '.join(inv['source'])}"
                )
            for alt in d.alternatives:
                lines.append(f"  or:     {alt['code']}  {alt['label_en']} / {alt['label_ja']}")
            for c in d.footnotes:
                lines.append(f"  footnote {c.clause_id}: {c.text_ja}  ({c.text_en})")
            for r in d.fired:
                lines.append(f"  rule {r.rule_id} ({r.state}): {r.note}")
                for c in r.clauses:
                    lines.append(f"    {c.clause_id}: {c.text_ja}")
            others = [r for r in d.rules if r.state not in ("fired", "conflicting")]
            for r in others:
                why = "; ".join(r.reasons)
                lines.append(f"  not {r.rule_id} ({r.state}): {why}")
        lines.append("")
        lines.append(f"rule book {self.rulebook_hash}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return render_html(self)

    def __repr__(self) -> str:  # the dataclass repr would be kilobytes; show what the CLI prints
        return str(self)


_CLAUSE_ROWS: Slot[dict[str, tuple[str, str]]] = Slot("clause_rows")
_RULE_TESTS: Slot[dict[str, list[list[tuple[str, list[bool], str]]]]] = Slot("explain_rule_tests")


def _plain(value: object) -> object:
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _clause_refs(book: RuleBook, rule: Rule) -> list[ClauseRef]:
    rows = book.cache.get(_CLAUSE_ROWS, lambda: _clause_rows(book))
    return [ClauseRef(cid, rows[cid][0], rows[cid][1], rows[cid][0].startswith("※")) for cid in rule.source]


def _clause_rows(book: RuleBook) -> dict[str, tuple[str, str]]:
    """Clause id -> (Japanese, English), one dict per book: a pandas lookup per cited clause would dominate."""
    t = book.clauses
    return {cid: (ja, en) for cid, ja, en in zip(t["clause_id"], t["text_ja"], t["text_en"], strict=True)}


def _rule_tests(compiled: CompiledBook, decision: str) -> list[list[tuple[str, list[bool], str]]]:
    """Per rule of ``decision``: per condition its input, its mask over the input's axis (a list) and how an
    analyst reads it; built once per compiled book (explain reads them for every rule on every call)."""
    tests = compiled.book.cache.get(_RULE_TESTS, dict)
    if decision not in tests:
        tests[decision] = _build_rule_tests(compiled, decision)
    return tests[decision]


def _build_rule_tests(compiled: CompiledBook, decision: str) -> list[list[tuple[str, list[bool], str]]]:
    return [
        [(name, cond.mask(compiled.axes[name]).tolist(), cond.describe()) for name, cond in r.conditions.items()]
        for r in compiled.decisions[decision].rules
    ]


def _trace(
    compiled: CompiledBook,
    decision: str,
    cell: int,
    position: dict[str, int] | None = None,
    given: dict[str, str] | None = None,
) -> tuple[object, list[RuleTrace]]:
    book = compiled.book
    grid = compiled.decisions[decision]
    outcome = grid.outcome(cell)
    if position is None:
        position = grid.positions(cell)
    tests = _rule_tests(compiled, decision)
    winners = grid.winners[:, cell].tolist()
    deciding = grid.deciding[:, cell].tolist()
    matches = grid.matches[:, cell].tolist()
    traces = []
    for i, r in enumerate(grid.rules):
        reasons: list[str] = []
        if winners[i]:
            state = "fired"
        elif deciding[i] and outcome.status == "conflict":
            state = "conflicting"
            others = [rid for rid in outcome.rules if rid != r.rule_id]
            reasons.append(f"disagrees with {', '.join(others)}; neither is declared an exception of the other")
        elif deciding[i]:
            state = "shadowed"
            reasons.append(f"matches, but the {grid.hit_policy} hit policy took {', '.join(outcome.rules)}")
        elif matches[i]:
            state = "overridden"
            by = [e.rule_id for k, e in enumerate(grid.rules) if r.rule_id in e.exception_of and matches[k]]
            reasons.append(f"matches, but exception {', '.join(by)} applies")
        else:
            state = "not_matching"
            for name, mask, text in tests[i]:
                p = position[name]
                if not mask[p]:
                    label = compiled.axes[name].labels[p]
                    shown = (given or {}).get(name, label)  # the value given, then its interval
                    shown = shown if shown == label else f"{shown} ({label})"
                    reasons.append(f"{name} is {shown}; the rule needs {text}")
        traces.append(RuleTrace(r.rule_id, state, r.answer, r.note, reasons, _clause_refs(book, r)))
    return outcome, traces


def explain(*, rulebook: RuleBook | None = None, **scenario: object) -> Explanation:
    """Explain the answer for one scenario.

    Keywords: the book's inputs (``inputs.csv``), by name or by any header the file reader accepts for them
    (``days`` for the day count in the shipped book). An input left out is missing (an optional one: empty).
    A missing or invalid field is not an exception: the decisions that read it come back ``invalid`` and the
    explanation's ``status`` is ``partial`` (``invalid`` when no decision can be answered; then ``decisions`` is
    empty), with an ``error`` naming every bad field. An unknown keyword makes the whole scenario invalid.

    >>> e = explain(area="west", plan="other", device="RV-230SE", setup="v6plus_router",
    ...             keep_number=False, days=31)
    >>> e.codes["ipv4"], e["device_action"].code
    ('pppoe_router', 'mail_exchange')
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    # read as evaluate reads a one-row frame, without pandas
    reading = read_scenario(lookup_of(book), scenario=scenario)
    unknown, row = reading.unknown, reading.given
    error = reading.error or ""
    if unknown:
        error = "; ".join(filter(None, [error, *(f"{k}: not an input of this rule book" for k in unknown)]))
    labels = {name: spec.label_ja for name, spec in book.inputs.items() if spec.label_ja}
    cells = reading.cells
    if unknown or all(c < 0 for c in cells.values()):
        return Explanation(dict(scenario), {}, "invalid", error, [], book.hash, labels)
    resolved: dict[str, str] = {}
    for name, spec in book.inputs.items():
        pos = reading.positions[name]
        if pos < 0:
            continue
        raw = row.get(name)
        if spec.kind == "integer":
            resolved[name] = "empty" if is_missing(raw) else str(raw)  # pd.NA/NaN too
        else:
            resolved[name] = compiled.axes[name].labels[pos]
    answers = []
    states = set()
    for name, spec in book.decisions.items():
        cell = cells[name]
        if cell < 0:
            label_ja, label_en = FINDING_LABELS["invalid"]
            bad = [reading.field_errors[i] for i in spec.inputs if i in reading.field_errors]
            why = "; ".join(bad) or error
            answers.append(
                DecisionAnswer(
                    name,
                    spec.question_en,
                    spec.question_ja,
                    "invalid",
                    "invalid",
                    label_ja,
                    f"{label_en} ({why})" if why else label_en,
                    "",
                    [],
                    [],
                )
            )
            states.add("invalid")
            continue
        outcome, traces = _trace(compiled, name, cell, reading.positions, resolved)
        if outcome.status in FINDING_LABELS:
            label_ja, label_en = FINDING_LABELS[outcome.status]
            info = {"label_ja": label_ja, "label_en": label_en, "next_step_en": ""}
        else:
            info = book.code_info(name, outcome.code)
        alts = [book.code_info(name, a) for a in outcome.alternatives.split("|") if a]
        answers.append(
            DecisionAnswer(
                name,
                spec.question_en,
                spec.question_ja,
                outcome.status,
                outcome.code,
                info["label_ja"],
                info["label_en"],
                info["next_step_en"],
                alts,
                traces,
                info.get("next_step_ja", ""),
            )
        )
        states.add(outcome.status)
    axis_positions = dict(reading.positions)
    broken = explain_violations(row, rulebook=book, axis_positions=axis_positions)
    for d in answers:
        d.invariants = broken.get(d.decision, [])
    status = next((s for s in ("invalid", "conflict", "uncovered") if s in states), "ok")
    status = "partial" if status == "invalid" else status
    return Explanation(dict(scenario), resolved, status, error, answers, book.hash, labels)


_CSS = """
<style>
.sp-cards{display:flex;flex-wrap:wrap;gap:8px;font-family:sans-serif;font-size:13px}
.sp-card{border:1px solid #ccc;border-radius:6px;padding:8px 10px;width:330px;background:#fff;color:#222}
.sp-card h4{margin:0 0 4px 0;font-size:13px;color:#555}
.sp-code{font-size:16px;font-weight:bold}
.sp-ok{border-left:6px solid #2e7d32}.sp-uncovered{border-left:6px solid #f9a825}
.sp-conflict{border-left:6px solid #c62828}.sp-invalid{border-left:6px solid #6a1b9a}
.sp-clause{color:#333;margin:2px 0 2px 8px}.sp-why{color:#777;font-size:12px}
.sp-footnote{background:#fff8e1;margin:3px 0;padding:2px 4px}
.sp-inconsistent{background:#fdecea;color:#b71c1c;margin:3px 0;padding:2px 4px}
</style>
"""


def render_html(exp: Explanation) -> str:
    """Answer cards as HTML; every string from a table or the scenario is escaped."""
    e = html.escape
    if exp.status == "invalid":
        return (
            f"{_CSS}<div class='sp-cards'><div class='sp-card sp-invalid' data-decision='scenario' "
            f"data-code='invalid'><h4>scenario</h4><div class='sp-code'>invalid</div>"
            f"<div>{e(exp.error)}</div></div></div>"
        )
    cards = []
    for d in exp.decisions:
        parts = [
            f"<div class='sp-card sp-{e(d.status)}' data-decision='{e(d.decision)}' data-code='{e(d.code)}'>",
            f"<h4>{e(d.decision)} · {e(d.question_ja)} · {e(d.question_en)}</h4>",
            f"<div class='sp-code'>{e(d.code)}</div>",
            f"<div>{e(d.label_ja)}</div><div><i>{e(d.label_en)}</i></div>",
        ]
        if d.next_step_ja and d.status == "ok":
            parts.append(f"<div class='sp-next-ja'>次に: {e(d.next_step_ja)}</div>")
        if d.next_step_en and d.status == "ok":
            parts.append(f"<div class='sp-next-en'><i>Next: {e(d.next_step_en)}</i></div>")
        for inv in d.invariants:
            parts.append(
                f"<div class='sp-inconsistent' data-invariant='{e(str(inv['invariant_id']))}'>"
                f"inconsistent with another answer: {e(str(inv['invariant_id']))} ({e(str(inv['statement']))}; "
                f"clauses {e(', '.join(inv['source']))})</div>"
            )
        for alt in d.alternatives:
            parts.append(f"<div>Or: {e(alt['label_ja'])} <i>({e(alt['label_en'])})</i></div>")
        for c in d.footnotes:
            parts.append(
                f"<div class='sp-footnote' data-clause='{e(c.clause_id)}'>{e(c.text_ja)} "
                f"<i class='sp-why'>({e(c.text_en)})</i></div>"
            )
        for r in d.fired:
            parts.append(f"<div><b>{e(r.rule_id)}</b> <span class='sp-why'>{e(r.state)}</span></div>")
            for c in r.clauses:
                parts.append(f"<div class='sp-clause'>{e(c.clause_id)}: {e(c.text_ja)}</div>")
        others = [r for r in d.rules if r.state not in ("fired", "conflicting")]
        if others:
            items = "".join(f"<li>{e(r.rule_id)} ({e(r.state)}): {e('; '.join(r.reasons))}</li>" for r in others)
            parts.append(
                f"<details><summary class='sp-why'>{len(others)} other rule(s)</summary><ul "
                f"class='sp-why'>{items}</ul></details>"
            )
        parts.append("</div>")
        cards.append("".join(parts))
    head = e(exp._head())
    return (
        f"{_CSS}<div><div class='sp-why'>{head} · status {e(exp.status)} · rule book {e(exp.rulebook_hash)}"
        f"</div><div class='sp-cards'>{''.join(cards)}</div></div>"
    )
