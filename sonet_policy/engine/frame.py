"""Answer a pandas frame of scenarios, the plain way: what :func:`~sonet_policy.engine.evaluate.evaluate` does.

1. Read each input's column whole (:func:`~sonet_policy.engine.encode.encode_fields`): per row a code, per
   distinct value its axis position or the message that says why it has none.
2. Then :data:`CHUNK` rows at a time (their working arrays stay in the processor's cache):

   a. encode the rows (:func:`~sonet_policy.engine.encode.encode_rows`): per group of decisions that read the
      same inputs, each row's cell (-1: unanswered, a field it reads is missing or invalid, or a constraint
      rules the combination out), and each row's error;
   b. read every answer column from its group's cell in the book's tables
      (:func:`~sonet_policy.engine.tables.answer_tables`; -1 reads the last entry: unanswered);
   c. sum each row's key from its groups' combinations of outcomes, and read its status and rules there.

3. Make the categorical columns: one output row per input row, the same index and order.

Each decision is answered on its own: a row whose field is missing or invalid leaves unanswered only the
decisions that read that field (their columns are empty), and the others are answered. ``status`` says how
the row as a whole went (:data:`~sonet_policy.engine.tables.STATUSES`). A large frame may go the quicker way of
:mod:`sonet_policy.engine.large`, which gives the same frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.encode import Encoded, encode_fields, encode_rows
from sonet_policy.engine.tables import STATUS_DTYPE, AnswerTables, answer_tables, described
from sonet_policy.engine.values import FieldCodes


def output_columns(book: RuleBook) -> list[str]:
    """The answer columns of :func:`evaluate_frame`, in order."""
    cols: list[str] = []
    for name, spec in book.decisions.items():
        cols.append(name)
        cols.extend(f"{name}_{out}" for out in spec.outputs[1:])
    return [*cols, "status", "error", "rules", "rulebook_hash"]


CHUNK = 1 << 16  # rows encoded and answered at a time: their working arrays stay in the processor's cache


@dataclass
class _Answers:
    """The answer columns of a frame as codes, filled :data:`CHUNK` rows at a time (:meth:`fill`)."""

    tables: AnswerTables
    n: int
    codes: dict[str, np.ndarray]  # per answer column (and status, rules): per row its category code
    key: np.ndarray | None  # per row its key, when status and rules are not tabled (described at the end)
    error: np.ndarray | None = None  # per row an index into messages (-1: none); None while no row has an error
    messages: dict[str, int] = field(default_factory=dict)  # every error message met, in order of appearance

    @classmethod
    def empty(cls, tables: AnswerTables, n: int) -> _Answers:
        codes = {col: np.empty(n, dtype=lut.dtype) for g in tables.groups for col, (_, lut) in g.columns.items()}
        if tables.status is None:
            return cls(tables, n, codes, np.empty(n, dtype=np.int64))
        codes["status"], codes["rules"] = np.empty(n, dtype=np.int8), np.empty(n, dtype=tables.rules[1].dtype)
        return cls(tables, n, codes, None)

    def fill(self, enc: Encoded, lo: int, hi: int) -> None:
        """Answer rows ``lo:hi`` from their encoding: every answer column from its group's cell (-1, unanswered,
        reads the last entry), the row key from the groups' combinations, status and rules from the key."""
        key = np.zeros(hi - lo, dtype=np.int64)
        for g in self.tables.groups:
            cell = enc.cells[g.inputs]
            for col, (_, codes) in g.columns.items():
                np.take(codes, cell, out=self.codes[col][lo:hi], mode="wrap")
            key += g.combo_key.take(cell)
        if self.key is not None:
            self.key[lo:hi] = key
        else:
            np.take(self.tables.status, key, out=self.codes["status"][lo:hi], mode="wrap")
            np.take(self.tables.rules[1], key, out=self.codes["rules"][lo:hi], mode="wrap")
        if enc.messages:
            if self.error is None:
                self.error = np.full(self.n, -1, dtype=np.int32)
            ids = [self.messages.setdefault(m, len(self.messages)) for m in enc.messages]
            np.take(np.array([*ids, -1], dtype=np.int32), enc.error_id, out=self.error[lo:hi], mode="wrap")

    def frame(self, compiled: CompiledBook, index: pd.Index) -> pd.DataFrame:
        """The answer frame, once every row is filled."""
        book = compiled.book
        data: dict[str, pd.Categorical] = {}
        for g in self.tables.groups:
            for col, (dtype, _) in g.columns.items():
                data[col] = pd.Categorical.from_codes(self.codes[col], dtype=dtype, validate=False)
        if self.key is None:
            status, rules, rules_dtype = self.codes["status"], self.codes["rules"], self.tables.rules[0]
        else:
            status, rules, rules_dtype = described(compiled, self.tables, self.key)
        data["status"] = pd.Categorical.from_codes(status, dtype=STATUS_DTYPE, validate=False)
        data["rules"] = pd.Categorical.from_codes(rules, dtype=rules_dtype, validate=False)
        data["error"] = self._error_column()
        hash_codes = np.zeros(self.n, dtype=np.int8)
        data["rulebook_hash"] = pd.Categorical.from_codes(hash_codes, categories=[book.hash], validate=False)
        return pd.DataFrame({col: data[col] for col in output_columns(book)}, index=index, copy=False)

    def _error_column(self) -> pd.Categorical:
        """The ``error`` column: its categories the messages some row has, sorted. (Text categories even when no
        row has an error: an empty list would give object categories, and frames with and without errors could
        then not be concatenated: Dask partitions, CSV chunks.)"""
        cats = sorted(self.messages)
        if self.error is None:
            codes = np.full(self.n, -1, dtype=np.int8)
        elif cats == list(self.messages):  # met in sorted order (one message, often): the ids are the codes
            codes = self.error
        else:
            rank = np.full(len(cats) + 1, -1, dtype=np.int32)  # the last entry: no error (-1)
            rank[[self.messages[m] for m in cats]] = np.arange(len(cats))
            codes = rank.take(self.error, mode="wrap")
        return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype="str"), validate=False)


def answer_fields(fields: dict[str, FieldCodes], compiled: CompiledBook, index: pd.Index) -> pd.DataFrame:
    """The answer frame of rows whose inputs :func:`~sonet_policy.engine.encode.encode_fields` read (``index``:
    theirs), :data:`CHUNK` rows at a time."""
    n = len(index)
    answers = _Answers.empty(answer_tables(compiled), n)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        answers.fill(encode_rows(fields, compiled, lo, hi), lo, hi)
    return answers.frame(compiled, index)


def evaluate_frame(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """:func:`sonet_policy.engine.evaluate.evaluate` for a pandas frame, the plain way (see there): each column
    read whole (its codes, per distinct value its reading), then the rows answered a chunk at a time.

    >>> evaluate_frame(pd.DataFrame()).columns[-4:].tolist()
    ['status', 'error', 'rules', 'rulebook_hash']
    """
    compiled = (rulebook or default_rulebook()).compiled()
    return answer_fields(encode_fields(frame, compiled), compiled, frame.index)
