"""Answer a pandas frame of scenarios: the one path of :func:`~sonet_policy.engine.evaluate.evaluate`.

Per rule book, once (:func:`answer_tables`): per group of decisions that read the same inputs, per cell of their
grid, the category code of every answer column and the id of the combination of their outcomes; per row key
(one combination id per group, in mixed radix) the row's status and its rules. Per frame:

1. encode it (:func:`~sonet_policy.engine.encode.encode`): per row one cell per group (-1: unanswered) and
   the error;
2. read every answer column from the cell of its group (-1 reads the last entry of every table: unanswered);
3. sum the row key from the groups' combinations, and read the status and the rules from it.

Each decision is answered on its own: a row whose field is missing or invalid leaves unanswered only the
decisions that read that field (their columns are empty), and the others are answered. ``status`` says how
the row as a whole went (:data:`STATUSES`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.rules import RuleBook, default_rulebook
from sonet_policy.engine.encode import Encoded, encode

#: Row statuses, in the order of their categories: ``ok`` every decision answered with a code; ``uncovered``
#: every decision answered, some by no rule (and none in conflict); ``conflict`` every decision answered,
#: some with rules that disagree; ``partial`` some decisions answered, others not (a field they read is
#: missing or invalid, or a constraint rules the combination out: see ``error``); ``invalid`` no decision
#: could be answered.
STATUSES = ("ok", "uncovered", "conflict", "partial", "invalid")
_KEY_TABLE_LIMIT = 1 << 20  # row keys (combinations of outcomes) up to which status and rules are tabled once


def output_columns(book: RuleBook) -> list[str]:
    """The answer columns of :func:`evaluate_frame`, in order."""
    cols: list[str] = []
    for name, spec in book.decisions.items():
        cols.append(name)
        cols.extend(f"{name}_{out}" for out in spec.outputs[1:])
    return [*cols, "status", "error", "rules", "rulebook_hash"]


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
    """Everything :func:`evaluate_frame` looks up, built once per compiled book (:func:`answer_tables`)."""

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
    """Everything :func:`evaluate_frame` looks up, built once per compiled book (cached with it).

    >>> tables = answer_tables(default_rulebook().compiled())
    >>> [g.names for g in tables.groups][0], tables.status is not None
    (['procedure', 'number'], True)
    """
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
    status, texts = _describe_keys(compiled, out, np.arange(key_space, dtype=np.int64))
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


def _describe_keys(compiled: CompiledBook, tables: AnswerTables, keys: np.ndarray) -> tuple[np.ndarray, list[str]]:
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


def _status_and_rules(compiled: CompiledBook, tables: AnswerTables, key: np.ndarray) -> list[pd.Categorical]:
    """The ``status`` and ``rules`` columns from each row's key."""
    if tables.status is not None:
        status = tables.status.take(key)
        rules_dtype, rules_codes = tables.rules
        rules = rules_codes.take(key)
    else:  # too many combinations to table once: describe the ones present
        present, inverse = np.unique(key, return_inverse=True)
        status, texts = _describe_keys(compiled, tables, present)
        # categories in order of first appearance, object dtype (no copy into Arrow strings)
        codes, uniques = pd.factorize(np.asarray(texts, dtype=object))
        codes = np.asarray(codes, dtype=np.int64)
        codes[status == STATUSES.index("invalid")] = -1
        inverse = inverse.reshape(-1)
        status, rules = status.take(inverse), codes.take(inverse)
        rules_dtype = pd.CategoricalDtype(pd.Index(uniques, dtype=object))
    return [
        pd.Categorical.from_codes(status, categories=list(STATUSES), validate=False),
        pd.Categorical.from_codes(rules, dtype=rules_dtype, validate=False),
    ]


def _error_column(enc: Encoded) -> pd.Categorical:
    """The ``error`` column: its categories the messages some row has, sorted."""
    cats, remap = np.unique(np.asarray(enc.messages, dtype=str), return_inverse=True)
    if enc.messages:
        codes = np.append(remap.reshape(-1), -1).take(enc.error_id)  # error id -1 (no error) reads the last entry
    else:
        codes = np.full(len(enc.error_id), -1, dtype=np.int8)
    # Text categories even when no row has an error (an empty list would give object categories, and frames
    # with and without errors could then not be concatenated: Dask partitions, CSV chunks).
    return pd.Categorical.from_codes(codes, categories=pd.Index(cats.tolist(), dtype="str"), validate=False)


def evaluate_frame(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """:func:`sonet_policy.engine.evaluate.evaluate` for a pandas frame (see there).

    >>> evaluate_frame(pd.DataFrame()).columns[-4:].tolist()
    ['status', 'error', 'rules', 'rulebook_hash']
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    tables = answer_tables(compiled)
    enc = encode(frame, compiled)
    n = len(frame)
    answers: dict[str, pd.Categorical] = {}
    key = np.zeros(n, dtype=np.int64)
    for g in tables.groups:
        cell = enc.cells[g.inputs]  # -1 (unanswered) reads the last entry of every table
        for col, (dtype, codes) in g.columns.items():
            answers[col] = pd.Categorical.from_codes(codes.take(cell), dtype=dtype, validate=False)
        key += g.combo_key.take(cell)
    answers["status"], answers["rules"] = _status_and_rules(compiled, tables, key)
    answers["error"] = _error_column(enc)
    answers["rulebook_hash"] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[book.hash])
    return pd.DataFrame({col: answers[col] for col in output_columns(book)}, index=frame.index, copy=False)
