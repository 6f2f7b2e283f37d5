"""The NTT device catalogue and label normalisation.

The catalogue (``data/devices.csv``) is derived from the page's device tables by :func:`build_catalogue`
(``python -m sonet_policy build-devices`` rewrites it); a test checks the shipped file equals a fresh build.
Which clauses are device rows, and which value of which input each table holds for, is data:
``data/source/section_scope.csv`` (:func:`device_tables`); the catalogue has one true/false column per value
and one ``<value>_clause`` column naming the row. Labels are matched as a person types them: case, full-width
characters, missing or odd hyphens and stray (ideographic) spaces do not matter.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sonet_policy.paths import DEVICES_CSV, SOURCE_DIR
from sonet_policy.source.clauses import clauses as load_clauses

_TOKEN = re.compile(r"^([A-Z]+-[A-Z]?\d+)([A-Z]+(?:/[A-Z]+)*)$")
_FOOTNOTE = re.compile(r"^※\d*$")
SECTION_SCOPE_CSV = SOURCE_DIR / "section_scope.csv"
MODEL_COLUMNS = ["model", "key", "family", "series"]


@dataclass(frozen=True)
class DeviceTable:
    """One device table of the page, as ``section_scope.csv`` declares it: its ``section``, the ``value`` of the
    scoping input it holds for, and ``rows``, the pattern its row clause ids match in full (None: no rows)."""

    section: str
    value: str
    rows: re.Pattern | None


def device_tables(path: Path | str = SECTION_SCOPE_CSV) -> tuple[str, list[DeviceTable]]:
    """The scoping input (the ``input`` of ``applies_to`` = ``input=value``) and every section scoped to one value,
    in file order, with the pattern of its row ids (column ``device_rows``, a regular expression; empty: none).
    Raises ValueError naming the row when a pattern does not compile.

    >>> name, tables = device_tables()
    >>> name, [t.value for t in tables], tables[1].rows.fullmatch("dev.w.r2") is not None
    ('area', ['east', 'west'], True)
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names, tables = [], []
    for row, rec in enumerate(frame.to_dict(orient="records"), start=2):
        name, _, value = str(rec["applies_to"]).partition("=")
        if not (name.strip() and value.strip() and "|" not in value):
            continue
        pattern = str(rec.get("device_rows", "")).strip()
        try:
            rows = re.compile(pattern) if pattern else None
        except re.error as exc:
            raise ValueError(f"{path}: row {row}, column device_rows: {pattern!r} is not a pattern ({exc})") from None
        names.append(name.strip())
        tables.append(DeviceTable(str(rec["section"]).strip(), value.strip(), rows))
    return (names[0] if names else "scope"), tables


def catalogue_columns(path: Path | str = SECTION_SCOPE_CSV) -> list[str]:
    """The catalogue's columns: the model's, then one true/false column per table value, then the row of each.

    >>> catalogue_columns()[4:]
    ['east', 'west', 'east_clause', 'west_clause']
    """
    values = list(dict.fromkeys(t.value for t in device_tables(path)[1]))
    return [*MODEL_COLUMNS, *values, *(f"{v}_clause" for v in values)]


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


def build_catalogue(
    clause_table: pd.DataFrame | None = None, *, section_scope: Path | str = SECTION_SCOPE_CSV
) -> pd.DataFrame:
    """Build the catalogue from the device rows of the page's clause table (default: the shipped one): the
    clauses whose id a table of ``section_scope`` declares as its row (:func:`device_tables`), their first cell
    expanded (:func:`expand_notation`). Returns one row per model, columns :func:`catalogue_columns`; raises
    ValueError for a row whose first cell is not in the notation.

    >>> row = build_catalogue().set_index("model").loc["RS-500KI"]
    >>> bool(row["east"]), bool(row["west"]), row["east_clause"]
    (True, False, 'dev.e.r1')
    """
    table = load_clauses() if clause_table is None else clause_table
    tables = device_tables(section_scope)[1]
    values = list(dict.fromkeys(t.value for t in tables))
    empty = {**dict.fromkeys(values, False), **{f"{v}_clause": "" for v in values}}
    rows: dict[str, dict] = {}
    for cid, text in zip(table["clause_id"], table["text_ja"], strict=True):
        value = device_row_area(cid, tables=tables)
        if value is None:
            continue
        for model in expand_notation(text.split("|")[0]):
            row = rows.setdefault(model, {"model": model, **empty})
            row[value] = True
            row[f"{value}_clause"] = cid
    frame = pd.DataFrame(list(rows.values()), columns=["model", *empty])
    frame["key"] = normalise_labels(frame["model"]).astype(object)
    frame["family"] = frame["model"].str.split("-").str[0]
    frame["series"] = frame["model"].str.extract(r"^([A-Z]+-[A-Z]?\d+)", expand=False)
    return frame[[*MODEL_COLUMNS, *values, *(f"{v}_clause" for v in values)]]


def device_row_area(clause_id: str, *, tables: list[DeviceTable] | None = None) -> str | None:
    """The value (the area) of the device table whose rows include ``clause_id`` (None: not a device row), by the
    row patterns of ``tables`` (default: :func:`device_tables` of the shipped ``section_scope.csv``).

    >>> device_row_area("dev.w.r2"), device_row_area("dev.w.n1a")
    ('west', None)
    """
    for t in device_tables()[1] if tables is None else tables:
        if t.rows is not None and t.rows.fullmatch(clause_id):
            return t.value
    return None


def read_catalogue(path: Path | str = DEVICES_CSV) -> pd.DataFrame:
    """Read ``data/devices.csv`` (the true/false column of each table value parsed)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for value in dict.fromkeys(t.value for t in device_tables()[1]):
        if value in frame.columns:
            frame[value] = frame[value].str.lower().eq("true")
    return frame


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
