"""The spreadsheet guard: one rule for every file people open (the CLI's outputs, the notebooks' downloads, Excel).

A text value that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice on CSV injection):
text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return. A plain decimal number written as text
(``-5``, ``+3.5``, ``-1e3``) is read as a number, not a formula, and stays as it is; so does anything that is not
text. :func:`neutralise` is the rule for one value, :func:`neutralise_frame` for a pandas frame (cells and
headers), :func:`neutralise_array` for a pyarrow array (the streaming path: only the values that start with a
formula character reach Python).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# OWASP "CSV Injection": a cell starting with one of these is run as a formula by Excel, LibreOffice, Sheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# a plain decimal number (-5, +3.5, -1e3) is read as a number, not a formula: left as it is
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_FORMULA_FIRST = np.isin(np.arange(256), [ord(c) for c in FORMULA_START])  # byte -> starts a formula


def neutralise(value: object) -> object:
    """``value`` made safe to open in a spreadsheet: text that a spreadsheet would run as a formula gets a
    leading ``'``; plain numbers such as ``-5`` and anything that is not text are unchanged.

    >>> neutralise("=HYPERLINK(A1)"), neutralise("-5"), neutralise("-2+3+cmd|' /C calc'!A0"), neutralise("ok")
    ("'=HYPERLINK(A1)", '-5', "'-2+3+cmd|' /C calc'!A0", 'ok')
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell (text, object and categorical columns) and every column name passed
    through :func:`neutralise` (a copy only where something changes; numbers, booleans and missing values are
    left as they are).

    >>> neutralise_frame(pd.DataFrame({"memo": ["=1+1", "-5", "fine"], "@x": [1, 2, 3]})).to_dict("list")
    {'memo': ["'=1+1", '-5', 'fine'], "'@x": [1, 2, 3]}
    """
    out = frame
    for k in range(len(frame.columns)):
        col = frame.iloc[:, k]
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.astype(object)
        elif not len(col) or (col.dtype.kind not in "OSU" and not isinstance(col.dtype, pd.StringDtype)):
            continue
        risky = _risky(col)
        if not risky.any():
            continue
        if out is frame:
            out = frame.copy()
        fixed = col.astype(object).copy()
        fixed[risky] = "'" + col[risky].astype(str)
        out.isetitem(k, fixed)
    names = [neutralise(c) for c in frame.columns]
    if names != list(frame.columns):
        out = out.set_axis(names, axis=1)
    return out


def _risky(col: pd.Series) -> pd.Series:
    """The cells of ``col`` that :func:`neutralise` changes (vectorised where the column holds text)."""
    try:
        risky = col.str.startswith(FORMULA_START, na=False).astype(bool)
    except (AttributeError, TypeError):  # an object column of other things (bytes, lists …): cell by cell
        return col.map(lambda v: neutralise(v) is not v).astype(bool)
    if risky.any():
        numbers = col[risky].astype(str).str.fullmatch(PLAIN_NUMBER.pattern)
        risky &= ~numbers.reindex(col.index, fill_value=False).astype(bool)
    return risky


def neutralise_array(array: Any) -> Any:
    """A pyarrow array with :func:`neutralise` applied to every text value: a dictionary array through its
    values only; other arrays unchanged.

    >>> neutralise_array(pa.array(["=1", "-5", "ok", None])).to_pylist()
    ["'=1", '-5', 'ok', None]
    """
    if pa.types.is_dictionary(array.type):
        fixed = neutralise_array(array.dictionary)
        if fixed is array.dictionary:
            return array
        if len(pc.unique(fixed)) < len(fixed):  # '=1' became the "'=1" the dictionary holds too: encode again
            return pc.dictionary_encode(neutralise_array(array.dictionary_decode())).cast(array.type)
        return pa.DictionaryArray.from_arrays(array.indices, fixed)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    where = np.flatnonzero(_formula_candidates(array))
    before = array.take(where).to_pylist() if where.size else []
    changed = [k for k, value in enumerate(before) if neutralise(value) is not value]
    if not changed:
        return array
    flags = np.zeros(len(array), dtype=bool)
    flags[where[changed]] = True
    values = pa.array([neutralise(before[k]) for k in changed], array.type)
    return pc.replace_with_mask(array, pa.array(flags), values)


def _formula_candidates(array: Any) -> Any:
    """A numpy mask of the values of a pyarrow string array whose first byte starts a formula (read from the
    array's buffers: one pass, no copy; a superset of what :func:`neutralise` changes)."""
    n = len(array)
    offsets_buf, data_buf = array.buffers()[1], array.buffers()[2]
    if n == 0 or data_buf is None or data_buf.size == 0:
        return np.zeros(n, dtype=bool)
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width, count=n + 1, offset=array.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    starts = offsets[:-1]
    return _FORMULA_FIRST.take(data.take(starts, mode="clip")) & (offsets[1:] > starts)
