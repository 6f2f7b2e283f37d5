"""A large frame answered the quicker way: the one door is :func:`answer_large`.

The plain path (:mod:`sonet_policy.engine.frame`) gives the same answers; this one saves work on large frames
in two places, and only there:

* **Hashing Arrow text.** A column of Arrow strings (what ``pd.read_csv`` gives with pandas 3) is looked up in
  the distinct values of its first rows (``index_in``: a hash lookup per row, cheaper than building the
  dictionary row by row), and only the rows not found are dictionary-encoded. Such columns are hashed two at a
  time: one helper thread, started for the call and joined before it returns (pyarrow releases the GIL). No
  thread runs at import or between calls.
* **Answering per class.** Two values that read alike (the same axis position, the same message: ``PR-600KI``
  and ``pr600ki``) fall in one class. When the combinations of every input's classes are few beside the rows,
  each combination is answered once, by the plain path, and each row copies the answers of its combination:
  per row a key (a sum of one lookup per input) and one lookup per answer column.

>>> import pandas as pd
>>> from sonet_policy.book.load import default_rulebook
>>> answer_large(pd.DataFrame({"area": ["west"] * 3}), default_rulebook()) is None  # small: the plain path
True
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.encode import arrow_chunks, encode_fields, input_series
from sonet_policy.engine.frame import CHUNK, answer_fields
from sonet_policy.engine.tables import answer_tables
from sonet_policy.engine.values import FieldCodes

LARGE = 1 << 15  # rows from which a frame goes this way
_SAMPLE = 1 << 13  # leading rows whose distinct values the other rows of an Arrow text column are looked up in
_SAMPLE_VALUES = 1 << 10  # ... while they hold at most this many distinct values


def _arrow_text(column: pd.Series):
    """The Arrow (chunked) array behind a column of Arrow strings; None for any other column."""
    dtype = column.dtype
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pd.ArrowDtype
    if arrow is None and not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    if arrow is not None and str(arrow) not in ("string", "large_string"):
        return None
    return arrow_chunks(column)


def _int_codes(chunked) -> np.ndarray:
    """An Arrow integer (chunked) array as one numpy array, -1 for a null."""
    import pyarrow.compute as pc

    parts = [(pc.fill_null(c, -1) if c.null_count else c).to_numpy() for c in chunked.chunks if len(c)]
    return np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros(0, dtype=np.int32)


def _factorize_text(chunked) -> tuple[np.ndarray, list]:
    """:func:`~sonet_policy.engine.encode.factorize` of an Arrow text column: every row looked up among the
    distinct values of the first :data:`_SAMPLE` rows (when they are few); the rows not found (and every row,
    when they are many) dictionary-encoded after them."""
    import pyarrow.compute as pc

    seen = pc.drop_null(pc.unique(chunked.slice(0, _SAMPLE)))
    if len(seen) > _SAMPLE_VALUES:
        seen = seen.slice(0, 0)
    found = pc.index_in(chunked, value_set=seen)
    codes, values = _int_codes(found), seen.to_pylist()
    if found.null_count == chunked.null_count:  # every value among the leading ones
        return codes, values
    rest = pc.and_(pc.is_null(found), pc.is_valid(chunked))
    more = pc.dictionary_encode(pc.filter(chunked, rest)).combine_chunks()
    codes = np.array(codes)  # (a copy: Arrow's buffers are read-only)
    codes[rest.to_numpy(zero_copy_only=False)] = more.indices.to_numpy() + len(values)
    return codes, values + more.dictionary.to_pylist()


def _in_two_threads(jobs: list[Callable[[], object]]) -> list[object]:
    """Every job's result; this thread and one helper thread (started here, joined before returning) each take
    the next job not taken until none is left. No thread for one job, nor when none can start (the interpreter
    is exiting): this thread then takes them all."""
    results: list[object] = [None] * len(jobs)
    pending = iter(range(len(jobs)))  # shared by the two threads: next() on it holds the GIL
    failed: list[BaseException] = []

    def work() -> None:
        try:
            for k in pending:
                results[k] = jobs[k]()
        except BaseException as exc:  # handed to the calling thread
            failed.append(exc)

    thread = threading.Thread(target=work, name="sonet-hash", daemon=True) if len(jobs) > 1 else None
    try:
        if thread is not None:
            thread.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        thread = None
    work()
    if thread is not None:
        thread.join()
    if failed:
        raise failed[0]
    return results


def _read_fields(frame: pd.DataFrame, compiled: CompiledBook) -> dict[str, FieldCodes]:
    """:func:`~sonet_policy.engine.encode.encode_fields`, the Arrow text columns hashed two at a time."""
    present = input_series(frame, compiled.book)
    texts = {name: chunked for name, c in present.items() if (chunked := _arrow_text(c)) is not None}
    jobs = [lambda c=chunked: _factorize_text(c) for chunked in texts.values()]
    return encode_fields(frame, compiled, hashed=dict(zip(texts, _in_two_threads(jobs), strict=True)))


def _classes(f: FieldCodes) -> tuple[np.ndarray, FieldCodes]:
    """The distinct values of ``f`` merged by what they read as (position, message), and missing when some row
    is: per code its class (-1, missing, reads the last entry), and the classes as a field (its last entry never
    read)."""
    texts = [f.messages[e] if e >= 0 else None for e in f.err_lut.tolist()]
    readings = list(zip(f.pos_lut.tolist(), texts, strict=True))
    some_missing = len(f.codes) > 0 and f.codes.min() < 0
    at = {r: k for k, r in enumerate(dict.fromkeys(readings if some_missing else readings[:-1]))}
    class_of = np.array([at.get(r, 0) for r in readings], dtype=np.intp)  # (no row missing: its class is not read)
    messages = [m for _, m in at if m is not None]
    err = [messages.index(m) if m is not None else -1 for _, m in at]
    pos = np.array([p for p, _ in at] + [-1], dtype=np.int64)
    return class_of, FieldCodes(np.zeros(0, dtype=np.intp), pos, np.array([*err, -1], dtype=np.int64), messages)


def _copy_rows(terms: list, codes: list, tables: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> np.ndarray:
    """Every row, :data:`CHUNK` at a time: its key (per input the term of its class, summed), then every answer
    column copied from the row's combination (``tables``: per column, per combination its code). Returns how
    many rows each combination has."""
    n = len(next(iter(out.values())))
    key = np.zeros(min(n, CHUNK), dtype=np.intp)
    scratch = np.empty_like(key)
    counts = np.zeros(len(next(iter(tables.values()))), dtype=np.intp)
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        k, s = key[: hi - lo], scratch[: hi - lo]
        for i, (term, c) in enumerate(zip(terms, codes, strict=True)):  # a missing code (-1) wraps to the last class
            np.take(term, c[lo:hi], out=k if i == 0 else s, mode="wrap")
            if i:
                np.add(k, s, out=k)
        for col, table in tables.items():
            np.take(table, k, out=out[col][lo:hi], mode="wrap")
        counts += np.bincount(k, minlength=len(counts))
    return counts


def _answer_by_class(fields: dict[str, FieldCodes], compiled: CompiledBook, index: pd.Index) -> pd.DataFrame | None:
    """Each combination of the inputs' classes answered once, each row copying its combination's answers; None
    when the combinations are not few beside the rows (answering every combination would cost as much) or the
    rules' categories depend on the rows."""
    n = len(index)
    classes = {name: _classes(f) for name, f in fields.items()}
    sizes = [len(c.pos_lut) - 1 for _, c in classes.values()]
    space = int(np.prod(sizes, dtype=object))
    if space > n // 16 or answer_tables(compiled).rules is None:
        return None
    strides = [int(np.prod(sizes[k + 1 :], dtype=np.int64)) for k in range(len(sizes))]
    every = np.arange(space, dtype=np.intp)
    combos = {  # every combination of classes, as the rows of a frame
        name: FieldCodes((every // stride) % size, c.pos_lut, c.err_lut, c.messages)
        for (name, (_, c)), size, stride in zip(classes.items(), sizes, strides, strict=True)
    }
    per_combo = answer_fields(combos, compiled, pd.RangeIndex(space))
    varying = [col for col in per_combo.columns if col != "rulebook_hash"]  # (the hash: the same on every row)
    tables = {col: per_combo[col].cat.codes.to_numpy() for col in varying}
    out = {col: np.empty(n, dtype=table.dtype) for col, table in tables.items()}
    out["rulebook_hash"] = np.zeros(n, dtype=np.int8)
    terms = [class_of * stride for (class_of, _), stride in zip(classes.values(), strides, strict=True)]
    counts = _copy_rows(terms, [f.codes for f in fields.values()], tables, out)
    data = {col: pd.Categorical.from_codes(out[col], dtype=per_combo[col].dtype, validate=False) for col in out}
    data["error"] = _used_messages(out["error"], tables["error"][counts > 0], per_combo["error"].dtype)
    return pd.DataFrame({col: data[col] for col in per_combo.columns}, index=index, copy=False)


def _used_messages(codes: np.ndarray, present: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """The error column (``codes``) with only the messages some row has (``present``: the error codes of the
    combinations some row has), as the plain path keeps them: sorted, as they are in ``dtype``."""
    used = np.unique(present[present >= 0])
    if len(used) < len(dtype.categories):
        remap = np.full(len(dtype.categories) + 1, -1, dtype=codes.dtype)  # the last entry: no message (-1)
        remap[used] = np.arange(len(used))
        codes = remap.take(codes, mode="wrap")
        dtype = pd.CategoricalDtype(dtype.categories[used])
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def answer_large(frame: pd.DataFrame, book: RuleBook) -> pd.DataFrame | None:
    """:func:`~sonet_policy.engine.frame.evaluate_frame`'s answers for a frame of :data:`LARGE` rows or more
    (the same frame: columns, dtypes, categories), worked out the quicker way (see the module); None for a
    smaller frame, which the plain path answers."""
    if len(frame) < LARGE:
        return None
    compiled = book.compiled()
    fields = _read_fields(frame, compiled)
    by_class = _answer_by_class(fields, compiled, frame.index)
    return by_class if by_class is not None else answer_fields(fields, compiled, frame.index)
