"""What-ifs: changed *copies* of a rule book, never edits of it (the baseline is only read).

:func:`set_cell` sets one cell; :func:`adopt_rows` replaces one group of rows by another's (the named what-ifs
of ``data/what_ifs.csv``: :func:`build_what_if`, :func:`west_adopts_east`). Compare the copy with
:func:`sonet_policy.analysis.diff.diff`.

>>> import tempfile
>>> from sonet_policy.book.load import load_rulebook
>>> book = load_rulebook(set_cell(RULES_DIR, tempfile.mkdtemp() + "/p", "wifi.csv", "WIFI-3", "wifi", "stops"))
>>> [r.answer for r in book.rules["wifi"] if r.rule_id == "WIFI-3"]
['stops']
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sonet_policy.analysis.proposals import copy_rulebook, read_table, write_table
from sonet_policy.paths import DATA_DIR, RULES_DIR


def set_cell(src: Path | str, dst: Path | str, file: str, rule_id: str, column: str, value: str) -> Path:
    """Copy the rule book ``src`` to the new folder ``dst`` and set one cell of ``file`` there.

    ``rule_id`` names the row (``constraint_id`` in constraints.csv, the first column's value in the metadata
    files). The source folder is only read. Returns ``dst``. Raises KeyError for an unknown row or column,
    FileExistsError when ``dst`` is not empty, ValueError when ``dst`` lies in the baseline folder. The copy is
    not validated here: :func:`sonet_policy.analysis.proposals.validate_proposal` or ``load_rulebook`` does that.
    See the module example.
    """
    dst = copy_rulebook(src, dst)
    table = read_table(dst / file)
    if column not in table.columns:
        raise KeyError(f"{file} has no column {column!r}")
    key = table.columns[0]
    hit = table[key] == rule_id
    if not hit.any():
        raise KeyError(f"{file} has no row {rule_id!r} in column {key}")
    table.loc[hit, column] = value
    write_table(dst / file, table)
    return dst


WHAT_IFS_CSV = DATA_DIR / "what_ifs.csv"


def what_ifs(path: Path | str = WHAT_IFS_CSV) -> pd.DataFrame:
    """The named what-ifs (``data/what_ifs.csv``): what_if, label, table, column, source, target, id_suffix,
    note. Each replaces the rows of ``table`` whose ``column`` is ``target`` by copies of the rows whose
    ``column`` is ``source`` (see :func:`adopt_rows`)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def adopt_rows(
    dst: Path | str,
    *,
    table: str,
    column: str,
    source: str,
    target: str,
    id_suffix: str,
    note: str = "",
    src: Path | str = RULES_DIR,
) -> Path:
    """A what-if: in ``table``, the rows whose ``column`` is ``target`` are replaced by copies of the rows whose
    ``column`` is ``source`` (set to ``target``; rule ids and their ``exception_of`` suffixed ``id_suffix``;
    ``note`` put before each note). The copy is written to ``dst`` (a new folder); ``src`` is only read.
    Returns ``dst``."""
    dst = copy_rulebook(src, dst)
    frame = read_table(dst / f"{table}.csv")
    rows = frame[frame[column] == source].copy()
    rename = {rid: f"{rid}{id_suffix}" for rid in rows["rule_id"]}
    rows["rule_id"] = rows["rule_id"].map(rename)
    rows[column] = target
    rows["exception_of"] = rows["exception_of"].map(
        lambda cell: "|".join(rename.get(p.strip(), p.strip()) for p in cell.split("|") if p.strip())
    )
    if note:
        rows["note"] = f"{note} " + rows["note"]
    out = pd.concat([frame[frame[column] != target], rows], ignore_index=True)
    write_table(dst / f"{table}.csv", out)
    return dst


def build_what_if(name: str, dst: Path | str, *, src: Path | str = RULES_DIR) -> Path:
    """Write the named what-if of ``data/what_ifs.csv`` into the new folder ``dst``. Raises KeyError for an
    unknown name."""
    table = what_ifs()
    hit = table[table["what_if"] == name]
    if hit.empty:
        raise KeyError(f"unknown what-if {name!r}; choose one of {', '.join(table['what_if'])}")
    rec = hit.iloc[0]
    return adopt_rows(
        dst,
        table=rec["table"],
        column=rec["column"],
        source=rec["source"],
        target=rec["target"],
        id_suffix=rec["id_suffix"],
        note=rec["note"],
        src=src,
    )


def west_adopts_east(dst: Path | str, *, src: Path | str = RULES_DIR) -> Path:
    """The what-if ``west_adopts_east`` of ``data/what_ifs.csv`` (West's device_action rows replaced by East's,
    ids suffixed ``-W``), written to ``dst`` (a new folder); ``src`` is only read. Returns ``dst``.

    >>> import tempfile
    >>> from sonet_policy.book.load import load_rulebook
    >>> book = load_rulebook(west_adopts_east(tempfile.mkdtemp() + "/w"))
    >>> [r.rule_id for r in book.rules["device_action"] if "west" in r.conditions["area"].values]
    ['DEV-E-1-W', 'DEV-E-1X-W', 'DEV-E-2-W', 'DEV-E-3-W', 'DEV-E-4-W', 'DEV-E-4X-W']
    """
    return build_what_if("west_adopts_east", dst, src=src)
