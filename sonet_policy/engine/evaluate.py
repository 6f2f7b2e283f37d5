"""Evaluate a whole customer base: one output row per input row, vectorised (no per-row Python loop).

Each decision is answered on its own: a row whose field is missing or invalid leaves unanswered only the
decisions that read that field (their columns are empty), and the others are answered. ``status`` says how
the row as a whole went (:data:`STATUSES`). A Dask frame is answered partition by partition
(:mod:`sonet_policy.engine.scale`).
"""

from __future__ import annotations

import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.frame import evaluate_frame, output_columns
from sonet_policy.engine.large import answer_large
from sonet_policy.engine.tables import STATUSES

__all__ = ["STATUSES", "evaluate", "output_columns"]


def evaluate(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """Answer every row of ``frame`` with the rule book (default: the shipped one).

    Input columns: the book's inputs (``inputs.csv``), named as the file reader names them (any case or
    padding, Japanese labels, header aliases); an optional input may be absent. Returns a DataFrame with the
    same index and order, one row per input row: each decision (a code, ``uncovered`` or ``conflict``; empty
    where the decision could not be answered), the alternatives the page offers, ``status`` (:data:`STATUSES`),
    ``error`` (every bad field and why), ``rules`` (the rule ids that decided) and ``rulebook_hash``. Never
    raises for bad rows. Columns are categorical (compact and fast for large frames).

    >>> book = default_rulebook()
    >>> names = book.input_order
    >>> row = dict(zip(names, ["west", "other", "RV-230SE", "v6plus_router", False, 31]))
    >>> out = evaluate(pd.DataFrame([row]))
    >>> out.loc[0, ["ipv4", "device_action", "status"]].tolist()
    ['pppoe_router', 'mail_exchange', 'ok']
    >>> row[names[2]] = "PR-999"
    >>> out = evaluate(pd.DataFrame([row]))
    >>> out.loc[0, ["procedure", "status"]].tolist(), pd.isna(out.loc[0, "ipv4"])
    (['support_desk', 'partial'], True)
    """
    book = rulebook or default_rulebook()
    if not isinstance(frame, pd.DataFrame):
        try:
            from sonet_policy.engine.scale import evaluate_dask

            return evaluate_dask(frame, rulebook=book)
        except ImportError:  # pragma: no cover - dask is optional
            pass
        raise TypeError(f"evaluate takes a pandas DataFrame, not {type(frame).__name__}")
    large = answer_large(frame, book)  # a large frame, the quicker way (None: the plain path answers it)
    return large if large is not None else evaluate_frame(frame, rulebook=book)
