"""Compile a rule book into one finite grid per decision, and answer from them.

Every input has a finite axis: the category values, the catalogue, false/true, and an integer input cut at
every bound a rule uses (plus the empty value where empty is a value of its own). Each decision compiles over
the product of the axes of *its own* inputs (``decisions.csv`` lists them), never over all inputs: for each
cell the compiler records which rules match, which of those are overridden by a matching exception, and the
outcome the hit policy gives. A constraint compiles over its own inputs too; it rules a combination out for
the decisions that read one of its inputs (a decision that reads none of them answers the same whatever
those inputs are). Evaluating a population is encoding each row to one cell per decision plus array lookups;
explaining, auditing, diffing and answering from partial knowledge read the same grids.

>>> from sonet_policy.book.load import default_rulebook
>>> compiled = default_rulebook().compiled()
>>> {name: grid.n_cells for name, grid in compiled.decisions.items()} == {
...     name: int(np.prod([len(compiled.axes[i].labels) for i in spec.inputs]))
...     for name, spec in compiled.book.decisions.items()}
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sonet_policy.book.cache import Slot
from sonet_policy.book.conditions import Axis, integer_axis

if TYPE_CHECKING:  # pragma: no cover
    from sonet_policy.book.model import Constraint, Rule, RuleBook

FINDING_CODES = ("uncovered", "conflict")


_PRIORITY: Slot[dict[str, list[str]]] = Slot("priority")
_COMPILED: Slot[CompiledBook] = Slot("compiled")


@dataclass(frozen=True)
class Outcome:
    """What a decision answers in one cell: ``status`` is ok, uncovered or conflict."""

    status: str
    code: str
    alternatives: str
    rules: tuple[str, ...]


@dataclass
class Grid:
    """The product of the axes of some inputs; a cell is ``np.ravel_multi_index(positions, shape)``."""

    inputs: tuple[str, ...]
    axes: dict[str, Axis]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(self.axes[n].labels) for n in self.inputs)

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def strides(self) -> tuple[int, ...]:
        """Per input, how far one step on its axis moves the cell index."""
        shape = self.shape
        return tuple(int(np.prod(shape[k + 1 :], dtype=np.int64)) for k in range(len(shape)))

    def axis_masks(self, conditions: Mapping) -> np.ndarray:
        """The cells where every condition on an input of this grid holds (inputs not named: any)."""
        mask = np.ones(self.shape, dtype=bool)
        for k, name in enumerate(self.inputs):
            cond = conditions.get(name)
            if cond is None:
                continue
            m = cond.mask(self.axes[name])
            view = [1] * len(self.inputs)
            view[k] = len(m)
            mask &= m.reshape(view)
        return mask.reshape(-1)

    def positions(self, cell: int) -> dict[str, int]:
        """The axis position of each input in one cell."""
        pos = np.unravel_index(int(cell), self.shape)
        return {name: int(p) for name, p in zip(self.inputs, pos, strict=True)}

    def cell_values(self, cell: int) -> dict[str, str]:
        """The axis labels of one cell, by input."""
        return {name: self.axes[name].labels[p] for name, p in self.positions(cell).items()}

    def cell_of(self, positions: Mapping[str, int]) -> int:
        """The cell of axis positions given for (at least) every input of this grid."""
        return int(sum(int(positions[n]) * s for n, s in zip(self.inputs, self.strides, strict=True)))


@dataclass
class DecisionGrid(Grid):
    """One decision compiled over its own inputs: per-rule masks over its cells and the outcome of each."""

    name: str
    hit_policy: str
    rules: list[Rule]
    matches: np.ndarray  # (n_rules, n_cells) bool: the rule's conditions hold
    deciding: np.ndarray  # (n_rules, n_cells) bool: matches and not overridden by a matching exception
    winners: np.ndarray  # (n_rules, n_cells) bool: the rules whose answer the hit policy takes
    outcome_id: np.ndarray  # (n_cells,) index into outcomes
    outcomes: list[Outcome]
    invalid: np.ndarray  # (n_cells,) bool: every scenario with these values is ruled out by a constraint

    def outcome(self, cell: int) -> Outcome:
        return self.outcomes[int(self.outcome_id[cell])]


@dataclass
class ConstraintGrid(Grid):
    """One constraint compiled over its own inputs: the cells it rules out, and the decisions it blocks (those
    that read one of its inputs)."""

    constraint: Constraint
    ruled_out: np.ndarray  # (n_cells,) bool
    message: str
    blocks: tuple[str, ...]


@dataclass
class CompiledBook:
    """The compiled form of a rule book: the axis of every input, one grid per decision and per constraint."""

    book: RuleBook
    axes: dict[str, Axis]
    decisions: dict[str, DecisionGrid]
    constraints: list[ConstraintGrid]

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every input, in the book's display order."""
        return tuple(self.axes)

    @property
    def n_cells(self) -> int:
        """Cells of every decision grid together (what is compiled and stored)."""
        return sum(g.n_cells for g in self.decisions.values())

    @property
    def dense_cells(self) -> int:
        """Cells of the product of every input's axis: what one grid over all inputs would need."""
        return int(np.prod([len(a.labels) for a in self.axes.values()], dtype=object))

    def groups(self) -> list[tuple[tuple[str, ...], list[str]]]:
        """Decisions grouped by their inputs (decisions that read the same inputs share one cell per row)."""
        out: dict[tuple[str, ...], list[str]] = {}
        for name, grid in self.decisions.items():
            out.setdefault(grid.inputs, []).append(name)
        return list(out.items())

    def grid_over(self, inputs: tuple[str, ...]) -> Grid:
        """A grid over ``inputs`` (in the order given) with this book's axes."""
        return Grid(tuple(inputs), {n: self.axes[n] for n in inputs})

    def ruled_out_over(self, inputs: tuple[str, ...], constraints: list[ConstraintGrid]) -> np.ndarray:
        """The cells of the grid over ``inputs`` that one of ``constraints`` rules out (each constraint's
        inputs must be among ``inputs``); shaped as that grid."""
        shape = tuple(len(self.axes[n].labels) for n in inputs)
        out = np.zeros(shape, dtype=bool)
        for c in constraints:
            out |= broadcast(c.ruled_out, c.inputs, c.shape, inputs)
        return out


def broadcast(values: np.ndarray, src: tuple[str, ...], shape: tuple[int, ...], dst: tuple[str, ...]) -> np.ndarray:
    """A flat array over the grid of ``src`` inputs (shape ``shape``) viewed over the grid of ``dst`` (a
    superset of ``src``): axes reordered, size 1 on the inputs ``src`` lacks (numpy broadcasts them).

    >>> broadcast(np.array([True, False]), ("a",), (2,), ("b", "a")).shape
    (1, 2)
    """
    arr = values.reshape(shape)
    order = sorted(range(len(src)), key=lambda k: dst.index(src[k]))
    arr = np.transpose(arr, order)
    view = [1] * len(dst)
    for k in order:
        view[dst.index(src[k])] = shape[k]
    return arr.reshape(view)


def build_axes(book: RuleBook) -> dict[str, Axis]:
    """The finite axes of every input (an integer input cut at every bound any rule or constraint uses)."""
    axes: dict[str, Axis] = {}
    for name, spec in book.inputs.items():
        if spec.kind == "integer":
            bounds: set[float] = set()
            for rules in book.rules.values():
                for r in rules:
                    if name in r.conditions:
                        bounds |= r.conditions[name].bounds()
            for c in book.constraints:
                if name in c.conditions:
                    bounds |= c.conditions[name].bounds()
            axes[name] = integer_axis(name, bounds, minimum=spec.minimum, null=spec.empty == "null")
        else:
            axes[name] = Axis(name, spec.kind, spec.domain)
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
    """Compile one decision table over the grid of its own inputs."""
    spec = book.decisions[name]
    rules = book.rules[name]
    grid = compiled.grid_over(spec.inputs)
    n = grid.n_cells
    matches = np.zeros((len(rules), n), dtype=bool)
    for i, r in enumerate(rules):
        matches[i] = grid.axis_masks(r.conditions)
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
    blocking = [c for c in compiled.constraints if name in c.blocks]
    invalid = _never_valid(compiled, spec.inputs, blocking)
    return DecisionGrid(
        grid.inputs,
        grid.axes,
        name,
        spec.hit_policy,
        rules,
        matches,
        deciding,
        winners,
        outcome_id.astype(np.int64),
        outcomes,
        invalid,
    )


def _never_valid(compiled: CompiledBook, inputs: tuple[str, ...], blocking: list[ConstraintGrid]) -> np.ndarray:
    """The cells over ``inputs`` for which every value of the other inputs the ``blocking`` constraints read
    is ruled out (no scenario with these values is answered)."""
    n = int(np.prod([len(compiled.axes[i].labels) for i in inputs], dtype=np.int64))
    if not blocking:
        return np.zeros(n, dtype=bool)
    extra = tuple(i for i in compiled.inputs if i not in inputs and any(i in c.inputs for c in blocking))
    union = (*inputs, *extra)
    ruled = compiled.ruled_out_over(union, blocking)
    if extra:
        ruled = ruled.all(axis=tuple(range(len(inputs), len(union))))
    return np.broadcast_to(ruled, tuple(len(compiled.axes[i].labels) for i in inputs)).reshape(-1).copy()


def compiled(book: RuleBook) -> CompiledBook:
    """The compiled form of ``book``, built once per book (``book.compiled()`` is the same)."""
    return book.cache.get(_COMPILED, lambda: compile_rulebook(book))


def compile_rulebook(book: RuleBook) -> CompiledBook:
    """Compile every decision of ``book`` anew (:func:`compiled` keeps the form on the book)."""
    axes = build_axes(book)
    compiled = CompiledBook(book, axes, {}, [])
    for c in book.constraints:
        inputs = tuple(n for n in book.inputs if n in c.conditions and not c.conditions[n].any)
        grid = compiled.grid_over(inputs)
        blocks = tuple(d for d, spec in book.decisions.items() if set(spec.inputs) & set(inputs))
        field = f"{c.field}: " if c.field else ""
        compiled.constraints.append(
            ConstraintGrid(grid.inputs, grid.axes, c, grid.axis_masks(c.conditions), f"{field}{c.message}", blocks)
        )
    for name in book.decisions:
        compiled.decisions[name] = compile_decision(book, compiled, name)
    return compiled


def priority_order(book: RuleBook, decision: str) -> list[str]:
    """``book.priority(decision)``, looked up once per book: compiling resolves one cell pattern at a time,
    and filtering ``codes.csv`` for each of thousands of patterns made PRIORITY/COLLECT compiles twice as slow.
    """
    orders = book.cache.get(_PRIORITY, lambda: {d: book.priority(d) for d in book.decisions})
    return orders[decision] if decision in orders else book.priority(decision)
