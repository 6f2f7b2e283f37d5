"""The page, split into numbered clauses (``data/source/clauses.csv``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from .paths import CLAUSES_CSV, PAGE_TXT

CLAUSE_COLUMNS = ["clause_id", "section", "kind", "normative", "line", "text_ja", "text_en"]
NORMATIVE_KINDS = frozenset({"rule", "exception"})


def read_clauses(path: Path | str = CLAUSES_CSV) -> pd.DataFrame:
    """The clause table: one row per clause, ``normative`` as a boolean, indexed by ``clause_id``.

    >>> read_clauses().loc["pre.1", "text_ja"]
    'ご利用の電話番号は廃止 (※) されます。'
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame["normative"] = frame["normative"].str.lower().eq("true")
    return frame.set_index("clause_id", drop=False)


@lru_cache(maxsize=4)
def _cached(path: str) -> pd.DataFrame:
    return read_clauses(path)


def clauses(path: Path | str = CLAUSES_CSV) -> pd.DataFrame:
    """Cached :func:`read_clauses` (returns a copy, so callers cannot change the cache)."""
    return _cached(str(path)).copy()


def page_text(path: Path | str = PAGE_TXT) -> str:
    """The support page as shipped (UTF-8)."""
    return Path(path).read_text(encoding="utf-8")
