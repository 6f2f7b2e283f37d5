"""What :func:`~sonet_policy.engine.frame.evaluate_frame` looks up, built once per rule book.

Per group of decisions that read the same inputs, per cell of their grid: the category code of every answer
column, and the id of the combination of their outcomes (the last entry of every table: an unanswered row, cell
-1). Per row key (one combination id per group, in mixed radix): the row's status and its rules.

>>> from sonet_policy.book.load import default_rulebook
>>> tables = answer_tables(default_rulebook().compiled())
>>> [g.names for g in tables.groups][0], tables.status is not None
(['procedure', 'number'], True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.model import RuleBook

#: Row statuses, in the order of their categories: ``ok`` every decision answered with a code; ``uncovered``
#: every decision answered, some by no rule (and none in conflict); ``conflict`` every decision answered,
#: some with rules that disagree; ``partial`` some decisions answered, others not (a field they read is
#: missing or invalid, or a constraint rules the combination out: see ``error``); ``invalid`` no decision
#: could be answered.
STATUSES = ("ok", "uncovered", "conflict", "partial", "invalid")
STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))
_KEY_TABLE_LIMIT = 1 << 20  # row keys (combinations of outcomes) up to which status and rules are tabled once


def _smallest(n_categories: int) -> type:
    return np.int8 if n_categories < 127 else np.int16 if n_categories < 32767 else np.int32


@dataclass(frozen=True)
class GroupTable:
    """What the decisions of one group answer per cell of their grid; the last entry of every table is an
    unanswered row's (cell -1)."""

    inputs: tuple[str, ...]
    names: list[str]
    columns: dict[str, tuple[pd.CategoricalDtype, np.ndarray]]  # per answer column: dtype, (n_cells + 1,) codes
    combos: np.ndarray  # (n_combos, len(names)): the distinct combinations of the decisions' outcome ids
    combo_key: np.ndarray  # (n_cells + 1,) int64: the cell's combination (unanswered: n_combos) times its stride


@dataclass(frozen=True)
class AnswerTables:
    """Everything :func:`~sonet_policy.engine.frame.evaluate_frame` looks up (:func:`answer_tables`)."""

    groups: list[GroupTable]
    radix: list[int]  # per group: its combinations + 1 (unanswered)
    strides: list[int]  # per group: its stride in the row key
    status: np.ndarray | None  # per row key: index into STATUSES (None: too many keys to table)
    rules: tuple[pd.CategoricalDtype, np.ndarray] | None  # per row key: the rules' category code


def _from_outcomes(values: list[str], outcome_id: np.ndarray) -> tuple[pd.CategoricalDtype, np.ndarray]:
    """A categorical answer column's dtype and its code per cell (``values``: per outcome; last entry: -1)."""
    cats = sorted(set(values))
    pos = {v: i for i, v in enumerate(cats)}
    lut = np.array([pos[v] for v in values], dtype=np.int64)
    codes = np.append(lut[outcome_id], -1)
    return pd.CategoricalDtype(cats), codes.astype(_smallest(len(cats)))


def _combinations(compiled: CompiledBook, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct combinations of the outcome ids of decisions ``names`` (one grid), and per cell its
    combination (+ the last entry: unanswered, numbered after every combination)."""
    stacked = np.stack([compiled.decisions[d].outcome_id for d in names], axis=1)
    combos, combo_id = np.unique(stacked, axis=0, return_inverse=True)
    return combos, np.append(combo_id.reshape(-1), len(combos)).astype(np.int64)


def _answer_columns(compiled: CompiledBook, names: list[str]) -> dict[str, tuple[pd.CategoricalDtype, np.ndarray]]:
    """Per answer column of decisions ``names`` (the code, then the other outputs): its dtype and code per cell."""
    columns = {}
    for name in names:
        grid = compiled.decisions[name]
        columns[name] = _from_outcomes([o.code for o in grid.outcomes], grid.outcome_id)
        for out in compiled.book.decisions[name].outputs[1:]:
            alts = [o.alternatives if out == "alternatives" else "" for o in grid.outcomes]
            columns[f"{name}_{out}"] = _from_outcomes(alts, grid.outcome_id)
    return columns


_TABLES: Slot[AnswerTables] = Slot("answer_tables")


def answer_tables(compiled: CompiledBook) -> AnswerTables:
    """Everything :func:`~sonet_policy.engine.frame.evaluate_frame` looks up, built once per compiled book (cached
    with it)."""
    return compiled.book.cache.get(_TABLES, lambda: _build_tables(compiled))


def _build_tables(compiled: CompiledBook) -> AnswerTables:
    groups = compiled.groups()
    combinations = [_combinations(compiled, names) for _, names in groups]
    radix = [len(combos) + 1 for combos, _ in combinations]
    strides = [int(np.prod(radix[k + 1 :], dtype=np.int64)) for k in range(len(radix))]
    tables = [
        GroupTable(inputs, names, _answer_columns(compiled, names), combos, combo * stride)
        for (inputs, names), (combos, combo), stride in zip(groups, combinations, strides, strict=True)
    ]
    out = AnswerTables(tables, radix, strides, None, None)
    key_space = int(np.prod(radix, dtype=object))
    if key_space > _KEY_TABLE_LIMIT:
        return out
    status, texts = describe_keys(compiled, out, np.arange(key_space, dtype=np.int64))
    cats = sorted(set(texts))
    pos = {t: i for i, t in enumerate(cats)}
    codes = np.array([pos[t] for t in texts], dtype=np.int64)
    codes[status == STATUSES.index("invalid")] = -1
    rules = (pd.CategoricalDtype(cats), codes.astype(_smallest(len(cats))))
    return AnswerTables(tables, radix, strides, status.astype(np.int8), rules)


_UNANSWERED, _CONFLICT, _UNCOVERED, _ANSWERED = 1, 2, 4, 8  # status flags of a group's combination


def _group_flags(compiled: CompiledBook, g: GroupTable) -> np.ndarray:
    """Per combination of the group (+ unanswered): the OR of the status flags of its decisions."""
    flags = np.zeros(len(g.combos) + 1, dtype=np.int64)
    for c, combo in enumerate(g.combos):
        for k, name in enumerate(g.names):
            status = compiled.decisions[name].outcomes[int(combo[k])].status
            flags[c] |= _ANSWERED | (_CONFLICT if status == "conflict" else _UNCOVERED if status == "uncovered" else 0)
    flags[-1] = _UNANSWERED
    return flags


def _status_of_flags(flags: np.ndarray) -> np.ndarray:
    """Row status (index into STATUSES) from the OR of its groups' flags."""
    status = np.zeros(len(flags), dtype=np.int8)
    status[(flags & _UNCOVERED) > 0] = STATUSES.index("uncovered")
    status[(flags & _CONFLICT) > 0] = STATUSES.index("conflict")
    status[(flags & _UNANSWERED) > 0] = STATUSES.index("partial")
    status[(flags & _ANSWERED) == 0] = STATUSES.index("invalid")
    return status


def describe_keys(compiled: CompiledBook, tables: AnswerTables, keys: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per row key: the status (index into STATUSES) and the rules text (rule ids in decision order)."""
    flags = np.zeros(len(keys), dtype=np.int64)
    per_decision: dict[str, np.ndarray] = {}
    for g, stride, radix in zip(tables.groups, tables.strides, tables.radix, strict=True):
        c = (keys // stride) % radix
        flags |= _group_flags(compiled, g).take(c)
        for k, name in enumerate(g.names):
            outcomes = compiled.decisions[name].outcomes
            text = np.array([" ".join(outcomes[int(i)].rules) for i in g.combos[:, k]] + [""], dtype=object)
            per_decision[name] = text.take(c)
    columns = [per_decision[name] for name in compiled.decisions]
    texts = [" ".join(filter(None, parts)) for parts in zip(*columns, strict=True)]
    return _status_of_flags(flags), texts


def rules_categories_known(book: RuleBook) -> bool:
    """Whether the ``rules`` column's categories are fixed by the book (else they depend on the rows)."""
    return answer_tables(book.compiled()).rules is not None


def described(
    compiled: CompiledBook, tables: AnswerTables, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, pd.CategoricalDtype]:
    """Status and rules codes per row when there are too many keys to table them once: the keys present are
    described (rules categories in order of first appearance, object dtype: no copy into Arrow strings)."""
    present, inverse = np.unique(key, return_inverse=True)
    status, texts = describe_keys(compiled, tables, present)
    codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
    codes = np.asarray(codes, dtype=np.int64)
    codes[status == STATUSES.index("invalid")] = -1
    inverse = inverse.reshape(-1)
    return status.take(inverse), codes.take(inverse), pd.CategoricalDtype(pd.Index(uniques, dtype=object))
