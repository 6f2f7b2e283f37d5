"""Answers checked against the book's cross-decision invariants (:mod:`sonet_policy.book.invariants`).

:func:`violations` checks every invariant on any frame of scenarios, vectorised: each row is looked up in a
table of every combination of the inputs the invariants involve (:func:`checked_domain`), built once per book
by the public :func:`~sonet_policy.engine.evaluate.evaluate`. :func:`explain_violations` says which invariants
one scenario breaks, for ``explain``.

>>> from sonet_policy import default_rulebook
>>> domain = checked_domain(default_rulebook())
>>> domain.broken.shape == (len(domain.frame), 6), bool((domain.broken <= domain.applies).all())
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.conditions import Axis
from sonet_policy.book.invariants import Invariant, axes, involved_inputs, load_invariants
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.encode import encode
from sonet_policy.engine.evaluate import evaluate


@dataclass(frozen=True)
class CheckedDomain:
    """Every combination of the inputs the invariants involve (their decisions' inputs, their conditions and
    the constraints'; each decision is answered over its own inputs, so the others cannot change the answers
    they read), evaluated and checked once per book. Rows are row-major over ``names`` in :func:`axes` order;
    the other inputs sit at their first value."""

    names: list[str]  # the inputs enumerated
    shape: tuple[int, ...]  # their axis lengths
    frame: pd.DataFrame  # one scenario per combination
    positions: dict[str, np.ndarray]  # per input, each row's axis position
    answers: pd.DataFrame  # evaluate's answers
    applies: np.ndarray  # (rows, invariants) bool: the invariant's conditions and when part hold
    broken: np.ndarray  # (rows, invariants) bool: it applies and the then part fails

    def cell(self, positions: Mapping[str, np.ndarray | int]) -> np.ndarray:
        """The row of each scenario (or of one) given by its axis positions (every one >= 0) on ``names``."""
        return np.ravel_multi_index(tuple(positions[name] for name in self.names), self.shape)


_DOMAIN: Slot[CheckedDomain] = Slot("invariant_domain")


def positions(frame: pd.DataFrame, *, rulebook: RuleBook) -> dict[str, np.ndarray]:
    """Per input, each row's position on its axis (-1 where that field is missing or invalid): how a frame of
    raw scenarios (any device spelling, yes/no) meets the condition columns. A combination a constraint rules
    out keeps its positions: the decisions it blocks come back unanswered from :func:`evaluate`, and an
    invariant reading one of them does not apply.

    >>> from sonet_policy import default_rulebook
    >>> row = pd.DataFrame([dict(area="west", plan="sml", device="pr600ki", setup="wlan_1g", keep_number="no")])
    >>> int(positions(row, rulebook=default_rulebook())["device"][0])
    0
    """
    enc = encode(frame, rulebook.compiled())
    return {name: enc.positions(name) for name in rulebook.inputs}


def rule_answers(book: RuleBook, rules: pd.Series, decision: str) -> tuple[np.ndarray, list[str]]:
    """Per row, the answers of ``decision``'s deciding rules (``rules`` is evaluate's column) and the rule ids,
    computed once per distinct rules text: (codes per row into the list of distinct texts, filtered ids)."""
    cat = rules.astype("category")
    index = book.rule_index
    texts = [
        " ".join(rid for rid in str(text).split() if rid in index and index[rid].decision == decision)
        for text in cat.cat.categories
    ]
    per_cat, filtered = pd.factorize(pd.Series(texts, dtype=object))
    lut = np.append(np.asarray(per_cat, dtype=np.int64), len(filtered))  # code -1 (no rules text) reads ""
    return lut[np.asarray(cat.cat.codes)], [*filtered, ""]


def _is_in(column: pd.Series, wanted: frozenset[str] | set[str]) -> np.ndarray:
    """``column`` (evaluate's categorical answers) holds one of ``wanted``: one test per category, then a
    lookup per row (a missing answer is in nothing)."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    lut = np.array([str(c) in wanted for c in cat.cat.categories] + [False], dtype=bool)
    return lut[np.asarray(cat.cat.codes)]


def _holds(codes: pd.Series, rules: pd.Series, book: RuleBook, decision: str, wanted: frozenset[str]) -> np.ndarray:
    """``decision`` answers one of ``wanted``; a conflict counts when one of its deciding rules does."""
    hit = _is_in(codes, wanted)
    conflict = _is_in(codes, {"conflict"})
    if conflict.any() and "conflict" not in wanted:
        row_cat, filtered = rule_answers(book, rules, decision)
        index = book.rule_index
        per_cat = np.array([any(index[r].answer in wanted for r in t.split()) for t in filtered])
        hit |= conflict & per_cat[row_cat]
    return hit


def violations(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """Which rows of ``frame`` (scenarios, as for :func:`evaluate`) break which invariant: a boolean DataFrame,
    one column per invariant id, on the frame's index. Invalid rows break none. Raises RuleBookError when
    ``invariants.csv`` does not load.

    >>> row = pd.DataFrame([dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)])
    >>> bool(violations(row)["INV-ROUTER-IPV4"].iloc[0])
    True
    """
    return applies_and_violations(frame, rulebook=rulebook)[1]


def applies_and_violations(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> tuple[pd.DataFrame, ...]:
    """As :func:`violations`, and first where each invariant applies (its conditions and ``when`` part hold):
    ``(applies, broken)``, two boolean DataFrames with one column per invariant id.

    >>> row = pd.DataFrame([dict(area="east", plan="sml", device="PR-400NE", setup="wlan_1g", keep_number=False)])
    >>> applies, broken = applies_and_violations(row)
    >>> bool(applies["INV-ROUTER-IPV4"].iloc[0]), bool(broken["INV-ROUTER-IPV4"].iloc[0])
    (True, False)
    """
    book = rulebook or default_rulebook()
    ids = [i.invariant_id for i in load_invariants(book)]
    if not ids:  # nothing to check (and no domain to enumerate)
        empty = pd.DataFrame(index=frame.index, columns=[], dtype=bool)
        return empty, empty.copy()
    domain = checked_domain(book)
    pos = positions(frame, rulebook=book)
    valid = np.ones(len(frame), dtype=bool)
    for name in domain.names:
        valid &= pos[name] >= 0
    cell = domain.cell({name: np.where(valid, pos[name], 0) for name in domain.names})
    out = []
    for table in (domain.applies, domain.broken):
        rows = table[cell] & valid[:, None]  # an invalid row (a bad value, a ruled-out combination) breaks none
        out.append(pd.DataFrame(rows, index=frame.index, columns=ids, dtype=bool))
    return out[0], out[1]


def checked_domain(book: RuleBook) -> CheckedDomain:
    """The whole domain of the invariants, evaluated and checked once per book (cached): any frame is checked
    by looking its rows up here."""
    return book.cache.get(_DOMAIN, lambda: _build_domain(book))


def _build_domain(book: RuleBook) -> CheckedDomain:
    grid = axes(book)
    invariants = load_invariants(book)
    wanted = {name for inv in invariants for name in involved_inputs(book, inv)}
    names = [name for name in grid if name in wanted]
    frame, pos = _grid_frame(book, names)
    answers = evaluate(frame, rulebook=book)
    applies, broken = _check(book, invariants, answers, pos)
    shape = tuple(len(grid[name].labels) for name in names)
    return CheckedDomain(names, shape, frame, pos, answers, applies, broken)


def _check(
    book: RuleBook, invariants: list[Invariant], answers: pd.DataFrame, pos: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``answers`` and per invariant, whether it applies and whether it is broken (rows x invariants)."""
    grid = axes(book)
    applies = np.zeros((len(answers), len(invariants)), dtype=bool)
    broken = np.zeros_like(applies)
    for k, inv in enumerate(invariants):
        mask = np.ones(len(answers), dtype=bool)
        for d in inv.decisions:  # a decision left unanswered (a field it reads invalid, ruled out) says nothing
            mask &= answers[d].notna().to_numpy()
        for name, cond in inv.conditions.items():
            if cond.any:
                continue
            allowed = np.append(cond.mask(grid[name]), False)  # position -1 reads the last entry
            mask &= allowed[pos[name]]
        for decision, codes in inv.when.items():
            mask &= _holds(answers[decision], answers["rules"], book, decision, codes)
        then = answers[inv.then_decision]
        fails = ~_is_in(then, inv.then_in) if inv.then_in else _is_in(then, inv.then_not_in)
        applies[:, k] = mask
        broken[:, k] = mask & fails
    return applies, broken


def _scenario_values(axis: Axis) -> list[object]:
    """One scenario value per axis cell: the label, a bool, or a day interval's first day (None: empty)."""
    if axis.kind == "integer":
        return [None if iv is None else int(iv[0]) for iv in axis.intervals]
    if axis.kind == "boolean":
        return [label == "true" for label in axis.labels]
    return list(axis.labels)


def _grid_frame(book: RuleBook, inputs: list[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every combination of ``inputs`` (other inputs at their first value) as scenarios, with each row's axis
    positions."""
    grid = axes(book)
    shape = [len(grid[name].labels) if name in inputs else 1 for name in grid]
    pos_arrays = np.indices(shape).reshape(len(shape), -1)
    data, pos = {}, {}
    for k, (name, axis) in enumerate(grid.items()):
        values = np.array(_scenario_values(axis), dtype=object)
        data[name] = values[pos_arrays[k]]
        pos[name] = pos_arrays[k]
    return pd.DataFrame(data), pos


def explain_violations(
    scenario: dict[str, object], *, rulebook: RuleBook, axis_positions: dict[str, int] | None = None
) -> dict[str, list[dict[str, object]]]:
    """For one scenario, per decision the invariants it breaks (each on the decisions it reads): what
    ``explain`` shows on the answers involved. Empty when none is broken or the scenario is invalid.
    ``axis_positions`` (optional): each input's position on its axis when the caller has encoded the scenario.

    >>> from sonet_policy import default_rulebook
    >>> out = explain_violations(dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g",
    ...                               keep_number=False), rulebook=default_rulebook())
    >>> sorted(out), out["ipv4"][0]["invariant_id"]
    (['device_action', 'ipv4'], 'INV-ROUTER-IPV4')
    """
    book = rulebook
    invariants = load_invariants(book)
    if not invariants:
        return {}
    if axis_positions is not None:  # the caller encoded the scenario already (explain): a table lookup
        domain = checked_domain(book)
        if any(axis_positions.get(n, -1) < 0 for n in domain.names):
            return {}
        row = domain.broken[int(domain.cell(axis_positions))]
        broken = dict(zip((i.invariant_id for i in invariants), row.tolist(), strict=True))
    else:
        frame = pd.DataFrame([scenario], dtype=object)
        broken = violations(frame, rulebook=book).iloc[0]
    out: dict[str, list[dict[str, object]]] = {}
    for inv in invariants:
        if not broken[inv.invariant_id]:
            continue
        info = dict(
            invariant_id=inv.invariant_id,
            statement=inv.statement(),
            note=inv.note,
            source=list(inv.source),
            decisions=list(inv.decisions),
        )
        for d in inv.decisions:
            out.setdefault(d, []).append(info)
    return out
