"""Evaluating by key (per combination of the distinct values a group of decisions reads) answers exactly as
evaluating row by row, and every column type (Arrow strings, Python strings, object, categorical, Arrow
dictionary) reads the same values the same way: hostile values, nulls, empty and blank cells included."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import sonet_policy.engine.frame as batch
from sonet_policy.book.rules import default_rulebook
from sonet_policy.engine.encode import _KEYED_TABLES
from sonet_policy.engine.evaluate import evaluate

BOOK = default_rulebook()
# The globals of the scenario module whose functions evaluate runs: pytest's doctest collection (importlib mode) may
# import sonet_policy/engine/encode.py a second time, and patching that copy would change nothing evaluate reads.
LIVE = batch.encode_keyed.__globals__
CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)[list(BOOK.inputs)]
# Text a person or a spreadsheet might leave in any column: spellings, blanks, full width, near misses.
TEXT = ["", " ", "\u3000", "??", "ＥＡＳＴ", " yes ", "ｔｒｕｅ", "３１", "1_000", "-1", "31.0", "PR 600 ki"]
TEXT += ["PR-700KI", "0"]


# Over one space of every input, each distinct bad value is a key of its own along its axis (its message names it):
# the frames of those tests take a few good values per column and a few bad ones (another few per seed).
NARROW: dict[str, int] = {}


def _frame(n: int, seed: int, hostile: list) -> pd.DataFrame:
    """Per cell a value of the cases' column, or (one time in five) one of ``hostile``: object columns."""
    rng = random.Random(seed)
    good = {name: list(CASES[name].unique())[: NARROW.get("good")] for name in BOOK.inputs}
    if NARROW:
        hostile = random.Random(seed).sample(hostile, NARROW["bad"])
    pick = {name: lambda v=v: rng.choice(hostile) if rng.random() < 0.2 else rng.choice(v) for name, v in good.items()}
    return pd.DataFrame({name: [pick[name]() for _ in range(n)] for name in BOOK.inputs}, dtype=object)


def _text_frame(n: int, seed: int) -> pd.DataFrame:
    """Hostile text and missing cells (None) among the cases' values."""
    return _frame(n, seed, [*TEXT, None])


def _odd_frame(n: int, seed: int) -> pd.DataFrame:
    """Also bools, numbers, huge ints, NaN, lists, dicts, bytes and tuples."""
    odd = [True, False, 1, 0, 31.0, 2.5, float("nan"), 10**400, -(10**30), [1], {"a": 1}, b"east", ("x",)]
    return _frame(n, seed, [*TEXT, None, *odd])


def _row_by_row(frame: pd.DataFrame, compiled, **_) -> object:
    """encode_keyed's stand-in: the row-by-row encoding."""
    return LIVE["encode"](frame, compiled)


def _by_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """evaluate with the row-by-row encoding (what evaluate did before it read by key)."""
    saved = batch.encode_keyed, batch.leading
    batch.encode_keyed, batch.leading = _row_by_row, lambda *args: None
    try:
        return evaluate(frame)
    finally:
        batch.encode_keyed, batch.leading = saved


@pytest.fixture(params=["whole", "groups"])
def keyed_always(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Read by key however many keys there are beside the rows (small frames too): over one space of every input
    (``whole``, read a few rows at a time, in two threads) or over a space per group of decisions (``groups``)."""
    if request.param == "whole":
        monkeypatch.setitem(LIVE, "_KEY_ROWS", 1 << 20)  # the space of every input: the narrow frames' fit
        monkeypatch.setitem(NARROW, "good", 4)
        monkeypatch.setitem(NARROW, "bad", 3)
        monkeypatch.setattr(batch, "_ROW_CHUNK", 7)  # many chunks, the last one short
        monkeypatch.setitem(LIVE, "_PARALLEL_ROWS", 50)  # and two threads from 50 rows
    else:
        monkeypatch.setitem(LIVE, "_KEY_ROWS", 1 << 30)
        monkeypatch.setitem(LIVE, "_whole_space", lambda *args: None)
    return request.param


def _as(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
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
def test_by_key_answers_as_row_by_row_on_hostile_text(seed: int, keyed_always: str) -> None:
    frame = _text_frame(400, seed)
    for kind in ("object", "str", "category"):
        typed = _as(frame, kind)
        assert isinstance(LIVE["encode_keyed"](typed, BOOK.compiled()), LIVE["Keyed"])
        whole = LIVE["encode_keyed"](typed, BOOK.compiled(), whole=True)
        assert isinstance(whole, LIVE["Spaced" if keyed_always == "whole" else "Keyed"])
        pd.testing.assert_frame_equal(evaluate(typed), _by_rows(typed))


@pytest.mark.parametrize("seed", range(3))
def test_by_key_answers_as_row_by_row_on_odd_objects(seed: int, keyed_always: str) -> None:
    frame = _odd_frame(400, seed)
    whole = LIVE["encode_keyed"](frame, BOOK.compiled(), whole=True)
    assert isinstance(whole, LIVE["Spaced" if keyed_always == "whole" else "Keyed"])
    out = evaluate(frame)
    assert len(out) == len(frame) and (out["status"] == "partial").any() and (out["status"] == "ok").any()
    pd.testing.assert_frame_equal(out, _by_rows(frame))


def test_every_column_type_reads_text_the_same(keyed_always: None) -> None:
    frame = _text_frame(500, seed=7)
    expected = evaluate(frame.astype(object))
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


def test_absent_empty_and_duplicated_columns_by_key(keyed_always: None) -> None:
    frame = _text_frame(60, seed=1)
    absent = frame.drop(columns=[BOOK.input_order[0], BOOK.input_order[-1]])  # a required one and the optional one
    pd.testing.assert_frame_equal(evaluate(absent), _by_rows(absent))
    blank = frame.assign(**{BOOK.input_order[2]: None}).astype("str")  # a column with no value at all
    pd.testing.assert_frame_equal(evaluate(blank), _by_rows(blank))
    twice = pd.concat([frame, frame.iloc[:, :1]], axis=1)
    pd.testing.assert_frame_equal(evaluate(twice), _by_rows(twice))
    empty = frame.iloc[:0].astype("str")
    assert evaluate(empty).columns.tolist() == _by_rows(empty).columns.tolist() and len(evaluate(empty)) == 0


def test_many_keys_fall_back_to_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(LIVE, "_KEY_ROWS", 4)
    frame = _text_frame(50, seed=2)
    assert isinstance(LIVE["encode_keyed"](frame, BOOK.compiled()), LIVE["Encoded"])
    pd.testing.assert_frame_equal(evaluate(frame), _by_rows(frame))


def test_a_long_arrow_column_looked_up_in_its_leading_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows after the sample are looked up in the sample's values; values seen only later, and nulls, are
    encoded too, in order of first appearance (as pd.factorize gives them)."""
    monkeypatch.setitem(LIVE, "_SAMPLE", 16)
    rng = np.random.default_rng(0)
    values = np.array(["east", "west", " ", "", "ＷＥＳＴ"], dtype=object)[rng.integers(0, 5, 400)]
    values[rng.random(400) < 0.1] = None
    for late in (False, True):
        if late:
            values[[100, 250, 399]] = ["only later", "東日本", "only later"]
        for dtype in ("str", pd.ArrowDtype(pa.large_string())):
            column = pd.Series(values, dtype=dtype)
            codes, uniques = LIVE["_arrow_text_codes"](column)
            want_codes, want_uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
            assert codes.tolist() == want_codes.tolist() and uniques == list(want_uniques)
    frame = pd.DataFrame({name: CASES[name].sample(400, replace=True, random_state=1).to_numpy() for name in CASES})
    frame[BOOK.input_order[0]] = values
    pd.testing.assert_frame_equal(evaluate(frame.astype("str")), evaluate(frame.astype(object)))


def test_error_categories_are_the_rows_messages_only(keyed_always: None) -> None:
    """Errors from two groups of decisions on every row (a missing field, a bad day count), and one group's
    errors on every row: the error column's categories are the messages some row has, nothing else."""
    row = dict(CASES.iloc[0])
    for change in ({BOOK.input_order[0]: None, BOOK.input_order[-1]: "-3"}, {BOOK.input_order[-1]: "-3"}):
        frame = pd.DataFrame([{**row, **change}] * 3, dtype=object)
        out = evaluate(frame)
        assert out["error"].cat.categories.tolist() == [out["error"].iloc[0]]
        pd.testing.assert_frame_equal(out, _by_rows(frame))


def test_tables_reused_across_calls_answer_as_a_fresh_evaluate(tmp_path, keyed_always: None, monkeypatch) -> None:
    """Frames with the same categories but other rows, the categories in another order, and a changed rule book
    (another hash, the same categories) each answer as evaluating row by row (no per-key tables kept); the
    per-key tables are reused per book and set of categories (in any order), never across books, and the cache
    stays bounded."""
    import shutil

    from sonet_policy.book.rules import load_rulebook

    monkeypatch.setitem(LIVE, "_KEY_CACHE_BYTES", 1 << 30)  # these hostile frames' tables take a few MB
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
    BOOK.cache.put(_KEYED_TABLES, {})
    for book in (BOOK, other, BOOK):
        for dtypes in (typed, reversed_):
            for frame in frames:
                cat = frame.astype(dtypes)
                saved = batch.encode_keyed
                batch.encode_keyed = _row_by_row
                try:
                    fresh = evaluate(cat, rulebook=book)
                finally:
                    batch.encode_keyed = saved
                pd.testing.assert_frame_equal(evaluate(cat, rulebook=book), fresh)
    assert (evaluate(base.astype(typed))["status"] != evaluate(base.astype(typed), rulebook=other)["status"]).any()
    for book in (BOOK, other):
        cache = book.cache.peek(_KEYED_TABLES)
        assert cache["compiled"] is book.compiled()
        assert len(cache["lru"]) == 1  # the categories in either order read as one set (every frame has them all)
    small = CASES.iloc[:20]
    for k in range(12):  # twelve sets of categories: the oldest are dropped
        evaluate(small.astype({name: pd.CategoricalDtype([*set(small[name]), f"x{k}"]) for name in small}))
    assert len(BOOK.cache.peek(_KEYED_TABLES)["lru"]) == LIVE["_KEY_CACHE_ENTRIES"]
    monkeypatch.setitem(LIVE, "_KEY_CACHE_BYTES", 1000)  # tables larger than the bound are not kept
    BOOK.cache.put(_KEYED_TABLES, {})
    evaluate(base.astype(typed))
    assert not BOOK.cache.peek(_KEYED_TABLES)["lru"]


@pytest.fixture
def in_blocks(monkeypatch: pytest.MonkeyPatch) -> list:
    """Small frames read as large Arrow frames are: looked up in their 16 leading rows' values, in 4 blocks
    hashed in the kept pool's threads, answered 7 rows at a time. Returns the columns hashed whole (a log)."""
    monkeypatch.setitem(LIVE, "_PARALLEL_ROWS", 50)
    monkeypatch.setitem(LIVE, "_SAMPLE", 16)
    monkeypatch.setattr(batch, "_ROW_CHUNK", 7)
    hashed_whole: list = []
    factorize = LIVE["_factorize"]
    monkeypatch.setitem(LIVE, "_factorize", lambda column: hashed_whole.append(column.name) or factorize(column))
    return hashed_whole


def _leading_frame(n: int, seed: int, later: dict | None = None) -> pd.DataFrame:
    """Arrow text columns of the cases' values with a few hostile ones and nulls spread over every block;
    ``later``: per input, a value first seen past the leading rows (in the last block)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name in BOOK.inputs:
        known = np.array([*CASES[name].unique()[:5], "??", "", " "], dtype=object)
        values = known[rng.integers(0, len(known), n)]
        values[rng.random(n) < 0.05] = None
        values[: len(known)] = known  # every value among the leading rows
        cols[name] = values
    for name, value in (later or {}).items():
        cols[name][[n - 7, n - 2]] = value
    return pd.DataFrame(cols).astype("str")


@pytest.mark.parametrize("seed", range(3))
def test_blocks_looked_up_in_leading_values_answer_as_row_by_row(seed: int, in_blocks: list) -> None:
    frame = _leading_frame(300, seed)
    assert isinstance(batch.leading(frame, BOOK.compiled()), LIVE["Leading"])
    read_whole = []
    encode_keyed = batch.encode_keyed
    batch.encode_keyed = lambda *args, **kw: read_whole.append(1) or encode_keyed(*args, **kw)
    try:
        out = evaluate(frame)
    finally:
        batch.encode_keyed = encode_keyed
    assert in_blocks == [] and read_whole == []  # every block answered from the leading values' tables
    assert (out["status"] == "partial").any() and (out["status"] == "ok").any()
    pd.testing.assert_frame_equal(out, _by_rows(frame))
    absent = frame.drop(columns=[BOOK.input_order[0], BOOK.input_order[-1]])  # a required one and the optional one
    pd.testing.assert_frame_equal(evaluate(absent), _by_rows(absent))


def test_a_value_past_the_leading_rows_reads_the_columns_whole_without_hashing_again(in_blocks: list) -> None:
    """A value first seen in the last block (a known one, a bad one): the blocks' answers are dropped and the
    columns read whole from the blocks' lookups (none hashed again); the answers are the row-by-row ones."""
    for (name, value), bad in (((BOOK.input_order[0], "西日本"), False), ((BOOK.input_order[2], "PR-999"), True)):
        frame = _leading_frame(300, 5, {name: value})
        out = evaluate(frame)
        assert in_blocks == []
        errors = [str(out.loc[frame.index[k], "error"]) for k in (-7, -2)]
        assert all((f"{name}: '{value}'" in e) == bad for e in errors), errors
        pd.testing.assert_frame_equal(out, _by_rows(frame))


def test_too_many_keys_from_leading_values_fall_back_to_groups(in_blocks: list, monkeypatch) -> None:
    monkeypatch.setitem(LIVE, "_KEY_ROWS", 4)  # the space of every input is larger than 300 rows
    frame = _leading_frame(300, 7)
    assert LIVE["Leading"].space(batch.leading(frame, BOOK.compiled())) is None
    pd.testing.assert_frame_equal(evaluate(frame), _by_rows(frame))
    assert in_blocks == []


def test_blocks_cross_the_chunks_of_arrow_columns(in_blocks: list) -> None:
    """Columns of many Arrow chunks (a frame made of pieces) and of 32-bit Arrow strings: the blocks cut across
    the chunks, and every block is answered as row by row."""
    pieces = [_leading_frame(37, seed) for seed in range(8)]
    pieces[1:] = [p.iloc[8:] for p in pieces[1:]]  # the leading rows of the first piece hold every value
    chunked = pd.concat(pieces, ignore_index=True)
    assert chunked[BOOK.input_order[2]].array._pa_array.num_chunks > 1
    arrow32 = chunked.astype(pd.ArrowDtype(pa.string()))
    for frame in (chunked, arrow32):
        assert isinstance(batch.leading(frame, BOOK.compiled()), LIVE["Leading"])
        pd.testing.assert_frame_equal(evaluate(frame), _by_rows(frame))
    assert in_blocks == []
