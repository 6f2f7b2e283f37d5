"""The NTT device catalogue and label normalisation.

The catalogue (``data/devices.csv``) is derived from the page's device tables by :func:`build_catalogue`
(``python -m sonet_policy build-devices`` rewrites it); a test checks the shipped file equals a fresh build.
Labels are matched as a person types them: case, full-width characters, missing or odd hyphens and stray
(ideographic) spaces do not matter.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import DEVICES_CSV
from .source import clauses as load_clauses

_TOKEN = re.compile(r"^([A-Z]+-[A-Z]?\d+)([A-Z]+(?:/[A-Z]+)*)$")
_FOOTNOTE = re.compile(r"^※\d*$")
DEVICE_COLUMNS = ["model", "key", "family", "series", "east", "west", "east_clause", "west_clause"]


def expand_notation(spec: str) -> list[str]:
    """Expand the page's compact notation into models; footnote marks (``※4``) are skipped.

    >>> expand_notation("PR-400NE/KI/MI RV-230NE/SE XG-100NE ※4")
    ['PR-400NE', 'PR-400KI', 'PR-400MI', 'RV-230NE', 'RV-230SE', 'XG-100NE']
    """
    models: list[str] = []
    for token in spec.split():
        if _FOOTNOTE.match(token):
            continue
        m = _TOKEN.match(token)
        if not m:
            raise ValueError(f"{token!r} is not in the page's device notation (like PR-400NE/KI/MI)")
        models.extend(m.group(1) + variant for variant in m.group(2).split("/"))
    return models


def label_key(label: str) -> str:
    """The matching key of one label: NFKC, upper case, letters and digits only (``ＰＲ－６００ｋｉ`` → ``PR600KI``)."""
    return normalise_labels(pd.Series([label], dtype=object)).iloc[0]


def normalise_labels(labels: pd.Series) -> pd.Series:
    """Vectorised :func:`label_key` over a Series (missing stays missing)."""
    text = labels.astype("string")
    return text.str.normalize("NFKC").str.upper().str.replace(r"[^0-9A-Z]", "", regex=True)


def build_catalogue(clause_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Build the catalogue from the device-table clauses (``dev.e.r*``, ``dev.w.r*``) of the page."""
    table = load_clauses() if clause_table is None else clause_table
    rows: dict[str, dict] = {}
    for cid, text in zip(table["clause_id"], table["text_ja"], strict=True):
        area = device_row_area(cid)
        if area is None:
            continue
        for model in expand_notation(text.split("|")[0]):
            row = rows.setdefault(
                model,
                {"model": model, "east": False, "west": False, "east_clause": "", "west_clause": ""},
            )
            row[area] = True
            row[f"{area}_clause"] = cid
    frame = pd.DataFrame(list(rows.values()), columns=["model", "east", "west", "east_clause", "west_clause"])
    frame["key"] = normalise_labels(frame["model"]).astype(object)
    frame["family"] = frame["model"].str.split("-").str[0]
    frame["series"] = frame["model"].str.extract(r"^([A-Z]+-[A-Z]?\d+)", expand=False)
    return frame[DEVICE_COLUMNS]


def device_row_area(clause_id: str) -> str | None:
    """The area whose device table holds the row ``clause_id`` (None: not a device-table row).

    >>> device_row_area("dev.w.r2"), device_row_area("dev.w.n1a")
    ('west', None)
    """
    m = re.match(r"^dev\.([ew])\.r\d+$", clause_id)
    return None if not m else ("east" if m.group(1) == "e" else "west")


def read_catalogue(path: Path | str = DEVICES_CSV) -> pd.DataFrame:
    """Read ``data/devices.csv`` (booleans parsed)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in ("east", "west"):
        frame[col] = frame[col].str.lower().eq("true")
    return frame


@lru_cache(maxsize=8)
def _catalogue(path: str, _mtime_ns: int = 0, _size: int = 0) -> pd.DataFrame:
    return read_catalogue(path)


def catalogue(path: Path | str = DEVICES_CSV) -> pd.DataFrame:
    """Cached :func:`read_catalogue` (a copy)."""
    stat = Path(path).stat()  # keyed by modification time and size: a proposal's file may be rewritten
    return _catalogue(str(path), stat.st_mtime_ns, stat.st_size).copy()


def nearest(label: str, models: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """The catalogue models closest to an unknown label (by its matching key)."""
    keys = {label_key(m): m for m in models}
    close = difflib.get_close_matches(label_key(label) or str(label), list(keys), n=n, cutoff=0.5)
    return [keys[k] for k in close]


def resolve(labels: pd.Series, models: list[str] | tuple[str, ...]) -> tuple[np.ndarray, pd.Series]:
    """Resolve labels to positions in ``models`` (-1 where unknown or missing).

    Works on the distinct labels only, so a million rows with forty models cost forty normalisations.
    Returns (positions, uniques) where uniques are the distinct raw labels.
    """
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    keys = normalise_labels(pd.Series(uniques, dtype=object))
    index = {label_key(m): i for i, m in enumerate(models)}
    pos_of_unique = np.array([index.get(k, -1) if isinstance(k, str) else -1 for k in keys], dtype=np.int64)
    out = np.full(len(codes), -1, dtype=np.int64)
    ok = codes >= 0
    out[ok] = pos_of_unique[codes[ok]]
    return out, pd.Series(uniques, dtype=object)
