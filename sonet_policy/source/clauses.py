"""The page, split into numbered clauses (``data/source/clauses.csv``)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sonet_policy.paths import CLAUSES_CSV, DEVICES_CSV, PAGE_TXT

CLAUSE_COLUMNS = ["clause_id", "section", "kind", "normative", "line", "text_ja", "text_en"]
NORMATIVE_KINDS = frozenset({"rule", "exception"})
_ASCII_WORD = re.compile(r"(?<=[0-9A-Za-z])\s+(?=[0-9A-Za-z])")


def read_clauses(path: Path | str = CLAUSES_CSV) -> pd.DataFrame:
    """The clause table: one row per clause, ``normative`` as a boolean, indexed by ``clause_id``.

    >>> read_clauses().loc["pre.1", "text_ja"]
    'ご利用の電話番号は廃止 (※) されます。'
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame["normative"] = frame["normative"].str.lower().eq("true")
    return frame.set_index("clause_id", drop=False)


@lru_cache(maxsize=8)
def _cached(path: str, _mtime_ns: int = 0, _size: int = 0) -> pd.DataFrame:
    return read_clauses(path)


def clauses(path: Path | str = CLAUSES_CSV) -> pd.DataFrame:
    """Cached :func:`read_clauses` (returns a copy, so callers cannot change the cache)."""
    stat = Path(path).stat()  # keyed by modification time and size: a proposal's file may be rewritten
    return _cached(str(path), stat.st_mtime_ns, stat.st_size).copy()


def page_text(path: Path | str = PAGE_TXT) -> str:
    """The support page as shipped (UTF-8)."""
    return Path(path).read_text(encoding="utf-8")


def cited_hash(texts: list[str] | tuple[str, ...]) -> str:
    """A short hash (12 hex digits) of the cited clause texts, in citation order, compared up to NFKC and
    whitespace (so re-spacing the page stales nothing). A rule's ``cited_hash`` column records it for the text a
    person reviewed; when the page changes under the rule, the hash no longer matches.

    >>> cited_hash(["ご利用の電話番号は廃止 (※) されます。"]) == cited_hash(["ご利用の電話番号は廃止(※)されます。"])
    True
    >>> len(cited_hash(["a", "b"]))
    12
    """
    digest = hashlib.sha256("\n".join(text_key(t) for t in texts).encode("utf-8"))
    return digest.hexdigest()[:12]


def book_sources(folder: Path | str) -> tuple[Path, Path]:
    """The catalogue and the clause table a rule book folder reads: its own ``devices.csv`` and ``clauses.csv``
    when it carries them (a proposal made by ``source update``), else the shipped ones.

    >>> from sonet_policy.paths import RULES_DIR
    >>> book_sources(RULES_DIR) == (DEVICES_CSV, CLAUSES_CSV)
    True
    """
    folder = Path(folder)
    own_devices, own_clauses = folder / DEVICES_CSV.name, folder / CLAUSES_CSV.name
    return (
        own_devices if own_devices.is_file() else DEVICES_CSV,
        own_clauses if own_clauses.is_file() else CLAUSES_CSV,
    )


def text_key(text: str) -> str:
    """The comparison key of a clause text: NFKC, whitespace dropped except one space between ASCII words.

    >>> text_key("So-net 光 電話") == text_key("So-net光電話") == text_key("Ｓｏ－ｎｅｔ　光　電話")
    True
    >>> text_key("PR-400NE  PR-A300NE")
    'PR-400NE PR-A300NE'
    """
    norm = unicodedata.normalize("NFKC", str(text)).strip()
    norm = _ASCII_WORD.sub("\0", norm)
    return re.sub(r"\s+", "", norm).replace("\0", " ")
