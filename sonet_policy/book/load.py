"""Load and validate a rule book: the decision tables of ``data/rules/`` and their metadata.

A rule book folder holds ``decisions.csv``, ``inputs.csv`` (:mod:`sonet_policy.book.inputs`), ``codes.csv``,
one ``<decision>.csv`` per decision and, optional, ``constraints.csv`` (:mod:`sonet_policy.book.tables`);
``invariants.csv`` and ``encoding_choices.csv`` are read later, by those who need them. The rules cite the
clauses of ``data/source/clauses.csv``; a catalogue input names its CSV.

Validation reports every problem at once in one :class:`~sonet_policy.errors.RuleBookError` (file, row,
column, value, problem). Every file is read as text and parsed by our own grammar: a cell is data and never runs.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pandas as pd

from sonet_policy.book.csvfile import Problems, read_table
from sonet_policy.book.inputs import INPUTS_REQUIRED, Catalogues, parse_inputs
from sonet_policy.book.model import RuleBook
from sonet_policy.book.tables import (
    CODES_REQUIRED,
    DECISIONS_REQUIRED,
    parse_codes,
    parse_constraints,
    parse_decisions,
    parse_rules,
)
from sonet_policy.errors import RuleBookError
from sonet_policy.paths import RULES_DIR
from sonet_policy.source.clauses import book_sources
from sonet_policy.source.clauses import clauses as load_clauses

META_FILES = ("decisions.csv", "inputs.csv", "codes.csv")
#: Optional files of the folder read after loading (cross-decision invariants, recorded readings): in the hash.
READ_LATER = ("invariants.csv", "encoding_choices.csv", "message_texts.csv", "message_clauses.csv", "citations.csv")
_REQUIRED = {
    "decisions.csv": DECISIONS_REQUIRED,
    "inputs.csv": INPUTS_REQUIRED,
    "codes.csv": CODES_REQUIRED,
}


def content_hash(files: list[Path]) -> str:
    """SHA-256 (first 16 hex digits) of the files a rule book is read from (its tables, catalogues and
    clauses; a file the book does not read does not change the hash)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _source_files(clauses_path: Path, problems: Problems) -> pd.DataFrame | None:
    """The clauses the rules cite (None, with a problem, when the file is missing)."""
    if not clauses_path.is_file():
        problems.add(str(clauses_path), 0, "", "", problem="file is missing")
        return None
    return load_clauses(clauses_path)


def _read_meta(folder: Path, problems: Problems) -> dict[str, pd.DataFrame | None]:
    """decisions.csv, inputs.csv and codes.csv, each None where unreadable or short of a required column."""
    meta = {name: read_table(folder / name, problems, root=folder) for name in META_FILES}
    for name, frame in meta.items():
        if frame is None:
            continue
        missing = [c for c in _REQUIRED[name] if c not in frame.columns]
        for c in missing:
            problems.add(name, 0, c, "", problem="required column is missing")
        if missing:
            meta[name] = None
    return meta


def load_rulebook(
    folder: Path | str = RULES_DIR,
    *,
    devices_path: Path | str | None = None,
    clauses_path: Path | str | None = None,
) -> RuleBook:
    """Load, validate and return the rule book in ``folder`` (default: the shipped ``data/rules``).

    ``devices_path``, when given, replaces the CSV a catalogue input names (``inputs.csv`` domain, looked up
    in ``folder`` and then in ``data/``). Raises :class:`RuleBookError` listing every problem (missing
    column, unknown code, malformed condition, cited clause that does not exist, duplicate rule id, unknown
    exception target, exception cycle, …). The catalogue and the clauses are the folder's own ``devices.csv``
    and ``clauses.csv`` when it carries them (a proposal made by ``source update``), else the shipped ones;
    ``devices_path``/``clauses_path`` override.

    >>> book = load_rulebook()
    >>> sorted(book.decisions)
    ['device_action', 'ipv4', 'number', 'procedure', 'wifi']
    """
    folder = Path(folder).resolve()
    clauses_path = Path(clauses_path or book_sources(folder)[1])
    catalogues = Catalogues(folder, Path(devices_path) if devices_path is not None else None)
    problems = Problems()
    if not folder.is_dir():
        raise RuleBookError([dict(file=str(folder), row=0, column="", value="", problem="not a folder")])
    meta = _read_meta(folder, problems)
    clause_table = _source_files(clauses_path, problems)
    inputs = parse_inputs(meta["inputs.csv"], catalogues, problems)
    if clause_table is None or catalogues.failed():
        raise RuleBookError(problems, folder=str(folder))  # everything below needs the clauses and catalogues
    clause_ids = set(clause_table["clause_id"])
    decisions = parse_decisions(meta["decisions.csv"], inputs, problems)
    codes = parse_codes(meta["codes.csv"], decisions, problems)
    rule_tables, rules = parse_rules(folder, decisions, inputs, codes, clause_ids, problems)
    constraints, constraint_files = parse_constraints(folder, inputs, clause_ids, problems)
    if problems:
        raise RuleBookError(problems, folder=str(folder))
    read = [folder / n for n in META_FILES] + [folder / f"{d}.csv" for d in decisions] + constraint_files
    read += [folder / n for n in READ_LATER if (folder / n).is_file()]  # the audit and explain read them too
    return RuleBook(
        folder=folder,
        decisions=decisions,
        inputs=inputs,
        codes=codes,
        tables=rule_tables,
        rules=rules,
        constraints=constraints,
        clauses=clause_table,
        devices=next(iter(catalogues.tables.values()), pd.DataFrame()),
        hash=content_hash(sorted(read) + catalogues.files + [clauses_path]),
        catalogues=catalogues.tables,  # type: ignore[arg-type]  # none is None past the check above
    )


@functools.cache
def default_rulebook() -> RuleBook:
    """The shipped rule book, loaded once per process.

    >>> default_rulebook() is default_rulebook()
    True
    """
    return load_rulebook()
