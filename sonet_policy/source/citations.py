"""Tables of the book, beside the rule tables, whose rows quote the page: stamped and checked like rules.

The rules, constraints and invariants cite clauses in ``source`` and record in ``cited_hash`` the text a person
reviewed (:mod:`sonet_policy.source.revision`). Other tables quote the page too: the codes' Japanese labels and
next steps, the readings of ``encoding_choices.csv``, the message's templates. Which tables, and how a row is
named and cites, is data: ``citations.csv`` in the rule book folder (the shipped one when the folder has none),
one row per table with ``table`` (the file), ``id_columns`` (``|``-separated; a row's id is their values joined
with ``/``), ``source_column`` (the clause ids it quotes) and a ``note``. A table the folder lacks, or without its
columns, is skipped. Nothing here imports the rule book: the callers pass the folder and the clause texts.

>>> from sonet_policy.paths import RULES_DIR
>>> "codes.csv" in [t.table for t in citing_tables(RULES_DIR)]
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sonet_policy.paths import RULES_DIR
from sonet_policy.source.clauses import cited_hash

FILE = "citations.csv"


@dataclass(frozen=True)
class CitingTable:
    """One row of ``citations.csv``: a table whose rows quote clauses."""

    table: str
    id_columns: tuple[str, ...]
    source_column: str


@dataclass(frozen=True)
class TextCitation:
    """One row of a citing table: its id, table, row (the header is row 1), cited clauses and recorded hash."""

    row_id: str
    table: str
    row: int
    source: tuple[str, ...]
    recorded: str


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def citing_tables(folder: Path | str) -> list[CitingTable]:
    """The tables ``citations.csv`` of ``folder`` names (the shipped list when the folder has none)."""
    path = Path(folder) / FILE
    if not path.is_file():
        path = RULES_DIR / FILE
    if not path.is_file():
        return []
    frame = _read(path)
    return [
        CitingTable(t, tuple(c for c in ids.split("|") if c), src)
        for t, ids, src in zip(frame["table"], frame["id_columns"], frame["source_column"], strict=True)
    ]


def _usable(frame: pd.DataFrame, spec: CitingTable) -> bool:
    return all(c in frame.columns for c in (*spec.id_columns, spec.source_column))


def _row_ids(frame: pd.DataFrame, spec: CitingTable) -> list[str]:
    parts = [frame[c].astype(str) for c in spec.id_columns]
    return ["/".join(values) for values in zip(*parts, strict=True)]


def _cited(cell: object) -> tuple[str, ...]:
    return tuple(c.strip() for c in str(cell).split("|") if c.strip())


def text_citations(folder: Path | str) -> list[TextCitation]:
    """Every row of the citing tables of ``folder`` that cites at least one clause.

    >>> rows = {c.row_id: c for c in text_citations(RULES_DIR)}
    >>> rows["ipv4/reapply_v6plus"].table, "net.ov6.5" in rows["ipv4/reapply_v6plus"].source
    ('codes.csv', True)
    """
    folder = Path(folder)
    out = []
    for spec in citing_tables(folder):
        path = folder / spec.table
        frame = _read(path) if path.is_file() else None
        if frame is None or not _usable(frame, spec):
            continue
        recorded = frame["cited_hash"] if "cited_hash" in frame.columns else [""] * len(frame)
        rows = zip(_row_ids(frame, spec), frame[spec.source_column], recorded, strict=True)
        for k, (rid, cell, done) in enumerate(rows):
            source = _cited(cell)
            if source:
                out.append(TextCitation(rid, spec.table, k + 2, source, str(done).strip()))
    return out


def stale_text_citations(
    folder: Path | str, texts: Mapping[str, str], previous: Mapping[str, str], *, order: int = 0
) -> list[dict]:
    """Audit findings of kind ``stale_citation`` for the rows of the citing tables whose ``cited_hash`` no longer
    matches the clause ``texts`` (``previous``: the texts a page revision replaced, for the message). A row with
    no hash is not checked. ``order`` numbers the findings after the caller's own.

    >>> from sonet_policy.source.clauses import read_clauses
    >>> texts = dict(read_clauses()["text_ja"])
    >>> stale_text_citations(RULES_DIR, texts, {})
    []
    """
    out = []
    for k, c in enumerate(text_citations(folder)):
        if not c.recorded or c.recorded == cited_hash([texts.get(cid, "") for cid in c.source]):
            continue
        changed = [cid for cid in c.source if cid in previous] or list(c.source)
        said = "; ".join(
            f"{cid}: 「{previous.get(cid, '(not recorded)')}」 → 「{texts.get(cid, '') or '(removed from the page)'}」"
            for cid in changed
        )
        message = (
            f"Row {c.row_id} of {c.table} (row {c.row}) quotes other text than the page now says (cited_hash "
            f"{c.recorded}): {said}. Re-read it, edit it if needed, then: "
            f"python -m sonet_policy source review {c.row_id} --proposal <name>."
        )
        out.append(
            dict(
                kind="stale_citation",
                decision="",
                scope={},
                rules=[c.row_id],
                clauses=changed,
                message=message,
                witness=None,
                invariant="",
                _cells=None,
                _order=(order + k, -1),
            )
        )
    return out


def stamp_texts(
    folder: Path | str,
    texts: Mapping[str, str],
    *,
    write: Callable[[Path, pd.DataFrame], object],
    ids: list[str] | None = None,
    missing_only: bool = True,
) -> list[str]:
    """Record in each citing row's ``cited_hash`` the hash of the clause ``texts`` it cites (``ids``: only those
    rows; ``missing_only``: only rows with no hash yet); ``write(path, frame)`` writes a changed table (the
    caller's guarded writer). Returns the ids stamped."""
    folder = Path(folder)
    done: list[str] = []
    for spec in citing_tables(folder):
        path = folder / spec.table
        frame = _read(path) if path.is_file() else None
        if frame is None or not _usable(frame, spec):
            continue
        if "cited_hash" not in frame.columns:
            frame["cited_hash"] = ""
        changed = False
        for k, (rid, cell) in enumerate(zip(_row_ids(frame, spec), frame[spec.source_column], strict=True)):
            source = _cited(cell)
            if not source or (ids is not None and rid not in ids) or (missing_only and frame.at[k, "cited_hash"]):
                continue
            value = cited_hash([texts.get(cid, "") for cid in source])
            if value != frame.at[k, "cited_hash"]:
                frame.at[k, "cited_hash"] = value
                changed = True
            done.append(rid)
        if changed:
            write(path, frame)
    return done
