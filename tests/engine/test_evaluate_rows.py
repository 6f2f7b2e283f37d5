"""evaluate answers every row of a frame as answer() answers that row alone, whatever the frame holds: hostile
text, odd objects, nulls, absent, empty and duplicated columns, every column type (Arrow strings, Python
strings, object, categorical in any order of categories, Arrow dictionary, Arrow chunks), another rule book."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate

BOOK = default_rulebook()
CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)[list(BOOK.inputs)]
# Text a person or a spreadsheet might leave in any column: spellings, blanks, full width, near misses.
TEXT = ["", " ", "\u3000", "??", "ＥＡＳＴ", " yes ", "ｔｒｕｅ", "３１", "1_000", "-1", "31.0", "PR 600 ki"]
TEXT += ["PR-700KI", "0"]


def _frame(n: int, seed: int, hostile: list) -> pd.DataFrame:
    """Per cell a value of the cases' column, or (one time in five) one of ``hostile``: object columns."""
    rng = random.Random(seed)
    good = {name: list(CASES[name].unique()) for name in BOOK.inputs}
    pick = {name: lambda v=v: rng.choice(hostile) if rng.random() < 0.2 else rng.choice(v) for name, v in good.items()}
    return pd.DataFrame({name: [pick[name]() for _ in range(n)] for name in BOOK.inputs}, dtype=object)


def _text_frame(n: int, seed: int) -> pd.DataFrame:
    """Hostile text and missing cells (None) among the cases' values."""
    return _frame(n, seed, [*TEXT, None])


def _odd_frame(n: int, seed: int) -> pd.DataFrame:
    """Also bools, numbers, huge ints, NaN, lists, dicts, bytes and tuples."""
    odd = [True, False, 1, 0, 31.0, 2.5, float("nan"), 10**400, -(10**30), [1], {"a": 1}, b"east", ("x",)]
    return _frame(n, seed, [*TEXT, None, *odd])


def _as(frame: pd.DataFrame, kind: object) -> pd.DataFrame:
    if kind == "object":
        return frame.astype(object)
    if kind == "category":
        return frame.astype("category")
    if kind == "arrow_dictionary":
        return frame.apply(
            lambda c: pd.Series(pd.arrays.ArrowExtensionArray(pa.array(c.tolist()).dictionary_encode()), index=c.index)
        )
    return frame.astype(kind)


@pytest.mark.parametrize("seed", range(4))
def test_hostile_text_answers_as_row_by_row(seed: int, as_row_by_row) -> None:
    frame = _text_frame(400, seed)
    for kind in ("object", "str", "category"):
        out = as_row_by_row(_as(frame, kind), obj=kind)
        assert out["error"].notna().any() and (out["status"] == "ok").any()


@pytest.mark.parametrize("seed", range(3))
def test_odd_objects_answer_as_row_by_row(seed: int, as_row_by_row) -> None:
    out = as_row_by_row(_odd_frame(400, seed))
    assert (out["status"] == "partial").any() and (out["status"] == "ok").any()


def test_every_column_type_reads_text_the_same(as_row_by_row) -> None:
    frame = _text_frame(500, seed=7)
    expected = as_row_by_row(frame.astype(object))
    assert expected["error"].notna().any() and expected["error"].isna().any()
    kinds = [
        "str",
        "string[python]",
        "string[pyarrow]",
        pd.ArrowDtype(pa.string()),
        pd.ArrowDtype(pa.large_string()),
        "category",
        "arrow_dictionary",
    ]
    for kind in kinds:
        got = evaluate(_as(frame, kind))
        pd.testing.assert_frame_equal(got.astype(object), expected.astype(object), obj=str(kind))


def test_absent_empty_and_duplicated_columns(as_row_by_row) -> None:
    frame = _text_frame(60, seed=1)
    as_row_by_row(frame.drop(columns=[BOOK.input_order[0], BOOK.input_order[-1]]))  # a required and the optional
    as_row_by_row(frame.assign(**{BOOK.input_order[2]: None}).astype("str"))  # a column with no value at all
    twice = pd.concat([frame, frame.iloc[:, :1].replace({"east": "zzz"})], axis=1)  # the first of two is read
    as_row_by_row(twice)
    assert len(as_row_by_row(frame.iloc[:0].astype("str"))) == 0
    assert len(as_row_by_row(pd.DataFrame(index=range(3)))) == 3  # no input column at all


@pytest.mark.slow
def test_many_distinct_values_answer_as_row_by_row(as_row_by_row) -> None:
    """Many distinct bad values (customer ids read as devices, typos): many messages. (Up to NEAREST_LIMIT
    unknown devices, as each alone: past it, no suggestion of the nearest models.)"""
    frame = _text_frame(3000, seed=2)
    frame[BOOK.input_order[2]] = [f"X-{k % 900}" if k % 3 else v for k, v in enumerate(frame[BOOK.input_order[2]])]
    frame[BOOK.input_order[-1]] = [str(-k) if k % 5 == 0 else v for k, v in enumerate(frame[BOOK.input_order[-1]])]
    for kind in ("object", "str", "category"):
        out = as_row_by_row(_as(frame, kind), obj=kind)
        assert len(out["error"].cat.categories) > 1500


def test_values_first_seen_late_and_nulls_in_long_arrow_columns(as_row_by_row) -> None:
    """Values seen only in the last rows, nulls and blank text, in Arrow columns of 32- and 64-bit strings."""
    rng = np.random.default_rng(0)
    values = np.array(["east", "west", " ", "", "ＷＥＳＴ"], dtype=object)[rng.integers(0, 5, 400)]
    values[rng.random(400) < 0.1] = None
    values[[100, 250, 399]] = ["only later", "東日本", "only later"]
    frame = pd.DataFrame({name: CASES[name].sample(400, replace=True, random_state=1).to_numpy() for name in CASES})
    frame[BOOK.input_order[0]] = values
    for dtype in ("str", pd.ArrowDtype(pa.string()), pd.ArrowDtype(pa.large_string())):
        out = as_row_by_row(frame.astype(dtype), obj=str(dtype))
        assert out.loc[[100, 399], "error"].str.contains("only later").all() and out.loc[250, "status"] != "invalid"


def test_arrow_columns_of_many_chunks(as_row_by_row) -> None:
    """A frame made of pieces: columns of many Arrow chunks, some empty, each its own dictionary."""
    pieces = [_text_frame(37, seed).astype("str") for seed in range(8)]
    chunked = pd.concat(pieces, ignore_index=True)
    assert pa.array(chunked[BOOK.input_order[2]].array).num_chunks > 1
    as_row_by_row(chunked)
    as_row_by_row(chunked.astype(pd.ArrowDtype(pa.string())))
    empty = pa.array([], pa.large_string())
    cols = {}
    for name in chunked:
        whole = pa.array(chunked[name].array).combine_chunks().cast(pa.large_string())
        parts = [empty, whole.slice(0, 5), empty, *[whole.slice(k, 9) for k in range(5, len(whole), 9)], empty]
        cols[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(parts, type=whole.type)))
    as_row_by_row(pd.DataFrame(cols))
    dictionaries = {
        name: pa.chunked_array([c.dictionary_encode() for c in pa.array(s.array).chunks]) for name, s in cols.items()
    }
    as_row_by_row(pd.DataFrame({name: pd.arrays.ArrowExtensionArray(c) for name, c in dictionaries.items()}))


def test_error_categories_are_the_rows_messages_only(as_row_by_row) -> None:
    """Errors from two groups of decisions on every row (a missing field, a bad day count), and one group's
    errors on every row: the error column's categories are the messages some row has, nothing else."""
    row = dict(CASES.iloc[0])
    for change in ({BOOK.input_order[0]: None, BOOK.input_order[-1]: "-3"}, {BOOK.input_order[-1]: "-3"}):
        out = as_row_by_row(pd.DataFrame([{**row, **change}] * 3, dtype=object))
        assert out["error"].cat.categories.tolist() == [out["error"].iloc[0]]


@pytest.mark.slow
def test_categoricals_in_any_order_and_another_book(tmp_path, as_row_by_row) -> None:
    """Frames with the same categories but other rows, the categories in another order, and a changed rule book
    (another hash, the same categories): each answers as row by row with its own book."""
    import shutil

    from sonet_policy.book.load import load_rulebook

    shutil.copytree("data", tmp_path / "data")
    inputs = tmp_path / "data/rules/inputs.csv"
    inputs.write_text(inputs.read_text(encoding="utf-8").replace("east: e|東|", "east: e|ひがし|東|"), encoding="utf-8")
    other = load_rulebook(tmp_path / "data/rules")
    assert other.hash != BOOK.hash
    base = _text_frame(400, seed=5).fillna("")
    base.iloc[::7, 0] = "ひがし"  # an error in the shipped book, east in the other
    cats = {name: sorted(set(base[name])) for name in base}
    typed = {name: pd.CategoricalDtype(v) for name, v in cats.items()}
    reversed_ = {name: pd.CategoricalDtype(v[::-1]) for name, v in cats.items()}
    frames = [base, base.sample(frac=1.0, random_state=3, ignore_index=True), base.iloc[::-3]]
    for book in (BOOK, other, BOOK):
        for dtypes in (typed, reversed_):
            for frame in frames:
                as_row_by_row(frame.astype(dtypes), rulebook=book)
    assert (evaluate(base.astype(typed))["status"] != evaluate(base.astype(typed), rulebook=other)["status"]).any()
