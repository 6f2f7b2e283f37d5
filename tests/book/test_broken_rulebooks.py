"""Broken rule books: every kind of defect the loader knows, each built in a temporary copy of ``data/rules``.

Each defect is data (:data:`DEFECTS`): the edits that break a copy of the shipped rule book and the problems
(file, row, column, message) the one :class:`RuleBookError` must list. A registry test reads the problem
messages that the loader's modules (``load``, ``csvfile``, ``inputs``, ``tables``, ``conditions``) can produce
(from their source, with ``ast``) and fails when a message has no broken-book case here, so a new check
cannot land untested.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy.book import conditions, csvfile, inputs, load, tables
from sonet_policy.book.load import load_rulebook
from sonet_policy.errors import RuleBookError
from sonet_policy.paths import RULES_DIR

# --- edits: small operations on a copy of data/rules ------------------------------------------------------
# ("set", file, line, column, value)   line as a spreadsheet shows it (header = 1)
# ("drop_column", file, column) / ("add_column", file, column, value) / ("rename_column", file, old, new)
# ("append", file, {column: value}) / ("drop_line", file, line) / ("delete", file) / ("write", file, bytes)
# ("symlink", file, target outside the folder)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def apply(folder: Path, edit: tuple) -> None:
    op, file = edit[0], folder / edit[1]
    if op == "delete":
        file.unlink()
        return
    if op == "mkdir":
        file.unlink()
        file.mkdir()
        return
    if op == "write":
        file.write_bytes(edit[2])
        return
    if op == "symlink":
        target = folder.parent / edit[2]
        target.write_bytes(file.read_bytes())
        file.unlink()
        file.symlink_to(target)
        return
    frame = _read(file)
    if op == "set":
        frame.loc[edit[2] - 2, edit[3]] = edit[4]
    elif op == "drop_column":
        frame = frame.drop(columns=[edit[2]])
    elif op == "add_column":
        frame[edit[2]] = edit[3]
    elif op == "rename_column":
        frame = frame.rename(columns={edit[2]: edit[3]})
    elif op == "append":
        frame = pd.concat([frame, pd.DataFrame([edit[2]], dtype=str)], ignore_index=True).fillna("")
    elif op == "drop_line":
        frame = frame.drop(index=edit[2] - 2).reset_index(drop=True)
    else:  # pragma: no cover - a typo in the table below
        raise ValueError(op)
    frame.to_csv(file, index=False, lineterminator="\n")


@dataclass(frozen=True)
class Defect:
    kind: str
    edits: tuple[tuple, ...]
    expect: tuple[tuple[str, int, str, str], ...]  # (file, row, column, regex on the problem)
    exact: bool = True  # the listed problems are all the problems


RULE = {
    "rule_id": "NUM-9",
    "keep_number": "false",
    "number": "abolished",
    "exception_of": "",
    "source": "pre.1",
    "note": "",
}
DEFECTS: list[Defect] = [
    # files
    Defect("missing decision table", (("delete", "wifi.csv"),), (("wifi.csv", 0, "", "^file is missing$"),)),
    Defect("missing metadata file", (("delete", "codes.csv"),), (("codes.csv", 0, "", "^file is missing$"),), False),
    Defect(
        "unreadable CSV (a row with too many fields)",
        (
            (
                "write",
                "number.csv",
                b"rule_id,keep_number,number,exception_of,source,note\nNUM-1,-,abolished,,pre.1,,x,y\n",
            ),
        ),
        (("number.csv", 0, "", "^a row has more fields than the header$"),),
    ),
    Defect(
        "unreadable CSV (a later row with too many fields)",
        (
            (
                "write",
                "number.csv",
                b"rule_id,keep_number,number,exception_of,source,note\nNUM-1,-,abolished,,pre.1,\nNUM-2,-,x,,,,y\n",
            ),
        ),
        (("number.csv", 0, "", "^cannot read as CSV: .*Expected 6 fields in line 3, saw 7"),),
    ),
    Defect(
        "unreadable CSV (not UTF-8)",
        (
            (
                "write",
                "number.csv",
                "rule_id,keep_number,number,exception_of,source,note\n番号,-,x,,,\n".encode("cp932"),
            ),
        ),
        (("number.csv", 0, "", "^cannot read as CSV: .*codec can't decode"),),
    ),
    Defect("empty CSV", (("write", "procedure.csv", b""),), (("procedure.csv", 0, "", "^cannot read as CSV: "),)),
    Defect(
        "decision table reached through a symlink outside the folder",
        (("symlink", "number.csv", "outside-number.csv"),),
        (("number.csv", 0, "", r"^file lies outside the rule book folder"),),
    ),
    # columns
    Defect(
        "missing column in a decision table",
        (("drop_column", "ipv4.csv", "source"),),
        (("ipv4.csv", 0, "source", "^required column is missing$"),),
    ),
    Defect(
        "missing column in a metadata file",
        (("drop_column", "decisions.csv", "hit_policy"),),
        (("decisions.csv", 0, "hit_policy", "^required column is missing$"),),
        False,
    ),
    Defect(
        "unknown column in a decision table",
        (("add_column", "number.csv", "colour", "red"),),
        (("number.csv", 0, "colour", r"^unknown column \(not an input or output of this decision\)$"),),
    ),
    # decisions.csv
    Defect(
        "bad hit policy",
        (("set", "decisions.csv", 3, "hit_policy", "SOMETIMES"),),
        (("decisions.csv", 3, "hit_policy", "^hit policy must be one of UNIQUE, ANY"),),
        False,  # the number decision is then unknown to codes.csv
    ),
    Defect(
        "unknown input in a decision",
        (("set", "decisions.csv", 2, "inputs", "keep_number|colour"),),
        (("decisions.csv", 2, "inputs", "^input is not declared in inputs.csv$"),),
        False,
    ),
    Defect(
        "first output is not the decision",
        (("set", "decisions.csv", 4, "outputs", "alternatives|ipv4"),),
        (("decisions.csv", 4, "outputs", "^the first output must be the decision itself$"),),
        False,
    ),
    Defect(
        "duplicate decision",
        (
            (
                "append",
                "decisions.csv",
                {"decision": "number", "hit_policy": "UNIQUE", "inputs": "keep_number", "outputs": "number"},
            ),
        ),
        (("decisions.csv", 7, "decision", "^decision is declared twice$"),),
    ),
    Defect(
        "decision name that is a path",
        (("set", "decisions.csv", 3, "decision", "../number"), ("set", "decisions.csv", 3, "outputs", "../number")),
        (("decisions.csv", 3, "decision", "^a decision name is letters, digits and '_'"),),
        False,
    ),
    Defect(
        "no decision at all",
        (("write", "decisions.csv", b"decision,hit_policy,inputs,outputs,question_en,question_ja\n"),),
        (("decisions.csv", 0, "decision", "^no decision is declared$"),),
    ),
    # inputs.csv
    Defect(
        "bad input type",
        (("set", "inputs.csv", 3, "type", "text"),),
        (("inputs.csv", 3, "type", "^type must be one of category, catalogue, boolean, integer$"),),
        False,
    ),
    Defect(
        "boolean input whose domain is not true|false",
        (("set", "inputs.csv", 6, "domain", "yes|no"),),
        (("inputs.csv", 6, "domain", r"^a boolean's domain is true\|false$"),),
    ),
    Defect(
        "category input without values",
        (("set", "inputs.csv", 2, "domain", ""),),
        (("inputs.csv", 2, "domain", r"^a category lists its values: a\|b\|c$"),),
        False,
    ),
    Defect(
        "duplicated domain value (it would grow the grid)",
        (("set", "inputs.csv", 2, "domain", "east|west|east"),),
        (("inputs.csv", 2, "domain", "^the domain lists this value twice$"),),
    ),
    Defect(
        "catalogue that names no CSV file",
        (("set", "inputs.csv", 4, "domain", "../devices.csv"),),
        (("inputs.csv", 4, "domain", r"^a catalogue names a CSV file \(x\.csv\)$"),),
        False,
    ),
    Defect(
        "empty catalogue",
        (("write", "devices.csv", b"model,series\n"),),
        (),
        False,
    ),
    Defect(
        "null for a category input",
        (("set", "inputs.csv", 2, "empty", "null"),),
        (("inputs.csv", 2, "empty", "^null is for integer inputs; write error or a value$"),),
    ),
    Defect(
        "empty that is no value of the domain",
        (("set", "inputs.csv", 2, "empty", "north"),),
        (("inputs.csv", 2, "empty", "^empty must be error, null or a value of the domain$"),),
    ),
    Defect(
        "optional input whose empty is an error",
        (("set", "inputs.csv", 7, "empty", "error"),),
        (("inputs.csv", 7, "empty", r"^an optional input says what empty means \(null or a value\)$"),),
        False,
    ),
    Defect(
        "null day condition where empty is not a value",
        (
            ("set", "inputs.csv", 7, "empty", "error"),
            ("set", "inputs.csv", 7, "required", "true"),
            ("set", "ipv4.csv", 7, "days_since_phone_stop", "null|>=32"),
        ),
        (("ipv4.csv", 7, "days_since_phone_stop", "null is not a value of days_since_phone_stop"),),
    ),
    Defect(
        "order that is not a whole number",
        (("set", "inputs.csv", 2, "order", "first"),),
        (("inputs.csv", 2, "order", "^order is a whole number$"),),
    ),
    Defect(
        "value aliases on an integer input",
        (("set", "inputs.csv", 7, "value_aliases", "0: zero"),),
        (("inputs.csv", 7, "value_aliases", "^an integer input takes no value aliases$"),),
    ),
    Defect(
        "value alias of no value",
        (("set", "inputs.csv", 2, "value_aliases", "north: n"),),
        (("inputs.csv", 2, "value_aliases", r"^write 'value: spelling\|spelling; …' with a value of area$"),),
    ),
    Defect(
        "value alias for two values",
        (("set", "inputs.csv", 2, "value_aliases", "east: x; west: x"),),
        (("inputs.csv", 2, "value_aliases", "^the spelling names two values of area$"),),
    ),
    Defect(
        "header alias of two inputs",
        (("set", "inputs.csv", 3, "header_aliases", "エリア"),),
        (("inputs.csv", 0, "header_aliases", r"^names two inputs \(area and plan\)$"),),
    ),
    Defect(
        "unknown column of inputs.csv",
        (("add_column", "inputs.csv", "colour", "red"),),
        (("inputs.csv", 0, "colour", "^unknown column; inputs.csv has input, type"),),
    ),
    Defect(
        "input name that is not a plain name",
        (
            (
                "append",
                "inputs.csv",
                {"input": "kit sent", "type": "boolean", "domain": "true|false", "required": "true"},
            ),
        ),
        (("inputs.csv", 8, "input", "^an input name is letters, digits and '_'$"),),
    ),
    Defect(
        "decision that lists an input twice",
        (("set", "decisions.csv", 2, "inputs", "keep_number|keep_number"),),
        (("decisions.csv", 2, "inputs", "^an input is listed twice$"),),
        False,
    ),
    Defect(
        "rule id with a space",
        (("set", "number.csv", 2, "rule_id", "NUM 1"),),
        (("number.csv", 2, "rule_id", r"^an id is letters, digits, '_', '\.' and '-'"),),
        False,
    ),
    Defect(
        "a column with values but no header",
        (
            (
                "write",
                "number.csv",
                b"rule_id,keep_number,number,exception_of,source,note,\nNUM-1,-,abolished,,pre.1,,x\n",
            ),
        ),
        (("number.csv", 1, "column G", "^the column has values but no header$"),),
    ),
    Defect(
        "a header named twice",
        (
            (
                "write",
                "number.csv",
                b"rule_id,keep_number,number,exception_of,source,note,note\nNUM-1,-,abolished,,pre.1,,\n",
            ),
        ),
        (("number.csv", 1, "note", "^the header names 'note' twice$"),),
    ),
    Defect(
        "a rule table that is a folder",
        (("mkdir", "number.csv"),),
        (("number.csv", 0, "", "^is a folder, not a regular file; not read$"),),
    ),
    Defect(
        "integer domain that is not >=N",
        (("set", "inputs.csv", 7, "domain", ">=zero"),),
        (("inputs.csv", 7, "domain", "^integer domain must read >=N$"),),
    ),
    Defect(
        "integer domain written another way",
        (("set", "inputs.csv", 7, "domain", "0.."),),
        (("inputs.csv", 7, "domain", "^integer domain must read >=N$"),),
    ),
    Defect(
        "category domain value that is not a plain value",
        (("set", "inputs.csv", 5, "domain", "wlan_1g|wlan router|v6plus_router|rental_only|"),),
        (
            ("inputs.csv", 5, "domain", "^a domain value is letters, digits, '_' and '-'$"),
            ("inputs.csv", 5, "domain", "^a domain value is letters, digits, '_' and '-'$"),
            ("ipv4.csv", 2, "setup", "^'wlan_router_10g' is not a value of setup"),  # and every other such cell
        ),
        False,
    ),
    Defect(
        "required flag that is not true/false",
        (("set", "inputs.csv", 3, "required", "maybe"),),
        (("inputs.csv", 3, "required", "^required must be true or false$"),),
    ),
    Defect(
        "input declared twice",
        (("append", "inputs.csv", {"input": "area", "type": "category", "domain": "east|west", "required": "true"}),),
        (("inputs.csv", 8, "input", "^input is declared twice$"),),
    ),
    Defect(
        "an input the decisions read is not declared",
        (("drop_line", "inputs.csv", 2),),
        (("decisions.csv", 5, "inputs", "^input is not declared in inputs.csv$"),),
        False,  # the tables and constraints that read area fail too
    ),
    # codes.csv
    Defect(
        "bad role",
        (("set", "codes.csv", 16, "role", "maybe"),),
        (("codes.csv", 16, "role", "^role must be answer or alternative$"), ("wifi.csv", 2, "alternatives", "")),
    ),
    Defect(
        "reserved code",
        (("append", "codes.csv", {"decision": "wifi", "code": "conflict", "role": "answer"}),),
        (("codes.csv", 23, "code", "^this code is reserved for findings$"),),
    ),
    Defect(
        "unknown decision in codes",
        (("set", "codes.csv", 2, "decision", "procedur"),),
        (("codes.csv", 2, "decision", "^unknown decision$"), ("procedure.csv", 2, "procedure", "^unknown code")),
    ),
    Defect(
        "code listed twice",
        (("append", "codes.csv", {"decision": "wifi", "code": "stops", "role": "answer"}),),
        (("codes.csv", 23, "code", "^code is listed twice for wifi$"),),
    ),
    # rules
    Defect(
        "empty rule_id",
        (("set", "number.csv", 3, "rule_id", ""),),
        (("number.csv", 3, "rule_id", "^rule_id is empty$"),),
    ),
    Defect(
        "duplicate rule_id (across tables)",
        (("set", "number.csv", 3, "rule_id", "PROC-1"), ("set", "number.csv", 3, "exception_of", "NUM-1")),
        (("number.csv", 3, "rule_id", r"^duplicate rule id \(also in procedure.csv\)$"),),
    ),
    Defect(
        "malformed condition (empty cell)",
        (("set", "wifi.csv", 3, "setup", ""),),
        (("wifi.csv", 3, "setup", "^empty condition; write '-' for any value$"),),
    ),
    Defect(
        "malformed condition (empty alternative)",
        (("set", "wifi.csv", 3, "setup", "wlan_1g||rental_only"),),
        (("wifi.csv", 3, "setup", "has an empty alternative between '\\|'$"),),
    ),
    Defect(
        "malformed condition (not a plain value)",
        (("set", "ipv4.csv", 2, "plan", "10g;drop"),),
        (("ipv4.csv", 2, "plan", r"is not a plain value \(letters, digits, '_' and '-' only\)$"),),
    ),
    Defect(
        "malformed day condition",
        (("set", "ipv4.csv", 7, "days_since_phone_stop", "about a month"),),
        (("ipv4.csv", 7, "days_since_phone_stop", "is not an integer condition; write a range like"),),
    ),
    Defect(
        "empty day range",
        (("set", "ipv4.csv", 7, "days_since_phone_stop", "[40,32]"),),
        (("ipv4.csv", 7, "days_since_phone_stop", r"^range '\[40,32\]' is empty$"),),
    ),
    Defect(
        "integer condition below the domain",
        (("set", "ipv4.csv", 7, "days_since_phone_stop", "<0"),),
        (("ipv4.csv", 7, "days_since_phone_stop", r"lies below the domain \(>= 0\)$"),),
    ),
    Defect(
        "integer condition reaching below the domain (>=-1)",
        (("set", "ipv4.csv", 7, "days_since_phone_stop", ">=-1"),),
        (("ipv4.csv", 7, "days_since_phone_stop", r"^'>=-1' lies below the domain \(>= 0\)$"),),
    ),
    Defect(
        "integer range starting below the domain ([-5,40])",
        (("set", "ipv4.csv", 7, "days_since_phone_stop", "[-5,40]"),),
        (("ipv4.csv", 7, "days_since_phone_stop", r"^'\[-5,40\]' lies below the domain \(>= 0\)$"),),
    ),
    Defect(
        "value outside the domain",
        (("set", "wifi.csv", 5, "area", "north"),),
        (("wifi.csv", 5, "area", r"^'north' is not a value of area \(east\|west\)$"),),
    ),
    Defect(
        "boolean value outside the domain",
        (("set", "number.csv", 3, "keep_number", "yes"),),
        (("number.csv", 3, "keep_number", r"^'yes' is not a value of keep_number \(false\|true\)$"),),
    ),
    Defect(
        "device not in the catalogue, with the nearest",
        (("set", "wifi.csv", 4, "device", "XG-100NF"),),
        (("wifi.csv", 4, "device", r"^device 'XG-100NF' is not in the catalogue; nearest: XG-100NE"),),
    ),
    Defect(
        "unknown code",
        (("set", "number.csv", 2, "number", "gone"),),
        (("number.csv", 2, "number", "^unknown code; number answers abolished\\|kept$"),),
    ),
    Defect(
        "unknown alternative code",
        (("set", "wifi.csv", 2, "alternatives", "sonet_v6plus_router|carrier_pigeon"),),
        (("wifi.csv", 2, "alternatives", r"^unknown code for wifi.alternatives$"),),
    ),
    Defect(
        "rule with no source",
        (("set", "procedure.csv", 2, "source", ""),),
        (("procedure.csv", 2, "source", "^every rule cites at least one clause$"),),
    ),
    Defect(
        "unknown clause",
        (("set", "procedure.csv", 3, "source", "proc.10|proc.999"),),
        (("procedure.csv", 3, "source", "^cited clause does not exist in data/source/clauses.csv$"),),
    ),
    Defect(
        "exception to an unknown rule",
        (("set", "number.csv", 3, "exception_of", "NUM-7"),),
        (("number.csv", 3, "exception_of", "^exception_of names a rule that is not in this table$"),),
    ),
    Defect(
        "self-exception",
        (("set", "number.csv", 3, "exception_of", "NUM-2"),),
        (
            ("number.csv", 3, "exception_of", "^a rule cannot be an exception of itself$"),
            ("number.csv", 3, "exception_of", "^exceptions form a cycle$"),
        ),
    ),
    Defect(
        "exception cycle",
        (("set", "number.csv", 2, "exception_of", "NUM-2"),),
        (
            ("number.csv", 2, "exception_of", "^exceptions form a cycle$"),
            ("number.csv", 3, "exception_of", "^exceptions form a cycle$"),
        ),
    ),
    # constraints.csv
    Defect(
        "constraints file missing a column",
        (("drop_column", "constraints.csv", "message"),),
        (("constraints.csv", 0, "message", "^required column is missing$"),),
    ),
    Defect(
        "constraints file unreadable",
        (("write", "constraints.csv", b"constraint_id,field\nA,b\nB,c,d\n"),),
        (("constraints.csv", 0, "", "^cannot read as CSV: "),),
    ),
    Defect(
        "constraint with an unknown column",
        (("add_column", "constraints.csv", "colour", "red"),),
        (("constraints.csv", 0, "colour", r"^unknown column \(not an input of inputs.csv\)$"),),
    ),
    Defect(
        "constraint with a malformed condition",
        (("set", "constraints.csv", 2, "plan", "sml|gold"),),
        (("constraints.csv", 2, "plan", "^'gold' is not a value of plan"),),
    ),
    Defect(
        "constraint citing an unknown clause",
        (("set", "constraints.csv", 2, "source", "net.10g.99"),),
        (("constraints.csv", 2, "source", "^cited clause does not exist"),),
    ),
    Defect(
        "constraint with no source",
        (("set", "constraints.csv", 2, "source", ""),),
        (("constraints.csv", 2, "source", "^every constraint cites at least one clause$"),),
    ),
    Defect(
        "constraint whose field is not an input",
        (("set", "constraints.csv", 2, "field", "options"),),
        (("constraints.csv", 2, "field", "^field must name the input the message is about$"),),
    ),
    Defect(
        "constraint with an empty id",
        (("set", "constraints.csv", 2, "constraint_id", ""),),
        (("constraints.csv", 2, "constraint_id", "^constraint_id is empty$"),),
    ),
    Defect(
        "duplicate constraint id",
        (
            (
                "append",
                "constraints.csv",
                {
                    "constraint_id": "X-10G-OPTION",
                    "area": "-",
                    "plan": "-",
                    "device": "-",
                    "setup": "-",
                    "keep_number": "-",
                    "days_since_phone_stop": "-",
                    "field": "setup",
                    "message": "again",
                    "source": "net.10g.0",
                },
            ),
        ),
        (("constraints.csv", 3, "constraint_id", "^duplicate constraint id$"),),
    ),
    Defect(
        "cited_hash that is not a stamp",
        (("add_column", "wifi.csv", "cited_hash", ""), ("set", "wifi.csv", 3, "cited_hash", "0123")),
        (("wifi.csv", 3, "cited_hash", r"^cited_hash is empty or 12 hex digits \(source stamp\)$"),),
    ),
    Defect(
        "constraint cited_hash that is not a stamp",
        (("add_column", "constraints.csv", "cited_hash", "XYZ"),),
        (("constraints.csv", 2, "cited_hash", "^cited_hash is empty or 12 hex digits"),),
    ),
]


def broken_copy(tmp_path: Path, edits: tuple[tuple, ...]) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    for edit in edits:
        apply(folder, edit)
    return folder


def problems_of(folder: Path, **kwargs) -> pd.DataFrame:
    with pytest.raises(RuleBookError) as caught:
        load_rulebook(folder, **kwargs)
    problems = caught.value.problems
    assert list(problems.columns) == ["file", "row", "column", "value", "problem"]
    assert (problems["file"] != "").all() and (problems["problem"] != "").all()
    return problems


def _has(problems: pd.DataFrame, file: str, row: int, column: str, pattern: str) -> bool:
    hit = problems[(problems["file"] == file) & (problems["row"] == row) & (problems["column"] == column)]
    return any(re.search(pattern, p) for p in hit["problem"])


@pytest.mark.slow
@pytest.mark.parametrize("defect", DEFECTS, ids=[d.kind for d in DEFECTS])
def test_each_defect_fails_with_one_error_naming_file_row_and_column(tmp_path: Path, defect: Defect) -> None:
    problems = problems_of(broken_copy(tmp_path, defect.edits))
    for file, row, column, pattern in defect.expect:
        assert _has(problems, file, row, column, pattern), (defect.kind, problems.to_dict("records"))
    if defect.exact:
        assert len(problems) == len(defect.expect), problems.to_dict("records")


def test_the_shipped_book_loads() -> None:
    """The defects above are defects: without them the copy loads."""
    book = load_rulebook(RULES_DIR)
    assert len(book.decisions) == 5


SEVERAL = (
    "bad role",
    "code listed twice",
    "unknown column in a decision table",
    "unknown code",
    "rule with no source",
    "unknown clause",
    "malformed condition (empty cell)",
    "device not in the catalogue, with the nearest",
    "value outside the domain",
    "malformed day condition",
    "malformed condition (not a plain value)",
    "required flag that is not true/false",
    "constraint whose field is not an input",
    "constraint citing an unknown clause",
    "duplicate decision",
)


def test_several_defects_are_all_listed_at_once(tmp_path: Path) -> None:
    picked = [d for d in DEFECTS if d.kind in SEVERAL]
    assert len(picked) == len(SEVERAL)
    problems = problems_of(broken_copy(tmp_path, tuple(e for d in picked for e in d.edits)))
    for d in picked:
        for file, row, column, pattern in d.expect:
            assert _has(problems, file, row, column, pattern), (d.kind, problems.to_dict("records"))
    assert len(problems) == sum(len(d.expect) for d in picked)
    assert problems["file"].nunique() >= 6
    message = str(RuleBookError(problems))
    assert f"has {len(problems)} problem(s)" in message
    assert "wifi.csv, row 4, column device: device 'XG-100NF' is not in the catalogue; nearest: XG-100NE" in message


def test_missing_catalogue_or_clauses_is_a_rule_book_error(tmp_path: Path) -> None:
    problems = problems_of(RULES_DIR, devices_path=tmp_path / "devices.csv", clauses_path=tmp_path / "clauses.csv")
    assert set(problems["file"]) == {str(tmp_path / "devices.csv"), str(tmp_path / "clauses.csv")}
    assert set(problems["problem"]) == {"file is missing"}


def test_not_a_folder(tmp_path: Path) -> None:
    problems = problems_of(tmp_path / "nowhere")
    assert problems["problem"].tolist() == ["not a folder"]


# --- the registry: every message the loader can produce has a case above -----------------------------------


def _pattern(node: ast.expr) -> str | None:
    """A regex for a message written as a string or an f-string (each {…} matches anything)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(re.escape(value.value))
            else:
                parts.append(".*")
        return "".join(parts)
    return None


#: The modules that read a rule book folder and list its problems.
LOADER_MODULES = (load, csvfile, inputs, tables, conditions)


def loader_messages() -> dict[str, str]:
    """Every problem message of the loader's modules and every ConditionError they raise: {regex: where}."""
    found: dict[str, str] = {}
    for module in LOADER_MODULES:
        path = Path(module.__file__)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            candidates: list[ast.expr] = [k.value for k in node.keywords if k.arg == "problem"]
            if name == "_problem" and len(node.args) >= 5:
                candidates.append(node.args[4])
            if name == "ConditionError" and node.args:
                candidates.append(node.args[0])
            for expr in candidates:
                if isinstance(expr, ast.Name) or (isinstance(expr, ast.Call) and getattr(expr.func, "id", "") == "str"):
                    continue  # problem=str(exc) or a helper's parameter: the message is found where it is written
                pattern = _pattern(expr)
                assert pattern is not None, f"{path.name}:{node.lineno}: a problem message that is not a literal"
                found[pattern] = f"{path.name}:{node.lineno}"
    return found


def test_registry_reads_the_loader() -> None:
    messages = loader_messages()
    assert len(messages) >= 30
    assert any(re.fullmatch(p, "exceptions form a cycle") for p in messages)


@pytest.mark.slow
def test_every_loader_message_has_a_broken_book(tmp_path: Path) -> None:
    messages = loader_messages()
    produced: list[str] = []
    for i, defect in enumerate(DEFECTS):
        folder = tmp_path / str(i)
        folder.mkdir()
        produced += problems_of(broken_copy(folder, defect.edits))["problem"].tolist()
    produced += problems_of(RULES_DIR, devices_path=tmp_path / "nope.csv")["problem"].tolist()
    produced += problems_of(tmp_path / "nowhere")["problem"].tolist()
    uncovered = {where: p for p, where in messages.items() if not any(re.fullmatch(p, text, re.S) for text in produced)}
    assert not uncovered, f"messages with no broken rule book in tests/test_broken_rulebooks.py: {uncovered}"
    strays = [text for text in produced if not any(re.fullmatch(p, text, re.S) for p in messages)]
    assert not strays, f"problems the registry did not find in the source: {strays}"


def test_a_rule_table_that_is_a_fifo_is_reported_not_waited_on(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: the loader checks for a regular file before it opens."""
    import os

    folder = broken_copy(tmp_path, ())
    (folder / "number.csv").unlink()
    os.mkfifo(folder / "number.csv")
    problems = problems_of(folder)
    assert _has(problems, "number.csv", 0, "", "^is a FIFO, not a regular file; not read$")


def test_an_empty_trailing_column_from_a_spreadsheet_is_dropped(tmp_path: Path) -> None:
    folder = broken_copy(tmp_path, ())
    path = folder / "number.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(line + "," for line in lines) + "\n", encoding="utf-8")
    assert [r.rule_id for r in load_rulebook(folder).rules["number"]] == ["NUM-1", "NUM-2"]


def test_a_file_the_book_does_not_read_does_not_change_its_hash(tmp_path: Path) -> None:
    folder = broken_copy(tmp_path, ())
    before = load_rulebook(folder).hash
    (folder / "notes.csv").write_text("anything\n", encoding="utf-8")
    assert load_rulebook(folder).hash == before == load_rulebook().hash


def test_the_invariants_and_encoding_choices_are_in_the_hash(tmp_path: Path) -> None:
    """invariants.csv and encoding_choices.csv change what the audit and explain say: they change the hash."""
    folder = broken_copy(tmp_path, ())
    before = load_rulebook(folder).hash
    for name in ("invariants.csv", "encoding_choices.csv"):
        path = folder / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("\n", "\r\n", 1), encoding="utf-8")  # same rows, other bytes
        changed = load_rulebook(folder).hash
        assert changed != before, name
        path.write_text(text, encoding="utf-8")
        assert load_rulebook(folder).hash == before
