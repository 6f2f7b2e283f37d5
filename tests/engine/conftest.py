"""What the engine's tests share: the row-by-row reference that ``evaluate`` must equal.

The reference answers each row alone with :func:`~sonet_policy.engine.answer.answer` (one scenario, its own
lookups), given the row's values as the frame holds them. ``evaluate`` of a whole frame must give the same
answer on every row, whatever the frame's size, column types, chunks or neighbours.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.answer import answer
from sonet_policy.engine.encode import input_columns
from sonet_policy.engine.evaluate import evaluate, output_columns


def answers_row_by_row(frame: pd.DataFrame, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """Per row of ``frame`` what :func:`answer` gives for its values alone (an object frame, None where empty,
    the frame's index). A row's values read as its columns hold them (``tolist``); rows with the same typed
    values are answered once."""
    book = rulebook or default_rulebook()
    names, columns = [], []
    for name, header in input_columns(frame, book).items():
        column = frame[header]
        names.append(name)
        columns.append((column.iloc[:, 0] if isinstance(column, pd.DataFrame) else column).tolist())
    distinct: list[dict[str, object]] = []
    seen: dict[tuple, int] = {}
    ids = np.empty(len(frame), dtype=np.intp)
    for i, row in enumerate(zip(*columns, strict=True) if columns else [()] * len(frame)):
        key = (row, tuple(map(type, row)))  # True == 1 == 1.0: the types keep them apart
        try:
            at = seen.get(key)
        except TypeError:  # a list, a dict: answered on its own
            key, at = None, None
        if at is None:
            at = len(distinct)
            distinct.append(answer(rulebook=book, **dict(zip(names, row, strict=True))))
            if key is not None:
                seen[key] = at
        ids[i] = at
    table = pd.DataFrame(distinct, columns=output_columns(book), dtype=object)
    return table.take(ids).set_axis(frame.index)


def assert_answers(got: pd.DataFrame, want: pd.DataFrame, rulebook: RuleBook | None = None, obj: str = "") -> None:
    """``got`` (what evaluate gave) holds the answers ``want`` (:func:`answers_row_by_row`), in evaluate's
    dtypes: every column categorical; the book's categories (as for an empty frame), the error column's the
    messages some row has, sorted."""
    book = rulebook or default_rulebook()
    empty = evaluate(pd.DataFrame(), rulebook=book)
    assert got.columns.tolist() == want.columns.tolist() == empty.columns.tolist(), obj
    pd.testing.assert_index_equal(got.index, want.index, obj=obj)
    for col in got.columns:
        dtype = got[col].dtype
        assert isinstance(dtype, pd.CategoricalDtype), (obj, col, dtype)
        if col == "error":
            messages = sorted(set(want[col].dropna()))
            assert dtype.categories.tolist() == messages and dtype.categories.dtype == "str", (obj, dtype)
        else:
            assert dtype == empty[col].dtype, (obj, col, dtype, empty[col].dtype)
        wanted = pd.Categorical(want[col], dtype=dtype)
        np.testing.assert_array_equal(got[col].isna().to_numpy(), want[col].isna().to_numpy(), err_msg=f"{obj} {col}")
        np.testing.assert_array_equal(got[col].cat.codes.to_numpy(), wanted.codes, err_msg=f"{obj} {col}")


@pytest.fixture(scope="session")
def as_row_by_row() -> Callable[..., pd.DataFrame]:
    """``as_row_by_row(frame, rulebook=None)``: evaluate ``frame`` and check every row against
    :func:`answers_row_by_row`; returns evaluate's answers."""

    def check(frame: pd.DataFrame, rulebook: RuleBook | None = None, obj: str = "") -> pd.DataFrame:
        got = evaluate(frame, rulebook=rulebook)
        assert_answers(got, answers_row_by_row(frame, rulebook), rulebook, obj=obj)
        return got

    return check


@pytest.fixture(scope="session")
def row_by_row() -> Callable[..., pd.DataFrame]:
    """:func:`answers_row_by_row` (to reuse one reference for frames cut from the same rows)."""
    return answers_row_by_row


@pytest.fixture(scope="session")
def same_answers() -> Callable[..., None]:
    """:func:`assert_answers`."""
    return assert_answers
