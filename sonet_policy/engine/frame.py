"""Answer a pandas frame of scenarios: one output row per input row, vectorised (no per-row Python loop).

:func:`sonet_policy.engine.evaluate.evaluate` is the public entry (it also takes a Dask frame); this module holds the
pandas evaluation that it and :mod:`sonet_policy.engine.scale` share.

Each decision is answered on its own: a row whose field is missing or invalid leaves unanswered only the
decisions that read that field (their columns are empty), and the others are answered. ``status`` says how
the row as a whole went (:data:`STATUSES`).
"""

from __future__ import annotations

from concurrent.futures import wait
from dataclasses import dataclass

import numpy as np
import pandas as pd

import sonet_policy.engine.encode as _scenario
from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.answer import _one_row_frame
from sonet_policy.engine.encode import Keyed, Leading, Spaced, encode_keyed, leading

#: Row statuses, in the order of their categories: ``ok`` every decision answered with a code; ``uncovered``
#: every decision answered, some by no rule (and none in conflict); ``conflict`` every decision answered,
#: some with rules that disagree; ``partial`` some decisions answered, others not (a field they read is
#: missing or invalid, or a constraint rules the combination out: see ``error``); ``invalid`` no decision
#: could be answered.
STATUSES = ("ok", "uncovered", "conflict", "partial", "invalid")
_KEY_TABLE_LIMIT = 1 << 20  # row keys (combinations of outcomes) up to which status and rules are tabled once


def output_columns(book: RuleBook) -> list[str]:
    """The answer columns of :func:`evaluate`, in order."""
    cols: list[str] = []
    for name, spec in book.decisions.items():
        cols.append(name)
        cols.extend(f"{name}_{out}" for out in spec.outputs[1:])
    return [*cols, "status", "error", "rules", "rulebook_hash"]


def _smallest(n_categories: int) -> type:
    return np.int8 if n_categories < 127 else np.int16 if n_categories < 32767 else np.int32


@dataclass
class _Group:
    """Decisions that read the same inputs: per cell their columns' codes and an id of the combination of their
    outcomes (the last id: unanswered), each table indexed by ``cell + 1`` (entry 0: an unanswered row)."""

    inputs: tuple[str, ...]
    names: list[str]
    n_cells: int
    columns: dict[str, tuple[pd.CategoricalDtype, np.ndarray]]
    combo: np.ndarray  # (n_cells + 1,) int64
    combos: np.ndarray  # (n_combos, len(names)) outcome ids
    combo_key: np.ndarray | None = None  # combo * the group's stride in the row key


@dataclass
class _Tables:
    groups: list[_Group]
    radix: list[int]
    strides: list[int]
    key_space: int
    status: np.ndarray | None  # per key: index into STATUSES (None when the key space is too large to table)
    rules: tuple[pd.CategoricalDtype, np.ndarray] | None


def _from_outcomes(values: list[str], outcome_id: np.ndarray) -> tuple[pd.CategoricalDtype, np.ndarray]:
    cats = sorted(set(values))
    pos = {v: i for i, v in enumerate(cats)}
    lut = np.array([pos[v] for v in values], dtype=np.int64)
    codes = np.concatenate([[-1], lut[outcome_id]])  # entry 0: unanswered
    return pd.CategoricalDtype(cats), codes.astype(_smallest(len(cats)))


_TABLES: Slot[_Tables] = Slot("evaluate_tables")


def _tables(compiled: CompiledBook) -> _Tables:
    """Everything evaluate looks up, built once per compiled book (cached)."""
    return compiled.book.cache.get(_TABLES, lambda: _build_tables(compiled))


def _build_tables(compiled: CompiledBook) -> _Tables:
    book = compiled.book
    groups = []
    for inputs, names in compiled.groups():
        grids = [compiled.decisions[d] for d in names]
        n = grids[0].n_cells
        columns = {}
        for name, grid in zip(names, grids, strict=True):
            columns[name] = _from_outcomes([o.code for o in grid.outcomes], grid.outcome_id)
            for out in book.decisions[name].outputs[1:]:
                alts = [o.alternatives if out == "alternatives" else "" for o in grid.outcomes]
                columns[f"{name}_{out}"] = _from_outcomes(alts, grid.outcome_id)
        stacked = np.stack([g.outcome_id for g in grids], axis=1)
        combos, combo_id = np.unique(stacked, axis=0, return_inverse=True)
        combo = np.concatenate([[len(combos)], combo_id.reshape(-1)]).astype(np.int64)
        groups.append(_Group(inputs, names, n, columns, combo, combos))
    radix = [len(g.combos) + 1 for g in groups]
    strides = [int(np.prod(radix[k + 1 :], dtype=np.int64)) for k in range(len(radix))]
    key_space = int(np.prod(radix, dtype=object))
    for g, stride in zip(groups, strides, strict=True):
        g.combo_key = g.combo * stride
    tables = _Tables(groups, radix, strides, key_space, None, None)
    if key_space <= _KEY_TABLE_LIMIT:
        status, texts = _describe_keys(compiled, tables, np.arange(key_space, dtype=np.int64))
        cats = sorted(set(texts))
        pos = {t: i for i, t in enumerate(cats)}
        codes = np.array([pos[t] for t in texts], dtype=np.int64)
        codes[status == STATUSES.index("invalid")] = -1
        tables.status = status.astype(np.int8)
        tables.rules = (pd.CategoricalDtype(cats), codes.astype(_smallest(len(cats))))
    return tables


_UNANSWERED, _CONFLICT, _UNCOVERED, _ANSWERED = 1, 2, 4, 8  # status flags of a group's combination


def _group_flags(compiled: CompiledBook, g: _Group) -> np.ndarray:
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


def _describe_keys(compiled: CompiledBook, tables: _Tables, keys: np.ndarray) -> tuple[np.ndarray, list[str]]:
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
    return _tables(book.compiled()).rules is not None


def evaluate_frame(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """:func:`sonet_policy.engine.evaluate.evaluate` for a pandas frame (see there).

    >>> evaluate_frame(pd.DataFrame()).columns[-4:].tolist()
    ['status', 'error', 'rules', 'rulebook_hash']
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    tables = _tables(compiled)
    if len(frame) == 1:  # one row: answer's readers, no hashing of columns (None: a column type it leaves to us)
        one = _one_row_frame(frame, book, tables, columns=output_columns(book), statuses=STATUSES)
        if one is not None:
            return one
    hashed = None
    if tables.status is not None:
        lead = leading(frame, compiled)
        if lead is not None:
            answered, hashed = _answer_leading(lead, tables, book, frame.index)
            if answered is not None:
                return answered
    enc = encode_keyed(frame, compiled, whole=tables.status is not None, hashed=hashed)
    if isinstance(enc, Spaced):
        return _answer_spaced(enc, tables, book, frame.index)
    n = len(frame)
    data: dict[str, pd.Categorical] = {}
    columns: dict[str, pd.Categorical] = {}
    key = None
    for g in tables.groups:
        # Unanswered rows (cell -1) read entry 0 of every table. The row index is intp (numpy's take converts any
        # other index type on every call): the row's key, with a table from key to cell + 1; or the cell + 1.
        row, cell_of = enc.lookup(g.inputs)
        for col, (dtype, lut) in g.columns.items():
            lut = lut if cell_of is None else lut.take(cell_of)
            columns[col] = pd.Categorical.from_codes(lut.take(row), dtype=dtype, validate=False)
        part = (g.combo_key if cell_of is None else g.combo_key.take(cell_of)).take(row)
        key = part if key is None else np.add(key, part, out=key)
    if key is None:  # a book without decisions
        key = np.zeros(n, dtype=np.int64)
    if tables.status is not None:
        status_codes = tables.status.take(key)
        rules_dtype, rules_lut = tables.rules
        rules_codes = rules_lut.take(key)
    else:  # too many combinations to table once: describe the ones present
        present, inverse = np.unique(key, return_inverse=True)
        status, texts = _describe_keys(compiled, tables, present)
        # categories in order of first appearance, object dtype (no copy into Arrow strings)
        lut, uniques = pd.factorize(np.asarray(texts, dtype=object))
        lut = np.asarray(lut, dtype=np.int64)
        cats = pd.Index(uniques, dtype=object)
        lut[status == STATUSES.index("invalid")] = -1
        inverse = inverse.reshape(-1)
        status_codes, rules_codes = status.take(inverse), lut.take(inverse)
        rules_dtype = pd.CategoricalDtype(cats)
    for col in output_columns(book):
        if col == "status":
            data[col] = pd.Categorical.from_codes(status_codes, categories=list(STATUSES), validate=False)
        elif col == "error":
            cats, remap = np.unique(np.asarray(enc.messages, dtype=str), return_inverse=True)
            lut = np.append(remap.reshape(-1), -1)  # error id -1 (no error) reads the last entry
            if not enc.messages:
                codes = np.full(n, -1, dtype=np.int8)
            elif isinstance(enc, Keyed):  # its messages are sorted and distinct already: the ids are the codes
                codes = enc.error_id
            else:
                codes = lut.take(enc.error_id)
            # Text categories even when no row has an error (an empty list would give object categories, and
            # frames with and without errors could then not be concatenated: Dask partitions, CSV chunks).
            categories = pd.Index(cats.tolist(), dtype="str")
            data[col] = pd.Categorical.from_codes(codes, categories=categories, validate=False)
        elif col == "rules":
            data[col] = pd.Categorical.from_codes(rules_codes, dtype=rules_dtype, validate=False)
        elif col == "rulebook_hash":
            data[col] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[book.hash], validate=False)
        else:
            data[col] = columns[col]
    return pd.DataFrame(data, index=frame.index, copy=False)


def _error_counts(ids: np.ndarray, n_messages: int) -> np.ndarray:
    """How many of ``ids`` (an index into the messages, -1: none) name each message (non-zero: some row does).

    >>> _error_counts(np.array([1, -1, 1, 0], dtype=np.int8), 3)[:3].tolist()
    [1, 2, 0]
    >>> _error_counts(np.array([-1, -1], dtype=np.int8), 1).tolist()  # one message: whether some row has it
    [0]
    """
    if n_messages == 1:  # whether any row has it (a reduction, no count)
        return np.array([int(len(ids) > 0 and ids.max() >= 0)])
    if ids.itemsize <= 2:  # read unsigned (no pass to shift them): -1 is the last entry, past every message
        return np.bincount(ids.view(ids.dtype.str.replace("i", "u")), minlength=1 << (8 * ids.itemsize))
    return np.bincount(ids + 1, minlength=n_messages + 1)[1:]


_ROW_CHUNK = 1 << 16  # rows keyed and answered at a time: the keys and their scratch stay in cache
_BLOCKS = 4  # a large frame of Arrow text is looked up in blocks of rows: a block is answered while the next hash


@dataclass
class _Answers:
    """The answer columns of a frame encoded over one space (:class:`~sonet_policy.engine.encode.Spaced`), filled a
    chunk of rows at a time: per answer column (the status, the rules and the error too) its table per key."""

    enc: Spaced
    per_key: dict[str, tuple[pd.CategoricalDtype | None, np.ndarray]]
    out: dict[str, np.ndarray]

    @classmethod
    def over(cls, enc: Spaced, tables: _Tables) -> _Answers:
        per_key: dict[str, tuple[pd.CategoricalDtype | None, np.ndarray]] = {}
        key = np.zeros(len(enc.error), dtype=np.int64)
        for g in tables.groups:
            cell_of = enc.cells[g.inputs]
            for col, (dtype, lut) in g.columns.items():
                per_key[col] = (dtype, lut.take(cell_of))
            key += g.combo_key.take(cell_of)
        per_key["status"] = (pd.CategoricalDtype(list(STATUSES)), tables.status.take(key))
        rules_dtype, rules_lut = tables.rules
        per_key["rules"] = (rules_dtype, rules_lut.take(key))
        per_key["error"] = (None, enc.error)
        return cls(enc, per_key, {col: np.empty(enc.n, dtype=lut.dtype) for col, (_, lut) in per_key.items()})

    def rows(self, codes: list[np.ndarray], lo: int, hi: int) -> np.ndarray | None:
        """Answer rows ``lo:hi`` (``codes``: per input the codes of those rows); per error how many rows have it
        (None: the space has no error)."""
        enc, targets = self.enc, [(lut, self.out[col]) for col, (_, lut) in self.per_key.items()]
        counted = self.out["error"] if enc.messages else None
        step = min(_ROW_CHUNK, max(hi - lo, 1))
        keys, scratch = np.empty(step, dtype=np.intp), np.empty(step, dtype=np.intp)
        counts = None
        for a in range(lo, hi, step):
            b = min(hi, a + step)
            k = enc.keys([c[a - lo : b - lo] for c in codes], keys[: b - a], scratch[: b - a])
            for table, column in targets:
                np.take(table, k, out=column[a:b], mode="wrap")
            if counted is not None:
                c = _error_counts(counted[a:b], len(enc.messages))
                counts = c if counts is None else counts + c
        return counts

    def rows_in_two(self, codes: list[np.ndarray], lo: int, hi: int) -> list[np.ndarray | None]:
        """:meth:`rows`, the second half of them in the kept pool's thread (numpy's ``take`` releases the GIL)."""
        middle = (lo + hi) // 2
        other = _scenario._submit(self.rows, [c[middle - lo :] for c in codes], middle, hi)
        try:
            first = self.rows([c[: middle - lo] for c in codes], lo, middle)
        except BaseException:
            other.cancel()  # not started: dropped; else it ends before we raise (it writes into our arrays)
            wait([other])
            raise
        return [first, other.result()]

    def frame(self, parts: list[np.ndarray | None], book: RuleBook, index: pd.Index) -> pd.DataFrame:
        """The answer frame once every row is answered (``parts``: what :meth:`rows` returned)."""
        n, messages, codes = self.enc.n, self.enc.messages, self.out["error"]
        if messages:
            counted = [p[: len(messages)] for p in parts if p is not None]  # (none: no row)
            used = np.flatnonzero(sum(counted)) if counted else np.zeros(0, dtype=np.intp)
            if len(used) < len(messages):  # keep the errors some row has (as a row-by-row reading lists them)
                remap = np.full(len(messages) + 1, -1, dtype=codes.dtype)  # the last entry: no error (-1)
                remap[used] = np.arange(len(used))
                codes = remap.take(codes, mode="wrap")
                messages = [messages[k] for k in used.tolist()]
        data: dict[str, pd.Categorical] = {}
        for col in output_columns(book):
            if col == "error":
                categories = pd.Index(messages, dtype="str")  # text categories even when no row has an error
                data[col] = pd.Categorical.from_codes(codes, categories=categories, validate=False)
            elif col == "rulebook_hash":
                data[col] = pd.Categorical.from_codes(
                    np.zeros(n, dtype=np.int8), categories=[book.hash], validate=False
                )
            else:
                data[col] = pd.Categorical.from_codes(self.out[col], dtype=self.per_key[col][0], validate=False)
        return pd.DataFrame(data, index=index, copy=False)


def _answer_spaced(enc: Spaced, tables: _Tables, book: RuleBook, index: pd.Index) -> pd.DataFrame:
    """The answer frame of rows encoded over one space: every answer tabled per key of the space, then each row
    read once per column, a chunk of rows at a time (in two threads for a large frame)."""
    answers = _Answers.over(enc, tables)
    if enc.n >= _scenario._PARALLEL_ROWS and _scenario._cpus() >= 2:
        parts = answers.rows_in_two(enc.codes, 0, enc.n)
    else:
        parts = [answers.rows(enc.codes, 0, enc.n)]
    return answers.frame(parts, book, index)


def _answer_leading(
    lead: Leading, tables: _Tables, book: RuleBook, index: pd.Index
) -> tuple[pd.DataFrame | None, dict | None]:
    """A large frame of Arrow text answered block by block (:class:`~sonet_policy.engine.encode.Leading`): the kept
    pool's two threads look the blocks up while this thread answers each block as soon as it is looked up (the
    last one in two threads). Returns (the answer frame, None); or (None, the columns' lookups for
    :func:`~sonet_policy.engine.encode.encode_fields`) when a row holds a value outside its column's leading ones."""
    n = lead.n
    bounds = [n * b // _BLOCKS for b in range(_BLOCKS + 1)]
    blocks = [(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False) if hi > lo]
    futures = [{name: _scenario._submit(lead.found, name, lo, hi) for name in lead.columns} for lo, hi in blocks]
    parts: list[np.ndarray | None] = []
    try:
        spaced = lead.space()  # (while the first blocks are looked up)
        answers = _Answers.over(spaced, tables) if spaced is not None else None
        for b, (lo, hi) in enumerate(blocks):
            codes = lead.codes({name: f.result() for name, f in futures[b].items()}, lo, hi) if answers else None
            if codes is None:  # a value outside the leading ones (or too many keys): read the columns whole
                found = {name: [futures[k][name].result() for k in range(len(blocks))] for name in lead.columns}
                return None, lead.hashed(found)
            if b == len(blocks) - 1:
                parts.extend(answers.rows_in_two(codes, lo, hi))
            else:
                parts.append(answers.rows(codes, lo, hi))
    except BaseException:
        for block in futures:  # the lookups not started are dropped, the others end before we raise
            for f in block.values():
                f.cancel()
        wait([f for block in futures for f in block.values()])
        raise
    return answers.frame(parts, book, index), None
