"""Load and validate a rule book: the decision tables of ``data/rules/`` and their metadata.

A rule book folder holds:

* ``decisions.csv``: one row per decision: its hit policy, its inputs and outputs (``|``-separated);
* ``inputs.csv``: each input's type and domain (``catalogue`` for the device: ``data/devices.csv``);
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
import re
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .conditions import _VALUE as _PLAIN_VALUE
from .conditions import Condition, parse_cell
from .devices import catalogue as load_catalogue
from .devices import nearest
from .errors import ConditionError, RuleBookError
from .paths import RULES_DIR
from .source import book_sources
from .source import clauses as load_clauses

_DECISION_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
HIT_POLICIES = ("UNIQUE", "ANY", "FIRST", "PRIORITY", "COLLECT")
INPUT_TYPES = ("category", "boolean", "integer")
META_FILES = ("decisions.csv", "inputs.csv", "codes.csv")
RESERVED_CODES = ("uncovered", "conflict", "invalid")
RULE_COLUMNS_FIXED = ("rule_id", "exception_of", "source", "note", "cited_hash")
CONSTRAINT_COLUMNS_FIXED = ("constraint_id", "field", "message", "source", "cited_hash")
_REQUIRED = {
    "decisions.csv": ["decision", "hit_policy", "inputs", "outputs"],
    "inputs.csv": ["input", "type", "domain", "required"],
    "codes.csv": ["decision", "code", "role", "label_ja", "label_en"],
}


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


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    domain: tuple[str, ...]
    required: bool
    minimum: float = 0
    label_ja: str = ""
    description: str = ""


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
    """A validated rule book. ``rules[decision]`` lists parsed rules in table order."""

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
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(self.devices["model"])

    @cached_property
    def rule_index(self) -> dict[str, Rule]:
        return {r.rule_id: r for rules in self.rules.values() for r in rules}

    def code_info(self, decision: str, code: str) -> dict[str, str]:
        """Labels of one code (Japanese, English, next step); empty strings where the book has none."""
        table = self._cache.get("code_info")
        if table is None:  # one dict per book: explain asks for labels on every call
            c = self.codes
            nxt = c["next_step_en"] if "next_step_en" in c else [""] * len(c)
            nxt_ja = c["next_step_ja"] if "next_step_ja" in c else [""] * len(c)  # optional column
            table = {
                (d, k): {"code": k, "label_ja": ja, "label_en": en, "next_step_en": nx, "next_step_ja": nj}
                for d, k, ja, en, nx, nj in zip(
                    c["decision"], c["code"], c["label_ja"], c["label_en"], nxt, nxt_ja, strict=True
                )
            }
            self._cache["code_info"] = table
        found = table.get((decision, code))
        empty = {"code": code, "label_ja": "", "label_en": "", "next_step_en": "", "next_step_ja": ""}
        return dict(found) if found else empty

    def priority(self, decision: str) -> list[str]:
        """The decision's answer codes in the order ``codes.csv`` lists them (PRIORITY: first wins)."""
        rows = self.codes[(self.codes["decision"] == decision) & (self.codes["role"] == "answer")]
        return list(rows["code"])

    def compiled(self):
        """The compiled form (cached on the book): see :mod:`sonet_policy.engine`."""
        if "compiled" not in self._cache:
            from .engine import compile_rulebook

            self._cache["compiled"] = compile_rulebook(self)
        return self._cache["compiled"]


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
    try:
        with warnings.catch_warnings():  # a row longer than the header: an error, never a silent index or cut
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=True, index_col=False
            )
    except FileNotFoundError:
        problems.add(path.name, 0, "", "", problem="file is missing")
        return None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.add(path.name, 0, "", "", problem=f"cannot read as CSV: {str(exc).strip()}")
        return None
    except pd.errors.ParserWarning:
        problems.add(path.name, 0, "", "", problem="a row has more fields than the header")
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda s: s.str.strip())


def _split(cell: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(cell).split("|") if p.strip())


def content_hash(folder: Path, devices_path: Path, clauses_path: Path) -> str:
    """SHA-256 (first 16 hex digits) of every CSV of the rule book plus the catalogue and the clauses."""
    digest = hashlib.sha256()
    own = [p for p in sorted(folder.glob("*.csv")) if p.is_file() and p.resolve().is_relative_to(folder.resolve())]
    for path in own + [devices_path, clauses_path]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _parse_conditions(
    rec: pd.Series,
    names: tuple[str, ...],
    inputs: dict[str, InputSpec],
    models: tuple[str, ...],
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
            if name == "device" and spec.domain == ("catalogue",):
                cond = parse_cell(cell, name, "category")
                for value in sorted(cond.values):
                    if value not in models:
                        near = ", ".join(nearest(value, models)) or "none"
                        problems.add(
                            file, row, name, value, problem=f"device {value!r} is not in the catalogue; nearest: {near}"
                        )
            else:
                cond = parse_cell(cell, name, spec.type, spec.domain if spec.type != "integer" else None)
                if spec.type == "integer":
                    for _lo, hi in cond.intervals:
                        if hi <= spec.minimum:
                            raise ConditionError(f"{cell!r} lies below the domain (>= {int(spec.minimum)})")
            conds[name] = cond
        except ConditionError as exc:
            problems.add(file, row, name, cell, problem=str(exc))
    return conds


def load_rulebook(
    folder: Path | str = RULES_DIR,
    *,
    devices_path: Path | str | None = None,
    clauses_path: Path | str | None = None,
) -> RuleBook:
    """Load, validate and return the rule book in ``folder`` (default: the shipped ``data/rules``).

    Raises :class:`RuleBookError` listing every problem (missing column, unknown code, malformed condition,
    cited clause that does not exist, duplicate rule id, unknown exception target, exception cycle, …).
    The catalogue and the clauses are the folder's own ``devices.csv`` and ``clauses.csv`` when it carries them
    (a proposal made by ``source update``), else the shipped ones; ``devices_path``/``clauses_path`` override.

    >>> book = load_rulebook()
    >>> sorted(book.decisions)
    ['device_action', 'ipv4', 'number', 'procedure', 'wifi']
    """
    folder = Path(folder).resolve()
    own_devices, own_clauses = book_sources(folder)
    devices_path, clauses_path = Path(devices_path or own_devices), Path(clauses_path or own_clauses)
    problems = _Problems()
    if not folder.is_dir():
        raise RuleBookError([dict(file=str(folder), row=0, column="", value="", problem="not a folder")])
    meta = {name: _read(folder / name, problems, root=folder) for name in META_FILES}
    for name, frame in meta.items():
        if frame is None:
            continue
        missing = [c for c in _REQUIRED[name] if c not in frame.columns]
        for c in missing:
            problems.add(name, 0, c, "", problem="required column is missing")
        if missing:
            meta[name] = None
    absent = [p for p in (clauses_path, devices_path) if not p.is_file()]
    if absent:  # everything below needs the clauses and the catalogue
        missing_files = [dict(file=str(p), row=0, column="", value="", problem="file is missing") for p in absent]
        raise RuleBookError(problems + missing_files, folder=str(folder))
    clause_table = load_clauses(clauses_path)
    devices = load_catalogue(devices_path)
    models = tuple(devices["model"])
    clause_ids = set(clause_table["clause_id"])

    inputs: dict[str, InputSpec] = {}
    if meta["inputs.csv"] is not None:
        for i, rec in meta["inputs.csv"].iterrows():
            row = int(i) + 2
            if rec["type"] not in INPUT_TYPES:
                problems.add(
                    "inputs.csv", row, "type", rec["type"], problem=f"type must be one of {', '.join(INPUT_TYPES)}"
                )
                continue
            minimum = 0.0
            if rec["type"] == "integer":
                domain: tuple[str, ...] = ()
                if rec["domain"].startswith(">="):
                    try:
                        minimum = float(int(rec["domain"][2:]))
                    except ValueError:
                        problems.add("inputs.csv", row, "domain", rec["domain"], problem="integer domain must read >=N")
            elif rec["type"] == "boolean":
                domain = ("false", "true")
            else:
                domain = _split(rec["domain"])
            inputs[rec["input"]] = InputSpec(
                rec["input"],
                rec["type"],
                domain,
                rec["required"].lower() == "true",
                minimum,
                rec.get("label_ja", ""),
                rec.get("description", ""),
            )

    _check_meta(meta, problems)
    decisions: dict[str, DecisionSpec] = {}
    if meta["decisions.csv"] is not None:
        for i, rec in meta["decisions.csv"].iterrows():
            row = int(i) + 2
            ok = True
            if not _DECISION_NAME.match(rec["decision"]):
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
            for name in _split(rec["inputs"]):
                if name not in inputs:
                    problems.add("decisions.csv", row, "inputs", name, problem="input is not declared in inputs.csv")
                    ok = False
            outputs = _split(rec["outputs"])
            if not outputs or outputs[0] != rec["decision"]:
                problems.add(
                    "decisions.csv",
                    row,
                    "outputs",
                    rec["outputs"],
                    problem="the first output must be the decision itself",
                )
                ok = False
            if rec["decision"] in decisions:
                problems.add("decisions.csv", row, "decision", rec["decision"], problem="decision is declared twice")
                ok = False
            if ok:
                decisions[rec["decision"]] = DecisionSpec(
                    rec["decision"],
                    rec["hit_policy"].upper(),
                    _split(rec["inputs"]),
                    outputs,
                    rec.get("question_en", ""),
                    rec.get("question_ja", ""),
                )

    codes = meta["codes.csv"] if meta["codes.csv"] is not None else pd.DataFrame(columns=_REQUIRED["codes.csv"])
    for i, rec in codes.iterrows():
        row = int(i) + 2
        if rec["role"] not in ("answer", "alternative"):
            problems.add("codes.csv", row, "role", rec["role"], problem="role must be answer or alternative")
        if rec["code"] in RESERVED_CODES:
            problems.add("codes.csv", row, "code", rec["code"], problem="this code is reserved for findings")
        if decisions and rec["decision"] not in decisions:
            problems.add("codes.csv", row, "decision", rec["decision"], problem="unknown decision")
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
            conds = _parse_conditions(rec, spec.inputs, inputs, models, file, row, problems)
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

    constraints: list[Constraint] = []
    cpath = folder / "constraints.csv"
    if cpath.exists():
        frame = _read(cpath, problems, root=folder)
        if frame is not None:
            missing = [c for c in ("constraint_id", "message", "source") if c not in frame.columns]
            for c in missing:
                problems.add("constraints.csv", 0, c, "", problem="required column is missing")
            if not missing:
                _check_constraints(frame, inputs, problems)
                names = tuple(n for n in inputs if n in frame.columns)
                for i, rec in frame.iterrows():
                    row = int(i) + 2
                    conds = _parse_conditions(rec, names, inputs, models, "constraints.csv", row, problems)
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
                        Constraint(
                            rec["constraint_id"],
                            row,
                            conds,
                            rec.get("field", ""),
                            rec["message"],
                            _split(rec["source"]),
                        )
                    )
    if problems:
        raise RuleBookError(problems, folder=str(folder))
    return RuleBook(
        folder=folder,
        decisions=decisions,
        inputs=inputs,
        codes=codes,
        tables=tables,
        rules=rules,
        constraints=constraints,
        clauses=clause_table,
        devices=devices,
        hash=content_hash(folder, devices_path, clauses_path),
    )


# How the engine reads each input: (type, domain for the device; "" otherwise).
ENGINE_TYPES = {
    "area": ("category", ""),
    "plan": ("category", ""),
    "device": ("category", "catalogue"),
    "setup": ("category", ""),
    "keep_number": ("boolean", ""),
    "days_since_phone_stop": ("integer", ""),
}


def _check_meta(meta: dict[str, pd.DataFrame | None], problems: _Problems) -> None:
    """Checks of inputs.csv, decisions.csv and codes.csv that do not depend on other files."""
    from .engine import INPUT_ORDER

    frame = meta["inputs.csv"]
    if frame is not None:
        seen: set[str] = set()
        for i, rec in frame.iterrows():
            row, name = int(i) + 2, rec["input"]
            if name in seen:
                problems.add("inputs.csv", row, "input", name, problem="input is declared twice")
            seen.add(name)
            if name not in INPUT_ORDER:
                problems.add(
                    "inputs.csv",
                    row,
                    "input",
                    name,
                    problem=f"unknown input; the engine reads {', '.join(INPUT_ORDER)}",
                )
            if rec["required"].lower() not in ("true", "false"):
                problems.add("inputs.csv", row, "required", rec["required"], problem="required must be true or false")
            if rec["type"] == "category" and rec["domain"] != "catalogue":
                for value in rec["domain"].split("|"):
                    if not _PLAIN_VALUE.match(value.strip()):
                        problems.add(
                            "inputs.csv", row, "domain", value, problem="a domain value is letters, digits, '_' and '-'"
                        )
            if rec["type"] == "integer" and not rec["domain"].startswith(">="):
                problems.add("inputs.csv", row, "domain", rec["domain"], problem="integer domain must read >=N")
            expected = ENGINE_TYPES.get(name)
            if expected and (rec["type"], rec["domain"] if name == "device" else "") != expected:
                problems.add(
                    "inputs.csv",
                    row,
                    "type",
                    rec["type"],
                    problem=f"the engine reads {name} as {' with domain '.join(filter(None, expected))}",
                )
        for name in INPUT_ORDER:
            if name not in seen:
                problems.add("inputs.csv", 0, "input", name, problem="an input the engine reads is not declared")
    frame = meta["decisions.csv"]
    if frame is not None and frame.empty:
        problems.add("decisions.csv", 0, "decision", "", problem="no decision is declared")
    frame = meta["codes.csv"]
    if frame is not None:
        twice = frame.duplicated(["decision", "code"], keep="first")
        for i in frame.index[twice]:
            rec = frame.loc[i]
            problems.add(
                "codes.csv", int(i) + 2, "code", rec["code"], problem=f"code is listed twice for {rec['decision']}"
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
