"""Encode scenarios (customer rows) into one grid cell per decision, with a clear error per bad field.

Three steps, each over whole columns (no per-row Python loop; :func:`encode_rows` does the third over a range of
rows, which evaluate takes a chunk at a time):

1. **Factorise** each input's column (:func:`factorize`): per row a code, and the column's distinct values. A
   column that is dictionary-encoded already (a pandas categorical, an Arrow dictionary from Parquet) gives its
   codes as they are: no row is hashed.
2. **Read** each distinct value once (:func:`~sonet_policy.engine.values.read_field`): its axis position, or
   the message that says why it has none. A million rows with a few hundred distinct values cost a few hundred
   readings.
3. **Sum** per group of decisions that read the same inputs: a row's cell is the sum over those inputs of
   ``position * stride`` (a large negative number where a value is missing or invalid), so a bad field leaves
   unanswered only the groups that read it. A constraint is summed the same way over its own inputs and blocks
   the decisions it names. Per row the error names every bad field (and every constraint that rules it out).

:func:`read_value` reads one value the same way (what :func:`~sonet_policy.engine.answer.answer` asks for a value
it has not seen).

>>> from sonet_policy.book.load import default_rulebook
>>> book = default_rulebook()
>>> first = book.input_order[0]
>>> enc = encode(pd.DataFrame({first: [book.inputs[first].domain[0], "??"]}), book.compiled())
>>> enc.messages[int(enc.error_id[1])].startswith(f"{first}: '??' is not one of")
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook, ConstraintGrid
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.values import FieldCodes, absent_field, hashable_values, read_field
from sonet_policy.text import header_key

_MANY_CATEGORIES = 4096  # categories read as they come up to this many (or while the rows outnumber them 4:1)


def _as_read(values: np.ndarray) -> np.ndarray:
    """Distinct values (object) as they are read: text as it is; in a mixed column, bools and unhashables apart
    (True == 1 == 1.0 hash alike, and a list in one row must not change how the others are read)."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values
    return hashable_values(values)


def arrow_chunks(column: pd.Series):
    """The Arrow chunked array behind an Arrow-backed column (its own chunks, not copied)."""
    import pyarrow as pa

    array = pa.array(column.array)  # (pandas' __arrow_array__: one chunk may come as an Array)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _dictionary_codes(column: pd.Series) -> tuple[np.ndarray, list] | None:
    """A column that is dictionary-encoded already (a pandas categorical, an Arrow dictionary): its codes as they
    come and its distinct values, without hashing a row (None for any other column)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if len(cats) > _MANY_CATEGORIES and len(cats) > len(column) // 4:  # mostly unused: encode the used ones
            return None
        values = _as_read(cats.to_numpy(dtype=object, copy=True))
        return np.asarray(column.array.codes), list(values)  # int8/int16 as they come (-1: missing)
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pd.ArrowDtype: pyarrow is installed
    if arrow is not None and type(arrow).__name__ == "DictionaryType":
        import pyarrow as pa
        import pyarrow.compute as pc

        chunked = arrow_chunks(column).unify_dictionaries()
        if chunked.num_chunks == 0:
            return np.full(len(column), -1, dtype=np.intp), []
        dictionary = chunked.chunk(0).dictionary
        indices = pa.chunked_array([c.indices for c in chunked.chunks], type=arrow.index_type)
        codes = (pc.fill_null(indices, -1) if indices.null_count else indices).to_numpy()
        values = _as_read(np.array(dictionary.to_pylist() + [None], dtype=object)[:-1])
        return codes, list(values)
    return None


def factorize(column: pd.Series) -> tuple[np.ndarray, list]:
    """Per row of ``column`` an index into its distinct values (-1: missing), and the distinct values (a
    dictionary column's codes as they come: int8 for a categorical of a few values).

    >>> codes, values = factorize(pd.Series(["b", None, "a", "b"], dtype="str"))
    >>> codes.tolist(), values
    ([0, -1, 1, 0], ['b', 'a'])
    """
    encoded = _dictionary_codes(column)
    if encoded is None:
        if column.dtype == object:
            column = pd.Series(_as_read(column.to_numpy(dtype=object, copy=True)), index=column.index, dtype=object)
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        encoded = codes, list(uniques)
    return np.asarray(encoded[0]), encoded[1]


def input_columns(frame: pd.DataFrame, book: RuleBook) -> dict[str, object]:
    """The column of ``frame`` that holds each input: its own name, else the first header that names it (any
    case or padding, its labels, its ``header_aliases``: as the file reader maps them). Inputs without a column
    are left out.

    >>> from sonet_policy.book.load import default_rulebook
    >>> book = default_rulebook()
    >>> name = book.input_order[0]
    >>> input_columns(pd.DataFrame(columns=[f" {name.upper()} "]), book)
    {'area': ' AREA '}
    """
    lookup = book.header_lookup()
    out: dict[str, object] = {}
    for c in frame.columns:
        if c in book.inputs:
            out[c] = c
    for c in frame.columns:
        name = lookup.get(header_key(c))
        if name is not None and name not in out:
            out[name] = c
    return {n: out[n] for n in book.inputs if n in out}


def input_series(frame: pd.DataFrame, book: RuleBook) -> dict[str, pd.Series]:
    """The column of ``frame`` that holds each input (:func:`input_columns`; of duplicated names, the first)."""
    out = {}
    for name, header in input_columns(frame, book).items():
        column = frame[header]
        out[name] = column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column
    return out


def encode_fields(frame: pd.DataFrame, compiled: CompiledBook, hashed: dict | None = None) -> dict[str, FieldCodes]:
    """Every input of the book read per row (an absent column: every row missing, or empty if optional).
    ``hashed``: per input, its column's codes and distinct values when they were worked out already."""
    present = input_series(frame, compiled.book)
    fields = {}
    for name in compiled.book.inputs:
        if name not in present:
            fields[name] = absent_field(compiled, name, len(frame))
            continue
        codes, values = hashed[name] if hashed and name in hashed else factorize(present[name])
        fields[name] = read_field(compiled, name, codes, values)
    return fields


def read_value(compiled: CompiledBook, name: str, value: object) -> tuple[int, str | None]:
    """How ``value`` of input ``name`` reads in an object column of one row: its axis position (-1: none) and the
    message that says why it has none (None: it reads fine).

    >>> from sonet_policy.book.load import default_rulebook
    >>> compiled = default_rulebook().compiled()
    >>> read_value(compiled, "days_since_phone_stop", "３１"), read_value(compiled, "area", "north")
    ((1, None), (-1, "area: 'north' is not one of east|west"))
    """
    f = read_field(compiled, name, *factorize(pd.Series([value], dtype=object)))
    error = int(f.error_id[0])
    return int(f.position[0]), f.messages[error] if error >= 0 else None


@dataclass
class Encoded:
    """A frame encoded against a compiled book.

    ``cells[inputs]``: per group of decisions that read the same inputs (:meth:`CompiledBook.groups`), the cell
    of each row in that grid, -1 where the row cannot be answered there (a field it reads is missing or
    invalid, or a constraint rules the combination out). ``error_id``: per row an index into ``messages``
    (-1: no error); a message names every bad field of the row.
    """

    fields: dict[str, FieldCodes]
    cells: dict[tuple[str, ...], np.ndarray]  # per group: per row its cell (intp, -1: unanswered)
    error_id: np.ndarray
    messages: list[str]

    def cell(self, compiled: CompiledBook, decision: str) -> np.ndarray:
        """The cell of every row in ``decision``'s grid (-1 where it cannot be answered)."""
        return self.cells[compiled.decisions[decision].inputs]

    def positions(self, name: str) -> np.ndarray:
        """The axis position of input ``name`` per row (-1 where missing or invalid)."""
        return self.fields[name].position


def _positions(fields: dict[str, FieldCodes], invalid: int) -> dict[str, np.ndarray]:
    """Per input, each row's axis position (intp); ``invalid`` where the value is missing or invalid."""
    return {
        name: np.where(f.pos_lut >= 0, f.pos_lut, invalid).astype(np.intp).take(f.codes) for name, f in fields.items()
    }


def _cells_over(
    positions: dict[str, np.ndarray], inputs: tuple[str, ...], strides: tuple[int, ...], scratch: np.ndarray
) -> np.ndarray:
    """The cell of every row over ``inputs``: the sum of position * stride (negative where a position is the
    invalid one). ``scratch``: an intp array as long as the rows, overwritten (no array is made per input)."""
    cell = np.zeros(len(scratch), dtype=np.intp)
    for name, stride in zip(inputs, strides, strict=True):
        np.add(cell, positions[name] if stride == 1 else np.multiply(positions[name], stride, out=scratch), out=cell)
    return cell


def _has_errors(f: FieldCodes) -> bool:
    """Whether some row of the field may have an error: a bad distinct value, or a missing row where missing is
    an error."""
    return bool((f.err_lut[:-1] >= 0).any()) or (f.err_lut[-1] >= 0 and len(f.codes) > 0 and f.codes.min() < 0)


def _constraint_hits(positions: dict[str, np.ndarray], c: ConstraintGrid, scratch: np.ndarray) -> np.ndarray:
    """Rows whose values (all valid) fall in a combination the constraint rules out."""
    cell = _cells_over(positions, c.inputs, c.strides, scratch)
    # an invalid field makes the sum negative: those rows read entry 0 (clipped) of the table shifted by one, False
    return np.append(False, c.ruled_out).take(np.add(cell, 1, out=cell), mode="clip")


def _radix_digits(key: int, radix: list[int]) -> list[int]:
    """The ids packed into ``key`` in mixed radix, each stored as id + 1 (so -1, none, is digit 0).

    >>> _radix_digits(2 * 4 + 3, [3, 4])
    [1, 2]
    """
    digits = []
    for r in reversed(radix):
        key, d = divmod(key, r)
        digits.append(d - 1)
    return digits[::-1]


def _error_combos(fields: list[FieldCodes], rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """For the rows ``rows`` (some field invalid): an index per row into the combined messages, and the messages.

    Messages are ordered as ``np.unique`` orders the per-field error ids (field by field).
    """
    errs = [f.err_lut[f.codes[rows]] for f in fields]
    radix = [len(f.messages) + 1 for f in fields]
    if math.prod(radix) < (1 << 62):
        key = np.zeros(len(rows), dtype=np.int64)
        for e, r in zip(errs, radix, strict=True):
            key = key * r + (e + 1)
        keys, inverse = np.unique(key, return_inverse=True)
        combos = [_radix_digits(k, radix) for k in keys.tolist()]
    else:  # too many distinct bad values to pack into one integer: compare the rows of ids
        uniq, inverse = np.unique(np.stack(errs).T, axis=0, return_inverse=True)
        combos = uniq.tolist()
    messages = ["; ".join(fields[k].messages[e] for k, e in enumerate(combo) if e >= 0) for combo in combos]
    return inverse.reshape(-1), messages


def _single_source(sources: list[FieldCodes], n: int) -> tuple[np.ndarray, list[str]]:
    """:func:`_error_combos` over every row when at most one source has errors: the messages that occur, in the
    order of their ids (as ``np.unique`` would order them), and per row an index into them (-1: no error)."""
    if not sources:
        return np.full(n, -1, dtype=np.int64), []
    f = sources[0]
    ids = f.err_lut.take(f.codes)
    used = np.flatnonzero(np.bincount(ids + 1, minlength=len(f.messages) + 1)[1:])
    remap = np.full(len(f.messages) + 1, -1, dtype=np.int64)  # message id -> its index among the used (-1: none)
    remap[used] = np.arange(len(used))
    return remap.take(ids), [f.messages[k] for k in used.tolist()]


def _row_errors(
    fields: dict[str, FieldCodes], cells: dict[tuple[str, ...], np.ndarray], hits: list[np.ndarray], n: int
) -> np.ndarray:
    """Per row whether it has an error: a decision it cannot answer, a bad field no decision reads, or a
    constraint that rules it out."""
    read = {i for inputs in cells for i in inputs}
    bad = np.zeros(n, dtype=bool)
    for cell in cells.values():
        bad |= cell < 0
    for name, f in fields.items():
        if name not in read and _has_errors(f):  # a field no decision reads: still reported
            bad |= f.error_id >= 0
    for hit in hits:
        bad |= hit
    return bad


def encode(frame: pd.DataFrame, compiled: CompiledBook) -> Encoded:
    """Encode every row of ``frame``: one cell per group of decisions, and the errors (see :class:`Encoded`)."""
    return encode_rows(encode_fields(frame, compiled), compiled, 0, len(frame))


def encode_rows(fields: dict[str, FieldCodes], compiled: CompiledBook, lo: int, hi: int) -> Encoded:
    """Rows ``lo:hi`` of a frame whose inputs :func:`encode_fields` read: one cell per group of decisions, and
    the errors of those rows (see :class:`Encoded`)."""
    n = hi - lo
    fields = {name: FieldCodes(f.codes[lo:hi], f.pos_lut, f.err_lut, f.messages) for name, f in fields.items()}
    # a position no cell of any grid can make up for: a sum with it stays negative
    invalid = -1 - max(g.n_cells for g in [*compiled.decisions.values(), *compiled.constraints])
    positions = _positions(fields, invalid)
    scratch = np.empty(n, dtype=np.intp)
    cells: dict[tuple[str, ...], np.ndarray] = {}
    for inputs, names in compiled.groups():
        cell = _cells_over(positions, inputs, compiled.decisions[names[0]].strides, scratch)
        cells[inputs] = np.maximum(cell, -1, out=cell)  # every unanswered row reads -1
    sources = [f for f in fields.values() if _has_errors(f)]  # fields with an error on some row
    hits = []
    for c in compiled.constraints:
        hit = _constraint_hits(positions, c, scratch)  # on the constraint's own inputs (another field may be bad)
        if not hit.any():
            continue
        for inputs, names in compiled.groups():
            if names[0] in c.blocks:
                np.putmask(cells[inputs], hit, -1)
        hits.append(hit)
        sources.append(FieldCodes(hit.view(np.int8), np.array([0, 0, 0]), np.array([-1, 0, -1]), [c.message]))
    if len(sources) == 1 and len(hits) == 1:  # the one source of errors is a constraint
        error_id, messages = hits[0].view(np.int8) - 1, sources[0].messages
    elif len(sources) <= 1:  # one source of errors (one bad field, or none): its ids are the row's
        error_id, messages = _single_source(sources, n)
    else:
        error_id = np.full(n, -1, dtype=np.int64)
        rows = np.flatnonzero(_row_errors(fields, cells, hits, n))
        error_id[rows], messages = _error_combos(sources, rows)
    return Encoded(fields, cells, error_id, messages)
