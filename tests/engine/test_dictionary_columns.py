"""Dictionary-encoded columns (pandas categoricals, Arrow dictionaries) are read from their codes as they come,
and give exactly what the same values give in plain columns: every case, odd values included."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pyarrow as pa

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate

BOOK = default_rulebook()
CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)[list(BOOK.inputs)]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.astype(object), b.astype(object))


def _odd_frame(n: int, seed: int) -> pd.DataFrame:
    """Per column a mix of the cases' values, spellings, bools, numbers, empty cells and huge numbers."""
    rng = random.Random(seed)
    pool = {
        name: [*CASES[name].unique(), "", "??", True, False, 1, 0, 31.0, 10**400, -(10**30), None, "ＥＡＳＴ", " yes "]
        for name in BOOK.inputs
    }
    return pd.DataFrame({name: [rng.choice(values) for _ in range(n)] for name, values in pool.items()}, dtype=object)


def test_categorical_columns_read_as_plain_ones() -> None:
    _same(evaluate(CASES), evaluate(CASES.astype("category")))
    # pandas merges True with 1 (and False with 0) among categories: the plain column is the categorical's values
    odd = _odd_frame(600, seed=3).astype("category")
    expected = evaluate(odd.astype(object))
    assert (expected["status"] != "ok").any() and (expected["status"] == "ok").any()
    _same(expected, evaluate(odd))
    # unused categories and a missing cell (code -1)
    cat = CASES.astype("category")
    for name in cat.columns:
        cat[name] = cat[name].cat.add_categories(["never used"])
    cat.iloc[0, 0] = np.nan
    plain = CASES.astype(object)
    plain.iloc[0, 0] = None
    _same(evaluate(plain), evaluate(cat))


def _arrow_dictionary(values: pd.Series, cuts: int) -> pd.Series:
    """The column as an Arrow dictionary array in ``cuts`` chunks with different dictionaries."""
    items = [None if isinstance(v, float) and np.isnan(v) else v for v in values.tolist()]
    size = -(-len(items) // cuts)
    chunks = [pa.array(items[k : k + size]).dictionary_encode() for k in range(0, len(items), size)]
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks)), index=values.index)


def test_arrow_dictionary_columns_read_as_plain_ones() -> None:
    arrow = CASES.apply(lambda c: _arrow_dictionary(c, 3))
    assert all(isinstance(d, pd.ArrowDtype) for d in arrow.dtypes)
    _same(evaluate(CASES), evaluate(arrow))
    with_null = CASES.astype(object)
    with_null.iloc[1, 1] = None
    _same(evaluate(with_null), evaluate(with_null.apply(lambda c: _arrow_dictionary(c, 2))))


def test_a_categorical_with_many_unused_categories_reads_as_plain() -> None:
    cat = CASES.astype("category")
    cat["device"] = cat["device"].cat.add_categories([f"X-{k}" for k in range(5000)])
    _same(evaluate(CASES), evaluate(cat))
