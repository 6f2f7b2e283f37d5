"""How the values of one input read: per distinct value its axis position, or the message that says why not.

How each input is read comes from its declaration in ``inputs.csv`` (type, domain, aliases, what an empty
cell means); nothing here names an input. A column is factorised first (:mod:`sonet_policy.engine.encode`), so
this work is done once per distinct value: :func:`read_field` turns a column's codes and distinct values into
two small tables (axis position and error per distinct value, the last entry for a missing cell). Each value is
read on its own merit: an odd value (a list, a dict, bytes, a huge number) never changes how another is read.

>>> from sonet_policy.book.load import default_rulebook
>>> compiled = default_rulebook().compiled()
>>> days = compiled.inputs[-1]
>>> f = read_field(compiled, days, np.array([0, 1, -1]), ["31", "x"])
>>> f.position.tolist(), [f.messages[e] for e in f.error_id.tolist() if e >= 0]
([1, -1, 0], ["days_since_phone_stop: 'x' is not a whole number"])
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.model import InputSpec
from sonet_policy.source.catalogue import normalise_labels
from sonet_policy.text import value_key

_SHOW = 40
INT64_MAX = (1 << 63) - 1
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


def is_missing(value: object) -> bool:
    """Whether a cell is empty: None, NA, NaN, NaT or blank text."""
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


def hashable_values(values: np.ndarray) -> np.ndarray:
    """Object values as they are factorised: bools as text that shows as True/False, unhashables kept apart."""
    for k, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            values[k] = _BoolText(bool(v))
        elif not isinstance(v, (str, int, float)) and not _hashable(v):
            values[k] = _Odd(v)
    return values


@lru_cache(maxsize=8)
def _model_index(models: tuple[str, ...]) -> dict[str, int]:
    """Matching key of every catalogue value -> its position (computed once per catalogue)."""
    return {k: i for i, k in enumerate(normalise_labels(pd.Series(models, dtype=object)))}


def _text(value: object) -> str | None:
    """A typed value as matched against a domain; None for what is never a value (lists, bytes, …)."""
    if isinstance(value, (str, bool, np.bool_)):
        return value_key(value)
    if isinstance(value, (int, np.integer)):
        return value_key(int(value)) if abs(int(value)) <= INT64_MAX else None
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
        self.messages: list[str] = [] if self.empty_pos >= 0 else [f"{spec.name}: missing {missing_hint(spec)}"]
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


def missing_hint(spec: InputSpec) -> str:
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


def _read_category(spec: InputSpec, codes: np.ndarray, uniques: list, labels: tuple[str, ...]) -> FieldCodes:
    f = _Field(spec, labels, codes, len(uniques))
    index = {value_key(label): i for i, label in enumerate(labels)}
    for key, value in spec.aliases.items():
        index.setdefault(key, labels.index(value))
    for u, value in enumerate(uniques):
        if is_missing(value):
            f.missing(u)
            continue
        key = _text(value)
        if key is not None and key in index:
            f.ok(u, index[key])
        else:
            f.bad(u, f"{_show(value)} is not one of {'|'.join(labels)}")
    return f.done()


def _read_catalogue(spec: InputSpec, codes: np.ndarray, uniques: list, models: tuple[str, ...]) -> FieldCodes:
    f = _Field(spec, models, codes, len(uniques))
    texts = [value if isinstance(value, str) else None for value in uniques]  # a tuple or a number is no label
    keys = normalise_labels(pd.Series(texts, dtype=object))
    index = _model_index(tuple(models))
    aliases = {key: models.index(v) for key, v in spec.aliases.items()}
    unknown: list[int] = []
    for u, (value, text, key) in enumerate(zip(uniques, texts, keys, strict=True)):
        if is_missing(value):
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


def _read_boolean(spec: InputSpec, codes: np.ndarray, uniques: list) -> FieldCodes:
    f = _Field(spec, ("false", "true"), codes, len(uniques))
    for u, value in enumerate(uniques):
        if is_missing(value):
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
    if is_missing(value):
        return None
    number: int | None = None
    if isinstance(value, (bool, np.bool_)):
        return "is not a whole number"
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or not float(value).is_integer():
            return "is not a whole number"
        if abs(value) > INT64_MAX:
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
    if abs(number) > INT64_MAX:
        return "is too large"
    return number


def _read_integer(spec: InputSpec, codes: np.ndarray, uniques: list, axis_breaks: tuple[float, ...]) -> FieldCodes:
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


def absent_field(compiled: CompiledBook, name: str, n: int) -> FieldCodes:
    """An input without a column: every row missing (an error if required, else the empty value)."""
    spec = compiled.book.inputs[name]
    if spec.required:
        return _constant(n, -1, 0, [f"{name}: missing (the column is absent)"])
    pos = _empty_position(spec, compiled.axes[name].labels)
    return _constant(n, pos, 0 if pos < 0 else -1, [f"{name}: missing {missing_hint(spec)}"])


def read_field(compiled: CompiledBook, name: str, codes: np.ndarray, uniques: list) -> FieldCodes:
    """Input ``name``'s column from its codes (per row an index into ``uniques``, -1: missing) and its distinct
    values: per distinct value its axis position or its error, as the input's type reads it."""
    spec = compiled.book.inputs[name]
    axis = compiled.axes[name]
    if spec.type == "catalogue":
        return _read_catalogue(spec, codes, uniques, axis.labels)
    if spec.type == "boolean":
        return _read_boolean(spec, codes, uniques)
    if spec.type == "integer":
        return _read_integer(spec, codes, uniques, axis.breaks)
    return _read_category(spec, codes, uniques, axis.labels)
