"""Cross-decision invariants (data/rules/invariants.csv) and the second reading's points (issue 12).

Hand-built books test the checker; the shipped book is checked against a row-by-row reading of the same
statements; the scenario cases of tests/cases/invariant_cases.csv sit on both sides of every invariant.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import default_rulebook, evaluate, explain, load_rulebook
from sonet_policy.analysis.audit import audit, render_text, rows_in_scope
from sonet_policy.book.invariants import clause_scope_problems, load_invariants
from sonet_policy.book.readings import load_choices
from sonet_policy.engine.invariants import applies_and_violations, violations
from sonet_policy.errors import RuleBookError
from sonet_policy.paths import CLAUSES_CSV, PAGE_TXT, RULES_DIR, SOURCE_DIR
from sonet_policy.widgets.cards import cards_html

CASES = Path(__file__).parents[1] / "cases"
INPUTS = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]

CLAUSES = """clause_id,section,kind,normative,line,text_ja,text_en
c1,test,rule,true,1,ルーター機能を停止します,the router is stopped
c2,test,exception,true,2,東の 1G はルーターを停止しません,east 1G keeps the router
c3,test,rule,true,3,無線は止まります,wifi stops
c4,test,exception,true,4,1G の無線は止まりません,1G wifi continues
c5,test,rule,true,5,停止したルーターの無線は使えません,a stopped router carries no wifi
c6,test,note,false,6,西の 1G は機器を残します,west 1G keeps the device (cited only by a rule added in one test)
"""
# d (device): r (router stopped) everywhere; east wlan_1g keeps it (k, an exception).
# w (wifi): off everywhere; wlan_1g in both areas: on (an exception).
# So west wlan_1g has d=r and w=on: the router is stopped but Wi-Fi continues, which INV-1 forbids.
D_TABLE = """rule_id,area,setup,d,exception_of,source,note
D1,-,-,r,,c1,
D2,east,wlan_1g,k,D1,c2,
"""
W_TABLE = """rule_id,area,setup,w,exception_of,source,note
W1,-,-,off,,c3,
W2,-,wlan_1g,on,W1,c4,
"""
INVARIANTS = """invariant_id,area,when_d,then_decision,then_in,then_not_in,source,note
INV-1,-,r,w,,on,c5,a stopped router carries no wifi
INV-2,-,k,w,on,,c2,a kept router keeps wifi
INV-3,west,-,d,,k,c1,the west keeps no router
"""


def make_book(folder: Path, *, d_table: str = D_TABLE, invariants: str = INVARIANTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES_DIR / "inputs.csv", folder / "inputs.csv")
    (folder / "decisions.csv").write_text(
        "decision,hit_policy,inputs,outputs\nd,UNIQUE,area|setup,d\nw,UNIQUE,area|setup,w\n", encoding="utf-8"
    )
    (folder / "codes.csv").write_text(
        "decision,code,role,label_ja,label_en\nd,r,answer,停止,r\nd,k,answer,継続,k\nw,on,answer,可,on\nw,off,answer,不可,off\n",
        encoding="utf-8",
    )
    (folder / "d.csv").write_text(d_table, encoding="utf-8")
    (folder / "w.csv").write_text(W_TABLE, encoding="utf-8")
    (folder / "invariants.csv").write_text(invariants, encoding="utf-8")
    (folder / "clauses.csv").write_text(CLAUSES, encoding="utf-8")
    return folder


def load(folder: Path):
    return load_rulebook(folder, clauses_path=folder / "clauses.csv")


def test_hand_built_book_inconsistency_is_found_exactly(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "b"))
    found = audit(book)
    inc = found[found["kind"] == "inconsistency"]
    assert len(inc) == 1
    f = inc.iloc[0]
    assert f["invariant"] == "INV-1" and f["decision"] == "w"
    assert f["scope"] == {"area": "west", "setup": "wlan_1g"}
    assert f["rules"] == ["D1", "W2"], "the rules of each decision involved, when side first"
    assert f["clauses"] == ["c5", "c1", "c4"], "the invariant's clause, then both sides' rules'"
    assert "ルーター機能を停止します" in f["message"] and "1G の無線は止まりません" in f["message"]
    assert f["witness"]["area"] == "west" and f["witness"]["setup"] == "wlan_1g"
    exp = explain(rulebook=book, **f["witness"])
    assert [i["invariant_id"] for i in exp["w"].invariants] == ["INV-1"]
    assert [i["invariant_id"] for i in exp["d"].invariants] == ["INV-1"]
    # each decision alone is fine: no gap, no conflict
    assert set(found["kind"]) == {"inconsistency"}


def test_a_conflict_applies_through_each_of_its_sides(tmp_path: Path) -> None:
    """West wlan_1g: D1 (r) and D3 (k) conflict. INV-1 applies (one side says the router stops) and is broken
    (w=on); INV-2 applies too (the other side keeps it) and holds (w=on); INV-3 (area=west) applies and holds:
    a conflict is not the code k it forbids."""
    d_table = D_TABLE + "D3,west,wlan_1g,k,,c6,\n"
    book = load(make_book(tmp_path / "c", d_table=d_table))
    row = pd.DataFrame([dict(area="west", plan="sml", device="PR-400NE", setup="wlan_1g", keep_number=False)])
    assert evaluate(row, rulebook=book).loc[0, "d"] == "conflict"
    applies, broken = applies_and_violations(row, rulebook=book)
    assert applies.loc[0].to_dict() == {"INV-1": True, "INV-2": True, "INV-3": True}
    assert broken.loc[0].to_dict() == {"INV-1": True, "INV-2": False, "INV-3": False}


def test_input_conditions_of_an_invariant_restrict_it(tmp_path: Path) -> None:
    """INV-3 (area=west: d is not k) is broken once a rule keeps the router in the West, and only there."""
    d_table = D_TABLE.replace("D2,east,", "D2,-,")
    book = load(make_book(tmp_path / "w", d_table=d_table))
    found = audit(book)
    inc = found[found["kind"] == "inconsistency"]
    by_id = {(f.invariant, json.dumps(f.scope, sort_keys=True)) for f in inc.itertuples()}
    assert by_id == {("INV-3", json.dumps({"area": "west", "setup": "wlan_1g"}))}


@pytest.mark.parametrize(
    ("text", "column", "value"),
    [
        (INVARIANTS.replace("INV-1,-,r,w,,on", "INV-1,-,x,w,,on"), "when_d", "x"),
        (INVARIANTS.replace("INV-1,-,r,w,,on", "INV-1,-,r,w,on,on"), "then_in", ""),
        (INVARIANTS.replace("INV-1,-,r,w,,on", "INV-1,-,r,v,,on"), "then_decision", "v"),
        (INVARIANTS.replace(",c5,", ",c99,"), "source", "c99"),
        (INVARIANTS.replace(",c5,", ",,"), "source", ""),
        (INVARIANTS.replace("INV-3,west", "INV-3,north"), "area", "north"),
        (INVARIANTS.replace("INV-2,", "INV-1,"), "invariant_id", "INV-1"),
        (INVARIANTS.replace("when_d", "when_q"), "when_q", ""),
    ],
)
def test_a_bad_invariants_file_names_file_row_column_and_value(
    tmp_path: Path, text: str, column: str, value: str
) -> None:
    book = load(make_book(tmp_path / "bad", invariants=text))
    with pytest.raises(RuleBookError) as err:
        load_invariants(book)
    problems = err.value.problems
    assert (problems["file"] == "invariants.csv").all()
    assert ((problems["column"] == column) & (problems["value"] == value)).any(), problems.to_dict("records")


def test_no_invariants_file_means_no_inconsistency(tmp_path: Path) -> None:
    folder = make_book(tmp_path / "none")
    (folder / "invariants.csv").unlink()
    assert "inconsistency" not in set(audit(load(folder))["kind"])


# --- the shipped book -----------------------------------------------------------------------------------------


def _domain(book) -> pd.DataFrame:
    days = [None, 0, 31, 32, 400]
    values = [
        list(book.inputs["area"].domain),
        list(book.inputs["plan"].domain),
        list(book.models),
        list(book.inputs["setup"].domain),
        [False, True],
        days,
    ]
    return pd.DataFrame(list(itertools.product(*values)), columns=INPUTS)


def _by_hand(book, frame: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """The invariants read row by row, the slow obvious way (an independent check of the vectorised one)."""
    index = book.rule_index
    out = {}
    for inv in load_invariants(book):
        hits = []
        for (_, row), (_, ans) in zip(frame.iterrows(), answers.iterrows(), strict=True):
            if ans["status"] == "invalid":
                hits.append(False)
                continue
            ok = True
            for name, cond in inv.conditions.items():
                if not cond.any and str(row[name]) not in cond.values:
                    ok = False
            for decision, codes in inv.when.items():
                said = {index[r].answer for r in str(ans["rules"]).split() if index[r].decision == decision}
                if ans[decision] not in codes and not (ans[decision] == "conflict" and said & codes):
                    ok = False
            then = ans[inv.then_decision]
            broken = then not in inv.then_in if inv.then_in else then in inv.then_not_in
            hits.append(ok and broken)
        out[inv.invariant_id] = hits
    return pd.DataFrame(out, index=frame.index)


@pytest.mark.slow
def test_violations_agree_with_a_row_by_row_reading_over_the_whole_domain() -> None:
    book = default_rulebook()
    frame = _domain(book)
    answers = evaluate(frame).astype(str)
    assert violations(frame).equals(_by_hand(book, frame, answers))


def test_the_audit_finds_exactly_the_violating_combinations() -> None:
    """Every violating row of the domain lies in a finding of its invariant, and every finding holds only
    violating rows (scopes are exact)."""
    book = default_rulebook()
    frame = _domain(book)
    broken = violations(frame)
    found = audit(book)
    inc = found[found["kind"] == "inconsistency"]
    assert set(inc["invariant"]) == {"INV-ROUTER-IPV4"}
    covered = pd.Series(False, index=frame.index)
    for f in inc.to_dict("records"):
        inside = rows_in_scope(frame, f)
        assert broken.loc[inside, f["invariant"]].all()
        covered |= inside
    assert covered.equals(broken.any(axis=1))
    assert int(broken["INV-ROUTER-IPV4"].sum()) == 2 * 5 * (10 + 4 + 20) * 1  # keep_number x days x devices


def test_the_audit_counts_customers_behind_an_inconsistency() -> None:
    population = pd.DataFrame(
        [
            dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False),
            dict(area="west", plan="sml", device="pr-600ki", setup="wlan_1g", keep_number="yes"),
            dict(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False),
        ]
    )
    found = audit(population=population)
    inc = found[found["kind"] == "inconsistency"]
    west_sml = inc[inc["scope"].map(lambda s: s.get("plan") == "sml")]
    assert west_sml["customers"].tolist() == [2]
    assert int(inc["customers"].sum()) == 2


def test_shipped_invariants_each_cite_clauses_of_the_page() -> None:
    book = default_rulebook()
    invariants = load_invariants(book)
    assert len(invariants) == 6
    for inv in invariants:
        assert inv.source and set(inv.source) <= set(book.clauses.index)
        assert inv.note


def _case_table() -> pd.DataFrame:
    scenarios = pd.read_csv(CASES / "scenarios.csv", dtype=str, keep_default_na=False)
    expected = pd.read_csv(CASES / "invariant_cases.csv", dtype=str, keep_default_na=False)
    missing = set(expected["case"]) - set(scenarios["case"])
    assert not missing, f"invariant_cases.csv names cases scenarios.csv lacks: {missing}"
    return scenarios.merge(expected, on="case")


def test_invariant_cases() -> None:
    cases = _case_table()
    broken = violations(cases[INPUTS])
    for i, case in cases.iterrows():
        got = sorted(broken.columns[broken.loc[i]])
        want = [] if case["inconsistent"] == "none" else sorted(case["inconsistent"].split("|"))
        assert got == want, case["case"]


def test_invariant_cases_sit_on_both_sides_of_every_invariant() -> None:
    """Per invariant: a case where it applies and holds, and a case where the decision it constrains gives an
    answer it forbids (broken, or outside its when part)."""
    cases = _case_table()
    applies, broken = applies_and_violations(cases[INPUTS])
    answers = evaluate(cases[INPUTS]).astype(str)
    for inv in load_invariants(default_rulebook()):
        iid = inv.invariant_id
        holds = applies[iid] & ~broken[iid]
        then = answers[inv.then_decision]
        forbidden = ~then.isin(inv.then_in) if inv.then_in else then.isin(inv.then_not_in)
        assert holds.any(), f"{iid}: no case where it applies and holds"
        assert (forbidden & (answers["status"] != "invalid")).any(), f"{iid}: no case on its other side"


def test_explain_marks_the_answers_involved_in_text_html_and_json() -> None:
    exp = explain(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False, days=5)
    assert [i["invariant_id"] for i in exp["ipv4"].invariants] == ["INV-ROUTER-IPV4"]
    assert [i["invariant_id"] for i in exp["device_action"].invariants] == ["INV-ROUTER-IPV4"]
    assert exp["wifi"].invariants == [] and exp["number"].invariants == []
    assert "inconsistent: INV-ROUTER-IPV4" in str(exp)
    html = cards_html(exp)
    assert html.count("data-invariant='INV-ROUTER-IPV4'") == 2
    data = json.loads(exp.to_json())
    per = {d["decision"]: [i["invariant_id"] for i in d["invariants"]] for d in data["decisions"]}
    assert per["ipv4"] == ["INV-ROUTER-IPV4"] and per["device_action"] == ["INV-ROUTER-IPV4"] and per["wifi"] == []
    calm = explain(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)
    assert all(d.invariants == [] for d in calm.decisions) and "inconsistent:" not in str(calm)


# --- point 1: no clause of one area supports an answer in the other -------------------------------------------


def _section_scope() -> pd.DataFrame:
    return pd.read_csv(SOURCE_DIR / "section_scope.csv", dtype=str, keep_default_na=False)


def test_area_clauses_support_only_answers_of_their_area() -> None:
    scope = _section_scope()
    clauses = pd.read_csv(CLAUSES_CSV, dtype=str, keep_default_na=False)
    # the convention is data: every section of a device table (one per area) is listed
    assert set(scope["section"]) == {s for s in clauses["section"] if s.startswith("devices.")} - {"devices"}
    assert clause_scope_problems(default_rulebook(), section_scope=scope) == []


def test_the_old_wifi_2_citing_east_footnote_in_both_areas_is_caught(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    shutil.copytree(RULES_DIR, folder)
    table = pd.read_csv(folder / "wifi.csv", dtype=str, keep_default_na=False)
    table.loc[table["rule_id"] == "WIFI-2", "area"] = "-"  # the shipped WIFI-2 before the split
    table.to_csv(folder / "wifi.csv", index=False)
    problems = clause_scope_problems(load_rulebook(folder), section_scope=_section_scope())
    assert problems == [
        "WIFI-2 (wifi) cites dev.e.n1 of section devices.east, which holds only where area is within its scope, "
        "but the rule's area condition is any"
    ]


# --- point 2: explain shows the value given ------------------------------------------------------------------


def test_explain_prints_the_day_count_given_then_its_interval() -> None:
    exp = explain(area="east", plan="other", device="PR-400NE", setup="v6plus_router", keep_number=False, days=5)
    text = str(exp)
    assert "days_since_phone_stop is 5 (0-31); the rule needs >= 32" in text
    assert "days_since_phone_stop is 0-31" not in text
    data = json.loads(exp.to_json())
    assert data["resolved"]["days_since_phone_stop"] == "5"
    reasons = [r for d in data["decisions"] for rule in d["rules"] for r in rule["reasons"]]
    assert "days_since_phone_stop is 5 (0-31); the rule needs >= 32" in reasons


# --- points 3 and 4: the readings are attached to the findings they explain -----------------------------------


def test_points_3_and_4_show_in_the_audit() -> None:
    found = audit()
    by_choice = {c["choice_id"]: f for f in found.to_dict("records") for c in f["encoding_choices"]}
    kit = by_choice["EC-WEST1-KIT"]
    assert kit["kind"] == "conflict" and kit["rules"] == ["DEV-W-1", "DEV-W-1K"]
    pre = by_choice["EC-PRE-STOP"]
    assert pre["kind"] == "gap" and pre["decision"] == "ipv4" and pre["witness"]["days_since_phone_stop"] is None
    text = render_text(found)
    assert "encoding choice EC-WEST1-KIT:" in text and "回収キットが送付された場合は" in text
    assert "encoding choice EC-PRE-STOP:" in text and "32 日以上経過していない場合" in text


def test_every_recorded_choice_explains_a_finding_of_the_shipped_book() -> None:
    found = audit()
    used = {c["choice_id"] for cs in found["encoding_choices"] for c in cs}
    assert set(load_choices(default_rulebook())["choice_id"]) == used


def test_a_choice_that_no_longer_matches_drops_off(tmp_path: Path) -> None:
    """Point 3's other reading (the kit sentence as an exception of the row) leaves no conflict there, so the
    choice recorded for it annotates nothing and DEV-W-1 is dead."""
    folder = tmp_path / "exception"
    shutil.copytree(RULES_DIR, folder)
    table = pd.read_csv(folder / "device_action.csv", dtype=str, keep_default_na=False)
    table.loc[table["rule_id"] == "DEV-W-1K", "exception_of"] = "DEV-W-1"
    table.to_csv(folder / "device_action.csv", index=False)
    found = audit(load_rulebook(folder))
    used = {c["choice_id"] for cs in found["encoding_choices"] for c in cs}
    assert "EC-WEST1-KIT" not in used
    assert ("dead_rule", ["DEV-W-1", "DEV-W-1K"]) in [(f["kind"], f["rules"]) for f in found.to_dict("records")]


# --- points 5, 6 and 7: next steps say what the page says, in Japanese first ----------------------------------


def _codes() -> pd.DataFrame:
    return pd.read_csv(RULES_DIR / "codes.csv", dtype=str, keep_default_na=False)


def test_english_adds_no_policy() -> None:
    codes = _codes().set_index(["decision", "code"])
    assert "buy" not in codes.loc[("wifi", "sonet_v6plus_router"), "next_step_en"].lower()
    assert "when the service ends" not in codes.loc[("number", "abolished"), "next_step_en"]
    assert "nothing to do" not in codes.loc[("ipv4", "continues"), "next_step_en"].lower()
    assert "nothing to do" not in codes.loc[("wifi", "continues"), "next_step_en"].lower()
    assert "return the old" not in codes.loc[("device_action", "mail_exchange"), "next_step_en"]
    rule = default_rulebook().rule_index["V4-10G-1"]
    assert "net.10g.1" in rule.source and "電話機能が停止以降に別途お手続きが必要な場合がございます" in rule.note


def test_next_steps_carry_what_the_page_points_to() -> None:
    codes = _codes().set_index(["decision", "code"])
    port = codes.loc[("procedure", "port_out")]
    for section in ("So-net 光 電話解約後の接続設定について", "So-net 光 電話解約後の無線 LAN接続について"):
        assert section in port["next_step_en"] and section in port["next_step_ja"]  # proc.9
    pc = codes.loc[("ipv4", "pppoe_pc")]
    assert "Windows 10 / Windows 11" in pc["next_step_en"] and "Mac OS X 10.7 ~ 11.x" in pc["next_step_en"]
    clauses = pd.read_csv(CLAUSES_CSV, dtype=str, keep_default_na=False)
    linked = set(clauses.loc[clauses["kind"] == "link", "text_ja"])
    named = "".join(codes["next_step_ja"])
    assert {t for t in linked if t not in named} == set(), "every page the page links to is named in a next step"


def test_every_code_has_a_japanese_next_step_quoted_from_the_page() -> None:
    page = PAGE_TXT.read_text(encoding="utf-8")
    clauses = pd.read_csv(CLAUSES_CSV, dtype=str, keep_default_na=False)
    links = set(clauses.loc[clauses["kind"] == "link", "text_ja"])
    for rec in _codes().itertuples(index=False):
        assert rec.next_step_ja.strip(), f"{rec.decision}/{rec.code} has no next_step_ja"
        for piece in rec.next_step_ja.split("／"):
            piece = piece.strip()
            if piece.startswith("『"):  # a page the page links to, by the name the page gives it
                name = piece[1:-1]
                assert piece.endswith("』") and (name in links or name in page), f"{rec.code}: {piece} is not named"
            else:
                assert piece in page, f"{rec.code}: {piece!r} is not a sentence of the page"


def test_cards_and_text_show_the_japanese_next_step_first() -> None:
    exp = explain(area="east", plan="other", device="RT-200KI", setup="rental_only", keep_number=False, days=3)
    ipv4 = exp["ipv4"]
    assert ipv4.next_step_ja.startswith("PPPoE 方式での IPv4 通信をご利用の場合は")
    text = str(exp)
    assert text.index("次に:   PPPoE 方式") < text.index("next:   Set the connection ID")
    html = cards_html(exp)
    assert html.index("sp-next-ja") < html.index("sp-next-en")
    assert json.loads(exp.to_json())["decisions"][2]["next_step_ja"] == ipv4.next_step_ja


@pytest.mark.slow
def test_explain_reads_the_invariants_from_its_own_encoding_as_violations_does() -> None:
    """explain looks the scenario up in the invariants' table with the positions it encoded: the same broken
    invariants as :func:`violations` on the raw scenario, on every broken combination and a sample of others."""
    from sonet_policy.analysis.coverage import scenario_grid
    from sonet_policy.engine.invariants import explain_violations, violations

    book = default_rulebook()
    scenarios, _ = scenario_grid(book)
    broken = violations(scenarios, rulebook=book).any(axis=1)
    picked = pd.concat([scenarios[broken], scenarios[~broken].sample(200, random_state=0)])
    assert broken.sum() > 0
    for rec in picked.to_dict("records"):
        got = {d.decision: [i["invariant_id"] for i in d.invariants] for d in explain(**rec).decisions if d.invariants}
        want = {k: [i["invariant_id"] for i in v] for k, v in explain_violations(rec, rulebook=book).items()}
        assert got == want, rec
