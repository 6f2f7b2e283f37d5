"""The cell grammar, the loader, the compiler and evaluate's contract (one row per input row, never a raise)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sonet_policy import RuleBookError, evaluate, explain, load_rulebook
from sonet_policy.book.conditions import parse_cell
from sonet_policy.errors import ConditionError
from sonet_policy.paths import PROJECT_DIR, RULES_DIR
from sonet_policy.widgets.cards import cards_html

GOOD = dict(
    area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days_since_phone_stop=31
)


# --- the cell grammar -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, intervals, null",
    [
        ("[0,31]", ((0, 32),), False),
        ("(0,31]", ((1, 32),), False),
        ("[0,31)", ((0, 31),), False),
        (">=32", ((32, math.inf),), False),
        (">32", ((33, math.inf),), False),
        ("<=31", ((-math.inf, 32),), False),
        ("5", ((5, 6),), False),
        ("null|[0,31]", ((0, 32),), True),
    ],
)
def test_day_cells_parse_to_half_open_intervals(cell: str, intervals: tuple, null: bool) -> None:
    cond = parse_cell(cell, "days_since_phone_stop", "integer")
    assert cond.intervals == intervals and cond.include_null is null


@pytest.mark.parametrize(
    "cell, kind, message",
    [
        ("", "category", "empty condition"),
        ("east||west", "category", "empty alternative"),
        ("north", "category", "not a value of area"),
        ("[31,0]", "integer", "empty"),
        ("about 30", "integer", "not an integer condition"),
        ("__import__('os').system('true')", "category", "not a plain value"),
    ],
)
def test_bad_cells_say_what_is_wrong(cell: str, kind: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse_cell(cell, "area", kind, ("east", "west"))


def test_dash_matches_everything_including_empty_days() -> None:
    book = load_rulebook()
    axis = book.compiled().axes["days_since_phone_stop"]
    assert parse_cell("-", "days_since_phone_stop", "integer").mask(axis).all()
    assert axis.labels[0] == "empty"
    assert list(parse_cell("[0,31]", "days_since_phone_stop", "integer").mask(axis)) == [False, True, False]


# --- the loader -------------------------------------------------------------------------------------------


def copy_book(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(RULES_DIR, dst)
    return dst


def edit(path: Path, rule_id: str, column: str, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["rule_id"] == rule_id, column] = value
    frame.to_csv(path, index=False)


@pytest.mark.slow
def test_shipped_book_loads_with_five_decisions_and_a_stable_hash() -> None:
    a, b = load_rulebook(), load_rulebook()
    assert list(a.decisions) == ["procedure", "number", "ipv4", "wifi", "device_action"]
    assert a.hash == b.hash and len(a.hash) == 16
    assert all(rule.source for rule in a.rule_index.values())


def test_a_broken_book_lists_every_problem_with_file_row_and_column(tmp_path: Path) -> None:
    folder = copy_book(tmp_path)
    edit(folder / "ipv4.csv", "V4-SML-1", "ipv4", "reboot")  # unknown code
    edit(folder / "ipv4.csv", "V4-OTH-V6-32", "days_since_phone_stop", ">=thirty")  # malformed condition
    edit(folder / "wifi.csv", "WIFI-2", "source", "wifi.99")  # clause that does not exist
    edit(folder / "device_action.csv", "DEV-E-2", "rule_id", "DEV-E-1")  # duplicate id
    edit(folder / "device_action.csv", "DEV-W-2", "device", "PR-200NE|RV-230XX")  # not in the catalogue
    with pytest.raises(RuleBookError) as info:
        load_rulebook(folder)
    problems = info.value.problems
    got = {(r.file, r.row, r.column) for r in problems.itertuples()}
    assert {
        ("ipv4.csv", 4, "ipv4"),
        ("ipv4.csv", 7, "days_since_phone_stop"),
        ("wifi.csv", 3, "source"),
        ("device_action.csv", 4, "rule_id"),
        ("device_action.csv", 10, "device"),
    } <= got
    assert len(problems) == 5
    text = str(info.value)
    assert "nearest: RV-230SE" in text and "wifi.99" in text


def test_missing_column_is_reported(tmp_path: Path) -> None:
    folder = copy_book(tmp_path)
    frame = pd.read_csv(folder / "number.csv", dtype=str, keep_default_na=False).drop(columns=["source"])
    frame.to_csv(folder / "number.csv", index=False)
    with pytest.raises(RuleBookError, match="number.csv, column source: required column is missing"):
        load_rulebook(folder)


def test_code_in_a_table_stays_inert_data(tmp_path: Path) -> None:
    """A cell holding Python is never executed: loading fails with a message and the side effect never happens."""
    marker = tmp_path / "pwned"
    folder = copy_book(tmp_path)
    payload = f"__import__('pathlib').Path('{marker}').touch()"
    edit(folder / "wifi.csv", "WIFI-2", "setup", payload)
    edit(folder / "wifi.csv", "WIFI-1", "note", payload)  # free text is only text
    with pytest.raises(RuleBookError) as info:
        load_rulebook(folder)
    assert not marker.exists()
    assert list(info.value.problems["column"]) == ["setup"]


def test_exceptions_win_only_where_declared(tmp_path: Path) -> None:
    """Dropping the declared exception turns the ※ clause into a conflict with the general rule."""
    folder = copy_book(tmp_path)
    edit(folder / "wifi.csv", "WIFI-3", "exception_of", "")
    book = load_rulebook(folder)
    out = evaluate(
        pd.DataFrame([dict(area="east", plan="10g", device="XG-100NE", setup="wlan_router_10g", keep_number=False)]),
        rulebook=book,
    )
    assert out.loc[0, "wifi"] == "conflict"
    assert set(out.loc[0, "rules"].split()) >= {"WIFI-1", "WIFI-3"}
    assert out.loc[0, "rulebook_hash"] == book.hash != load_rulebook().hash


# --- evaluate's contract ----------------------------------------------------------------------------------


def test_batch_keeps_every_row_index_and_order() -> None:
    frame = pd.DataFrame(
        [GOOD, {**GOOD, "device": "PR-700KI"}, {**GOOD, "days_since_phone_stop": -3}, GOOD], index=[10, 3, 7, 3]
    )
    out = evaluate(frame)
    assert list(out.index) == [10, 3, 7, 3]
    assert list(out["status"]) == ["ok", "partial", "partial", "ok"]
    assert out["error"].iloc[1].startswith("device: 'PR-700KI' is not in the catalogue; nearest:")
    assert "days_since_phone_stop: -3 is negative" in out["error"].iloc[2]
    assert out["ipv4"].iloc[1] is np.nan or pd.isna(out["ipv4"].iloc[1])
    # each decision on its own: the bad device leaves procedure/number answered, the bad day count only ipv4 open
    assert list(out["procedure"].iloc[[1, 2]]) == ["support_desk", "support_desk"]
    assert pd.isna(out["ipv4"].iloc[2]) and out["device_action"].iloc[2] == out["device_action"].iloc[0]
    assert list(out["ipv4"].iloc[[0, 3]]) == ["pppoe_router", "pppoe_router"]


def test_missing_column_makes_every_row_invalid_not_an_exception() -> None:
    frame = pd.DataFrame([GOOD, GOOD]).drop(columns=["plan"])
    out = evaluate(frame)
    assert len(out) == 2 and set(out["status"]) == {"partial"}
    assert set(out["error"]) == {"plan: missing (the column is absent)"}
    assert out["ipv4"].isna().all() and out["wifi"].notna().all()  # only ipv4 reads plan


def test_days_column_is_optional_and_means_not_stopped() -> None:
    frame = pd.DataFrame([GOOD]).drop(columns=["days_since_phone_stop"])
    assert evaluate(frame).loc[0, "ipv4"] == "uncovered"


def test_empty_frame_gives_empty_answers_with_all_columns() -> None:
    out = evaluate(pd.DataFrame(columns=list(GOOD)))
    assert len(out) == 0 and {"status", "error", "rules", "rulebook_hash"} <= set(out.columns)


def test_several_field_errors_are_reported_together() -> None:
    out = evaluate(pd.DataFrame([dict(area="north", plan="sml", device="", setup="wlan_1g", keep_number="maybe")]))
    error = out.loc[0, "error"]
    assert error.startswith("area: 'north'") and "device: missing" in error and "keep_number: 'maybe'" in error


def test_large_batch_is_answered_cell_by_cell() -> None:
    """Every 7th cell of the dense product of all axes, evaluated as a batch, agrees with each decision's
    compiled outcome (read from the decision's own grid), except where a constraint blocks the decision."""
    book = load_rulebook()
    compiled = book.compiled()
    full = compiled.grid_over(compiled.inputs)
    rows = []
    for cell in range(0, full.n_cells, 7):
        values = full.cell_values(cell)
        days = {"empty": None, "0-31": 20, ">=32": 40}[values["days_since_phone_stop"]]
        rows.append({**values, "days_since_phone_stop": days, "_cell": cell})
    frame = pd.DataFrame(rows)
    out = evaluate(frame.drop(columns=["_cell"]), rulebook=book)
    ruled = compiled.ruled_out_over(compiled.inputs, compiled.constraints).reshape(-1)
    checked = 0
    for name, grid in compiled.decisions.items():
        blocked = [c for c in compiled.constraints if name in c.blocks]
        for k, cell in enumerate(frame["_cell"]):
            pos = full.positions(cell)
            got = out[name].iloc[k]
            if blocked and ruled[cell]:
                assert pd.isna(got)
            else:
                assert got == grid.outcome(grid.cell_of(pos)).code
                checked += 1
    assert checked > 3000


def test_explain_names_rules_clauses_and_why_others_did_not_fire() -> None:
    exp = explain(**{**GOOD, "days_since_phone_stop": 32})
    ipv4 = exp["ipv4"]
    assert ipv4.code == "reapply_v6plus"
    assert [r.rule_id for r in ipv4.fired] == ["V4-OTH-V6-32"]
    assert any("32 日以降経過後" in c.text_ja for c in ipv4.fired[0].clauses)
    pppoe = next(r for r in ipv4.rules if r.rule_id == "V4-OTH-V6-31")
    assert pppoe.state == "not_matching"
    # the value given comes first, its interval after it (it printed only ">=32" before)
    assert pppoe.reasons == ["days_since_phone_stop is 32 (>=32); the rule needs 0..31"]
    sml = next(
        r
        for r in explain(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)["ipv4"].rules
        if r.rule_id == "V4-SML-1"
    )
    assert sml.state == "overridden" and "V4-SML-2" in sml.reasons[0]
    data = json.loads(exp.to_json())
    assert data["decisions"][2]["code"] == "reapply_v6plus"


def test_explain_of_an_invalid_scenario_says_why() -> None:
    exp = explain(**{**GOOD, "device": "<script>alert(1)</script>"})
    assert exp.status == "partial" and exp.error.startswith("device:")
    assert exp["ipv4"].status == "invalid" and exp["procedure"].status == "ok"
    html = cards_html(exp)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_conflict_is_explained_with_both_rules() -> None:
    exp = explain(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)
    wifi = exp["wifi"]
    assert wifi.code == "conflict" and exp.status == "conflict"
    assert {r.rule_id for r in wifi.fired} == {"WIFI-2W", "WIFI-W1"}


# --- the command line -------------------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sonet_policy", *args], capture_output=True, text=True, cwd=PROJECT_DIR, timeout=120
    )


@pytest.mark.slow
def test_cli_explain_prints_japanese_clauses_and_json() -> None:
    args = [
        "explain",
        "--area",
        "west",
        "--plan",
        "other",
        "--device",
        "RV-230SE",
        "--setup",
        "v6plus_router",
        "--keep-number",
        "no",
        "--days",
        "31",
    ]
    text = run_cli(*args)
    assert text.returncode == 0, text.stderr
    assert "answer: pppoe_router" in text.stdout and "電話機能が停止となってから 31 日以内" in text.stdout
    data = json.loads(run_cli(*args, "--format", "json").stdout)
    assert {d["decision"]: d["code"] for d in data["decisions"]}["device_action"] == "mail_exchange"


@pytest.mark.slow
def test_cli_explain_of_a_bad_device_exits_2_with_the_reason() -> None:
    out = run_cli(
        "explain", "--area", "east", "--plan", "sml", "--device", "XX-1", "--setup", "wlan_1g", "--keep-number", "yes"
    )
    assert out.returncode == 2 and "device: 'XX-1' is not in the catalogue" in out.stdout


@pytest.mark.slow
def test_cli_evaluate_writes_one_answer_per_row(tmp_path: Path) -> None:
    src = tmp_path / "customers.csv"
    pd.DataFrame([GOOD, {**GOOD, "area": "mars"}, {**GOOD, "plan": "sml"}]).to_csv(src, index=False)
    dst = tmp_path / "answers.csv"
    out = run_cli("evaluate", "--input", str(src), "--output", str(dst))
    assert out.returncode == 0, out.stderr
    answers = pd.read_csv(dst, dtype=str, keep_default_na=False)
    assert list(answers["status"]) == ["ok", "partial", "ok"]
    assert list(answers["ipv4"]) == ["pppoe_router", "pppoe_router", "reboot_router"]  # ipv4 does not read area
    assert list(answers["wifi"]) == ["stops", "", "stops"]


def test_cards_show_the_footnotes_that_apply() -> None:
    """The ※ clauses behind a deciding rule are listed as footnotes, in the HTML cards and the text."""
    exp = explain(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)
    assert [c.clause_id for c in exp["device_action"].footnotes] == ["dev.e.n1"]
    assert [c.clause_id for c in exp["ipv4"].footnotes] == ["net.sml.7"]
    html = cards_html(exp)
    assert "data-clause='dev.e.n1'" in html and "data-clause='net.sml.7'" in html
    assert "footnote dev.e.n1: ※1 PR-600KI / MI" in str(exp)
    plain = explain(area="east", plan="other", device="PR-200NE", setup="rental_only", keep_number=False)
    assert plain["device_action"].footnotes == []


@pytest.mark.slow
@pytest.mark.parametrize("command", [["audit"], ["diff", "data/rules", "data/rules"]])
def test_cli_population_missing_a_column_exits_2_naming_it(tmp_path: Path, command: list[str]) -> None:
    bad = tmp_path / "population.csv"
    bad.write_text("area,plan\neast,sml\n", encoding="utf-8")
    out = run_cli(*command, "--population", str(bad))
    assert out.returncode == 2
    assert "required column 'device'" in out.stderr and "Traceback" not in out.stderr
