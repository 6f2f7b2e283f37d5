"""The coverage audit reports exactly the gaps, conflicts, overlaps, dead rules and uncited clauses of small
hand-built rule books, under each hit policy; and on the shipped book, exactly what the page leaves open."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sonet_policy import default_rulebook, explain, load_rulebook
from sonet_policy.analysis.audit import COLUMNS, KINDS, audit, counts, rule_usage
from sonet_policy.analysis.readings import ANNOTATIONS
from sonet_policy.book.conditions import Condition
from sonet_policy.book.scope import expand
from sonet_policy.cli.main import main
from sonet_policy.paths import RULES_DIR

CLAUSES = """clause_id,section,kind,normative,line,text_ja,text_en
c1,test,rule,true,1,東は a,east answers a
c2,test,rule,true,2,東の 1G は b,east 1G answers b
c3,test,rule,true,3,v6 は a,v6 answers a
c4,test,rule,true,4,誰も引用しない,nobody cites this
c5,test,note,false,5,注記,a note nobody cites
c6,test,exception,true,6,西の 1G は b,west 1G answers b
c7,test,rule,true,7,制約,a constraint
"""

# Decision x over area x setup (8 combinations; west x wlan_router_10g is ruled out by a constraint):
#   east: wlan_1g -> X1 a and X2 b (conflict), wlan_router_10g -> X1 a, v6plus_router -> X3 a, rental_only -> gap
#   west: wlan_1g -> X5 c overridden by X6 b (X5 dead), v6plus_router -> X3 a and X4 a (overlap), rental_only -> gap
#   X7 matches only the ruled-out west x wlan_router_10g (dead).
X_TABLE = """rule_id,area,setup,x,exception_of,source,note
X1,east,wlan_1g|wlan_router_10g,a,,c1,
X2,east,wlan_1g,b,,c2,
X3,-,v6plus_router,a,,c3,
X4,west,v6plus_router,a,,c3,
X5,west,wlan_1g,c,,c1,
X6,west,wlan_1g,b,X5,c6,
X7,west,wlan_router_10g,a,,c1,
"""
# Decision y over the days: one rule that answers everything (the loader refuses an empty condition such as
# "<0", so the empty-condition test injects one after loading).
Y_TABLE = """rule_id,days_since_phone_stop,y,exception_of,source,note
Y1,-,p,,c1,
"""


def make_book(folder: Path, policy: str) -> Path:
    """A two-decision rule book with a known gap, conflict, overlap, dead rules and an uncited clause."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES_DIR / "inputs.csv", folder / "inputs.csv")
    (folder / "decisions.csv").write_text(
        f"decision,hit_policy,inputs,outputs\nx,{policy},area|setup,x\ny,{policy},days_since_phone_stop,y\n",
        encoding="utf-8",
    )
    (folder / "codes.csv").write_text(
        "decision,code,role,label_ja,label_en\n"
        "x,a,answer,あ,a\nx,b,answer,い,b\nx,c,answer,う,c\ny,p,answer,ぱ,p\ny,q,answer,く,q\n",
        encoding="utf-8",
    )
    (folder / "x.csv").write_text(X_TABLE, encoding="utf-8")
    (folder / "y.csv").write_text(Y_TABLE, encoding="utf-8")
    (folder / "constraints.csv").write_text(
        "constraint_id,area,setup,field,message,source\nK1,west,wlan_router_10g,setup,not in the west,c7\n",
        encoding="utf-8",
    )
    (folder / "clauses.csv").write_text(CLAUSES, encoding="utf-8")
    return folder


def load(folder: Path):
    return load_rulebook(folder, clauses_path=folder / "clauses.csv")


def keyset(findings: pd.DataFrame) -> set[tuple]:
    return {
        (f.kind, f.decision, json.dumps(f.scope, sort_keys=True), tuple(f.rules))
        for f in findings.itertuples(index=False)
    }


def key(kind: str, decision: str, scope: dict, rules: list[str]) -> tuple:
    return (kind, decision, json.dumps(scope, sort_keys=True), tuple(rules))


COMMON = {
    key("gap", "x", {"setup": "rental_only"}, []),
    key("dead_rule", "x", {"area": "west", "setup": "wlan_1g"}, ["X5", "X6"]),
    key("dead_rule", "x", {"area": "west", "setup": "wlan_router_10g"}, ["X7"]),
    key("uncited_clause", "", {}, []),
}
EXPECTED = {
    "UNIQUE": COMMON
    | {
        key("conflict", "x", {"area": "east", "setup": "wlan_1g"}, ["X1", "X2"]),
        key("overlap", "x", {"area": "west", "setup": "v6plus_router"}, ["X3", "X4"]),
    },
    "FIRST": COMMON
    | {
        key("dead_rule", "x", {"area": "east", "setup": "wlan_1g"}, ["X2", "X1"]),
        key("dead_rule", "x", {"area": "west", "setup": "v6plus_router"}, ["X4", "X3"]),
    },
    "COLLECT": COMMON,
}
EXPECTED["ANY"] = EXPECTED["UNIQUE"]
EXPECTED["PRIORITY"] = EXPECTED["FIRST"]  # a > b: X1 (a) masks X2 (b); X3 and X4 both answer a, X3 comes first


@pytest.mark.parametrize("policy", ["UNIQUE", "ANY", "FIRST", "PRIORITY", "COLLECT"])
def test_audit_reports_exactly_the_known_findings(tmp_path: Path, policy: str) -> None:
    book = load(make_book(tmp_path / policy, policy))
    findings = audit(book)
    assert list(findings.columns) == COLUMNS + list(ANNOTATIONS)
    assert keyset(findings) == EXPECTED[policy]
    assert len(findings) == len(EXPECTED[policy]), "one finding per box, nothing repeated"
    uncited = findings[findings["kind"] == "uncited_clause"]
    assert uncited["clauses"].tolist() == [["c4"]], "the uncited normative clause only, not the note"
    assert "誰も引用しない" in uncited["message"].iloc[0], "the Japanese text of the clause"


def test_reasons_of_dead_rules_follow_the_hit_policy(tmp_path: Path) -> None:
    reasons = {}
    for policy in ("UNIQUE", "FIRST", "PRIORITY"):
        findings = audit(load(make_book(tmp_path / policy, policy)))
        dead = findings[findings["kind"] == "dead_rule"]
        dead = dead.set_index(dead["rules"].map(lambda r: r[0]))
        reasons[policy] = dead["message"].to_dict()
    assert "overrides it (X6)" in reasons["UNIQUE"]["X5"]
    assert "constraint rules out" in reasons["UNIQUE"]["X7"]
    assert "under FIRST an earlier rule" in reasons["FIRST"]["X2"]
    assert "under PRIORITY" in reasons["PRIORITY"]["X2"]


def test_a_rule_with_an_empty_condition_is_dead_without_a_witness(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "u", "UNIQUE"))
    y1 = book.rules["y"][0]
    empty = Condition("days_since_phone_stop", "(none)")  # no interval, not null: holds nowhere
    book.rules["y"].append(replace(y1, rule_id="Y2", conditions={"days_since_phone_stop": empty}))
    book.cache.clear()
    findings = audit(book)
    dead = findings[(findings["kind"] == "dead_rule") & (findings["decision"] == "y")]
    assert dead["rules"].tolist() == [["Y2"]]
    assert "condition is empty" in dead["message"].iloc[0]
    assert dead["witness"].iloc[0] is None


def test_findings_come_in_a_fixed_order(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "u", "UNIQUE"))
    findings = audit(book)
    rank = [KINDS.index(k) for k in findings["kind"]]
    assert rank == sorted(rank)
    assert findings["kind"].tolist() == ["gap", "conflict", "overlap", "dead_rule", "dead_rule", "uncited_clause"]
    again = audit(load(make_book(tmp_path / "u2", "UNIQUE")))
    assert keyset(again) == keyset(findings) and again["message"].tolist() == findings["message"].tolist()


def test_witnesses_show_the_finding_in_explain(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "u", "UNIQUE"))
    findings = audit(book)
    want = {"gap": "uncovered", "conflict": "conflict", "overlap": "ok"}
    for f in findings.itertuples(index=False):
        if f.kind in want:
            answer = explain(rulebook=book, **f.witness)[f.decision]
            assert answer.status == want[f.kind], f
            if f.kind == "overlap":
                assert {r.rule_id for r in answer.fired} == set(f.rules)
    dead = findings[findings["kind"] == "dead_rule"]
    dead = dead.set_index(dead["rules"].map(lambda r: r[0]))
    x5 = explain(rulebook=book, **dead.loc["X5", "witness"])["x"]
    assert {r.rule_id: r.state for r in x5.rules}["X5"] == "overridden"


def test_population_counts_customers_per_finding_and_rules_dead_in_practice(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "u", "UNIQUE"))
    base = dict(plan="sml", device="PR-400NE", keep_number="false", days_since_phone_stop="")
    rows = (
        [dict(base, area="east", setup="rental_only")] * 3  # gap
        + [dict(base, area="west", setup="rental_only")] * 2  # gap
        + [dict(base, area="east", setup="wlan_1g")] * 4  # conflict
        + [dict(base, area="west", setup="v6plus_router")]  # overlap
        + [dict(base, area="west", setup="wlan_1g")] * 5  # X6 over X5
        + [dict(base, area="west", setup="wlan_router_10g")]  # ruled out: counted nowhere
        + [dict(base, area="mars", setup="wlan_1g")]  # invalid: counted nowhere
    )
    population = pd.DataFrame(rows)
    findings = audit(book, population=population)
    got = {(f.kind, tuple(f.rules)): f.customers for f in findings.itertuples(index=False)}
    assert got[("gap", ())] == 5
    assert got[("conflict", ("X1", "X2"))] == 4
    assert got[("overlap", ("X3", "X4"))] == 1
    assert got[("dead_rule", ("X5", "X6"))] == 5, "the rows a dead rule matches"
    assert got[("dead_rule", ("X7",))] == 0
    assert pd.isna(got[("uncited_clause", ())])
    assert str(findings["customers"].dtype) == "Int64"
    usage = rule_usage(book, population).set_index("rule_id")
    assert usage.loc["X1", ["matched", "decided", "won"]].tolist() == [4, 4, 0], "one side of a conflict: never won"
    assert usage.loc["X5", ["matched", "decided"]].tolist() == [5, 0]
    assert usage.loc["X6", "won"] == 5
    assert usage.loc["X3", ["decided", "won"]].tolist() == [1, 1]
    assert usage.loc["Y1", "matched"] == 17, "every row its decision answers (the ruled-out and mars rows too)"
    dead = set(usage.index[usage["dead_in_practice"]])
    assert dead == {"X5", "X7"}, "X1/X2 decided rows (in conflict); X4 decided its overlap row"


def test_first_policy_counts_dead_in_practice_by_wins(tmp_path: Path) -> None:
    book = load(make_book(tmp_path / "f", "FIRST"))
    frame = pd.DataFrame(
        [dict(area="east", plan="sml", device="PR-400NE", setup="wlan_1g", keep_number="no", days_since_phone_stop="")]
    )
    usage = rule_usage(book, frame).set_index("rule_id")
    assert usage.loc["X2", ["decided", "won", "dead_in_practice"]].tolist() == [1, 0, True]
    assert bool(usage.loc["X1", "dead_in_practice"]) is False


# The shipped rule book: what the page leaves open.

SHIPPED = {
    key("gap", "ipv4", {"plan": "other", "setup": "v6plus_router", "days_since_phone_stop": "empty"}, []),
    key("gap", "device_action", {"area": "west", "device": ["RS-500KI", "RS-500MI"]}, []),
    ("conflict", "wifi", ("WIFI-2W", "WIFI-W1")),
    ("conflict", "device_action", ("DEV-W-1", "DEV-W-1K")),
    ("overlap", "wifi", ("WIFI-1", "WIFI-W1")),
    # across tables: the router stop of the device table against IPv4 that continues (INV-ROUTER-IPV4)
    ("inconsistency", "ipv4", ("DEV-E-1", "V4-OTH-WLAN")),
    ("inconsistency", "ipv4", ("DEV-W-1", "DEV-W-1K", "V4-SML-2")),
    ("inconsistency", "ipv4", ("DEV-W-1", "DEV-W-1K", "V4-OTH-WLAN")),
}


def test_shipped_book_findings_are_those_the_page_leaves_open() -> None:
    findings = audit()
    assert counts(findings) == {
        "gap": 2,
        "conflict": 2,
        "overlap": 2,
        "dead_rule": 0,
        "uncited_clause": 0,
        "inconsistency": 3,
        "stale_citation": 0,
    }
    brief = {(f.kind, f.decision, tuple(f.rules)) for f in findings.itertuples(index=False)}
    assert brief == {k if len(k) == 3 else (k[0], k[1], k[3]) for k in SHIPPED}
    assert {k for k in keyset(findings) if k[0] == "gap"} == {k for k in SHIPPED if len(k) == 4}
    wifi_conflict = findings[(findings["kind"] == "conflict") & (findings["decision"] == "wifi")].iloc[0]
    assert wifi_conflict["scope"] == {
        "area": "west",
        "device": ["PR-600KI", "PR-600MI", "PR-500KI", "PR-500MI"],
        "setup": "wlan_1g",
    }
    assert "無線 LAN カード、ルーター機能は継続利用不可" in wifi_conflict["message"]
    for f in findings.itertuples(index=False):
        answer = explain(**f.witness)[f.decision]
        if f.kind == "inconsistency":
            assert f.invariant in {i["invariant_id"] for i in answer.invariants}
            continue
        assert answer.status == {"gap": "uncovered", "conflict": "conflict", "overlap": "ok"}[f.kind]


def test_scopes_of_the_shipped_book_cover_exactly_the_grid_cells() -> None:
    """Exactness: per decision, the scopes of each kind hold exactly the valid cells of that outcome."""
    book = default_rulebook()
    compiled = book.compiled()
    findings = audit(book)
    for name, grid in compiled.decisions.items():
        valid = ~grid.invalid  # the decision's own cells that some combination no constraint rules out reaches
        axes = {n: compiled.axes[n].labels for n in grid.inputs}
        status = np.array([o.status for o in grid.outcomes])[grid.outcome_id]
        n_rules = np.array([len(o.rules) for o in grid.outcomes])[grid.outcome_id]
        truth = {
            "gap": valid & (status == "uncovered"),
            "conflict": valid & (status == "conflict"),
            "overlap": valid & (status == "ok") & (n_rules > 1),
        }
        for kind, cells in truth.items():
            scopes = findings[(findings["kind"] == kind) & (findings["decision"] == name)]["scope"].tolist()
            covered = expand(scopes, axes, list(grid.inputs)).reshape(-1)
            assert (covered == cells.astype(int)).all(), (name, kind)


def test_cli_prints_counts_and_json_parses(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    counts = "2 gap, 2 conflict, 2 overlap, 0 dead_rule, 0 uncited_clause, 3 inconsistency, 0 stale_citation"
    assert out.splitlines()[0].endswith(counts)
    assert "[gap] device_action  area=west, device=RS-500KI|RS-500MI" in out
    population = tmp_path / "pop.csv"
    pd.DataFrame(
        [dict(area="west", plan="10g", device="RS-500KI", setup="wlan_1g", keep_number="yes", days_since_phone_stop="")]
    ).to_csv(population, index=False)
    assert main(["audit", "--format", "json", "--population", str(population)]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert "9 findings" in captured.err
    assert [set(r) for r in records] == [set(COLUMNS) | set(ANNOTATIONS) | {"customers"}] * len(records)
    gap = next(r for r in records if r["kind"] == "gap" and r["decision"] == "device_action")
    assert gap["customers"] == 1 and gap["witness"]["keep_number"] is False


def test_cli_reads_another_rule_book_and_reports_load_problems(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(RULES_DIR, folder)
    table = (folder / "device_action.csv").read_text(encoding="utf-8")
    (folder / "device_action.csv").write_text(table.replace("RV-230NE|RV-230SE,-,mail", "RV-230NE,-,mail"), "utf-8")
    assert main(["audit", "--rules", str(folder), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    gaps = [r["scope"] for r in records if r["kind"] == "gap" and r["decision"] == "device_action"]
    assert {"area": "east", "device": "RV-230SE"} in gaps
    (folder / "wifi.csv").write_text("rule_id,area\n", encoding="utf-8")
    assert main(["audit", "--rules", str(folder)]) == 2
    assert "wifi.csv" in capsys.readouterr().err


def test_cli_population_file_as_people_have_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "customers.csv"
    text = (
        "エリア,プラン,機器名,利用環境,番号継続,メモ\n"
        "西,other,ＲＳ－５００ＫＩ,rental_only,no,x\n"
        "東,sml,PR-400NE,wlan_1g,yes,y\n"
    )
    path.write_bytes(text.encode("cp932"))
    assert main(["audit", "--format", "json", "--population", str(path)]) == 0
    records = json.loads(capsys.readouterr().out)
    gap = next(r for r in records if r["kind"] == "gap" and r["decision"] == "device_action")
    assert gap["customers"] == 1, "the West RS-500KI row, typed in full-width"
    assert sum(r["customers"] for r in records if r["kind"] == "conflict") == 0
    assert main(["audit", "--population", str(path)]) == 0
    text = capsys.readouterr().out
    assert "customers: 1" in text
    dead = text.split("rules dead in practice (decided no row of the population): ")[1]
    assert "DEV-W-1K" in dead and "V4-SML-1" not in dead.split("\n", 1)[1], "only the east sml row decides V4-SML-1"
    bad = tmp_path / "bad.csv"
    bad.write_text("area,plan\neast,sml\n", encoding="utf-8")
    assert main(["audit", "--population", str(bad)]) == 2
    assert "device" in capsys.readouterr().err


def test_rows_in_scope_hand_back_the_customers_counted() -> None:
    """On a random population, the rows inside each finding are as many as its customers count, and each row
    inside a gap or conflict evaluates to uncovered or conflict for that decision."""
    from sonet_policy import evaluate
    from sonet_policy.analysis.audit import rows_in_scope

    book = default_rulebook()
    rng = np.random.default_rng(3)
    n = 3000
    population = pd.DataFrame(
        {
            "area": rng.choice(["east", "west"], n),
            "plan": rng.choice(["10g", "sml", "other"], n),
            "device": rng.choice(list(book.models), n),
            "setup": rng.choice(list(book.inputs["setup"].domain), n),
            "keep_number": rng.choice(["yes", "no"], n),
            "days_since_phone_stop": rng.choice(["", "3", "31", "32", "90"], n),
        }
    )
    findings = audit(book, population=population)
    answers = evaluate(population, rulebook=book)
    for f in findings.to_dict(orient="records"):
        inside = rows_in_scope(population, f, rulebook=book)
        assert int(inside.sum()) == f["customers"], f["message"]
        want = {"gap": "uncovered", "conflict": "conflict"}.get(f["kind"])
        if want:
            assert (answers.loc[inside, f["decision"]] == want).all()
    for decision in book.decisions:  # and every uncovered or conflicting row lies in one finding
        for kind, status in (("gap", "uncovered"), ("conflict", "conflict")):
            mine = findings[(findings["kind"] == kind) & (findings["decision"] == decision)]
            assert int(mine["customers"].sum()) == int((answers[decision] == status).sum()), (decision, kind)
    assert int(findings.loc[findings["kind"] == "gap", "customers"].sum()) > 0
    assert rows_in_scope(population, {"decision": "", "scope": {}}).sum() == 0
