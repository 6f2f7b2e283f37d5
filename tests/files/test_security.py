"""Rule-table text and scenario text are data: never executed, always escaped, never a way out of a folder."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import evaluate, explain, load_rulebook
from sonet_policy.errors import RuleBookError
from sonet_policy.files.read import read_scenarios
from sonet_policy.files.stream import evaluate_file
from sonet_policy.paths import PACKAGE_DIR, RULES_DIR
from sonet_policy.widgets.cards import cards_html

SCRIPT = "<script>alert(1)</script>"
VALID = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=31)


def payloads(marker: Path) -> list[str]:
    """Text that would create ``marker`` if anything evaluated, formatted or shelled it."""
    return [
        f"__import__('os').system('touch {marker}')",
        f"{{__import__('os').system('touch {marker}')}}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"; touch {marker}",
        f"@__import__('os').system('touch {marker}')",
        f"{{0.__class__.__mro__}}{{__import__('os').system('touch {marker}')}}",
    ]


def copy_rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    return folder


def set_cell(folder: Path, file: str, line: int, column: str, value: str) -> None:
    frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    frame.loc[line - 2, column] = value
    frame.to_csv(folder / file, index=False, lineterminator="\n")


# column, line of a rule table where each payload goes; every kind of cell: condition, output, ids, text
PLACES = [
    ("ipv4.csv", 3, "plan"),  # category condition
    ("ipv4.csv", 7, "days_since_phone_stop"),  # integer condition
    ("wifi.csv", 3, "device"),  # device condition
    ("number.csv", 3, "keep_number"),  # boolean condition
    ("number.csv", 2, "number"),  # output
    ("wifi.csv", 2, "alternatives"),  # alternative output
    ("number.csv", 3, "exception_of"),
    ("procedure.csv", 2, "source"),
    ("procedure.csv", 2, "rule_id"),
    ("procedure.csv", 2, "note"),  # free text: loads, stays text
    ("decisions.csv", 2, "hit_policy"),
    ("decisions.csv", 2, "inputs"),
    ("inputs.csv", 3, "domain"),
    ("constraints.csv", 2, "plan"),
    ("constraints.csv", 2, "message"),  # free text: loads, stays text
]


@pytest.mark.slow
@pytest.mark.parametrize(("file", "line", "column"), PLACES)
def test_rule_table_text_is_never_executed(tmp_path: Path, file: str, line: int, column: str) -> None:
    marker = tmp_path / "pwned"
    for payload in payloads(marker):
        folder = copy_rules(tmp_path / str(abs(hash(payload))))
        set_cell(folder, file, line, column, payload)
        try:
            book = load_rulebook(folder)
        except RuleBookError as exc:
            # refused with a message naming where the text is
            assert ((exc.problems["file"] == file) | (exc.problems["column"] == column)).any(), exc.problems
        else:
            assert column in ("note", "message", "rule_id")  # text columns: the payload is kept as plain data
            out = evaluate(pd.DataFrame([VALID]), rulebook=book)
            exp = explain(rulebook=book, **VALID)
            rendered = cards_html(exp) + str(exp) + exp.to_json() + out.to_csv()
            assert "<script" not in cards_html(exp).lower().replace("<style", "")
            del rendered
        assert not marker.exists(), f"{payload!r} in {file}:{line}:{column} ran"


def test_scenario_text_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    rows = []
    for payload in payloads(marker):
        for field in ("area", "plan", "device", "setup", "keep_number", "days"):
            rows.append({**VALID, field: payload})
    frame = pd.DataFrame(rows).rename(columns={"days": "days_since_phone_stop"})
    out = evaluate(frame)
    assert out["status"].isin(["invalid", "partial"]).all() and out["error"].notna().all()
    for payload in payloads(marker):
        exp = explain(**{**VALID, "device": payload})
        assert exp.status == "partial" and exp.error.startswith("device: ") and exp["wifi"].code == "invalid"
        cards_html(exp)
    # through a file and the streaming command, with the payload also as a header and an extra column
    path = tmp_path / "s.csv"
    frame.assign(**{payloads(marker)[0].replace(",", " "): payloads(marker)[2]}).to_csv(path, index=False)
    summary = evaluate_file(path, tmp_path / "answers.csv", evaluate=evaluate, progress=False)
    assert summary.rows == len(frame)
    assert summary.status.get("invalid", 0) + summary.status.get("partial", 0) == len(frame)
    read_scenarios(path)
    assert not marker.exists()


def test_explanation_html_escapes_an_invalid_device() -> None:
    exp = explain(**{**VALID, "device": SCRIPT})
    assert exp.status == "partial" and exp["device_action"].code == "invalid"
    html = cards_html(exp)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert SCRIPT in exp.error  # the error keeps the text as typed; only the HTML escapes it


@pytest.mark.slow
def test_explanation_html_escapes_labels_and_notes_of_the_rule_book(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    codes = pd.read_csv(folder / "codes.csv", dtype=str, keep_default_na=False)
    codes["label_en"] = SCRIPT
    codes["label_ja"] = "<img src=x onerror=alert(1)>"
    codes["next_step_en"] = "</div><script>alert(2)</script>"
    codes.to_csv(folder / "codes.csv", index=False)
    set_cell(folder, "ipv4.csv", 8, "note", "\"'><svg onload=alert(3)>")
    book = load_rulebook(folder)
    exp = explain(rulebook=book, **VALID)
    assert exp.status == "ok"
    html = cards_html(exp)
    for raw in (SCRIPT, "<img src=x", "</div><script>", "<svg onload"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # data attributes are quoted and escaped too: no label can close them
    assert "data-code='pppoe_router'" in html


def test_symlinked_table_outside_the_folder_is_not_read(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    outside = tmp_path / "elsewhere" / "number.csv"
    outside.parent.mkdir()
    outside.write_text("rule_id,keep_number,number,exception_of,source,note\nSECRET-1,-,abolished,,pre.1,outside\n")
    (folder / "number.csv").unlink()
    (folder / "number.csv").symlink_to(outside)
    with pytest.raises(RuleBookError) as caught:
        load_rulebook(folder)
    problems = caught.value.problems
    assert problems["problem"].str.contains("outside the rule book folder").any()
    assert "SECRET-1" not in str(caught.value)


def test_symlinked_metadata_outside_the_folder_is_not_read(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path)
    outside = tmp_path / "inputs.csv"
    shutil.copy(folder / "inputs.csv", outside)
    (folder / "inputs.csv").unlink()
    (folder / "inputs.csv").symlink_to(outside)
    with pytest.raises(RuleBookError, match="outside the rule book folder"):
        load_rulebook(folder)


def test_a_decision_name_cannot_reach_outside_the_folder(tmp_path: Path) -> None:
    folder = copy_rules(tmp_path / "book")
    shutil.copy(folder / "number.csv", tmp_path / "book" / "number.csv")  # a valid table one level up
    set_cell(folder, "decisions.csv", 3, "decision", "../number")
    set_cell(folder, "decisions.csv", 3, "outputs", "../number")
    with pytest.raises(RuleBookError) as caught:
        load_rulebook(folder)
    assert (caught.value.problems["value"] == "../number").any()


def test_answers_written_to_a_symlink_go_through_to_its_target_and_keep_the_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "answers.csv"
    target.parent.mkdir()
    target.write_text("earlier answers\n")
    link = tmp_path / "answers.csv"
    link.symlink_to(target)
    scenarios = tmp_path / "s.csv"
    pd.DataFrame([VALID]).rename(columns={"days": "days_since_phone_stop"}).to_csv(scenarios, index=False)
    evaluate_file(scenarios, link, evaluate=evaluate, progress=False)
    assert link.is_symlink() and link.resolve() == target.resolve()  # the link is never replaced
    assert "pppoe_router" in target.read_text()  # written through, as git does


def test_scenario_values_that_look_like_paths_are_just_invalid_values() -> None:
    rows = [{**VALID, "device": p} for p in ("../../etc/passwd", "/etc/passwd", "file:///etc/passwd", "~/.ssh/id_rsa")]
    out = evaluate(pd.DataFrame(rows))
    assert (out["status"] == "partial").all() and out["device_action"].isna().all()
    assert not out["error"].astype(str).str.contains("root:").any()


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "system", "popen", "query", "Popen"}
ALLOWED = {("compile", "re")}
UNSAFE_LOADERS = {"pickle", "marshal", "dill", "yaml", "shelve", "cPickle"}  # load/loads of these run code


@pytest.mark.slow
def test_the_package_never_evaluates_text() -> None:
    """No eval/exec/compile, no DataFrame.query/.eval, no pickle, no os.system/subprocess in the package."""
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):  # every subpackage
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("pickle", "subprocess", "marshal", "shelve", "dill") for n in names):
                    found.append(f"{path.name}:{node.lineno} imports {names}")
            if isinstance(node, ast.Call):
                func = node.func
                name = getattr(func, "id", getattr(func, "attr", ""))
                owner = getattr(getattr(func, "value", None), "id", "")
                if name in FORBIDDEN_CALLS and (name, owner) not in ALLOWED:
                    found.append(f"{path.name}:{node.lineno} calls {owner + '.' if owner else ''}{name}")
                if name in ("load", "loads") and owner in UNSAFE_LOADERS:
                    found.append(f"{path.name}:{node.lineno} calls {owner}.{name}")
                if name == "eval" and owner:  # DataFrame.eval / pd.eval
                    found.append(f"{path.name}:{node.lineno} calls {owner}.eval")
    assert not found, found


def test_os_module_is_not_reachable_from_a_condition() -> None:
    """The cell grammar refuses anything but plain values, ranges and comparisons."""
    from sonet_policy.book.conditions import parse_cell
    from sonet_policy.errors import ConditionError

    for cell in ("os.system('x')", "lambda: 1", "1 or 1", "[0,31] and True", "east;west", "east west"):
        with pytest.raises(ConditionError):
            parse_cell(cell, "area", "category", ("east", "west"))
        with pytest.raises(ConditionError):
            parse_cell(cell, "days_since_phone_stop", "integer")
    assert os.environ.get("PWNED") is None
