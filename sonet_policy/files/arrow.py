"""pyarrow columns as the file boundary needs them: blank rows, text as a CSV holds it, answers as dictionaries.

Small helpers shared by the reader (:mod:`sonet_policy.files.read`) and the stream
(:mod:`sonet_policy.files.stream`); each reads an array's buffers or calls one pyarrow kernel, so a batch of a
million rows never goes through Python value by value.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def is_text(type_: Any) -> bool:
    """Whether a pyarrow type is text (string or large string).

    >>> is_text(pa.large_string()), is_text(pa.int64())
    (True, False)
    """
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def plain(array: Any) -> Any:
    """A column with dictionary-encoded values decoded."""
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def for_evaluate(array: Any) -> Any:
    """An input column as evaluate reads it: text dictionaries as they come (evaluate reads their codes, a
    categorical in pandas), other dictionaries decoded."""
    if pa.types.is_dictionary(array.type) and is_text(array.type.value_type):
        return array
    return plain(array)


def as_text(array: Any) -> Any:
    """A column as the text a CSV would hold: numbers and booleans written out, missing values empty.

    >>> as_text(pa.array([True, None])).to_pylist(), as_text(pa.array([31, None])).to_pylist()
    (['true', ''], ['31', ''])
    """
    array = plain(array)
    if pa.types.is_boolean(array.type):
        array = pc.if_else(array, pa.scalar("true"), pa.scalar("false"))
    elif not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string())
    return pc.fill_null(array, "")


def cell_text(value: object) -> object:
    """A list, dict, tuple, set or bytes cell as text (JSON for containers, Japanese kept); others unchanged.

    >>> cell_text({"area": "東"}), cell_text(b"\\x00"), cell_text(3)
    ('{"area": "東"}', "b'\\\\x00'", 3)
    """
    if isinstance(value, (list, dict, tuple, set)):
        return json.dumps(list(value) if isinstance(value, (tuple, set)) else value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value))
    return value


def flat_text(array: Any) -> Any:
    """A column as a CSV writer or a workbook can hold it: containers, bytes, time-zoned times and decimals as
    text (JSON for containers, Japanese kept; ``repr`` for bytes); text, numbers, booleans, plain times and dates
    unchanged (dictionaries of them too)."""
    t = array.type.value_type if pa.types.is_dictionary(array.type) else array.type
    simple = (
        is_text(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
        or (pa.types.is_timestamp(t) and t.tz is None)
        or pa.types.is_date(t)
    )
    if simple:
        return array
    return pa.array([None if v is None else str(cell_text(v)) for v in array.to_pylist()], pa.string())


def blank_rows(batch: Any) -> Any:
    """A numpy mask: the rows whose every cell is empty or missing.

    >>> codes = pa.array(["", "x", None]).dictionary_encode()
    >>> blank_rows(pa.record_batch([codes, pa.array(["", "", None])], names=["a", "b"])).tolist()
    [True, False, True]
    """
    filled = np.zeros(batch.num_rows, dtype=bool)
    for col in batch.columns:
        filled |= _filled(col)
        if filled.all():  # usually after the first column: no need to read the others
            break
    return ~filled


def _filled(col: Any) -> Any:
    """A numpy mask: the values of a pyarrow array that are neither missing nor empty text (text lengths read
    from the offsets; a dictionary's values looked up by their indices)."""
    n = len(col)
    if pa.types.is_dictionary(col.type):
        values = _filled(col.dictionary)
        if not values.size:
            return np.zeros(n, dtype=bool)
        has = values[pc.fill_null(col.indices, 0).to_numpy(zero_copy_only=False)]
    elif is_text(col.type):
        width = np.int64 if pa.types.is_large_string(col.type) else np.int32
        buf = col.buffers()[1]
        if buf is None or n == 0:
            return np.zeros(n, dtype=bool)
        size = np.dtype(width).itemsize
        offsets = np.frombuffer(buf, dtype=width, count=n + 1, offset=col.offset * size)
        has = offsets[1:] > offsets[:-1]
    else:
        return col.is_valid().to_numpy(zero_copy_only=False)
    if col.null_count:
        has &= col.is_valid().to_numpy(zero_copy_only=False)
    return has


class AnswerArrays:
    """The answer columns of evaluate (categoricals) as pyarrow dictionary arrays with int32 indices (a stable
    schema); the dictionary of each set of categories is built once per stream."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[object, Any]] = {}  # id(categories) -> (categories, pyarrow array)

    def __call__(self, answers: pd.DataFrame) -> list[Any]:
        return [self._array(answers[name].array) for name in answers.columns]

    def _array(self, cat: Any) -> Any:
        categories = cat.categories
        hit = self._values.get(id(categories))
        if hit is not None and hit[0] is categories:
            values = hit[1]
        else:
            values = pa.array(np.asarray(categories, dtype=object), pa.string())
            if len(self._values) > 64:  # categories built per batch (errors, rules) are not kept alive
                self._values.clear()
            self._values[id(categories)] = (categories, values)
        codes = cat.codes
        indices = codes.astype(np.int32)
        if codes.size and codes.min() < 0:  # missing answers: a validity bitmap (a pass over the 1-byte codes)
            valid = codes >= 0
            np.maximum(indices, 0, out=indices)
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
            missing = codes.size - int(np.count_nonzero(valid))
            indices = pa.Array.from_buffers(pa.int32(), codes.size, [bitmap, pa.py_buffer(indices)], missing)
        else:
            indices = pa.array(indices, pa.int32())
        # the codes are the categories' positions: no check of every index against the dictionary
        return pa.DictionaryArray.from_arrays(indices, values, safe=False)
