"""The decision tables and what declares them: ``decisions.csv``, ``codes.csv``, one ``<decision>.csv`` per
decision and ``constraints.csv``.

* ``decisions.csv``: one row per decision: its hit policy, its inputs and outputs (``|``-separated);
* ``codes.csv``: the codes each decision may answer (role ``answer``) or offer (role ``alternative``);
* ``<decision>.csv``: ``rule_id``, one column per input (a condition cell), the outputs, ``exception_of``
  (rule ids this rule overrides, where the page states the exception), ``source`` (clause ids) and ``note``;
* ``constraints.csv`` (optional): input combinations the page rules out; a scenario in one is invalid.

Each parser lists its problems (file, row, column, value, problem) and goes on, so the loader reports all.

>>> from sonet_policy.book.model import Rule
>>> looped = [Rule("a", "d", 2, {}, (), ("b",), ()), Rule("b", "d", 3, {}, (), ("a",), ())]
>>> [r.rule_id for r in exception_cycle(looped)]
['a', 'b']
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sonet_policy.book.conditions import INF, Condition, parse_cell
from sonet_policy.book.csvfile import NAME, Problems, read_table, split_cell
from sonet_policy.book.model import Constraint, DecisionSpec, InputSpec, Rule
from sonet_policy.errors import ConditionError
from sonet_policy.source.catalogue import nearest

DECISIONS_REQUIRED = ("decision", "hit_policy", "inputs", "outputs")
CODES_REQUIRED = ("decision", "code", "role", "label_ja", "label_en")
HIT_POLICIES = ("UNIQUE", "ANY", "FIRST", "PRIORITY", "COLLECT")
RESERVED_CODES = ("uncovered", "conflict", "invalid")
RULE_COLUMNS_FIXED = ("rule_id", "exception_of", "keeps", "source", "note", "cited_hash")
CONSTRAINT_COLUMNS_FIXED = ("constraint_id", "field", "message", "source", "cited_hash")
_ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")  # rule and constraint ids (one token in the rules column)
_CONSTRAINTS = "constraints.csv"


def parse_conditions(
    rec: pd.Series,
    names: tuple[str, ...],
    inputs: dict[str, InputSpec],
    file: str,
    row: int,
    problems: Problems,
) -> dict[str, Condition]:
    """The condition cells of one row, parsed, for the inputs ``names`` that the row has a column for."""
    conds: dict[str, Condition] = {}
    for name in names:
        spec = inputs.get(name)
        if spec is None or name not in rec.index:
            continue
        cell = rec[name]
        try:
            conds[name] = _condition(cell, spec, file, row, problems)
        except ConditionError as exc:
            problems.add(file, row, name, cell, problem=str(exc))
    return conds


def _condition(cell: str, spec: InputSpec, file: str, row: int, problems: Problems) -> Condition:
    """One cell, parsed against its input's declaration (raises ConditionError; a model that is not in the
    catalogue is listed with the nearest ones)."""
    name = spec.name
    if spec.type == "catalogue":
        cond = parse_cell(cell, name, "category")
        for value in sorted(cond.values):
            if value not in spec.domain:
                near = ", ".join(nearest(value, spec.domain)) or "none"
                problems.add(
                    file, row, name, value, problem=f"{name} {value!r} is not in the catalogue; nearest: {near}"
                )
        return cond
    cond = parse_cell(cell, name, spec.type, spec.domain if spec.type != "integer" else None)
    if spec.type == "integer":
        for lo, hi in cond.intervals:  # an explicit bound below the minimum: [-5,40], >=-1, <0
            if (lo != -INF and lo < spec.minimum) or hi <= spec.minimum:
                raise ConditionError(f"{cell!r} lies below the domain (>= {int(spec.minimum)})")
        if cond.include_null and spec.empty != "null":
            raise ConditionError(f"{cell!r}: null is not a value of {name} (inputs.csv empty={spec.empty})")
    return cond


# ---------------------------------------------------------------- decisions.csv and codes.csv ----


def parse_decisions(
    frame: pd.DataFrame | None, inputs: dict[str, InputSpec], problems: Problems
) -> dict[str, DecisionSpec]:
    """Every declared decision; its inputs in display order."""
    decisions: dict[str, DecisionSpec] = {}
    if frame is None:
        return decisions
    if frame.empty:
        problems.add("decisions.csv", 0, "decision", "", problem="no decision is declared")
    order = {n: k for k, n in enumerate(inputs)}  # the decision's inputs in display order
    for i, rec in frame.iterrows():
        row = int(i) + 2
        names, outputs = split_cell(rec["inputs"]), split_cell(rec["outputs"])
        if _decision_ok(rec, row, names, outputs, inputs, decisions, problems):
            decisions[rec["decision"]] = DecisionSpec(
                rec["decision"],
                rec["hit_policy"].upper(),
                tuple(sorted(names, key=order.__getitem__)),
                outputs,
                rec.get("question_en", ""),
                rec.get("question_ja", ""),
            )
    return decisions


def _decision_ok(
    rec: pd.Series,
    row: int,
    names: tuple[str, ...],
    outputs: tuple[str, ...],
    inputs: dict[str, InputSpec],
    decisions: dict[str, DecisionSpec],
    problems: Problems,
) -> bool:
    """Whether one row of decisions.csv declares a decision (its problems listed)."""
    file, ok = "decisions.csv", True
    if not NAME.fullmatch(rec["decision"]):
        problems.add(
            file,
            row,
            "decision",
            rec["decision"],
            problem="a decision name is letters, digits and '_' (it names the file <decision>.csv)",
        )
        ok = False
    if rec["hit_policy"].upper() not in HIT_POLICIES:
        problems.add(
            file, row, "hit_policy", rec["hit_policy"], problem=f"hit policy must be one of {', '.join(HIT_POLICIES)}"
        )
        ok = False
    for name in names:
        if name not in inputs:
            problems.add(file, row, "inputs", name, problem="input is not declared in inputs.csv")
            ok = False
    if len(set(names)) != len(names):
        problems.add(file, row, "inputs", rec["inputs"], problem="an input is listed twice")
        ok = False
    if not outputs or outputs[0] != rec["decision"]:
        problems.add(file, row, "outputs", rec["outputs"], problem="the first output must be the decision itself")
        ok = False
    if rec["decision"] in decisions:
        problems.add(file, row, "decision", rec["decision"], problem="decision is declared twice")
        ok = False
    return ok


def parse_codes(frame: pd.DataFrame | None, decisions: dict[str, DecisionSpec], problems: Problems) -> pd.DataFrame:
    """codes.csv, checked (an empty table when it could not be read)."""
    codes = frame if frame is not None else pd.DataFrame(columns=list(CODES_REQUIRED))
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


# ---------------------------------------------------------------- the decision tables ----


def check_id(file: str, row: int, column: str, value: str, problems: Problems) -> None:
    if value and not _ROW_ID.fullmatch(value):
        problems.add(
            file,
            row,
            column,
            value,
            problem="an id is letters, digits, '_', '.' and '-' (starting with a letter or digit), no spaces",
        )


def check_hash(rec: pd.Series, file: str, row: int, problems: Problems) -> None:
    """``cited_hash`` (optional) is empty or 12 hex digits; whether it still matches the cited text is an audit
    finding (``stale_citation``), not a load error, so a book on a revised page loads and shows what is stale."""
    value = rec.get("cited_hash", "")
    if value and not re.fullmatch(r"[0-9a-f]{12}", value):
        problems.add(file, row, "cited_hash", value, problem="cited_hash is empty or 12 hex digits (source stamp)")


def _check_sources(source: tuple[str, ...], file: str, row: int, clause_ids: set[str], problems: Problems) -> None:
    for cid in source:
        if cid not in clause_ids:
            problems.add(file, row, "source", cid, problem="cited clause does not exist in data/source/clauses.csv")


class _TableContext:
    """What parsing a decision table reads besides the table: the declarations, each decision's codes by role
    and the rule ids seen so far."""

    def __init__(
        self,
        decisions: dict[str, DecisionSpec],
        inputs: dict[str, InputSpec],
        codes: pd.DataFrame,
        clause_ids: set[str],
        problems: Problems,
    ) -> None:
        self.inputs, self.clause_ids, self.problems = inputs, clause_ids, problems
        self.answers = {d: _codes_of(codes, d, "answer") for d in decisions}
        self.alternatives = {d: _codes_of(codes, d, "alternative") for d in decisions}
        self.seen_ids: dict[str, str] = {}  # rule id -> the file that has it


def _codes_of(codes: pd.DataFrame, decision: str, role: str) -> set[str]:
    return set(codes.loc[(codes["decision"] == decision) & (codes["role"] == role), "code"])


def parse_rules(
    folder: Path,
    decisions: dict[str, DecisionSpec],
    inputs: dict[str, InputSpec],
    codes: pd.DataFrame,
    clause_ids: set[str],
    problems: Problems,
) -> tuple[dict[str, pd.DataFrame], dict[str, list[Rule]]]:
    """Every decision table, parsed; exception targets and cycles checked."""
    context = _TableContext(decisions, inputs, codes, clause_ids, problems)
    tables: dict[str, pd.DataFrame] = {}
    rules: dict[str, list[Rule]] = {}
    for name, spec in decisions.items():
        frame = read_table(folder / f"{name}.csv", problems, root=folder)
        if frame is None:
            continue
        tables[name] = frame
        if not _table_columns_ok(frame, spec, problems):
            continue
        parsed = [_parse_rule(rec, int(i) + 2, spec, context) for i, rec in frame.iterrows()]
        _check_exceptions(parsed, f"{name}.csv", problems)
        rules[name] = parsed
    return tables, rules


def _table_columns_ok(frame: pd.DataFrame, spec: DecisionSpec, problems: Problems) -> bool:
    """The table has a column for every input and output of its decision, and no other (besides the fixed)."""
    file = f"{spec.name}.csv"
    needed = ["rule_id", *spec.inputs, *spec.outputs, "source"]
    missing = [c for c in needed if c not in frame.columns]
    for c in missing:
        problems.add(file, 0, c, "", problem="required column is missing")
    allowed = set(needed) | set(RULE_COLUMNS_FIXED)
    for c in frame.columns:
        if c not in allowed:
            problems.add(file, 0, c, "", problem="unknown column (not an input or output of this decision)")
    return not missing


def _parse_rule(rec: pd.Series, row: int, spec: DecisionSpec, context: _TableContext) -> Rule:
    """One row of a decision table (its problems listed in ``context``)."""
    name, problems = spec.name, context.problems
    file = f"{name}.csv"
    rid = rec["rule_id"]
    if not rid:
        problems.add(file, row, "rule_id", "", problem="rule_id is empty")
    elif rid in context.seen_ids:
        problems.add(file, row, "rule_id", rid, problem=f"duplicate rule id (also in {context.seen_ids[rid]})")
    else:
        context.seen_ids[rid] = file
    check_id(file, row, "rule_id", rid, problems)
    conds = parse_conditions(rec, spec.inputs, context.inputs, file, row, problems)
    outs = tuple((out, _output(rec[out], out, row, spec, context)) for out in spec.outputs)
    source = split_cell(rec["source"])
    if not source:
        problems.add(file, row, "source", "", problem="every rule cites at least one clause")
    _check_sources(source, file, row, context.clause_ids, problems)
    check_hash(rec, file, row, problems)
    return Rule(rid, name, row, conds, outs, split_cell(rec.get("exception_of", "")), source, rec.get("note", ""))


def _output(value: str, out: str, row: int, spec: DecisionSpec, context: _TableContext) -> str:
    """One output cell, checked against codes.csv: the decision's answer, or alternatives (``a|b``)."""
    name, problems = spec.name, context.problems
    file = f"{name}.csv"
    answers = context.answers[name]
    if out == name:
        if value not in answers:
            problems.add(file, row, out, value, problem=f"unknown code; {name} answers {'|'.join(sorted(answers))}")
    else:
        for part in split_cell(value):
            if part not in context.alternatives[name] | answers:
                problems.add(file, row, out, part, problem=f"unknown code for {name}.{out}")
    return value


def _check_exceptions(parsed: list[Rule], file: str, problems: Problems) -> None:
    """Every ``exception_of`` names another rule of the same table, and the exceptions form no cycle."""
    ids = {r.rule_id: r for r in parsed}
    for r in parsed:
        for target in r.exception_of:
            if target == r.rule_id:
                problems.add(file, r.row, "exception_of", target, problem="a rule cannot be an exception of itself")
            elif target not in ids:
                problems.add(
                    file, r.row, "exception_of", target, problem="exception_of names a rule that is not in this table"
                )
    for r in exception_cycle(parsed):
        problems.add(file, r.row, "exception_of", "|".join(r.exception_of), problem="exceptions form a cycle")


def exception_cycle(rules: list[Rule]) -> list[Rule]:
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


# ---------------------------------------------------------------- constraints.csv ----


def parse_constraints(
    folder: Path, inputs: dict[str, InputSpec], clause_ids: set[str], problems: Problems
) -> tuple[list[Constraint], list[Path]]:
    """constraints.csv (optional), parsed; the file list for the hash."""
    constraints: list[Constraint] = []
    cpath = folder / _CONSTRAINTS
    if not cpath.exists() and not cpath.is_symlink():
        return constraints, []
    frame = read_table(cpath, problems, root=folder)
    if frame is None:
        return constraints, []
    missing = [c for c in ("constraint_id", "message", "source") if c not in frame.columns]
    for c in missing:
        problems.add(_CONSTRAINTS, 0, c, "", problem="required column is missing")
    if missing:
        return constraints, [cpath]
    _check_constraints(frame, inputs, problems)
    names = tuple(n for n in inputs if n in frame.columns)
    for i, rec in frame.iterrows():
        row = int(i) + 2
        check_id(_CONSTRAINTS, row, "constraint_id", rec["constraint_id"], problems)
        conds = parse_conditions(rec, names, inputs, _CONSTRAINTS, row, problems)
        source = split_cell(rec["source"])
        _check_sources(source, _CONSTRAINTS, row, clause_ids, problems)
        check_hash(rec, _CONSTRAINTS, row, problems)
        constraints.append(Constraint(rec["constraint_id"], row, conds, rec.get("field", ""), rec["message"], source))
    return constraints, [cpath]


def _check_constraints(frame: pd.DataFrame, inputs: dict[str, InputSpec], problems: Problems) -> None:
    """Every constraint has an id, cites a clause, and names the input its error message is about."""
    file = _CONSTRAINTS
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
        if not split_cell(rec["source"]):
            problems.add(file, row, "source", "", problem="every constraint cites at least one clause")
