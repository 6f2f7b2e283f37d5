"""Encode scenarios (customer rows) into one grid cell per decision, with a clear error per bad field.

How each input is read comes from its declaration in ``inputs.csv`` (type, domain, aliases, what an empty
cell means); nothing here names an input. Each field is factorised first, so the work per distinct value is
done once: a million rows with a few hundred distinct values cost a few hundred normalisations plus integer
array operations. Per field the work on distinct values yields small lookup tables (axis position and error
per distinct value). Decisions that read the same inputs form a group; the cell of a row in a group's grid is a
sum of one table lookup per input (``position * stride``, a large negative sentinel where the value is bad), so
a bad field leaves unanswered only the groups that read it. A constraint is looked up the same way over its
own inputs, and blocks the decisions that read one of them. Each cell is read on its own merit: an odd value
(a list, a dict, bytes, a huge number) in one row never changes how another row is read. Columns backed by
pyarrow strings (what ``pd.read_csv`` gives with pandas 3) release the GIL while they are hashed and are
factorised two at a time.

>>> from sonet_policy.rules import default_rulebook
>>> book = default_rulebook()
>>> first = book.input_order[0]
>>> enc = encode(pd.DataFrame({first: [book.inputs[first].domain[0], "??"]}), book.compiled())
>>> enc.messages[int(enc.error_id[1])].startswith(f"{first}: '??' is not one of")
True
"""

from __future__ import annotations

import difflib
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .devices import normalise_labels
from .engine import CompiledBook, ConstraintGrid
from .rules import InputSpec, RuleBook
from .text import header_key, value_key

_SHOW = 40
_PARALLEL_ROWS = 200_000  # factorise columns in two threads from this many rows on
_INVALID = -(1 << 40)  # added to a row's cell index when a field is invalid: the sum stays negative
_SMALL_GRID = 1 << 24  # grids smaller than this sum cells in int32 (a dozen sentinels of -2**24 still fit)
_INT64_MAX = (1 << 63) - 1
_WHOLE = re.compile(r"([+-]?)([0-9]+)(?:\.0*)?")  # whole numbers as typed: ASCII digits, an optional ".0"
_ZERO_ONE = re.compile(r"([01])(?:\.0*)?")


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"<a whole number of about {int(value).bit_length() * 0.30103:.0f} digits>"  # type: ignore[call-overload]


def _show(value: object) -> str:
    if isinstance(value, np.generic):  # np.True_ / np.float64(3.5) read as True / 3.5
        value = value.item()
    if isinstance(value, _Odd):
        value = value.value
    text = _safe_repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 2] + "…'"


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


class _BoolText(str):
    """A bool of a mixed column as text that still shows as ``True``/``False`` in messages."""

    def __repr__(self) -> str:
        return str(self)


class _Odd:
    """A cell that cannot be hashed (a list, a dict, a set): kept apart, per row, and never a valid value."""

    __slots__ = ("key", "value")

    def __init__(self, value: object) -> None:
        self.value = value
        self.key = (type(value).__name__, _safe_repr(value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Odd) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return _safe_repr(self.value)


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _mixed(values: np.ndarray) -> np.ndarray:
    """Object values as they are factorised: bools as text that shows as True/False, unhashables kept apart."""
    for k, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            values[k] = _BoolText(bool(v))
        elif not isinstance(v, (str, int, float)) and not _hashable(v):
            values[k] = _Odd(v)
    return values


_MANY_CATEGORIES = 4096  # categories read as they come up to this many (or while the rows outnumber them 4:1)


def _dictionary_codes(column: pd.Series) -> tuple[np.ndarray, list] | None:
    """A column that is dictionary-encoded already (a pandas categorical, an Arrow dictionary): its codes as they
    come and its distinct values, without hashing a row (None for any other column)."""
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dtype.categories
        if len(cats) > _MANY_CATEGORIES and len(cats) > len(column) // 4:  # mostly unused: encode the used ones
            return None
        values = cats.to_numpy(dtype=object, copy=True)
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            values = _mixed(values)
        return np.asarray(column.cat.codes, dtype=np.intp), list(values)
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pd.ArrowDtype: pyarrow is installed
    if arrow is not None and type(arrow).__name__ == "DictionaryType":
        import pyarrow as pa
        import pyarrow.compute as pc

        chunked = column.array._pa_array.unify_dictionaries()
        if chunked.num_chunks == 0:
            return np.full(len(column), -1, dtype=np.intp), []
        dictionary = chunked.chunk(0).dictionary
        indices = pa.chunked_array([c.indices for c in chunked.chunks], type=arrow.index_type)
        codes = pc.fill_null(indices, -1).to_numpy().astype(np.intp)
        values = np.array(dictionary.to_pylist() + [None], dtype=object)[:-1]
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            values = _mixed(values)
        return codes, list(values)
    return None


def _factorize(column: pd.Series) -> tuple[np.ndarray, list]:
    encoded = _dictionary_codes(column)
    if encoded is not None:
        return encoded
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty"):
        # True == 1 == 1.0 hash alike: factorising would read one row as its neighbour's spelling; and a list
        # or dict in one row must not change how the others are read (each cell on its own merit)
        values = _mixed(column.to_numpy(dtype=object, copy=True))  # (Series.map would infer str and lose the type)
        column = pd.Series(values, index=column.index, dtype=object)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


@lru_cache(maxsize=1)
def _cpus() -> int:
    return os.cpu_count() or 1


@lru_cache(maxsize=8)
def _model_index(models: tuple[str, ...]) -> dict[str, int]:
    """Matching key of every catalogue value -> its position (computed once per catalogue)."""
    return {k: i for i, k in enumerate(normalise_labels(pd.Series(models, dtype=object)))}


def _releases_gil(column: pd.Series) -> bool:
    """Whether factorising ``column`` runs without the GIL (pyarrow-backed strings)."""
    return getattr(column.dtype, "storage", None) == "pyarrow"


def _factorize_all(columns: list[pd.Series]) -> list[tuple[np.ndarray, list]]:
    """:func:`_factorize` every column; two at a time when they are large and pyarrow-backed."""
    parallel = [c for c in columns if len(c) >= _PARALLEL_ROWS and _releases_gil(c)]
    if len(parallel) < 2 or _cpus() < 2:
        return [_factorize(c) for c in columns]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sonet-factorize") as pool:
        return list(pool.map(_factorize, columns))


def _text(value: object) -> str | None:
    """A typed value as matched against a domain; None for what is never a value (lists, bytes, …)."""
    if isinstance(value, (str, bool, np.bool_)):
        return value_key(value)
    if isinstance(value, (int, np.integer)):
        return value_key(int(value)) if abs(int(value)) <= _INT64_MAX else None
    if isinstance(value, (float, np.floating)):
        return value_key(int(value)) if math.isfinite(value) and float(value).is_integer() else value_key(value)
    return None


@dataclass
class FieldCodes:
    """One input field encoded: per row a code into two small tables (the last entry of each: a missing value)."""

    codes: np.ndarray  # per row: index of the row's distinct value, -1 where missing
    pos_lut: np.ndarray  # per distinct value (+ missing): axis position, -1 where invalid
    err_lut: np.ndarray  # per distinct value (+ missing): index into messages, -1 where fine
    messages: list[str]

    @property
    def position(self) -> np.ndarray:
        """Axis position per row, -1 where invalid."""
        return self.pos_lut[self.codes]

    @property
    def error_id(self) -> np.ndarray:
        """Index into ``messages`` per row, -1 where fine."""
        return self.err_lut[self.codes]


class _Field:
    """Builds the tables of one field: :meth:`ok` or :meth:`bad` per distinct value, then :meth:`done`."""

    def __init__(self, spec: InputSpec, labels: tuple[str, ...], codes: np.ndarray, n_uniques: int) -> None:
        self.spec, self.codes = spec, codes
        self.pos = np.full(n_uniques + 1, -1, dtype=np.int64)
        self.err = np.full(n_uniques + 1, -1, dtype=np.int64)
        self.empty_pos = _empty_position(spec, labels)
        self.messages: list[str] = [] if self.empty_pos >= 0 else [f"{spec.name}: missing {_missing_hint(spec)}"]
        self.missing(n_uniques)

    def ok(self, u: int, position: int) -> None:
        self.pos[u] = position

    def bad(self, u: int, message: str) -> None:
        self.messages.append(f"{self.spec.name}: {message}")
        self.err[u] = len(self.messages) - 1

    def missing(self, u: int) -> None:
        if self.empty_pos >= 0:
            self.pos[u] = self.empty_pos
        else:
            self.err[u] = 0

    def done(self) -> FieldCodes:
        return FieldCodes(self.codes, self.pos, self.err, self.messages)


def _missing_hint(spec: InputSpec) -> str:
    if spec.type == "catalogue":
        sample = f", like {spec.domain[0]}" if spec.domain else ""
        return f"(a value of the catalogue {spec.catalogue}{sample})"
    if spec.type == "boolean":
        return "(true or false)"
    if spec.type == "integer":
        return f"(a whole number >= {int(spec.minimum)})"
    return f"(one of {'|'.join(spec.domain)})"


def _empty_position(spec: InputSpec, labels: tuple[str, ...]) -> int:
    """The axis position an empty cell reads as (-1: empty is an error)."""
    if spec.empty == "error":
        return -1
    if spec.empty == "null":
        return 0  # an integer axis with null starts with the empty value
    return labels.index(spec.empty)


def _encode_category(spec: InputSpec, factorized: tuple[np.ndarray, list], labels: tuple[str, ...]) -> FieldCodes:
    codes, uniques = factorized
    f = _Field(spec, labels, codes, len(uniques))
    index = {value_key(label): i for i, label in enumerate(labels)}
    for key, value in spec.aliases.items():
        index.setdefault(key, labels.index(value))
    for u, value in enumerate(uniques):
        if _is_missing(value):
            f.missing(u)
            continue
        key = _text(value)
        if key is not None and key in index:
            f.ok(u, index[key])
        else:
            f.bad(u, f"{_show(value)} is not one of {'|'.join(labels)}")
    return f.done()


def _encode_catalogue(spec: InputSpec, factorized: tuple[np.ndarray, list], models: tuple[str, ...]) -> FieldCodes:
    codes, uniques = factorized
    f = _Field(spec, models, codes, len(uniques))
    texts = [value if isinstance(value, str) else None for value in uniques]  # a tuple or a number is no label
    keys = normalise_labels(pd.Series(texts, dtype=object))
    index = _model_index(tuple(models))
    aliases = {key: models.index(v) for key, v in spec.aliases.items()}
    unknown: list[int] = []
    for u, (value, text, key) in enumerate(zip(uniques, texts, keys, strict=True)):
        if _is_missing(value):
            f.missing(u)
        elif text is not None and value_key(text) in aliases:
            f.ok(u, aliases[value_key(text)])
        elif text is not None and isinstance(key, str) and key in index:
            f.ok(u, index[key])
        else:
            unknown.append(u)
    near = _suggestions([texts[u] if texts[u] is not None else "" for u in unknown], tuple(models)) if unknown else []
    for u, hint in zip(unknown, near, strict=True):
        f.bad(u, f"{_show(uniques[u])} is not in the catalogue" + (f"; nearest: {hint}" if hint else ""))
    return f.done()


NEAREST_LIMIT = 1000  # distinct unknown labels per call that get a suggestion (difflib costs ~0.1 ms each)


def _suggestions(values: list[str], models: tuple[str, ...]) -> list[str]:
    """:func:`~sonet_policy.devices.nearest` for many labels at once (model keys computed once, labels
    normalised in one vectorised call); "" for the labels past :data:`NEAREST_LIMIT` or that are no text."""
    by_key = {k: models[i] for k, i in _model_index(models).items()}
    head = [str(v)[:100] for v in values[:NEAREST_LIMIT]]
    keys = normalise_labels(pd.Series(head, dtype=object))
    out = []
    for text, key in zip(head, keys, strict=True):
        if not text:
            out.append("")
            continue
        close = difflib.get_close_matches(key if isinstance(key, str) and key else text, list(by_key), n=3, cutoff=0.5)
        out.append(", ".join(by_key[k] for k in close) or "none close")
    return out + [""] * (len(values) - len(head))


def _encode_boolean(spec: InputSpec, factorized: tuple[np.ndarray, list]) -> FieldCodes:
    codes, uniques = factorized
    f = _Field(spec, ("false", "true"), codes, len(uniques))
    for u, value in enumerate(uniques):
        if _is_missing(value):
            f.missing(u)
            continue
        if isinstance(value, (bool, np.bool_)):
            f.ok(u, int(bool(value)))
            continue
        if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):  # 1.0 from a spreadsheet
            f.ok(u, int(value))
            continue
        key = _text(value)
        word = spec.aliases.get(key) if key is not None else None
        zero_one = _ZERO_ONE.fullmatch(key) if key is not None and isinstance(value, str) else None
        if word is not None:
            f.ok(u, 1 if word == "true" else 0)
        elif zero_one:  # "1.0" typed as text reads like 1.0
            f.ok(u, int(zero_one.group(1)))
        else:
            f.bad(u, f"{_show(value)} is not true or false (yes/no, 1/0 also read)")
    return f.done()


def whole_number(value: object) -> int | None | str:
    """A typed whole number: the int, or a reason it is not one (str), or None when the cell is empty.

    Whole numbers are ints, integral finite floats, or text of ASCII digits (after NFKC: full-width digits
    read) with an optional sign and ``.0``; no ``_``, exponent or other scripts' digits. Past 2**63 - 1: too large.

    >>> whole_number("３１"), whole_number("1_000"), whole_number(10**400)
    (31, 'is not a whole number', 'is too large')
    """
    if _is_missing(value):
        return None
    number: int | None = None
    if isinstance(value, (bool, np.bool_)):
        return "is not a whole number"
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            return "is not a whole number"
        if abs(value) > _INT64_MAX:
            return "is too large"
        number = int(value)
    elif isinstance(value, str):
        m = _WHOLE.fullmatch(value_key(value))
        if not m:
            return "is not a whole number"
        digits = m.group(2).lstrip("0") or "0"
        if len(digits) > 19:
            return "is too large"
        number = int(digits) * (-1 if m.group(1) == "-" else 1)
    else:
        return "is not a whole number"
    if abs(number) > _INT64_MAX:
        return "is too large"
    return number


def _encode_integer(spec: InputSpec, factorized: tuple[np.ndarray, list], axis_breaks: tuple[float, ...]) -> FieldCodes:
    codes, uniques = factorized
    f = _Field(spec, (), codes, len(uniques))
    offset = 1 if spec.empty == "null" else 0
    cuts = list(axis_breaks)
    for u, value in enumerate(uniques):
        number = whole_number(value)
        if number is None:
            f.missing(u)
        elif isinstance(number, str):
            f.bad(u, f"{_show(value)} {number}")
        elif number < spec.minimum:
            low = "is negative" if spec.minimum == 0 else f"is below {int(spec.minimum)}"
            f.bad(u, f"{_show(value)} {low}")
        else:
            below = sum(1 for c in cuts if c <= number)  # python compares int and float exactly: no overflow
            f.ok(u, offset + below - 1)
    return f.done()


def _constant(n: int, position: int, error: int, messages: list[str]) -> FieldCodes:
    """A field with the same value on every row (an absent column)."""
    codes = np.zeros(n, dtype=np.intp)
    return FieldCodes(codes, np.array([position, position]), np.array([error, error]), messages)


def input_columns(frame: pd.DataFrame, book: RuleBook) -> dict[str, object]:
    """The column of ``frame`` that holds each input: its own name, else the first header that names it (any
    case or padding, its labels, its ``header_aliases``: as the file reader maps them). Inputs without a column
    are left out.

    >>> from sonet_policy.rules import default_rulebook
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


@dataclass
class Encoded:
    """A frame encoded against a compiled book.

    ``cells[inputs]``: per group of decisions that read the same inputs (:meth:`CompiledBook.groups`), the cell
    of each row in that grid, -1 where the row cannot be answered there (a field it reads is missing or
    invalid, or a constraint rules the combination out). ``error_id``: per row an index into ``messages``
    (-1: no error); a message names every bad field of the row.
    """

    fields: dict[str, FieldCodes]
    cells: dict[tuple[str, ...], np.ndarray]
    error_id: np.ndarray
    messages: list[str]

    def cell(self, compiled: CompiledBook, decision: str) -> np.ndarray:
        """The cell of every row in ``decision``'s grid (-1 where it cannot be answered)."""
        return self.cells[compiled.decisions[decision].inputs]

    def positions(self, name: str) -> np.ndarray:
        """The axis position of input ``name`` per row (-1 where missing or invalid)."""
        return self.fields[name].position


def encode_fields(frame: pd.DataFrame, compiled: CompiledBook) -> dict[str, FieldCodes]:
    """Every input of the book encoded per row (an absent column: every row missing, or empty if optional)."""
    n = len(frame)
    book = compiled.book
    columns = input_columns(frame, book)
    fields: dict[str, FieldCodes] = {}
    present: list[tuple[str, pd.Series]] = []
    for name, spec in book.inputs.items():
        if name not in columns:
            if spec.required:
                fields[name] = _constant(n, -1, 0, [f"{name}: missing (the column is absent)"])
            else:
                pos = _empty_position(spec, compiled.axes[name].labels)
                err = 0 if pos < 0 else -1
                fields[name] = _constant(n, pos, err, [f"{name}: missing {_missing_hint(spec)}"])
            continue
        column = frame[columns[name]]
        if isinstance(column, pd.DataFrame):  # duplicated column names: use the first
            column = column.iloc[:, 0]
        present.append((name, column))
    factorized = _factorize_all([c for _, c in present])
    for (name, _), codes in zip(present, factorized, strict=True):
        spec = book.inputs[name]
        axis = compiled.axes[name]
        if spec.type == "catalogue":
            fields[name] = _encode_catalogue(spec, codes, axis.labels)
        elif spec.type == "boolean":
            fields[name] = _encode_boolean(spec, codes)
        elif spec.type == "integer":
            fields[name] = _encode_integer(spec, codes, axis.breaks)
        else:
            fields[name] = _encode_category(spec, codes, axis.labels)
    return {name: fields[name] for name in book.inputs}


def _cells_over(fields: dict[str, FieldCodes], inputs: tuple[str, ...], strides: tuple[int, ...], n: int, n_cells: int):
    """The cell of every row over ``inputs`` (negative where a field is invalid)."""
    small = n_cells < _SMALL_GRID  # int32 sums: half the memory traffic of int64
    dtype, invalid = (np.int32, -_SMALL_GRID) if small else (np.int64, _INVALID)
    cell = np.zeros(n, dtype=dtype)
    for name, stride in zip(inputs, strides, strict=True):
        f = fields[name]
        contribution = np.where(f.pos_lut >= 0, f.pos_lut.astype(np.int64) * int(stride), invalid).astype(dtype)
        cell += contribution.take(f.codes)
    return cell


def _error_combos(fields: list[FieldCodes], rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """For the rows ``rows`` (some field invalid): an index per row into the combined messages, and the messages.

    Messages are ordered as ``np.unique`` orders the per-field error ids (field by field).
    """
    fields = [f for f in fields if (f.err_lut >= 0).any()]  # a field without an error adds nothing to a message
    errs = [f.err_lut[f.codes[rows]] for f in fields]
    radix = [len(f.messages) + 1 for f in fields]
    if math.prod(radix) < (1 << 62):
        key = np.zeros(len(rows), dtype=np.int64)
        for e, r in zip(errs, radix, strict=True):
            key = key * r + (e + 1)
        keys, inverse = np.unique(key, return_inverse=True)
        combos = []
        for k in keys.tolist():
            digits = []
            for r in reversed(radix):
                k, d = divmod(k, r)
                digits.append(d - 1)
            combos.append(digits[::-1])
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


def _constraint_hits(fields: dict[str, FieldCodes], c: ConstraintGrid, n: int) -> np.ndarray:
    """Rows whose values (all valid) fall in a combination the constraint rules out."""
    cell = _cells_over(fields, c.inputs, c.strides, n, c.n_cells)
    # an invalid field makes the sum negative: those rows read the last entry (False) of the padded table
    np.putmask(cell, cell < 0, c.n_cells)
    return np.append(c.ruled_out, False).take(cell)


def encode(frame: pd.DataFrame, compiled: CompiledBook) -> Encoded:
    """Encode every row of ``frame``: one cell per group of decisions, and the errors (see :class:`Encoded`)."""
    n = len(frame)
    fields = encode_fields(frame, compiled)
    cells: dict[tuple[str, ...], np.ndarray] = {}
    for inputs, names in compiled.groups():
        grid = compiled.decisions[names[0]]
        cells[inputs] = _cells_over(fields, inputs, grid.strides, n, grid.n_cells)
    sources = [f for f in fields.values() if (f.err_lut >= 0).any()]  # fields with an error on some row
    hits = []
    for cell in cells.values():
        np.maximum(cell, -1, out=cell)  # every unanswered row reads -1
    for c in compiled.constraints:
        hit = _constraint_hits(fields, c, n)  # on the constraint's own inputs (another field may be bad)
        if not hit.any():
            continue
        for inputs, names in compiled.groups():
            if names[0] in c.blocks:
                np.putmask(cells[inputs], hit, -1)
        hits.append(hit)
        sources.append(FieldCodes(hit.view(np.int8), np.array([0, 0, 0]), np.array([-1, 0, -1]), [c.message]))
    if len(sources) == 1 and len(hits) == 1:  # the one source of errors is a constraint
        error_id, messages = hits[0].astype(np.int64) - 1, sources[0].messages
    elif len(sources) <= 1:  # one source of errors (one bad field, or none): its ids are the row's
        error_id, messages = _single_source(sources, n)
    else:
        read = {i for inputs in cells for i in inputs}
        bad = np.zeros(n, dtype=bool)
        for cell in cells.values():
            bad |= cell < 0
        for name, f in fields.items():
            if name not in read and (f.err_lut >= 0).any():  # a field no decision reads: still reported
                bad |= f.error_id >= 0
        for hit in hits:
            bad |= hit
        error_id = np.full(n, -1, dtype=np.int64)
        rows = np.flatnonzero(bad)
        error_id[rows], messages = _error_combos(sources, rows)
    return Encoded(fields, cells, error_id, messages)
