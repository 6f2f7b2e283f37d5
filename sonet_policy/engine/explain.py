"""Explain one scenario: every answer with the rules that fired, the Japanese clauses they cite, and why
each other rule of the table did not fire."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import Rule, RuleBook
from sonet_policy.engine.answer import Reading, lookup_of, read_scenario
from sonet_policy.engine.invariants import explain_violations
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
    """The answer for one scenario, as text (``str``: what the CLI prints) and as JSON (the widgets draw it as
    cards: :mod:`sonet_policy.widgets.cards`)."""

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

    def scenario_line(self) -> str:
        """The scenario as read, on one line: each input with its Japanese label and its value."""
        return ", ".join(
            f"{k} ({self.labels[k]})={v}" if self.labels.get(k) else f"{k}={v}" for k, v in self.resolved.items()
        )

    def __str__(self) -> str:
        lines = [f"scenario: {self.scenario_line()}", f"status: {self.status}"]
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
    # read as evaluate reads a one-row frame, without pandas
    reading = read_scenario(lookup_of(book), scenario=scenario)
    unknown, row = reading.unknown, reading.given
    error = reading.error or ""
    if unknown:
        error = "; ".join(filter(None, [error, *(f"{k}: not an input of this rule book" for k in unknown)]))
    labels = {name: spec.label_ja for name, spec in book.inputs.items() if spec.label_ja}
    if unknown or all(c < 0 for c in reading.cells.values()):
        return Explanation(dict(scenario), {}, "invalid", error, [], book.hash, labels)
    resolved = _resolved(book, reading)
    answers = [
        _invalid_answer(book, name, reading, error)
        if reading.cells[name] < 0
        else _decision_answer(book, name, reading, resolved)
        for name in book.decisions
    ]
    broken = explain_violations(row, rulebook=book, axis_positions=dict(reading.positions))
    for d in answers:
        d.invariants = broken.get(d.decision, [])
    states = {d.status for d in answers}
    status = next((s for s in ("invalid", "conflict", "uncovered") if s in states), "ok")
    status = "partial" if status == "invalid" else status
    return Explanation(dict(scenario), resolved, status, error, answers, book.hash, labels)


def _resolved(book: RuleBook, reading: Reading) -> dict[str, str]:
    """Each readable input as explain shows it: the axis label, or the whole number (``empty`` for none)."""
    compiled = book.compiled()
    resolved: dict[str, str] = {}
    for name, spec in book.inputs.items():
        pos = reading.positions[name]
        if pos < 0:
            continue
        raw = reading.given.get(name)
        if spec.kind == "integer":
            resolved[name] = "empty" if is_missing(raw) else str(raw)  # pd.NA/NaN too
        else:
            resolved[name] = compiled.axes[name].labels[pos]
    return resolved


def _invalid_answer(book: RuleBook, name: str, reading: Reading, error: str) -> DecisionAnswer:
    """The answer of a decision one of whose inputs could not be read: ``invalid``, with the fields' errors."""
    spec = book.decisions[name]
    label_ja, label_en = FINDING_LABELS["invalid"]
    why = "; ".join(reading.field_errors[i] for i in spec.inputs if i in reading.field_errors) or error
    shown_en = f"{label_en} ({why})" if why else label_en
    question = (spec.question_en, spec.question_ja)
    return DecisionAnswer(name, *question, "invalid", "invalid", label_ja, shown_en, "", [], [])


def _decision_answer(book: RuleBook, name: str, reading: Reading, resolved: dict[str, str]) -> DecisionAnswer:
    """The answer of one decision with the trace of every rule of its table."""
    spec = book.decisions[name]
    outcome, traces = _trace(book.compiled(), name, reading.cells[name], reading.positions, resolved)
    if outcome.status in FINDING_LABELS:
        label_ja, label_en = FINDING_LABELS[outcome.status]
        info = {"label_ja": label_ja, "label_en": label_en, "next_step_en": ""}
    else:
        info = book.code_info(name, outcome.code)
    alts = [book.code_info(name, a) for a in outcome.alternatives.split("|") if a]
    return DecisionAnswer(
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
