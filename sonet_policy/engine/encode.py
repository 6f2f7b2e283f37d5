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
pyarrow strings (what ``pd.read_csv`` gives with pandas 3) are encoded on their Arrow arrays as they are (no
Python objects), release the GIL while they are hashed and are factorised two at a time.

:func:`encode_keyed` (what ``evaluate`` uses) does the per-group work once per combination of the distinct
values the group reads instead of once per row: a row then costs its key and one lookup per answer column. The
per-key tables are kept per compiled book for a few sets of distinct values (in any order), so the batches of a
stream that hold the same values skip that work. When the combinations of every input's distinct values are few
beside the rows, the frame is encoded over that one space (:class:`Spaced`): a row's key is a sum of one lookup
per input, and ``evaluate`` answers the rows a chunk at a time from tables per key. A large frame of Arrow text
whose columns hold few values among their leading rows (:class:`Leading`) is looked up in those values a block
of rows at a time, in two threads, while the blocks already looked up are answered.

>>> from sonet_policy.book.load import default_rulebook
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
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook, ConstraintGrid
from sonet_policy.book.model import InputSpec, RuleBook
from sonet_policy.source.catalogue import normalise_labels
from sonet_policy.text import header_key, value_key

T = TypeVar("T")
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
        return np.asarray(column.array.codes), list(values)  # int8/int16 as they come (-1: missing)
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pd.ArrowDtype: pyarrow is installed
    if arrow is not None and type(arrow).__name__ == "DictionaryType":
        import pyarrow as pa
        import pyarrow.compute as pc

        chunked = column.array._pa_array.unify_dictionaries()
        if chunked.num_chunks == 0:
            return np.full(len(column), -1, dtype=np.intp), []
        dictionary = chunked.chunk(0).dictionary
        indices = pa.chunked_array([c.indices for c in chunked.chunks], type=arrow.index_type)
        codes = pc.fill_null(indices, -1).to_numpy()
        values = np.array(dictionary.to_pylist() + [None], dtype=object)[:-1]
        if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
            values = _mixed(values)
        return codes, list(values)
    return None


_ARROW_TEXT = ("string", "large_string")
_SAMPLE = 1 << 13  # leading rows whose distinct values the other rows are looked up in (a long Arrow column)
_SAMPLE_VALUES = 1 << 10  # ... while they hold at most this many distinct values


def _arrow_text_codes(column: pd.Series) -> tuple[np.ndarray, list] | None:
    """A column of Arrow strings (pandas 3 ``str`` with pyarrow storage, or ``pd.ArrowDtype`` of a string type),
    read as it is (no copy into Python objects): its codes (int32, -1 for a null) and its distinct strings in
    order of first appearance (None for any other column).

    A long column with few distinct values in its first :data:`_SAMPLE` rows is looked up in those
    (``index_in``: a hash lookup per row, cheaper than building the dictionary row by row), and only the rows
    not found are dictionary-encoded; every value of the sample appears before every other, so the order is
    the same as one ``dictionary_encode``.

    >>> codes, values = _arrow_text_codes(pd.Series(["b", None, "a", "b"], dtype="str"))
    >>> codes.tolist(), values
    ([0, -1, 1, 0], ['b', 'a'])
    """
    chunked = _arrow_text(column)
    if chunked is None:
        return None
    import pyarrow.compute as pc

    seen = _leading_values(chunked)
    if seen is not None:
        return _found_codes(chunked, seen, pc.index_in(chunked, value_set=seen))
    codes, values = _dictionary_encoded(chunked)
    if len(codes) < len(column):  # an empty column (no chunk)
        codes = np.full(len(column), -1, dtype=np.int32)
    return codes, values


def _arrow_text(column: pd.Series):
    """The Arrow (chunked) array of a column of Arrow strings; None for any other column."""
    dtype = column.dtype
    arrow = getattr(dtype, "pyarrow_dtype", None)  # pd.ArrowDtype
    if arrow is None and not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    if arrow is not None and str(arrow) not in _ARROW_TEXT:
        return None
    return getattr(column.array, "_pa_array", None)  # (None: a pandas whose Arrow arrays are laid out otherwise)


def _leading_values(chunked):
    """The distinct values of the first :data:`_SAMPLE` rows of a long Arrow column, when they are few (the other
    rows are looked up in them); None for a short column or many values."""
    import pyarrow.compute as pc

    if len(chunked) > 4 * _SAMPLE:
        seen = pc.drop_null(pc.unique(chunked.slice(0, _SAMPLE)))
        if len(seen) <= _SAMPLE_VALUES:
            return seen
    return None


def _found_codes(chunked, seen, found) -> tuple[np.ndarray, list]:
    """The codes of an Arrow column from ``found`` (``index_in`` of its rows among ``seen``: null where the row is
    null or not among them): the rows not found are dictionary-encoded after the values of ``seen``."""
    import pyarrow.compute as pc

    codes = _int_codes(found)
    if found.null_count == chunked.null_count:
        return codes, seen.to_pylist()
    rest = pc.and_(pc.is_null(found), pc.is_valid(chunked))
    codes, values = np.array(codes), seen.to_pylist()  # (a copy: Arrow's buffers are read-only)
    more_codes, more = _dictionary_encoded(pc.filter(chunked, rest))
    codes[_bool_mask(rest)] = more_codes + len(values)
    return codes, values + more


def _int_codes(chunked) -> np.ndarray:
    """An Arrow integer (chunked) array as one numpy array, -1 for a null (no copy for one chunk without null)."""
    import pyarrow.compute as pc

    parts = [(pc.fill_null(c, -1) if c.null_count else c).to_numpy() for c in chunked.chunks if len(c)]
    if not parts:
        return np.zeros(0, dtype=np.int32)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _bool_mask(chunked) -> np.ndarray:
    """An Arrow boolean (chunked) array without nulls as one numpy bool array."""
    parts = [c.to_numpy(zero_copy_only=False) for c in chunked.chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _dictionary_encoded(chunked) -> tuple[np.ndarray, list]:
    """``dictionary_encode`` over the chunks as they are: codes (-1: null) and the distinct values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(chunked)  # one memo table over the chunks: every chunk holds the whole dictionary
    chunks = [c for c in encoded.chunks if len(c)]
    if not chunks:
        return np.zeros(0, dtype=np.int32), []
    codes = _int_codes(pa.chunked_array([c.indices for c in chunks]))
    return codes, chunks[-1].dictionary.to_pylist()


def _factorize(column: pd.Series) -> tuple[np.ndarray, list]:
    encoded = _dictionary_codes(column)
    if encoded is not None:
        return encoded
    encoded = _arrow_text_codes(column)
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


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Two worker threads kept for the process (started once: a pool per call spent milliseconds starting its
    threads while the first column was hashed), made again in a forked child (the parent's threads are not
    there). Its tasks never wait on one another, so callers in any number of threads share it."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="sonet"))
        return _POOL[1]


def _submit(fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future:
    """``fn(*args, **kwargs)`` in the kept pool; run here, its result or exception in a done future alike, when
    the pool takes no more tasks (the interpreter is exiting: an ``atexit`` handler evaluating a frame)."""
    try:
        return _pool().submit(fn, *args, **kwargs)
    except RuntimeError:  # "cannot schedule new futures after (interpreter) shutdown"
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller, which reads the future
            future.set_exception(exc)
        return future


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: a lock another thread of the parent held at the fork
    (inside :func:`_pool` or :func:`_cached`) would stay held for ever; the child starts with free ones."""
    global _POOL_LOCK, _KEY_CACHE_LOCK
    _POOL_LOCK, _KEY_CACHE_LOCK = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@lru_cache(maxsize=8)
def _model_index(models: tuple[str, ...]) -> dict[str, int]:
    """Matching key of every catalogue value -> its position (computed once per catalogue)."""
    return {k: i for i, k in enumerate(normalise_labels(pd.Series(models, dtype=object)))}


def _releases_gil(column: pd.Series) -> bool:
    """Whether factorising ``column`` runs without the GIL (pyarrow-backed strings)."""
    return getattr(column.dtype, "storage", None) == "pyarrow"


def _factorize_each(columns: list[pd.Series], then: Callable[[int, tuple[np.ndarray, list]], T]) -> list[T]:
    """``then(k, _factorize(columns[k]))`` for every column, in the calling thread. Large pyarrow-backed columns
    are hashed in two threads, the largest first, a long Arrow column's rows in two halves (looked up in its
    leading values), and each column is passed on as soon as it is done: its distinct values are read while
    the others are still hashed."""
    parallel = [c for c in columns if len(c) >= _PARALLEL_ROWS and _releases_gil(c)]
    if len(parallel) < 2 or _cpus() < 2:
        return [then(k, _factorize(c)) for k, c in enumerate(columns)]
    import pyarrow as pa
    import pyarrow.compute as pc

    out: list = [None] * len(columns)
    futures: dict = {}  # future -> (column, its half or None)
    halves: dict[int, tuple] = {}  # column -> (chunked, seen, [found of each half])
    try:
        for k in sorted(range(len(columns)), key=lambda k: -int(columns[k].memory_usage(index=False))):
            chunked = _arrow_text(columns[k])
            seen = _leading_values(chunked) if chunked is not None else None
            if seen is None:
                futures[_submit(_factorize, columns[k])] = (k, None)
                continue
            halves[k] = (chunked, seen, [None, None])
            middle = len(chunked) // 2
            for h, part in enumerate((chunked.slice(0, middle), chunked.slice(middle))):
                futures[_submit(pc.index_in, part, value_set=seen)] = (k, h)
        for done in as_completed(futures):
            k, h = futures[done]
            if h is None:
                out[k] = then(k, done.result())
                continue
            chunked, seen, found = halves[k]
            found[h] = done.result()
            if found[0] is not None and found[1] is not None:
                both = pa.chunked_array([*found[0].chunks, *found[1].chunks], type=found[0].type)
                out[k] = then(k, _found_codes(chunked, seen, both))
    finally:
        for f in futures:  # a failure: the tasks not started are dropped, the others end before we return
            f.cancel()
        wait(futures)
    return out


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
    some_missing: bool | None = None  # whether some code is -1 (None: not read yet)

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
    """:func:`~sonet_policy.source.catalogue.nearest` for many labels at once (model keys computed once, labels
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

    def lookup(self, inputs: tuple[str, ...]) -> tuple[np.ndarray, None]:
        """As :meth:`Keyed.lookup`: per row the cell + 1 (0: unanswered), and no table between."""
        return np.add(self.cells[inputs], 1, dtype=np.intp), None


def _present_columns(frame: pd.DataFrame, book: RuleBook) -> dict[str, pd.Series]:
    """The column of ``frame`` that holds each input (:func:`input_columns`; of duplicated names, the first)."""
    out = {}
    for name, header in input_columns(frame, book).items():
        column = frame[header]
        out[name] = column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column
    return out


def _absent_field(name: str, compiled: CompiledBook, n: int) -> FieldCodes:
    """An input without a column: every row missing (an error if required, else the empty value)."""
    spec = compiled.book.inputs[name]
    if spec.required:
        return _constant(n, -1, 0, [f"{name}: missing (the column is absent)"])
    pos = _empty_position(spec, compiled.axes[name].labels)
    return _constant(n, pos, 0 if pos < 0 else -1, [f"{name}: missing {_missing_hint(spec)}"])


def _read_field(name: str, compiled: CompiledBook, factorized: tuple[np.ndarray, list]) -> FieldCodes:
    """An input's column from its codes and distinct values: per distinct value its axis position or error."""
    spec = compiled.book.inputs[name]
    axis = compiled.axes[name]
    if spec.type == "catalogue":
        return _encode_catalogue(spec, factorized, axis.labels)
    if spec.type == "boolean":
        return _encode_boolean(spec, factorized)
    if spec.type == "integer":
        return _encode_integer(spec, factorized, axis.breaks)
    return _encode_category(spec, factorized, axis.labels)


def encode_fields(frame: pd.DataFrame, compiled: CompiledBook, hashed: dict | None = None) -> dict[str, FieldCodes]:
    """Every input of the book encoded per row (an absent column: every row missing, or empty if optional).

    ``hashed``: per input, its column already looked up in its leading values (:class:`Leading`): (the Arrow
    column, its leading values, ``index_in`` of every row among them, the field read from those values or
    None); those columns are not hashed again, and a field whose every row is found is not read again."""
    n = len(frame)
    book = compiled.book
    present = _present_columns(frame, book)
    fields = {name: _absent_field(name, compiled, n) for name in book.inputs if name not in present}
    for name, (chunked, seen, found, read) in (hashed or {}).items():
        if read is not None and found.null_count == chunked.null_count:  # no value past the leading ones
            fields[name] = FieldCodes(_int_codes(found), read.pos_lut, read.err_lut, read.messages, read.some_missing)
        else:
            fields[name] = _read_field(name, compiled, _found_codes(chunked, seen, found))
    rest = [name for name in present if name not in fields]

    def read(k: int, codes: tuple[np.ndarray, list]) -> None:
        fields[rest[k]] = _read_field(rest[k], compiled, codes)
        _some_missing(fields[rest[k]])  # read here: while other columns are still hashed

    _factorize_each([present[name] for name in rest], read)
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


def _constraint_hits(fields: dict[str, FieldCodes], c: ConstraintGrid, n: int) -> np.ndarray:
    """Rows whose values (all valid) fall in a combination the constraint rules out."""
    cell = _cells_over(fields, c.inputs, c.strides, n, c.n_cells)
    # an invalid field makes the sum negative: those rows read the last entry (False) of the padded table
    np.putmask(cell, cell < 0, c.n_cells)
    return np.append(c.ruled_out, False).take(cell)


def encode(frame: pd.DataFrame, compiled: CompiledBook) -> Encoded:
    """Encode every row of ``frame``: one cell per group of decisions, and the errors (see :class:`Encoded`)."""
    return _encode_rows(encode_fields(frame, compiled), compiled, len(frame))


def _encode_rows(fields: dict[str, FieldCodes], compiled: CompiledBook, n: int) -> Encoded:
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


# Encoding by key. The cell of a row, whether a constraint rules it out and which errors it has depend only on
# the distinct values of the fields a group of decisions reads; so per group the work is done once per
# combination of those distinct values (the group's keys: the product of the fields' dictionaries, small beside
# the rows), and a row costs its key (its fields' codes in mixed radix) and one lookup per answer column.

_KEY_ROWS = 1 << 16  # a group's keys are tabled while they number at most this many, or at most the rows
_KEY_CACHE_ENTRIES = 8  # per compiled book: the per-key tables of this many distinct sets of categories are kept
_KEY_CACHE_BYTES = 4 << 20  # ... when their tables take at most this many bytes (at most 32 MB per book)
_KEY_CACHE_LOCK = threading.Lock()


class _KeySpace:
    """The combinations of the distinct values of some fields (each field's codes as they come, -1: missing).

    A row's key is ``sum(code * stride)``; a table over the space is laid out by ``code + 1`` (0: missing) and
    rolled by the sum of the strides, so the row key reads it as it is (numpy's ``take`` wraps a negative key):
    no per-row pass adds the offset back.
    """

    def __init__(self, names: tuple[str, ...], fields: dict[str, FieldCodes]) -> None:
        self.names = names
        self.shape = tuple(max(len(fields[k].pos_lut), 2) for k in names)  # >= 2: the offset stays below the size
        self.size = math.prod(self.shape)
        self.strides = tuple(math.prod(self.shape[k + 1 :]) for k in range(len(names)))
        self.offset = sum(self.strides)

    def along(self, name: str, lut: np.ndarray) -> np.ndarray:
        """A per-value table of field ``name`` (last entry: missing) laid along its axis of the space."""
        k = self.names.index(name)
        out = np.full(self.shape[k], lut[-1], dtype=lut.dtype)
        out[1 : len(lut)] = lut[:-1]
        view = [1] * len(self.names)
        view[k] = self.shape[k]
        return out.reshape(view)

    def sum_of(self, terms: list[np.ndarray]) -> np.ndarray:
        """Tables along axes summed over the whole space (flat, in table order)."""
        total = np.zeros(self.shape, dtype=np.int64)
        for t in terms:
            total = total + t
        return total.reshape(-1)

    def rolled(self, table: np.ndarray) -> np.ndarray:
        """A flat table over the space as a row key reads it."""
        return np.roll(table, -self.offset)

    def row_keys(self, fields: dict[str, FieldCodes], done: dict[tuple[str, ...], np.ndarray]) -> np.ndarray:
        """Every row's key (intp; negative where a field is missing), in Horner form: the keys of a prefix of
        ``names`` that another space shares are computed once (``done``: prefix -> its keys, never changed)."""
        names = self.names
        start = next((k for k in range(len(names), 0, -1) if names[:k] in done), 0)
        if start:
            key = done[names[:start]]
        elif len(names) == 1:
            key = done[names] = np.asarray(fields[names[0]].codes, dtype=np.intp)
            start = 1
        else:
            key = fields[names[0]].codes  # (multiplied into a new intp array below: never changed)
            start = 1
        for k in range(start, len(names)):
            key = np.multiply(key, self.shape[k], dtype=np.intp)
            key += fields[names[k]].codes
            done[names[: k + 1]] = key
        return key


def _cell_terms(space: _KeySpace, fields: dict[str, FieldCodes], inputs: tuple[str, ...], strides: tuple[int, ...]):
    """Per input of a grid: its position times its stride along its axis of ``space`` (a large negative number
    where the value is missing or invalid, so that the sum stays negative)."""
    out = []
    for name, stride in zip(inputs, strides, strict=True):
        pos = fields[name].pos_lut
        out.append(space.along(name, np.where(pos >= 0, pos.astype(np.int64) * int(stride), _INVALID)))
    return out


def _ruled_out(space: _KeySpace, fields: dict[str, FieldCodes], c: ConstraintGrid) -> np.ndarray:
    """Per key of ``space`` (flat, in table order): whether constraint ``c`` rules the combination out."""
    cell = space.sum_of(_cell_terms(space, fields, c.inputs, c.strides))
    return np.append(c.ruled_out, False).take(np.where(cell >= 0, cell, c.n_cells))


@dataclass
class Keyed:
    """A frame encoded by key (:func:`encode_keyed`): per group of decisions each row's key and per key the grid
    cell; per row an error as in :class:`Encoded` (here ``messages`` are sorted and distinct)."""

    keys: dict[tuple[str, ...], np.ndarray]  # per group: per row its key (intp, may be negative: tables wrap)
    cells: dict[tuple[str, ...], np.ndarray]  # per group: per key the cell + 1 (0: unanswered)
    error_id: np.ndarray
    messages: list[str]

    def lookup(self, inputs: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """For the group of decisions over ``inputs``: per row an index into the table, and the table (per
        index, the cell + 1; 0: unanswered). A per-cell table ``t`` reads per row as ``t.take(table).take(row)``."""
        return self.keys[inputs], self.cells[inputs]


@dataclass
class Spaced:
    """A frame encoded over one key space of every input (:func:`encode_keyed` when that space is small beside the
    rows). A row's key is the sum over the inputs of ``term.take(codes)`` (its classes in mixed radix; negative
    where a field is missing, and every per-key table is rolled so that such a key reads it as it is, as in
    :class:`_KeySpace`). Per key: per group of decisions the cell + 1 (0: unanswered), and the error, an index
    into ``messages`` (sorted and distinct, every error some key of the space has; -1: none). No per-row array is
    made here: the rows are keyed a chunk at a time by :meth:`keys`, so a caller that reads every answer per key
    keeps its work in cache and may share the rows between threads."""

    codes: list[np.ndarray]  # per input: per row its code (-1: missing)
    terms: list[np.ndarray]  # per input: per code its term of the key (the last: a missing code)
    cells: dict[tuple[str, ...], np.ndarray]  # per group: per key the cell + 1
    error: np.ndarray  # per key: index into messages (-1: no error)
    messages: list[str]
    n: int

    def keys(self, codes: list[np.ndarray], out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """The keys of the rows whose codes (per input) are ``codes``, written into ``out`` (``scratch``: as long,
        overwritten); the tables over the space read them with ``np.take(table, keys, mode="wrap")``."""
        if not self.terms:
            out[:] = 0
        for k, (rows, term) in enumerate(zip(codes, self.terms, strict=True)):
            np.take(term, rows, out=scratch if k else out, mode="wrap")  # a missing code (-1): the last term
            if k:
                np.add(out, scratch, out=out)
        return out


_NO_ROWS = np.zeros(0, dtype=np.int8)


def _whole_space(read: dict[str, FieldCodes], compiled: CompiledBook, n: int) -> Spaced | None:
    """``read`` encoded over the space of every input (:class:`Spaced`), or None when that space is larger than
    the rows (and than :data:`_KEY_ROWS`)."""
    classes = {name: _classes(f) for name, f in read.items()}
    # The tables are made from the classes and whether some row is missing (which keys occur is counted per row
    # by the caller): the fields they read have no rows.
    missing = {name: _some_missing(f) for name, f in read.items()}
    fields = {
        name: FieldCodes(_NO_ROWS, pos, err, msgs, some_missing=missing[name])
        for name, (_, pos, err, msgs) in classes.items()
    }
    space = _KeySpace(tuple(fields), fields)
    if space.size > max(n, _KEY_ROWS):
        return None
    signature = ("whole",) + tuple(
        (len(pos), pos.tobytes(), err.tobytes(), tuple(msgs), missing[name])
        for name, (_, pos, err, msgs) in classes.items()
    )

    def build() -> tuple[tuple, list[np.ndarray]]:
        cells = {inputs: _group_cells(space, fields, compiled, inputs, names) for inputs, names in compiled.groups()}
        sources: list[tuple[tuple[str, ...], list[str], object]] = []
        for name, f in fields.items():
            if (f.err_lut[:-1] >= 0).any() or (f.err_lut[-1] >= 0 and _some_missing(f)):
                sources.append(((name,), f.messages, name))
        for c in compiled.constraints:
            sources.append((c.inputs, [c.message], c))
        parts_of = _error_parts([space], {0: list(range(len(sources)))}, sources, fields)
        if not parts_of:
            error, messages = np.full(space.size, -1, dtype=np.int8), []
        else:
            _, parts, part_of_key = parts_of[0]
            texts = ["; ".join(sources[s][1][e] for s, e in enumerate(part) if e >= 0) for part in parts]
            messages = sorted({t for t in texts if t})
            at = {m: i for i, m in enumerate(messages)}
            small = np.int8 if len(messages) < 127 else np.int16 if len(messages) < 32767 else np.int32
            error = np.array([at.get(t, -1) for t in texts], dtype=small).take(part_of_key)
        return (cells, error, messages), [*cells.values(), error]

    cells, error, messages = _cached(compiled, signature, build)
    terms = [c[0].astype(np.intp) * stride for c, stride in zip(classes.values(), space.strides, strict=True)]
    return Spaced([f.codes for f in read.values()], terms, cells, error, messages, n)  # (missing: -stride)


@dataclass
class Leading:
    """A large frame whose every input column is a long Arrow text column with few values among its leading rows
    (:func:`_leading_values`). Each column is looked up in those values a block of rows at a time
    (:meth:`found`: the blocks may be hashed in threads while others are answered), and :meth:`space` makes the
    per-key tables from those values alone: they answer every block whose rows are all found (:meth:`codes`).
    A row with another value leaves the tables incomplete: the columns are then read whole (``hashed`` of
    :func:`encode_fields`, with the blocks' lookups)."""

    compiled: CompiledBook
    n: int
    columns: dict[str, tuple[object, object]]  # per input with a column: (its Arrow array, its leading values)
    spaced: Spaced | None = None
    read: dict[str, FieldCodes] | None = None  # per input, read from the leading values (:meth:`space`)

    def found(self, name: str, lo: int, hi: int):
        """``index_in`` of rows ``lo:hi`` of input ``name`` among its leading values (null: a null or another)."""
        import pyarrow.compute as pc

        chunked, seen = self.columns[name]
        return pc.index_in(chunked.slice(lo, hi - lo), value_set=seen)

    def space(self) -> Spaced | None:
        """The frame over the space of every input, its tables made from the leading values (None: that space is
        larger than the rows); the codes of an input with a column are read per block (:meth:`codes`)."""
        read = {}
        for name in self.compiled.book.inputs:
            if name not in self.columns:
                read[name] = _absent_field(name, self.compiled, self.n)
                continue
            chunked, seen = self.columns[name]
            read[name] = _read_field(name, self.compiled, (np.zeros(0, dtype=np.int32), seen.to_pylist()))
            read[name].some_missing = chunked.null_count > 0  # a null row is missing; any other is found or not
        self.read = read
        self.spaced = _whole_space(read, self.compiled, self.n)
        return self.spaced

    def codes(self, found: dict, lo: int, hi: int) -> list[np.ndarray] | None:
        """Per input the codes of rows ``lo:hi`` from their lookups ``found`` (per input with a column); None when
        some row holds a value that is not among the leading ones."""
        out = []
        for name, codes in zip(self.compiled.book.inputs, self.spaced.codes, strict=True):
            if name not in self.columns:
                out.append(codes[lo:hi])  # an absent column: the same code on every row
                continue
            if found[name].null_count != self.columns[name][0].slice(lo, hi - lo).null_count:
                return None
            out.append(_int_codes(found[name]))
        return out

    def hashed(self, found: dict[str, list]) -> dict[str, tuple]:
        """:func:`encode_fields`'s ``hashed`` from every block's lookups (``found``: per input, in row order)."""
        import pyarrow as pa

        out = {}
        for name, (chunked, seen) in self.columns.items():
            parts = [c for f in found[name] for c in f.chunks]
            read = self.read.get(name) if self.read else None  # its tables serve when every row is found
            out[name] = (chunked, seen, pa.chunked_array(parts, type=found[name][0].type), read)
        return out


def leading(frame: pd.DataFrame, compiled: CompiledBook) -> Leading | None:
    """The frame as :class:`Leading` when it is large (two threads are worth it) and every input column is a long
    Arrow text column with few leading values; else None."""
    n = len(frame)
    if n < _PARALLEL_ROWS or _cpus() < 2:
        return None
    columns = {}
    for name, column in _present_columns(frame, compiled.book).items():
        chunked = _arrow_text(column)
        seen = _leading_values(chunked) if chunked is not None else None
        if seen is None:
            return None
        columns[name] = (chunked, seen)
    return Leading(compiled, n, columns) if columns else None


def encode_keyed(
    frame: pd.DataFrame, compiled: CompiledBook, *, whole: bool = False, hashed: dict | None = None
) -> Spaced | Keyed | Encoded:
    """Encode ``frame`` by key where the keys are few beside the rows (else per row, as :func:`encode`).

    The answers and errors are those of :func:`encode`, looked up per key: a row costs its key and a lookup.
    With ``whole``, a frame whose space of every input is small beside the rows is encoded over that one space
    (:class:`Spaced`: its rows are keyed by the caller, a chunk at a time). ``hashed``: as in
    :func:`encode_fields`.

    >>> from sonet_policy.book.load import default_rulebook
    >>> compiled = default_rulebook().compiled()
    >>> first = compiled.inputs[0]
    >>> enc = encode_keyed(pd.DataFrame({first: ["??"] * 3}), compiled)
    >>> type(enc).__name__, enc.error_id.tolist(), len(enc.messages)
    ('Keyed', [0, 0, 0], 1)
    """
    n = len(frame)
    read = encode_fields(frame, compiled, hashed)
    if whole:
        spaced = _whole_space(read, compiled, n)
        if spaced is not None:
            return spaced
    fields = {name: _canonical(f) for name, f in read.items()}
    book = compiled.book
    groups = compiled.groups()
    reads: list[set[str]] = []
    for inputs, names in groups:
        blocking = [c for c in compiled.constraints if names[0] in c.blocks]
        reads.append(set(inputs).union(*(c.inputs for c in blocking)))
    # the inputs most spaces read first: spaces then share the keys of a common prefix
    rank = {name: (-sum(name in r for r in reads), k) for k, name in enumerate(book.inputs)}
    spaces = [_KeySpace(tuple(sorted(r, key=rank.__getitem__)), fields) for r in reads]
    # Each source of errors (a field, a constraint) is read in the first space that holds its inputs; the others
    # in a space of their own.
    sources: list[tuple[tuple[str, ...], list[str], object]] = []  # (inputs, messages, field name | constraint)
    for name, f in fields.items():
        if (f.err_lut[:-1] >= 0).any() or (f.err_lut[-1] >= 0 and _some_missing(f)):
            sources.append(((name,), f.messages, name))
    for c in compiled.constraints:
        sources.append((c.inputs, [c.message], c))
    home: dict[int, list[int]] = {}
    extra: list[_KeySpace] = []
    for k, (inputs, _, _) in enumerate(sources):
        at = next((j for j, sp in enumerate(spaces) if set(inputs) <= set(sp.names)), None)
        if at is None:
            extra.append(_KeySpace(tuple(sorted(set(inputs), key=rank.__getitem__)), fields))
            at = len(spaces) + len(extra) - 1
        home.setdefault(at, []).append(k)
    every = spaces + extra
    if any(sp.size > max(n, _KEY_ROWS) for sp in every):
        return _encode_rows(read, compiled, n)
    # The per-key tables depend only on each field's tables (axis position, error, messages per distinct value,
    # in the order of the codes) and on whether some row is missing: the same categories in the same order give
    # the same tables, kept per compiled book (a changed book is another book: it never reads these).
    signature = tuple(
        (len(f.pos_lut), f.pos_lut.dtype.str, f.pos_lut.tobytes(), f.err_lut.dtype.str, f.err_lut.tobytes())
        + (tuple(f.messages), _some_missing(f))
        for f in fields.values()
    )

    def build() -> tuple[dict[tuple[str, ...], np.ndarray], list]:
        cells = {
            inputs: _group_cells(space, fields, compiled, inputs, names)
            for (inputs, names), space in zip(groups, spaces, strict=True)
        }
        parts_of = _error_parts(every, home, sources, fields)
        return (cells, parts_of), [*cells.values(), *(p[2] for p in parts_of)]

    cells, parts_of = _cached(compiled, signature, build)
    keys: dict[tuple[str, ...], np.ndarray] = {}
    row_keys: dict[int, np.ndarray] = {}
    done: dict[tuple[str, ...], np.ndarray] = {}
    for j, ((inputs, _), space) in enumerate(zip(groups, spaces, strict=True)):
        keys[inputs] = row_keys[j] = space.row_keys(fields, done)
    error_id, messages = _keyed_errors(every, home, sources, parts_of, fields, row_keys, done, n)
    return Keyed(keys, dict(cells), error_id, messages)


def _group_cells(
    space: _KeySpace, fields: dict[str, FieldCodes], compiled: CompiledBook, inputs: tuple[str, ...], names: list[str]
) -> np.ndarray:
    """Per key of ``space`` (rolled, as a row key reads it): the cell + 1 of the group of decisions ``names`` over
    ``inputs`` (0: unanswered, a field is missing or invalid or a constraint rules the combination out)."""
    grid = compiled.decisions[names[0]]
    cell = space.sum_of(_cell_terms(space, fields, inputs, grid.strides))
    np.maximum(cell, -1, out=cell)
    for c in compiled.constraints:
        if names[0] in c.blocks:
            cell[_ruled_out(space, fields, c)] = -1
    return space.rolled(cell + 1).astype(np.intp)


_KEYED_TABLES: Slot[dict[str, Any]] = Slot("keyed_tables")


def _cached(compiled: CompiledBook, signature: tuple, build):
    """The per-key tables of ``signature`` kept for ``compiled`` (:data:`_KEY_CACHE_ENTRIES`, least recently used
    dropped), else ``build()``: (tables, the arrays among them, kept read-only when small enough to keep)."""
    with _KEY_CACHE_LOCK:  # evaluate may run in threads (Dask partitions)
        cache = compiled.book.cache.get(_KEYED_TABLES, dict)
        if cache.get("compiled") is not compiled:  # tables of another compilation are never served
            cache.clear()
            cache["compiled"], cache["lru"] = compiled, OrderedDict()
        lru: OrderedDict = cache["lru"]
        hit = lru.get(signature)
        if hit is not None:
            lru.move_to_end(signature)
            return hit
    value, arrays = build()
    if sum(a.nbytes for a in arrays) <= _KEY_CACHE_BYTES:
        for a in arrays:
            a.flags.writeable = False  # shared by later calls: never changed
        with _KEY_CACHE_LOCK:
            lru[signature] = value
            while len(lru) > _KEY_CACHE_ENTRIES:
                lru.popitem(last=False)
    return value


def _classes(f: FieldCodes) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The distinct values of field ``f`` merged by what they read as (axis position, error text) and sorted so:
    per distinct value (+ missing, the last entry: -1) its class, and per class (+ missing, last) the axis
    position, the error id and the messages. The same values in another order (each batch of a Parquet file has
    its own dictionary) give the same classes, so the per-key tables of an earlier call serve."""
    texts = [f.messages[e] if e >= 0 else "" for e in f.err_lut[:-1].tolist()]
    keys = list(zip(f.pos_lut[:-1].tolist(), texts, strict=True))
    classes = sorted(set(keys))
    at = {k: i for i, k in enumerate(classes)}
    small = np.int8 if len(classes) < 127 else np.int16 if len(classes) < 32767 else np.int32  # a 1-byte code
    class_of = np.array([at[k] for k in keys] + [-1], dtype=small)  # per row is quicker to make and to read
    messages: list[str] = []
    missing_err = int(f.err_lut[-1])
    if missing_err >= 0:
        messages.append(f.messages[missing_err])
        missing_err = 0
    pos = np.array([p for p, _ in classes] + [int(f.pos_lut[-1])], dtype=np.int64)
    err = np.full(len(classes) + 1, -1, dtype=np.int64)
    err[-1] = missing_err
    for i, (_, text) in enumerate(classes):
        if text:
            messages.append(text)
            err[i] = len(messages) - 1
    return class_of, pos, err, messages


def _canonical(f: FieldCodes) -> FieldCodes:
    """The field over its classes (:func:`_classes`): per row its class (a missing row stays -1, the last entry)."""
    class_of, pos, err, messages = _classes(f)
    return FieldCodes(class_of.take(f.codes), pos, err, messages)


def _some_missing(f: FieldCodes) -> bool:
    """Whether some row of the field is missing (reads the last entry of its tables); read once per field."""
    if f.some_missing is None:
        f.some_missing = bool(len(f.codes)) and int(f.codes.min()) < 0
    return f.some_missing


def _error_parts(
    spaces: list[_KeySpace],
    home: dict[int, list[int]],
    sources: list[tuple[tuple[str, ...], list[str], object]],
    fields: dict[str, FieldCodes],
) -> list[tuple[int, list[tuple[int, ...]], np.ndarray]]:
    """Per space with an error on some key: (space, per part the ids of its sources, per key its part). Depends on
    the fields' tables only (not on the rows), so :func:`encode_keyed` may reuse it."""
    parts_of: list[tuple[int, list[tuple[int, ...]], np.ndarray]] = []  # (space, per part its ids, per key its part)
    for j, ks in sorted(home.items()):
        space = spaces[j]
        ids = []
        for k in ks:
            name_or_c = sources[k][2]
            if isinstance(name_or_c, str):
                err = fields[name_or_c].err_lut
                if err[-1] >= 0 and not _some_missing(fields[name_or_c]):  # no row is missing: no such error
                    err = np.append(err[:-1], -1)
                ids.append(np.broadcast_to(space.along(name_or_c, err), space.shape))
            else:
                ids.append(np.where(_ruled_out(space, fields, name_or_c), 0, -1).reshape(space.shape))
        # the combination of ids per key, in mixed radix (id + 1 per source), then its distinct values
        radix = [len(sources[k][1]) + 1 for k in ks]
        mixed = np.zeros(space.size, dtype=np.int64 if math.prod(radix) < (1 << 62) else object)
        for i, r in zip(ids, radix, strict=True):
            mixed = mixed * r + (i.reshape(-1) + 1)
        combos, part = np.unique(mixed, return_inverse=True)
        if combos.tolist() == [0]:  # no combination of this space has an error
            continue
        parts = [tuple(_radix_digits(c, radix)) for c in combos.tolist()]
        parts_of.append((j, parts, space.rolled(part.reshape(-1).astype(np.intp))))
    return parts_of


def _keyed_errors(
    spaces: list[_KeySpace],
    home: dict[int, list[int]],
    sources: list[tuple[tuple[str, ...], list[str], object]],
    parts_of: list[tuple[int, list[tuple[int, ...]], np.ndarray]],
    fields: dict[str, FieldCodes],
    row_keys: dict[int, np.ndarray],
    done: dict[tuple[str, ...], np.ndarray],
    n: int,
) -> tuple[np.ndarray, list[str]]:
    """Per row an index into the sorted distinct messages (-1: no error); a message joins the messages of every
    source with an error on the row, in the order of ``sources`` (as :func:`encode` writes them)."""
    if not parts_of:
        return np.full(n, -1, dtype=np.int8), []
    radix = [len(p[1]) for p in parts_of]
    key = None
    for (j, _, table), r in zip(parts_of, radix, strict=True):
        if j not in row_keys:
            row_keys[j] = spaces[j].row_keys(fields, done)
        ep = table.take(row_keys[j])
        key = ep if key is None else key * r + ep
    size = math.prod(radix)
    if size == 2 and len(parts_of) == 1 and all(e < 0 for e in parts_of[0][1][0]):  # part 0: no error; 1: one
        present, inverse = np.arange(1 + bool(key.any())), None
    elif size <= max(n, _KEY_ROWS):
        present = np.flatnonzero(np.bincount(key, minlength=size))
        inverse = None
    else:
        present, inverse = np.unique(key, return_inverse=True)
    texts = []
    for k in present.tolist():
        digits = []
        for r in reversed(radix):
            k, d = divmod(k, r)
            digits.append(d)
        pairs = []
        for (j, parts, _), d in zip(parts_of, reversed(digits), strict=True):
            pairs.extend(zip(home[j], parts[d], strict=True))
        texts.append("; ".join(sources[s][1][e] for s, e in sorted(pairs) if e >= 0))
    messages = sorted({t for t in texts if t})
    at = {m: i for i, m in enumerate(messages)}
    small = np.int8 if len(messages) < 127 else np.int16 if len(messages) < 32767 else np.int32
    codes = np.array([at.get(t, -1) for t in texts], dtype=small)
    if inverse is not None:
        return codes.take(inverse.reshape(-1)), messages
    lut = np.full(size, -1, dtype=small)
    lut[present] = codes
    return lut.take(key), messages


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
