"""Answers from partial knowledge: for each decision, what is still possible given the inputs known so far.

Read exactly off the compiled grids: a decision's possible answers are the outcomes of the cells of its grid
that agree with the known inputs and that no constraint blocking the decision rules out (for some value of the
unknown inputs). An input not given is *unknown*; an input given as empty (None, "") is known to be empty,
which for an integer input whose ``empty`` is ``null`` is a value of its own (the shipped day count: the phone
has not stopped yet).

``ask_next`` is the unknown input that leaves the fewest decisions open, in expectation: for each candidate
input (one some open decision depends on), the number of decisions still undecided after learning it,
averaged over its values with equal weight (every axis value of the input, an integer input's intervals
included, that leaves the scenario answerable). Ties go to the input declared first. ``None`` when every
decision is decided.

>>> from sonet_policy.book.load import default_rulebook
>>> book = default_rulebook()
>>> p = possible(**{book.input_order[0]: "west"})
>>> sorted(p.decisions) == sorted(book.decisions), p.ask_next in book.inputs
(True, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook, broadcast
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.encode import encode_fields
from sonet_policy.errors import ScenarioError
from sonet_policy.text import header_key

_CODE_GRIDS: Slot[dict[str, tuple[np.ndarray, list[str]]]] = Slot("possible_codes")


@dataclass
class DecisionPossibilities:
    """What one decision may still answer: ``answers`` (codes, with ``uncovered``/``conflict`` where those are
    possible; ``invalid`` when the known values are ruled out), ``decided`` (one answer left) and
    ``depends_on`` (the unknown inputs whose value changes the answer)."""

    decision: str
    decided: bool
    answers: list[str]
    depends_on: list[str]


@dataclass
class Possibilities:
    """The result of :func:`possible`. ``to_dict()`` / ``to_json()`` give the JSON of the CLI."""

    known: dict[str, str]
    decisions: dict[str, DecisionPossibilities]
    ask_next: str | None
    expected_open: dict[str, float] = field(default_factory=dict)
    rulebook_hash: str = ""

    def to_dict(self) -> dict:
        return {
            "known": self.known,
            "decisions": {
                name: {"decided": d.decided, "answers": d.answers, "depends_on": d.depends_on}
                for name, d in self.decisions.items()
            },
            "ask_next": self.ask_next,
            "expected_open": self.expected_open,
            "rulebook_hash": self.rulebook_hash,
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def __str__(self) -> str:
        known = ", ".join(f"{k}={v}" for k, v in self.known.items()) or "nothing"
        lines = [f"known: {known}"]
        for name, d in self.decisions.items():
            state = "decided" if d.decided else f"open, depends on {', '.join(d.depends_on) or '-'}"
            lines.append(f"  {name}: {' | '.join(d.answers)}  ({state})")
        lines.append(f"ask next: {self.ask_next or '-'}")
        return "\n".join(lines)


def _code_grid(compiled: CompiledBook, decision: str) -> tuple[np.ndarray, list[str]]:
    """Per cell of the decision's grid: an index into the list of its codes (cached)."""
    grids = compiled.book.cache.get(_CODE_GRIDS, dict)
    if decision not in grids:
        grids[decision] = _build_code_grid(compiled, decision)
    return grids[decision]


def _build_code_grid(compiled: CompiledBook, decision: str) -> tuple[np.ndarray, list[str]]:
    grid = compiled.decisions[decision]
    order = [*compiled.book.priority(decision), "uncovered", "conflict"]
    codes = list(
        dict.fromkeys(
            sorted(
                {o.code for o in grid.outcomes}, key=lambda c: (c not in order, order.index(c) if c in order else 0, c)
            )
        )
    )
    lut = np.array([codes.index(o.code) for o in grid.outcomes], dtype=np.int64)
    return lut[grid.outcome_id], codes


def _decision(compiled: CompiledBook, decision: str, fixed: dict[str, int]) -> DecisionPossibilities:
    grid = compiled.decisions[decision]
    code, codes = _code_grid(compiled, decision)
    blocking = [c for c in compiled.constraints if decision in c.blocks]
    extra = tuple(n for n in compiled.inputs if n not in grid.inputs and any(n in c.inputs for c in blocking))
    dims = (*grid.inputs, *extra)
    shape = tuple(len(compiled.axes[n].labels) for n in dims)
    ruled = np.broadcast_to(compiled.ruled_out_over(dims, blocking), shape)
    values = np.broadcast_to(broadcast(code, grid.inputs, grid.shape, dims), shape)
    index = tuple(fixed[n] if n in fixed else slice(None) for n in dims)
    free = [n for n in dims if n not in fixed]
    valid, values = ~ruled[index], values[index]
    if not valid.any():
        return DecisionPossibilities(decision, True, ["invalid"], [])
    present = np.unique(values[valid])
    answers = [codes[int(k)] for k in present]
    depends = []
    if len(answers) > 1:
        for k, name in enumerate(free):
            if name not in grid.inputs:
                continue
            hi = np.where(valid, values, -1).max(axis=k)
            lo = np.where(valid, values, len(codes)).min(axis=k)
            if ((hi > lo) & (hi >= 0)).any():
                depends.append(name)
    return DecisionPossibilities(decision, len(answers) == 1, answers, depends)


def _all(compiled: CompiledBook, fixed: dict[str, int]) -> dict[str, DecisionPossibilities]:
    return {name: _decision(compiled, name, fixed) for name in compiled.decisions}


def _known_positions(book: RuleBook, known: dict[str, object]) -> tuple[dict[str, int], dict[str, str]]:
    """Axis positions of the known inputs; raises :class:`ScenarioError` for an unknown or bad one."""
    lookup = book.header_lookup()
    row: dict[str, object] = {}
    for key, value in known.items():
        name = key if key in book.inputs else lookup.get(header_key(key))
        if name is None:
            raise ScenarioError(f"{key}: not an input of this rule book ({', '.join(book.inputs)})", field=key)
        row[name] = value
    compiled = book.compiled()
    frame = pd.DataFrame({n: pd.Series([v], dtype=object) for n, v in row.items()}, index=[0])
    fields = encode_fields(frame, compiled)
    fixed, shown = {}, {}
    for name in row:
        f = fields[name]
        pos = int(f.position[0])
        if pos < 0:
            raise ScenarioError(f.messages[int(f.error_id[0])], field=name)
        fixed[name] = pos
        shown[name] = compiled.axes[name].labels[pos]
    return fixed, shown


def possible(*, rulebook: RuleBook | None = None, **known: object) -> Possibilities:
    """The answers still possible for each decision given the ``known`` inputs (any spelling the file reader
    accepts, by input name or header alias), and the input to ask next. See the module docstring for the
    measure behind ``ask_next``. Raises :class:`~sonet_policy.errors.ScenarioError` naming the field when a
    known value is invalid or a keyword is no input.

    >>> p = possible(keep_number="yes")
    >>> p.decisions["procedure"].answers, p.decisions["procedure"].decided
    (['port_out'], True)
    >>> p.decisions["ipv4"].decided, "plan" in p.decisions["ipv4"].depends_on
    (False, True)
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    fixed, shown = _known_positions(book, known)
    decisions = _all(compiled, fixed)
    open_now = [d for d in decisions.values() if not d.decided]
    candidates = [n for n in book.inputs if n not in fixed and any(n in d.depends_on for d in open_now)]
    scores: dict[str, float] = {}
    for name in candidates:
        counts = []
        for pos in range(len(compiled.axes[name].labels)):
            after = _all(compiled, {**fixed, name: pos})
            if all(d.answers == ["invalid"] for d in after.values()):
                continue  # a value the known inputs rule out: no customer has it
            counts.append(sum(not d.decided for d in after.values()))
        if counts:
            scores[name] = float(np.mean(counts))
    ask = min(scores, key=lambda n: (scores[n], candidates.index(n))) if scores else None
    return Possibilities(shown, decisions, ask, scores, book.hash)
