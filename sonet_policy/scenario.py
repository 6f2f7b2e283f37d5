"""Encode scenarios (customer rows) into grid cells, with a clear error per invalid row.

Each field is factorised first, so the work per distinct value is done once: a million rows with a few
hundred distinct values cost a few hundred normalisations plus integer array operations. Per field the work on
distinct values yields small lookup tables (axis position and error per distinct value); the grid cell of every
row is then a sum of one table lookup per field (``position * stride``, a large negative sentinel where the value is
invalid), so a million rows cost six factorisations plus a dozen integer passes. Columns backed by pyarrow strings
(what ``pd.read_csv`` gives with pandas 3) release the GIL while they are hashed and are factorised two at a time.
"""

from __future__ import annotations

import difflib
import math
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from .devices import normalise_labels
from .engine import INPUT_ORDER, CompiledBook

# Spellings people type for the category inputs (after NFKC and lower case). Documented in the README.
ALIASES: dict[str, dict[str, str]] = {
    "area": {
        "east": "east",
        "e": "east",
        "東": "east",
        "東日本": "east",
        "ntt東日本": "east",
        "ntt east": "east",
        "west": "west",
        "w": "west",
        "西": "west",
        "西日本": "west",
        "ntt西日本": "west",
        "ntt west": "west",
    },
    "plan": {
        "10g": "10g",
        "10ギガ": "10g",
        "10giga": "10g",
        "so-net 光 10ギガ": "10g",
        "sml": "sml",
        "s/m/l": "sml",
        "so-net 光 s/m/l": "sml",
        "other": "other",
        "その他": "other",
    },
}
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "はい", "継続", "keep"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "いいえ", "廃止"})
_SHOW = 40
_PARALLEL_ROWS = 200_000  # factorise columns in two threads from this many rows on
_INVALID = -(1 << 40)  # added to a row's cell index when a field is invalid: the sum stays negative
_SMALL_GRID = 1 << 24  # grids smaller than this sum cells in int32 (six sentinels of -2**24 still fit)


def _show(value: object) -> str:
    if isinstance(value, np.generic):  # np.True_ / np.float64(3.5) read as True / 3.5
        value = value.item()
    text = repr(value)
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


def _factorize(column: pd.Series) -> tuple[np.ndarray, list]:
    if column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) in ("mixed", "mixed-integer"):
        # True == 1 == 1.0 hash alike: factorising would read one row as its neighbour's spelling
        values = column.to_numpy(dtype=object, copy=True)  # (Series.map would infer plain str and lose the type)
        is_bool = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), dtype=bool, count=len(values))
        values[is_bool] = [_BoolText(bool(v)) for v in values[is_bool]]
        column = pd.Series(values, index=column.index, dtype=object)
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): compare them as text
        codes, uniques = pd.factorize(column.map(repr), use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


@lru_cache(maxsize=1)
def _cpus() -> int:
    return os.cpu_count() or 1


@lru_cache(maxsize=8)
def _model_index(models: tuple[str, ...]) -> dict[str, int]:
    """Matching key of every catalogue model -> its position (computed once per catalogue)."""
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


def _text(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


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


def _encode_category(name: str, factorized: tuple[np.ndarray, list], labels: tuple[str, ...]) -> FieldCodes:
    codes, uniques = factorized
    index = {label: i for i, label in enumerate(labels)}
    aliases = ALIASES.get(name, {})
    pos_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    err_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    messages = [f"{name}: missing (one of {'|'.join(labels)})"]
    err_lut[-1] = 0
    for u, value in enumerate(uniques):
        if _is_missing(value):
            err_lut[u] = 0
            continue
        key = _text(value)
        key = aliases.get(key, key)
        if key in index:
            pos_lut[u] = index[key]
        else:
            messages.append(f"{name}: {_show(value)} is not one of {'|'.join(labels)}")
            err_lut[u] = len(messages) - 1
    return FieldCodes(codes, pos_lut, err_lut, messages)


def _encode_device(factorized: tuple[np.ndarray, list], models: tuple[str, ...]) -> FieldCodes:
    codes, uniques = factorized
    keys = normalise_labels(pd.Series([None if _is_missing(u) else str(u) for u in uniques], dtype=object))
    index = _model_index(tuple(models))
    pos_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    err_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    messages = ["device: missing (the model on the label, like PR-600KI)"]
    err_lut[-1] = 0
    unknown: list[int] = []
    for u, (value, key) in enumerate(zip(uniques, keys, strict=True)):
        if _is_missing(value):
            err_lut[u] = 0
        elif isinstance(key, str) and key in index:
            pos_lut[u] = index[key]
        else:
            unknown.append(u)
    for u, near in zip(unknown, _suggestions([uniques[u] for u in unknown], tuple(models)), strict=True):
        hint = f"; nearest: {near}" if near else ""
        messages.append(f"device: {_show(uniques[u])} is not in the catalogue{hint}")
        err_lut[u] = len(messages) - 1
    return FieldCodes(codes, pos_lut, err_lut, messages)


NEAREST_LIMIT = 1000  # distinct unknown labels per call that get a suggestion (difflib costs ~0.1 ms each)


def _suggestions(values: list, models: tuple[str, ...]) -> list[str]:
    """:func:`~sonet_policy.devices.nearest` for many labels at once (model keys computed once, labels
    normalised in one vectorised call); "" for the labels past :data:`NEAREST_LIMIT`."""
    by_key = {k: models[i] for k, i in _model_index(models).items()}
    head = [str(v)[:100] for v in values[:NEAREST_LIMIT]]
    keys = normalise_labels(pd.Series(head, dtype=object))
    out = []
    for text, key in zip(head, keys, strict=True):
        close = difflib.get_close_matches(key if isinstance(key, str) and key else text, list(by_key), n=3, cutoff=0.5)
        out.append(", ".join(by_key[k] for k in close) or "none close")
    return out + [""] * (len(values) - len(head))


def _encode_boolean(name: str, factorized: tuple[np.ndarray, list]) -> FieldCodes:
    codes, uniques = factorized
    pos_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    err_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    messages = [f"{name}: missing (true or false)"]
    err_lut[-1] = 0
    for u, value in enumerate(uniques):
        if _is_missing(value):
            err_lut[u] = 0
            continue
        if isinstance(value, (bool, np.bool_)):
            pos_lut[u] = int(bool(value))
            continue
        if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):  # 1.0 from a spreadsheet
            pos_lut[u] = int(value)
            continue
        key = _text(value)
        if key in TRUE_WORDS:
            pos_lut[u] = 1
        elif key in FALSE_WORDS:
            pos_lut[u] = 0
        else:
            messages.append(f"{name}: {_show(value)} is not true or false (yes/no, 1/0 also read)")
            err_lut[u] = len(messages) - 1
    return FieldCodes(codes, pos_lut, err_lut, messages)


def _encode_days(
    name: str, factorized: tuple[np.ndarray, list], breaks: tuple[float, ...], minimum: float
) -> FieldCodes:
    codes, uniques = factorized
    pos_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    err_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    messages: list[str] = []
    pos_lut[-1] = 0  # missing: the phone function has not stopped
    cuts = np.asarray(breaks, dtype=float)
    for u, value in enumerate(uniques):
        if _is_missing(value):
            pos_lut[u] = 0
            continue
        number: float | None = None
        if isinstance(value, (bool, np.bool_)):
            number = None
        elif isinstance(value, (int, float, np.integer, np.floating)):
            number = float(value)
        else:
            try:
                number = float(_text(value))
            except ValueError:
                number = None
        if number is None or math.isnan(number):
            messages.append(f"{name}: {_show(value)} is not a whole number of days")
        elif math.isinf(number) or number != int(number):
            messages.append(f"{name}: {_show(value)} is not a whole number of days")
        elif number < minimum:
            messages.append(f"{name}: {_show(value)} is negative; days since the phone stopped start at 0")
        else:
            pos_lut[u] = 1 + int(np.searchsorted(cuts, number, side="right")) - 1
            continue
        err_lut[u] = len(messages) - 1
    return FieldCodes(codes, pos_lut, err_lut, messages)


def _constant(n: int, position: int, error: int, messages: list[str]) -> FieldCodes:
    """A field with the same value on every row (an absent column)."""
    codes = np.zeros(n, dtype=np.intp)
    return FieldCodes(codes, np.array([position, position]), np.array([error, error]), messages)


def _invalid_luts(compiled: CompiledBook) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per cell (+ one for invalid rows): ruled out by a constraint, and the index of its message (cached)."""
    cache = compiled.book._cache
    hit = cache.get("scenario_invalid")
    if hit is not None and hit[0] is compiled:
        return hit[1]
    texts = sorted({str(m) for m in compiled.invalid_message[compiled.invalid]})
    ids = {t: i for i, t in enumerate(texts)}
    msg_id = np.full(compiled.n_cells + 1, -1, dtype=np.int64)
    cells = np.flatnonzero(compiled.invalid)
    msg_id[cells] = [ids[str(compiled.invalid_message[c])] for c in cells]
    ruled_out = np.append(compiled.invalid, False)
    cache["scenario_invalid"] = (compiled, (ruled_out, msg_id, texts))
    return ruled_out, msg_id, texts


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


def encode(frame: pd.DataFrame, compiled: CompiledBook) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cells of each row of ``frame`` (-1 where invalid), an error id per row (-1 where none), and messages."""
    cell, error_id, messages = encode_cells(frame, compiled)
    return cell.astype(np.int64, copy=False), error_id, messages


def encode_cells(frame: pd.DataFrame, compiled: CompiledBook) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """As :func:`encode`, with cells as ``int32`` when the grid is small enough (what evaluate reads)."""
    n = len(frame)
    book = compiled.book
    fields: list[FieldCodes | None] = []
    present: list[pd.Series] = []
    for name in INPUT_ORDER:
        spec = book.inputs[name]
        if name not in frame.columns:
            if spec.required:
                fields.append(_constant(n, -1, 0, [f"{name}: missing (the column is absent)"]))
            else:
                fields.append(_constant(n, 0, -1, []))
            continue
        column = frame[name]
        if isinstance(column, pd.DataFrame):  # duplicated column names: use the first
            column = column.iloc[:, 0]
        present.append(column)
        fields.append(None)
    factorized = iter(_factorize_all(present))
    for k, name in enumerate(INPUT_ORDER):
        if fields[k] is not None:
            continue
        spec = book.inputs[name]
        axis = compiled.axes[name]
        codes = next(factorized)
        if name == "device":
            fields[k] = _encode_device(codes, axis.labels)
        elif spec.type == "boolean":
            fields[k] = _encode_boolean(name, codes)
        elif spec.type == "integer":
            fields[k] = _encode_days(name, codes, axis.breaks, spec.minimum)
        else:
            fields[k] = _encode_category(name, codes, axis.labels)
    done: list[FieldCodes] = [f for f in fields if f is not None]
    # The cell of a row is the sum over fields of position * stride; an invalid field adds a large negative number.
    strides = np.cumprod((1, *compiled.shape[::-1]))[:-1][::-1]
    small = compiled.n_cells < _SMALL_GRID  # int32 sums: half the memory traffic of int64
    dtype, invalid = (np.int32, -_SMALL_GRID) if small else (np.int64, _INVALID)
    cell = np.zeros(n, dtype=dtype)
    for f, stride in zip(done, strides, strict=True):
        contribution = np.where(f.pos_lut >= 0, f.pos_lut.astype(np.int64) * int(stride), invalid).astype(dtype)
        cell += contribution.take(f.codes)
    error_id = np.full(n, -1, dtype=np.int64)
    messages: list[str] = []
    bad = cell < 0
    if bad.any():
        rows = np.flatnonzero(bad)
        error_id[rows], messages = _error_combos(done, rows)
        cell[rows] = -1
    # Combinations the page rules out (constraints) are invalid too.
    ruled_lut, msg_lut, texts = _invalid_luts(compiled)
    safe = np.where(bad, compiled.n_cells, cell) if bad.any() else cell
    ruled_out = ruled_lut.take(safe)
    if ruled_out.any():
        rows = np.flatnonzero(ruled_out)
        ids = msg_lut[cell[rows]]
        used = np.flatnonzero(np.bincount(ids, minlength=len(texts)))
        rank = np.full(len(texts), -1, dtype=np.int64)
        rank[used] = np.arange(len(used))
        base = len(messages)
        messages.extend(texts[i] for i in used)
        error_id[rows] = base + rank[ids]
        cell[rows] = -1
    return cell, error_id, messages
