"""Evaluate a whole customer base: one output row per input row, vectorised (no per-row Python loop)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import CompiledBook
from .rules import RuleBook, default_rulebook
from .scenario import encode_cells

STATUSES = ("ok", "uncovered", "conflict", "invalid")


@dataclass
class _Column:
    categories: list[str]
    cell_codes: np.ndarray  # category code per grid cell


def _categorise(values: list[str]) -> _Column:
    cats, codes = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    return _Column(cats.tolist(), codes.astype(np.int64))


def output_columns(book: RuleBook) -> list[str]:
    """The answer columns of :func:`evaluate`, in order."""
    cols: list[str] = []
    for name, spec in book.decisions.items():
        cols.append(name)
        cols.extend(f"{name}_{out}" for out in spec.outputs[1:])
    return [*cols, "status", "error", "rules", "rulebook_hash"]


def _cell_table(compiled: CompiledBook) -> dict[str, _Column]:
    """Per grid cell, the text of every output column (built once per compiled book)."""
    cache = compiled.book._cache
    if "cell_table" in cache:
        return cache["cell_table"]
    book = compiled.book
    n = compiled.n_cells
    table: dict[str, _Column] = {}
    status = np.full(n, "ok", dtype=object)
    rule_text: list[np.ndarray] = []
    for name, spec in book.decisions.items():
        grid = compiled.decisions[name]
        codes = [o.code for o in grid.outcomes]
        table[name] = _Column(*_from_outcomes(codes, grid.outcome_id))
        for out in spec.outputs[1:]:
            alts = [o.alternatives if out == "alternatives" else "" for o in grid.outcomes]
            table[f"{name}_{out}"] = _Column(*_from_outcomes(alts, grid.outcome_id))
        stat = np.array([o.status for o in grid.outcomes], dtype=object)[grid.outcome_id]
        status[(stat == "uncovered") & (status == "ok")] = "uncovered"
        status[stat == "conflict"] = "conflict"
        rule_text.append(np.array([" ".join(o.rules) for o in grid.outcomes], dtype=object)[grid.outcome_id])
    joined = rule_text[0]
    for more in rule_text[1:]:
        joined = np.char.add(np.char.add(joined.astype(str), " "), more.astype(str))
    joined = np.char.strip(np.asarray(joined, dtype=str))
    table["rules"] = _categorise(list(joined))
    status[compiled.invalid] = "invalid"
    table["status"] = _Column(list(STATUSES), np.array([STATUSES.index(s) for s in status], dtype=np.int64))
    cache["cell_table"] = table
    return table


def _from_outcomes(values: list[str], outcome_id: np.ndarray) -> tuple[list[str], np.ndarray]:
    cats = sorted(set(values))
    pos = {v: i for i, v in enumerate(cats)}
    lut = np.array([pos[v] for v in values], dtype=np.int64)
    return cats, lut[outcome_id]


def evaluate(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """Answer every row of ``frame`` with the rule book (default: the shipped one).

    Input columns: ``area``, ``plan``, ``device``, ``setup``, ``keep_number``, ``days_since_phone_stop``
    (optional; empty while the phone has not stopped). Returns a DataFrame with the same index and order,
    one row per input row: the five decisions (a code, ``uncovered`` or ``conflict``), the alternatives the
    page offers, ``status`` (ok, uncovered, conflict, invalid), ``error`` (field and why, for invalid rows),
    ``rules`` (the rule ids that decided) and ``rulebook_hash``. Never raises for bad rows: they come back
    ``invalid`` with an ``error``. Columns are categorical (compact and fast for large frames).

    >>> out = evaluate(pd.DataFrame([dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router",
    ...                                    keep_number=False, days_since_phone_stop=31)]))
    >>> out.loc[0, ["ipv4", "device_action", "status"]].tolist()
    ['pppoe_router', 'mail_exchange', 'ok']
    """
    book = rulebook or default_rulebook()
    if not isinstance(frame, pd.DataFrame):
        try:
            from .scale import evaluate_dask

            return evaluate_dask(frame, rulebook=book)
        except ImportError:  # pragma: no cover - dask is optional
            pass
        raise TypeError(f"evaluate takes a pandas DataFrame, not {type(frame).__name__}")
    compiled = book.compiled()
    luts = _row_luts(compiled)
    cell, error_id, messages = encode_cells(frame, compiled)
    n = len(frame)
    # Invalid rows (cell -1) read the extra last entry of every table: no answer, status "invalid". The row
    # index is int64 (numpy's take converts any other index type on every call).
    row = np.where(cell >= 0, cell, np.int64(compiled.n_cells))
    data: dict[str, pd.Categorical] = {}
    for col in output_columns(book):
        if col == "error":
            cats, remap = np.unique(np.asarray(messages, dtype=str), return_inverse=True)
            lut = np.append(remap.reshape(-1), -1)  # error id -1 (no error) reads the last entry
            codes = lut.take(error_id) if messages else np.full(n, -1, dtype=np.int8)
            # Text categories even when no row has an error (an empty list would give object categories, and
            # frames with and without errors could then not be concatenated: Dask partitions, CSV chunks).
            categories = pd.Index(cats.tolist(), dtype="str")
            data[col] = pd.Categorical.from_codes(codes, categories=categories, validate=False)
        elif col == "rulebook_hash":
            data[col] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[book.hash], validate=False)
        else:
            dtype, lut = luts[col]
            data[col] = pd.Categorical.from_codes(lut.take(row), dtype=dtype, validate=False)
    return pd.DataFrame(data, index=frame.index, copy=False)


def _row_luts(compiled: CompiledBook) -> dict[str, tuple[pd.CategoricalDtype, np.ndarray]]:
    """Per output column: its categorical dtype and the code of every cell, plus a last entry for invalid rows.

    Cells ruled out by a constraint never reach the table (encode marks their rows invalid). Codes are the
    smallest integer type that holds them, so each column of a million rows is one small lookup. Cached.
    """
    cache = compiled.book._cache
    hit = cache.get("row_luts")
    if hit is not None and hit[0] is compiled:
        return hit[1]
    table = _cell_table(compiled)
    luts: dict[str, tuple[pd.CategoricalDtype, np.ndarray]] = {}
    for col, column in table.items():
        if col == "status":
            last = STATUSES.index("invalid")
        else:
            last = -1
        codes = np.append(column.cell_codes, last)
        dtype = np.int8 if len(column.categories) < 127 else np.int16 if len(column.categories) < 32767 else np.int32
        luts[col] = (pd.CategoricalDtype(list(column.categories)), codes.astype(dtype))
    cache["row_luts"] = (compiled, luts)
    return luts
