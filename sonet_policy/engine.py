"""Compile a rule book into a finite grid, and answer from it.

Every input has a finite axis: the category values, the device catalogue, false/true, and the day count cut
at every bound a rule uses (plus the empty value). The grid is the product of the axes; for each decision and
each cell the compiler records which rules match, which of those are overridden by a matching exception, and
the outcome the hit policy gives. Evaluating a population is encoding each row to its cell plus an array
lookup; explaining, auditing and diffing read the same grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .conditions import Axis, integer_axis
from .rules import Rule, RuleBook

INPUT_ORDER = ("area", "plan", "device", "setup", "keep_number", "days_since_phone_stop")
FINDING_CODES = ("uncovered", "conflict")


@dataclass(frozen=True)
class Outcome:
    """What a decision answers in one cell: ``status`` is ok, uncovered or conflict."""

    status: str
    code: str
    alternatives: str
    rules: tuple[str, ...]


@dataclass
class DecisionGrid:
    """One decision compiled: per-rule masks over the grid and the outcome of each cell."""

    name: str
    hit_policy: str
    rules: list[Rule]
    matches: np.ndarray  # (n_rules, n_cells) bool: the rule's conditions hold
    deciding: np.ndarray  # (n_rules, n_cells) bool: matches and not overridden by a matching exception
    winners: np.ndarray  # (n_rules, n_cells) bool: the rules whose answer the hit policy takes
    outcome_id: np.ndarray  # (n_cells,) index into outcomes
    outcomes: list[Outcome]

    def outcome(self, cell: int) -> Outcome:
        return self.outcomes[int(self.outcome_id[cell])]


@dataclass
class CompiledBook:
    """The grid of a rule book. ``cell = np.ravel_multi_index(axis positions, shape)``."""

    book: RuleBook
    axes: dict[str, Axis]
    shape: tuple[int, ...]
    invalid: np.ndarray  # (n_cells,) bool: a constraint rules the combination out
    invalid_message: np.ndarray  # (n_cells,) object: why, or ""
    decisions: dict[str, DecisionGrid]

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape))

    def axis_masks(self, conditions: dict) -> np.ndarray:
        """The grid cells where every condition of ``conditions`` holds (inputs not named: any)."""
        mask = np.ones(self.shape, dtype=bool)
        for k, name in enumerate(INPUT_ORDER):
            cond = conditions.get(name)
            if cond is None:
                continue
            m = cond.mask(self.axes[name])
            view = [1] * len(self.shape)
            view[k] = len(m)
            mask &= m.reshape(view)
        return mask.reshape(-1)

    def cell_values(self, cell: int) -> dict[str, str]:
        """The axis labels of one cell, by input."""
        pos = np.unravel_index(cell, self.shape)
        return {name: self.axes[name].labels[int(p)] for name, p in zip(INPUT_ORDER, pos, strict=True)}


def build_axes(book: RuleBook) -> dict[str, Axis]:
    """The finite axes of every input (days cut at every bound any rule or constraint uses)."""
    axes: dict[str, Axis] = {}
    for name in INPUT_ORDER:
        spec = book.inputs[name]
        if name == "device":
            axes[name] = Axis(name, "category", book.models)
        elif spec.type == "integer":
            bounds: set[float] = set()
            for rules in book.rules.values():
                for r in rules:
                    if name in r.conditions:
                        bounds |= r.conditions[name].bounds()
            for c in book.constraints:
                if name in c.conditions:
                    bounds |= c.conditions[name].bounds()
            axes[name] = integer_axis(name, bounds, minimum=spec.minimum)
        else:
            axes[name] = Axis(name, spec.type, spec.domain)
    return axes


def _resolve(book: RuleBook, spec_name: str, policy: str, rules: list[Rule], idx: tuple[int, ...]) -> Outcome:
    """The outcome of one set of deciding rules under ``policy`` (``idx`` in table order)."""
    if not idx:
        return Outcome("uncovered", "uncovered", "", ())
    chosen = [rules[i] for i in idx]
    if policy == "FIRST":
        r = chosen[0]
        return Outcome("ok", r.answer, r.output("alternatives"), (r.rule_id,))
    if policy == "PRIORITY":
        order = priority_order(book, spec_name)
        rank = {c: k for k, c in enumerate(order)}
        r = min(chosen, key=lambda rule: rank.get(rule.answer, len(order)))
        return Outcome("ok", r.answer, r.output("alternatives"), (r.rule_id,))
    if policy == "COLLECT":
        order = priority_order(book, spec_name)
        codes = sorted({r.answer for r in chosen}, key=lambda c: order.index(c) if c in order else len(order))
        alts = sorted({a for r in chosen for a in r.output("alternatives").split("|") if a})
        return Outcome("ok", "|".join(codes), "|".join(alts), tuple(r.rule_id for r in chosen))
    answers = {r.answer for r in chosen}
    ids = tuple(r.rule_id for r in chosen)
    if len(answers) > 1:
        return Outcome("conflict", "conflict", "", ids)
    alts: list[str] = []
    for r in chosen:  # rules that agree on the answer pool the alternatives they offer
        alts.extend(a for a in r.output("alternatives").split("|") if a and a not in alts)
    return Outcome("ok", chosen[0].answer, "|".join(alts), ids)


def _winners(policy: str, outcome: Outcome, rules: list[Rule], idx: tuple[int, ...]) -> tuple[int, ...]:
    if outcome.status == "conflict":
        return ()
    keep = set(outcome.rules)
    return tuple(i for i in idx if rules[i].rule_id in keep)


def compile_decision(book: RuleBook, compiled: CompiledBook, name: str) -> DecisionGrid:
    """Compile one decision table over the grid of ``compiled``."""
    spec = book.decisions[name]
    rules = book.rules[name]
    n = compiled.n_cells
    matches = np.zeros((len(rules), n), dtype=bool)
    for i, r in enumerate(rules):
        matches[i] = compiled.axis_masks(r.conditions)
    position = {r.rule_id: i for i, r in enumerate(rules)}
    overridden = np.zeros_like(matches)
    for i, r in enumerate(rules):
        for target in r.exception_of:
            if target in position:
                overridden[position[target]] |= matches[i]
    deciding = matches & ~overridden
    # Cells with the same set of deciding rules share an outcome: resolve each distinct set once.
    if len(rules):
        packed = np.packbits(deciding, axis=0).T  # (n_cells, bytes)
        patterns, outcome_id = np.unique(packed, axis=0, return_inverse=True)
        outcome_id = outcome_id.reshape(-1)
    else:
        patterns, outcome_id = np.zeros((1, 0), dtype=np.uint8), np.zeros(n, dtype=np.int64)
    outcomes: list[Outcome] = []
    winners_of_pattern: list[tuple[int, ...]] = []
    for pattern in patterns:
        bits = np.unpackbits(pattern)[: len(rules)] if len(rules) else np.zeros(0, dtype=np.uint8)
        idx = tuple(int(i) for i in np.flatnonzero(bits))
        outcome = _resolve(book, name, spec.hit_policy, rules, idx)
        outcomes.append(outcome)
        winners_of_pattern.append(_winners(spec.hit_policy, outcome, rules, idx))
    winners = np.zeros_like(matches)
    for k, idx in enumerate(winners_of_pattern):
        if idx:
            cells = outcome_id == k
            for i in idx:
                winners[i] |= cells
    return DecisionGrid(name, spec.hit_policy, rules, matches, deciding, winners, outcome_id.astype(np.int64), outcomes)


def compile_rulebook(book: RuleBook) -> CompiledBook:
    """Compile every decision of ``book`` (use ``book.compiled()`` for the cached form)."""
    axes = build_axes(book)
    shape = tuple(len(axes[n].labels) for n in INPUT_ORDER)
    n = int(np.prod(shape))
    compiled = CompiledBook(book, axes, shape, np.zeros(n, dtype=bool), np.full(n, "", dtype=object), {})
    for c in book.constraints:
        mask = compiled.axis_masks(c.conditions) & ~compiled.invalid
        compiled.invalid |= mask
        field = f"{c.field}: " if c.field else ""
        compiled.invalid_message[mask] = f"{field}{c.message}"
    for name in book.decisions:
        compiled.decisions[name] = compile_decision(book, compiled, name)
    return compiled


def priority_order(book: RuleBook, decision: str) -> list[str]:
    """``book.priority(decision)``, looked up once per book: compiling resolves one cell pattern at a time,
    and filtering ``codes.csv`` for each of thousands of patterns made PRIORITY/COLLECT compiles twice as slow.
    """
    cache = book._cache.setdefault("priority", {})
    if decision not in cache:
        cache[decision] = book.priority(decision)
    return cache[decision]
