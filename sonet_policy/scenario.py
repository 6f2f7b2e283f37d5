"""Encode scenarios (customer rows) into grid cells, with a clear error per invalid row.

Each field is factorised first, so the work per distinct value is done once: a million rows with a few
hundred distinct values cost a few hundred normalisations plus integer array operations.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .devices import nearest, normalise_labels
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


def _show(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= _SHOW else text[: _SHOW - 2] + "…'"


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _factorize(column: pd.Series) -> tuple[np.ndarray, list]:
    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): compare them as text
        codes, uniques = pd.factorize(column.map(repr), use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


def _text(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


@dataclass
class FieldCodes:
    position: np.ndarray  # axis position per row, -1 where invalid
    error_id: np.ndarray  # index into messages per row, -1 where fine
    messages: list[str]


def _encode_category(name: str, column: pd.Series, labels: tuple[str, ...]) -> FieldCodes:
    codes, uniques = _factorize(column)
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
    return FieldCodes(pos_lut[codes], err_lut[codes], messages)


def _encode_device(column: pd.Series, models: tuple[str, ...]) -> FieldCodes:
    codes, uniques = _factorize(column)
    keys = normalise_labels(pd.Series([None if _is_missing(u) else str(u) for u in uniques], dtype=object))
    index = {k: i for i, k in enumerate(normalise_labels(pd.Series(models, dtype=object)))}
    pos_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    err_lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
    messages = ["device: missing (the model on the label, like PR-600KI)"]
    err_lut[-1] = 0
    for u, (value, key) in enumerate(zip(uniques, keys, strict=True)):
        if _is_missing(value):
            err_lut[u] = 0
        elif isinstance(key, str) and key in index:
            pos_lut[u] = index[key]
        else:
            near = ", ".join(nearest(str(value)[:100], models)) or "none close"
            messages.append(f"device: {_show(value)} is not in the catalogue; nearest: {near}")
            err_lut[u] = len(messages) - 1
    return FieldCodes(pos_lut[codes], err_lut[codes], messages)


def _encode_boolean(name: str, column: pd.Series) -> FieldCodes:
    codes, uniques = _factorize(column)
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
        key = _text(value)
        if key in TRUE_WORDS:
            pos_lut[u] = 1
        elif key in FALSE_WORDS:
            pos_lut[u] = 0
        else:
            messages.append(f"{name}: {_show(value)} is not true or false (yes/no, 1/0 also read)")
            err_lut[u] = len(messages) - 1
    return FieldCodes(pos_lut[codes], err_lut[codes], messages)


def _encode_days(name: str, column: pd.Series, breaks: tuple[float, ...], minimum: float) -> FieldCodes:
    codes, uniques = _factorize(column)
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
    return FieldCodes(pos_lut[codes], err_lut[codes], messages)


def encode(frame: pd.DataFrame, compiled: CompiledBook) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Cells of each row of ``frame`` (-1 where invalid), an error id per row (-1 where none), and messages."""
    n = len(frame)
    book = compiled.book
    fields: list[FieldCodes] = []
    for name in INPUT_ORDER:
        spec = book.inputs[name]
        if name not in frame.columns:
            if spec.required:
                fields.append(
                    FieldCodes(
                        np.full(n, -1, dtype=np.int64),
                        np.zeros(n, dtype=np.int64),
                        [f"{name}: missing (the column is absent)"],
                    )
                )
            else:
                fields.append(FieldCodes(np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64), []))
            continue
        column = frame[name]
        if isinstance(column, pd.DataFrame):  # duplicated column names: use the first
            column = column.iloc[:, 0]
        axis = compiled.axes[name]
        if name == "device":
            fields.append(_encode_device(column, axis.labels))
        elif spec.type == "boolean":
            fields.append(_encode_boolean(name, column))
        elif spec.type == "integer":
            fields.append(_encode_days(name, column, axis.breaks, spec.minimum))
        else:
            fields.append(_encode_category(name, column, axis.labels))
    positions = np.stack([f.position for f in fields]) if n else np.zeros((len(fields), 0), dtype=np.int64)
    valid = (positions >= 0).all(axis=0)
    cell = np.full(n, -1, dtype=np.int64)
    if valid.any():
        cell[valid] = np.ravel_multi_index(tuple(positions[:, valid]), compiled.shape)
    # Combine the field errors of each row into one message ("field: why; field: why").
    messages: list[str] = []
    error_id = np.full(n, -1, dtype=np.int64)
    errs = np.stack([f.error_id for f in fields]) if n else np.zeros((len(fields), 0), dtype=np.int64)
    bad = (errs >= 0).any(axis=0)
    if bad.any():
        combos, inverse = np.unique(errs[:, bad].T, axis=0, return_inverse=True)
        for combo in combos:
            parts = [fields[k].messages[e] for k, e in enumerate(combo) if e >= 0]
            messages.append("; ".join(parts))
        error_id[bad] = inverse.reshape(-1)
    # Combinations the page rules out (constraints) are invalid too.
    ruled_out = (cell >= 0) & compiled.invalid[np.where(cell >= 0, cell, 0)]
    if ruled_out.any():
        texts, inverse = np.unique(compiled.invalid_message[cell[ruled_out]].astype(str), return_inverse=True)
        base = len(messages)
        messages.extend(texts.tolist())
        error_id[ruled_out] = base + inverse.reshape(-1)
        cell[ruled_out] = -1
    return cell, error_id, messages
