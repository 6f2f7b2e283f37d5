"""Load and validate a rule book: the decision tables of ``data/rules/`` and their metadata.

A rule book folder holds:

* ``decisions.csv``: one row per decision: its hit policy, its inputs and outputs (``|``-separated);
* ``inputs.csv``: each input's declaration: type (``category``, ``catalogue`` naming its CSV, ``boolean``,
  ``integer``), domain, required, what an empty cell means, labels, value and header aliases, display order;
* ``codes.csv``: the codes each decision may answer (role ``answer``) or offer (role ``alternative``);
* one ``<decision>.csv`` per decision: ``rule_id``, one column per input (a condition cell), the outputs,
  ``exception_of`` (rule ids this rule overrides, where the page states the exception), ``source`` (clause
  ids) and ``note``;
* ``constraints.csv`` (optional): input combinations the page rules out; a scenario in one is invalid.

Validation reports every problem at once in one :class:`RuleBookError` (file, row, column, value, problem).
Every file is read as text and parsed by our own grammar: a cell is data and never runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sonet_policy.book.cache import BookCache, Slot
from sonet_policy.book.conditions import _VALUE as _PLAIN_VALUE
from sonet_policy.book.conditions import INF, Condition, parse_cell
from sonet_policy.errors import ConditionError, RuleBookError
from sonet_policy.paths import DATA_DIR, RULES_DIR
from sonet_policy.source.catalogue import nearest
from sonet_policy.source.clauses import book_sources
from sonet_policy.source.clauses import clauses as load_clauses
from sonet_policy.text import header_key, value_key

_DECISION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # rule and constraint ids (one token in the rules column)
_INTEGER_DOMAIN = re.compile(r">=\s*(-?\d{1,15})")
HIT_POLICIES = ("UNIQUE", "ANY", "FIRST", "PRIORITY", "COLLECT")
INPUT_TYPES = ("category", "catalogue", "boolean", "integer")
META_FILES = ("decisions.csv", "inputs.csv", "codes.csv")
#: Optional files of the folder read after loading (cross-decision invariants, recorded readings): in the hash.
READ_LATER = ("invariants.csv", "encoding_choices.csv", "message_texts.csv", "message_clauses.csv", "citations.csv")
RESERVED_CODES = ("uncovered", "conflict", "invalid")
RULE_COLUMNS_FIXED = ("rule_id", "exception_of", "keeps", "source", "note", "cited_hash")
CONSTRAINT_COLUMNS_FIXED = ("constraint_id", "field", "message", "source", "cited_hash")
INPUT_COLUMNS = (
    "input",
    "type",
    "domain",
    "required",
    "empty",
    "label_ja",
    "label_en",
    "question_ja",
    "value_aliases",
    "header_aliases",
    "order",
    "description",
)
#: The words a boolean input reads as true / false when inputs.csv adds none (after NFKC and lower case).
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "はい"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "いいえ"})
_REQUIRED = {
    "decisions.csv": ["decision", "hit_policy", "inputs", "outputs"],
    "inputs.csv": ["input", "type", "domain", "required"],
    "codes.csv": ["decision", "code", "role", "label_ja", "label_en"],
}


_HEADER_LOOKUP: Slot[dict[str, str]] = Slot("header_lookup")
_CODE_INFO: Slot[dict[tuple[str, str], dict[str, str]]] = Slot("code_info")
COMPILED: Slot[Any] = Slot("compiled")  # the CompiledBook of sonet_policy.book.compile


class _Problems(list):
    """The problems found while loading, one dict each (file, row, column, value, problem)."""

    def add(self, file: str, row: int, column: str, value: object, *, problem: str) -> None:
        self.append(dict(file=file, row=row, column=column, value=value, problem=problem))


@dataclass(frozen=True)
class Rule:
    """One parsed row of a decision table."""

    rule_id: str
    decision: str
    row: int
    conditions: dict[str, Condition]
    outputs: tuple[tuple[str, str], ...]
    exception_of: tuple[str, ...]
    source: tuple[str, ...]
    note: str = ""

    @property
    def answer(self) -> str:
        """The primary output: the decision's code."""
        return self.outputs[0][1]

    def output(self, name: str) -> str:
        return dict(self.outputs).get(name, "")


@dataclass(frozen=True)
class Constraint:
    """An input combination the page rules out."""

    constraint_id: str
    row: int
    conditions: dict[str, Condition]
    field: str
    message: str
    source: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class InputSpec:
    """One declared input (a row of ``inputs.csv``).

    ``type``: ``category`` (``domain`` lists the values), ``catalogue`` (the values are the first column of the
    CSV ``catalogue`` names; labels are matched by their letters and digits), ``boolean`` (``domain`` is
    false, true) or ``integer`` (whole numbers from ``minimum``; cut into intervals at the rules' bounds).
    ``empty``: what an empty cell means: ``error`` (a missing value), ``null`` (a value of its own, an integer
    input's ``null`` cells) or one value of the domain. ``aliases`` maps a typed spelling (see
    :func:`sonet_policy.text.value_key`) to its value; ``headers`` are other column names of the input.
    """

    name: str
    type: str
    domain: tuple[str, ...]
    required: bool
    minimum: float = 0
    label_ja: str = ""
    description: str = ""
    label_en: str = ""
    empty: str = "error"
    aliases: dict[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    order: int = 0
    catalogue: str = ""

    @property
    def kind(self) -> str:
        """How the engine reads it: ``category`` (category and catalogue), ``boolean`` or ``integer``."""
        return "category" if self.type == "catalogue" else self.type


@dataclass(frozen=True)
class DecisionSpec:
    name: str
    hit_policy: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    question_en: str = ""
    question_ja: str = ""


@dataclass
class RuleBook:
    """A validated rule book. ``rules[decision]`` lists parsed rules in table order; ``inputs`` are in their
    declared display order (``inputs.csv`` column ``order``)."""

    folder: Path
    decisions: dict[str, DecisionSpec]
    inputs: dict[str, InputSpec]
    codes: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    rules: dict[str, list[Rule]]
    constraints: list[Constraint]
    clauses: pd.DataFrame
    devices: pd.DataFrame
    hash: str
    catalogues: dict[str, pd.DataFrame] = field(default_factory=dict)
    cache: BookCache = field(default_factory=BookCache, repr=False, compare=False)

    @property
    def models(self) -> tuple[str, ...]:
        """The values of the book's first catalogue input (empty when it has none)."""
        return tuple(self.devices.iloc[:, 0]) if len(self.devices.columns) else ()

    @property
    def input_order(self) -> tuple[str, ...]:
        """The input names in display order."""
        return tuple(self.inputs)

    @cached_property
    def rule_index(self) -> dict[str, Rule]:
        return {r.rule_id: r for rules in self.rules.values() for r in rules}

    def header_lookup(self) -> dict[str, str]:
        """Header key (:func:`sonet_policy.text.header_key`) -> input, for every name a column may carry: the
        input's own name, its labels and its ``header_aliases``."""
        return self.cache.get(_HEADER_LOOKUP, self._header_lookup)

    def _header_lookup(self) -> dict[str, str]:
        lookup = {}
        for name, spec in self.inputs.items():
            for alias in (*spec.headers, spec.label_en, spec.label_ja, name):
                if alias:
                    lookup[header_key(alias)] = name
        return lookup

    def code_info(self, decision: str, code: str) -> dict[str, str]:
        """Labels of one code (Japanese, English, next step); empty strings where the book has none."""
        found = self.cache.get(_CODE_INFO, self._code_info).get((decision, code))
        empty = {"code": code, "label_ja": "", "label_en": "", "next_step_en": "", "next_step_ja": ""}
        return dict(found) if found else empty

    def _code_info(self) -> dict[tuple[str, str], dict[str, str]]:
        """One dict per book: explain asks for labels on every call."""
        c = self.codes
        nxt = c["next_step_en"] if "next_step_en" in c else [""] * len(c)
        nxt_ja = c["next_step_ja"] if "next_step_ja" in c else [""] * len(c)  # optional column
        return {
            (d, k): {"code": k, "label_ja": ja, "label_en": en, "next_step_en": nx, "next_step_ja": nj}
            for d, k, ja, en, nx, nj in zip(
                c["decision"], c["code"], c["label_ja"], c["label_en"], nxt, nxt_ja, strict=True
            )
        }

    def priority(self, decision: str) -> list[str]:
        """The decision's answer codes in the order ``codes.csv`` lists them (PRIORITY: first wins)."""
        rows = self.codes[(self.codes["decision"] == decision) & (self.codes["role"] == "answer")]
        return list(rows["code"])

    def compiled(self):
        """The compiled form (cached on the book): see :mod:`sonet_policy.book.compile`."""
        from sonet_policy.book.compile import compile_rulebook

        return self.cache.get(COMPILED, lambda: compile_rulebook(self))


def _regular_file(path: Path, problems: _Problems, name: str) -> bool:
    """Whether ``path`` is a regular file (checked before opening: a FIFO would block, a folder fail)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        problems.add(name, 0, "", "", problem="file is missing")
        return False
    except OSError as exc:
        problems.add(name, 0, "", "", problem=f"cannot read as CSV: {exc.strerror or exc}")
        return False
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
        problems.add(name, 0, "", "", problem=f"is {what}, not a regular file; not read")
        return False
    return True


def _column_name(k: int) -> str:
    """The spreadsheet letter of column ``k`` (0-based): A, B, …, Z, AA."""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(65 + r) + out
    return out


def _read(path: Path, problems: _Problems, *, root: Path | None = None) -> pd.DataFrame | None:
    if root is not None and not path.resolve().is_relative_to(root):
        problems.add(
            path.name,
            0,
            "",
            str(path.resolve()),
            problem="file lies outside the rule book folder (a symlink or '..'); not read",
        )
        return None
    if not _regular_file(path, problems, path.name):
        return None
    try:
        with warnings.catch_warnings():  # a row longer than the header: an error, never a silent index or cut
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skip_blank_lines=True,
                index_col=False,
                header=None,
            )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        text = str(exc).strip()
        if re.search(r"Expected \d+ fields in line 2,", text):  # the first record is longer than the header
            problems.add(path.name, 0, "", "", problem="a row has more fields than the header")
        else:
            problems.add(path.name, 0, "", "", problem=f"cannot read as CSV: {text}")
        return None
    except pd.errors.ParserWarning:  # pragma: no cover - read without a header row, pandas errs instead
        return None
    header = [str(c).strip() for c in raw.iloc[0]] if len(raw) else []
    frame = raw.iloc[1:].reset_index(drop=True).apply(lambda s: s.str.strip())
    keep, bad = [], False
    for k, name in enumerate(header):
        if name == "":
            if frame.iloc[:, k].eq("").all():  # an empty column a spreadsheet saved: nothing in it, dropped
                continue
            problems.add(path.name, 1, f"column {_column_name(k)}", "", problem="the column has values but no header")
            bad = True
        elif name in header[:k]:
            problems.add(path.name, 1, name, name, problem=f"the header names {name!r} twice")
            bad = True
        keep.append(k)
    if bad:
        return None
    frame = frame.iloc[:, keep]
    frame.columns = [header[k] for k in keep]
    return frame


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(cell).split("|") if p.strip())


def content_hash(files: list[Path]) -> str:
    """SHA-256 (first 16 hex digits) of the files a rule book is read from (its tables, catalogues and
    clauses; a file the book does not read does not change the hash)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _parse_conditions(
    rec: pd.Series,
    names: tuple[str, ...],
    inputs: dict[str, InputSpec],
    file: str,
    row: int,
    problems: _Problems,
) -> dict[str, Condition]:
    conds: dict[str, Condition] = {}
    for name in names:
        spec = inputs.get(name)
        if spec is None or name not in rec.index:
            continue
        cell = rec[name]
        try:
            if spec.type == "catalogue":
                cond = parse_cell(cell, name, "category")
                for value in sorted(cond.values):
                    if value not in spec.domain:
                        near = ", ".join(nearest(value, spec.domain)) or "none"
                        problems.add(
                            file,
                            row,
                            name,
                            value,
                            problem=f"{name} {value!r} is not in the catalogue; nearest: {near}",
                        )
            else:
                cond = parse_cell(cell, name, spec.type, spec.domain if spec.type != "integer" else None)
                if spec.type == "integer":
                    for lo, hi in cond.intervals:  # an explicit bound below the minimum: [-5,40], >=-1, <0
                        if (lo != -INF and lo < spec.minimum) or hi <= spec.minimum:
                            raise ConditionError(f"{cell!r} lies below the domain (>= {int(spec.minimum)})")
                    if cond.include_null and spec.empty != "null":
                        raise ConditionError(f"{cell!r}: null is not a value of {name} (inputs.csv empty={spec.empty})")
            conds[name] = cond
        except ConditionError as exc:
            problems.add(file, row, name, cell, problem=str(exc))
    return conds


def _source_files(folder: Path, clauses_path: Path, problems: _Problems) -> pd.DataFrame | None:
    """The clauses the rules cite (None, with a problem, when the file is missing)."""
    if not clauses_path.is_file():
        problems.add(str(clauses_path), 0, "", "", problem="file is missing")
        return None
    return load_clauses(clauses_path)


def _read_meta(folder: Path, problems: _Problems) -> dict[str, pd.DataFrame | None]:
    """decisions.csv, inputs.csv and codes.csv, each None where unreadable or short of a required column."""
    meta = {name: _read(folder / name, problems, root=folder) for name in META_FILES}
    for name, frame in meta.items():
        if frame is None:
            continue
        missing = [c for c in _REQUIRED[name] if c not in frame.columns]
        for c in missing:
            problems.add(name, 0, c, "", problem="required column is missing")
        if missing:
            meta[name] = None
    return meta


def _parse_aliases(
    text: str, name: str, type_: str, domain: tuple[str, ...], row: int, problems: _Problems
) -> dict[str, str]:
    """``value: spelling|spelling; value: …`` -> {spelling key: value} (boolean inputs start from the
    default words of :data:`TRUE_WORDS` / :data:`FALSE_WORDS`)."""
    out: dict[str, str] = {}
    if type_ == "boolean":
        out.update({w: "true" for w in TRUE_WORDS} | {w: "false" for w in FALSE_WORDS})
    if not text.strip():
        return out
    if type_ == "integer":
        problems.add("inputs.csv", row, "value_aliases", text, problem="an integer input takes no value aliases")
        return out
    own: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        value, sep, spellings = part.partition(":")
        value = value.strip().lower() if type_ == "boolean" else value.strip()
        if not sep or value not in domain:
            problems.add(
                "inputs.csv",
                row,
                "value_aliases",
                part.strip(),
                problem=f"write 'value: spelling|spelling; …' with a value of {name}",
            )
            continue
        for spelling in _split(spellings):
            key = value_key(spelling)
            if own.get(key, value) != value:
                problems.add(
                    "inputs.csv", row, "value_aliases", spelling, problem=f"the spelling names two values of {name}"
                )
            own[key] = value
    out.update(own)
    return out


def _read_catalogue(path: Path) -> pd.DataFrame:
    """A catalogue CSV as text, with columns that hold only true/false read as booleans."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in frame.columns[1:]:
        low = frame[col].str.strip().str.lower()
        if len(frame) and low.isin(["true", "false"]).all():
            frame[col] = low.eq("true")
    return frame


def _catalogue(
    spec_domain: str, folder: Path, devices_path: Path | None, row: int, problems: _Problems
) -> tuple[Path | None, pd.DataFrame | None]:
    """The CSV a catalogue input names: ``devices_path`` when given, else the file of that name in the rule
    book folder, else in ``data/``."""
    if devices_path is not None:
        path = devices_path
    else:
        if not spec_domain or Path(spec_domain).name != spec_domain or not spec_domain.endswith(".csv"):
            problems.add("inputs.csv", row, "domain", spec_domain, problem="a catalogue names a CSV file (x.csv)")
            return None, None
        path = folder / spec_domain if (folder / spec_domain).exists() else DATA_DIR / spec_domain
    if not path.exists():
        problems.add(str(path), 0, "", "", problem="file is missing")
        return None, None
    if not _regular_file(path, problems, str(path)):
        return None, None
    try:
        frame = _read_catalogue(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.add(str(path), 0, "", "", problem=f"cannot read as CSV: {str(exc).strip()}")
        return None, None
    if frame.empty or not len(frame.columns):
        problems.add(str(path), 0, "", "", problem="the catalogue lists no value")
        return None, None
    return path, frame


def _parse_inputs(
    frame: pd.DataFrame | None, folder: Path, devices_path: Path | None, problems: _Problems
) -> tuple[dict[str, InputSpec], dict[str, pd.DataFrame], list[Path]]:
    """Every declared input (in display order), the catalogues they name, and the catalogue files read."""
    if frame is None:
        return {}, {}, []
    file = "inputs.csv"
    for c in frame.columns:
        if c not in INPUT_COLUMNS:
            problems.add(file, 0, c, "", problem=f"unknown column; inputs.csv has {', '.join(INPUT_COLUMNS)}")
    specs: list[tuple[int, int, InputSpec]] = []
    catalogues: dict[str, pd.DataFrame] = {}
    files: list[Path] = []
    seen: set[str] = set()
    for i, rec in frame.iterrows():
        row, name, type_ = int(i) + 2, rec["input"], rec["type"]
        ok = True
        if not _DECISION_NAME.fullmatch(name):
            problems.add(file, row, "input", name, problem="an input name is letters, digits and '_'")
            ok = False
        if name in seen:
            problems.add(file, row, "input", name, problem="input is declared twice")
            ok = False
        seen.add(name)
        if type_ not in INPUT_TYPES:
            problems.add(file, row, "type", type_, problem=f"type must be one of {', '.join(INPUT_TYPES)}")
            continue
        required = rec["required"].lower()
        if required not in ("true", "false"):
            problems.add(file, row, "required", rec["required"], problem="required must be true or false")
        minimum, domain, cat_name = 0.0, (), ""
        if type_ == "integer":
            m = _INTEGER_DOMAIN.fullmatch(rec["domain"])
            if m:
                minimum = float(int(m.group(1)))
            else:
                problems.add(file, row, "domain", rec["domain"], problem="integer domain must read >=N")
        elif type_ == "boolean":
            domain = ("false", "true")
            if rec["domain"] and set(_split(rec["domain"].lower())) != {"true", "false"}:
                problems.add(file, row, "domain", rec["domain"], problem="a boolean's domain is true|false")
        elif type_ == "category":
            domain = _split(rec["domain"])
            if not domain:
                problems.add(file, row, "domain", rec["domain"], problem="a category lists its values: a|b|c")
            for k, value in enumerate(domain):
                if not _PLAIN_VALUE.match(value):
                    problems.add(file, row, "domain", value, problem="a domain value is letters, digits, '_' and '-'")
                if value in domain[:k]:
                    problems.add(file, row, "domain", value, problem="the domain lists this value twice")
        else:
            cat_name = rec["domain"]
            path, table = _catalogue(cat_name, folder, devices_path, row, problems)
            if table is None:
                catalogues[name] = None  # type: ignore[assignment]  # marks a catalogue that failed
                continue
            domain = tuple(table.iloc[:, 0])
            catalogues[name] = table
            files.append(path)
        empty = (rec.get("empty", "") or ("error" if required == "true" else "null")).strip()
        empty = empty.lower() if type_ == "boolean" else empty
        if empty == "null" and type_ != "integer":
            problems.add(file, row, "empty", empty, problem="null is for integer inputs; write error or a value")
        elif empty not in ("error", "null") and empty not in domain:
            problems.add(file, row, "empty", empty, problem="empty must be error, null or a value of the domain")
        elif empty == "error" and required == "false":
            problems.add(file, row, "empty", empty, problem="an optional input says what empty means (null or a value)")
        order_text = rec.get("order", "") or str(row)
        if not re.fullmatch(r"-?\d{1,9}", order_text):
            problems.add(file, row, "order", order_text, problem="order is a whole number")
            order_text = str(row)
        aliases = _parse_aliases(rec.get("value_aliases", ""), name, type_, domain, row, problems)
        if ok:
            spec = InputSpec(
                name,
                type_,
                domain,
                required == "true",
                minimum,
                rec.get("label_ja", ""),
                rec.get("description", ""),
                rec.get("label_en", ""),
                empty,
                aliases,
                _split(rec.get("header_aliases", "")),
                int(order_text),
                cat_name,
            )
            specs.append((int(order_text), row, spec))
    specs.sort(key=lambda t: (t[0], t[1]))
    inputs = {spec.name: spec for _, _, spec in specs}
    owner: dict[str, str] = {}
    for spec in inputs.values():
        for alias in (*spec.headers, spec.label_en, spec.label_ja, spec.name):
            key = header_key(alias) if alias else ""
            if key and owner.setdefault(key, spec.name) != spec.name:
                problems.add(
                    file, 0, "header_aliases", alias, problem=f"names two inputs ({owner[key]} and {spec.name})"
                )
    return inputs, catalogues, files


def _parse_decisions(frame: pd.DataFrame | None, inputs: dict[str, InputSpec], problems: _Problems):
    decisions: dict[str, DecisionSpec] = {}
    if frame is None:
        return decisions
    if frame.empty:
        problems.add("decisions.csv", 0, "decision", "", problem="no decision is declared")
    for i, rec in frame.iterrows():
        row = int(i) + 2
        ok = True
        if not _DECISION_NAME.fullmatch(rec["decision"]):
            problems.add(
                "decisions.csv",
                row,
                "decision",
                rec["decision"],
                problem="a decision name is letters, digits and '_' (it names the file <decision>.csv)",
            )
            ok = False
        if rec["hit_policy"].upper() not in HIT_POLICIES:
            problems.add(
                "decisions.csv",
                row,
                "hit_policy",
                rec["hit_policy"],
                problem=f"hit policy must be one of {', '.join(HIT_POLICIES)}",
            )
            ok = False
        names = _split(rec["inputs"])
        for name in names:
            if name not in inputs:
                problems.add("decisions.csv", row, "inputs", name, problem="input is not declared in inputs.csv")
                ok = False
        if len(set(names)) != len(names):
            problems.add("decisions.csv", row, "inputs", rec["inputs"], problem="an input is listed twice")
            ok = False
        outputs = _split(rec["outputs"])
        if not outputs or outputs[0] != rec["decision"]:
            problems.add(
                "decisions.csv", row, "outputs", rec["outputs"], problem="the first output must be the decision itself"
            )
            ok = False
        if rec["decision"] in decisions:
            problems.add("decisions.csv", row, "decision", rec["decision"], problem="decision is declared twice")
            ok = False
        if ok:
            order = {n: k for k, n in enumerate(inputs)}  # the decision's inputs in display order
            decisions[rec["decision"]] = DecisionSpec(
                rec["decision"],
                rec["hit_policy"].upper(),
                tuple(sorted(names, key=order.__getitem__)),
                outputs,
                rec.get("question_en", ""),
                rec.get("question_ja", ""),
            )
    return decisions


def _parse_codes(frame: pd.DataFrame | None, decisions: dict[str, DecisionSpec], problems: _Problems):
    codes = frame if frame is not None else pd.DataFrame(columns=_REQUIRED["codes.csv"])
    twice = codes.duplicated(["decision", "code"], keep="first")
    for i in codes.index[twice]:
        rec = codes.loc[i]
        problems.add(
            "codes.csv", int(i) + 2, "code", rec["code"], problem=f"code is listed twice for {rec['decision']}"
        )
    for i, rec in codes.iterrows():
        row = int(i) + 2
        if rec["role"] not in ("answer", "alternative"):
            problems.add("codes.csv", row, "role", rec["role"], problem="role must be answer or alternative")
        if rec["code"] in RESERVED_CODES:
            problems.add("codes.csv", row, "code", rec["code"], problem="this code is reserved for findings")
        if decisions and rec["decision"] not in decisions:
            problems.add("codes.csv", row, "decision", rec["decision"], problem="unknown decision")
    return codes


def _check_id(file: str, row: int, column: str, value: str, problems: _Problems) -> None:
    if value and not _ROW_ID.fullmatch(value):
        problems.add(
            file,
            row,
            column,
            value,
            problem="an id is letters, digits, '_', '.' and '-' (starting with a letter or digit), no spaces",
        )


def _parse_rules(
    folder: Path,
    decisions: dict[str, DecisionSpec],
    inputs: dict[str, InputSpec],
    codes: pd.DataFrame,
    clause_ids: set[str],
    problems: _Problems,
) -> tuple[dict[str, pd.DataFrame], dict[str, list[Rule]]]:
    """Every decision table, parsed; exception targets and cycles checked."""
    answers = {d: set(codes.loc[(codes["decision"] == d) & (codes["role"] == "answer"), "code"]) for d in decisions}
    alternatives = {
        d: set(codes.loc[(codes["decision"] == d) & (codes["role"] == "alternative"), "code"]) for d in decisions
    }
    seen_ids: dict[str, str] = {}
    tables: dict[str, pd.DataFrame] = {}
    rules: dict[str, list[Rule]] = {}
    for name, spec in decisions.items():
        file = f"{name}.csv"
        frame = _read(folder / file, problems, root=folder)
        if frame is None:
            continue
        tables[name] = frame
        needed = ["rule_id", *spec.inputs, *spec.outputs, "source"]
        missing = [c for c in needed if c not in frame.columns]
        for c in missing:
            problems.add(file, 0, c, "", problem="required column is missing")
        allowed = set(needed) | set(RULE_COLUMNS_FIXED)
        for c in frame.columns:
            if c not in allowed:
                problems.add(file, 0, c, "", problem="unknown column (not an input or output of this decision)")
        if missing:
            continue
        parsed: list[Rule] = []
        for i, rec in frame.iterrows():
            row = int(i) + 2
            rid = rec["rule_id"]
            if not rid:
                problems.add(file, row, "rule_id", "", problem="rule_id is empty")
            elif rid in seen_ids:
                problems.add(file, row, "rule_id", rid, problem=f"duplicate rule id (also in {seen_ids[rid]})")
            else:
                seen_ids[rid] = file
            _check_id(file, row, "rule_id", rid, problems)
            conds = _parse_conditions(rec, spec.inputs, inputs, file, row, problems)
            outs = []
            for out in spec.outputs:
                value = rec[out]
                if out == name:
                    if value not in answers.get(name, set()):
                        problems.add(
                            file,
                            row,
                            out,
                            value,
                            problem=f"unknown code; {name} answers {'|'.join(sorted(answers.get(name, set())))}",
                        )
                else:
                    for part in _split(value):
                        if part not in alternatives.get(name, set()) | answers.get(name, set()):
                            problems.add(file, row, out, part, problem=f"unknown code for {name}.{out}")
                outs.append((out, value))
            source = _split(rec["source"])
            if not source:
                problems.add(file, row, "source", "", problem="every rule cites at least one clause")
            for cid in source:
                if cid not in clause_ids:
                    problems.add(
                        file, row, "source", cid, problem="cited clause does not exist in data/source/clauses.csv"
                    )
            _check_hash(rec, file, row, problems)
            parsed.append(
                Rule(
                    rid, name, row, conds, tuple(outs), _split(rec.get("exception_of", "")), source, rec.get("note", "")
                )
            )
        ids = {r.rule_id: r for r in parsed}
        for r in parsed:
            for target in r.exception_of:
                if target == r.rule_id:
                    problems.add(file, r.row, "exception_of", target, problem="a rule cannot be an exception of itself")
                elif target not in ids:
                    problems.add(
                        file,
                        r.row,
                        "exception_of",
                        target,
                        problem="exception_of names a rule that is not in this table",
                    )
        for r in _cycle(parsed):
            problems.add(file, r.row, "exception_of", "|".join(r.exception_of), problem="exceptions form a cycle")
        rules[name] = parsed
    return tables, rules


def _parse_constraints(
    folder: Path, inputs: dict[str, InputSpec], clause_ids: set[str], problems: _Problems
) -> tuple[list[Constraint], list[Path]]:
    """constraints.csv (optional), parsed; the file list for the hash."""
    constraints: list[Constraint] = []
    cpath = folder / "constraints.csv"
    if not cpath.exists() and not cpath.is_symlink():
        return constraints, []
    frame = _read(cpath, problems, root=folder)
    if frame is None:
        return constraints, []
    missing = [c for c in ("constraint_id", "message", "source") if c not in frame.columns]
    for c in missing:
        problems.add("constraints.csv", 0, c, "", problem="required column is missing")
    if missing:
        return constraints, [cpath]
    _check_constraints(frame, inputs, problems)
    names = tuple(n for n in inputs if n in frame.columns)
    for i, rec in frame.iterrows():
        row = int(i) + 2
        _check_id("constraints.csv", row, "constraint_id", rec["constraint_id"], problems)
        conds = _parse_conditions(rec, names, inputs, "constraints.csv", row, problems)
        for cid in _split(rec["source"]):
            if cid not in clause_ids:
                problems.add(
                    "constraints.csv",
                    row,
                    "source",
                    cid,
                    problem="cited clause does not exist in data/source/clauses.csv",
                )
        _check_hash(rec, "constraints.csv", row, problems)
        constraints.append(
            Constraint(rec["constraint_id"], row, conds, rec.get("field", ""), rec["message"], _split(rec["source"]))
        )
    return constraints, [cpath]


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
    devices = Path(devices_path) if devices_path is not None else None
    problems = _Problems()
    if not folder.is_dir():
        raise RuleBookError([dict(file=str(folder), row=0, column="", value="", problem="not a folder")])
    meta = _read_meta(folder, problems)
    clause_table = _source_files(folder, clauses_path, problems)
    inputs, catalogues, catalogue_files = _parse_inputs(meta["inputs.csv"], folder, devices, problems)
    if clause_table is None or any(table is None for table in catalogues.values()):
        raise RuleBookError(problems, folder=str(folder))  # everything below needs the clauses and catalogues
    clause_ids = set(clause_table["clause_id"])
    decisions = _parse_decisions(meta["decisions.csv"], inputs, problems)
    codes = _parse_codes(meta["codes.csv"], decisions, problems)
    tables, rules = _parse_rules(folder, decisions, inputs, codes, clause_ids, problems)
    constraints, constraint_files = _parse_constraints(folder, inputs, clause_ids, problems)
    if problems:
        raise RuleBookError(problems, folder=str(folder))
    read = [folder / n for n in META_FILES] + [folder / f"{d}.csv" for d in decisions] + constraint_files
    read += [folder / n for n in READ_LATER if (folder / n).is_file()]  # the audit and explain read them too
    first = next(iter(catalogues.values()), pd.DataFrame())
    return RuleBook(
        folder=folder,
        decisions=decisions,
        inputs=inputs,
        codes=codes,
        tables=tables,
        rules=rules,
        constraints=constraints,
        clauses=clause_table,
        devices=first,
        hash=content_hash(sorted(read) + catalogue_files + [clauses_path]),
        catalogues=catalogues,
    )


def _check_constraints(frame: pd.DataFrame, inputs: dict[str, InputSpec], problems: _Problems) -> None:
    """Every constraint has an id, cites a clause, and names the input its error message is about."""
    file = "constraints.csv"
    allowed = set(CONSTRAINT_COLUMNS_FIXED) | set(inputs)
    for c in frame.columns:
        if c not in allowed:
            problems.add(file, 0, c, "", problem="unknown column (not an input of inputs.csv)")
    seen: set[str] = set()
    for i, rec in frame.iterrows():
        row, cid = int(i) + 2, rec["constraint_id"]
        if not cid:
            problems.add(file, row, "constraint_id", "", problem="constraint_id is empty")
        elif cid in seen:
            problems.add(file, row, "constraint_id", cid, problem="duplicate constraint id")
        seen.add(cid)
        if rec.get("field", "") not in inputs:
            problems.add(
                file, row, "field", rec.get("field", ""), problem="field must name the input the message is about"
            )
        if not _split(rec["source"]):
            problems.add(file, row, "source", "", problem="every constraint cites at least one clause")


def _check_hash(rec: pd.Series, file: str, row: int, problems: _Problems) -> None:
    """``cited_hash`` (optional) is empty or 12 hex digits; whether it still matches the cited text is an audit
    finding (``stale_citation``), not a load error, so a book on a revised page loads and shows what is stale."""
    value = rec.get("cited_hash", "")
    if value and not re.fullmatch(r"[0-9a-f]{12}", value):
        problems.add(file, row, "cited_hash", value, problem="cited_hash is empty or 12 hex digits (source stamp)")


def _cycle(rules: list[Rule]) -> list[Rule]:
    """Rules that sit on a cycle of ``exception_of``."""
    graph = {r.rule_id: set(r.exception_of) for r in rules}
    on_cycle = []
    for r in rules:
        stack, seen = list(graph.get(r.rule_id, ())), set()
        while stack:
            node = stack.pop()
            if node == r.rule_id:
                on_cycle.append(r)
                break
            if node in seen:
                continue
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return on_cycle


_DEFAULT: dict[str, RuleBook] = {}


def default_rulebook() -> RuleBook:
    """The shipped rule book, loaded once per process."""
    if "book" not in _DEFAULT:
        _DEFAULT["book"] = load_rulebook()
    return _DEFAULT["book"]
