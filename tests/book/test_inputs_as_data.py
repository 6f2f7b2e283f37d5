"""Inputs are data: books that are not the shipped one, built from a copy of it with no code change."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import evaluate, explain, load_rulebook
from sonet_policy.analysis.audit import audit
from sonet_policy.engine.possible import possible
from sonet_policy.paths import RULES_DIR


def _kit_sent_book(tmp_path: Path) -> Path:
    folder = tmp_path / "kit"
    shutil.copytree(RULES_DIR, folder)
    inputs = pd.read_csv(folder / "inputs.csv", dtype=str, keep_default_na=False)
    row = dict(
        input="kit_sent",
        type="boolean",
        domain="true|false",
        required="false",
        empty="false",
        label_ja="回収キット送付",
        label_en="A return kit was sent",
        header_aliases="回収キット",
        order="7",
        description="true when a 回収キット was sent",
    )
    pd.concat([inputs, pd.DataFrame([row])], ignore_index=True).to_csv(folder / "inputs.csv", index=False)
    decisions = pd.read_csv(folder / "decisions.csv", dtype=str, keep_default_na=False)
    decisions.loc[decisions["decision"] == "device_action", "inputs"] += "|kit_sent"
    decisions.to_csv(folder / "decisions.csv", index=False)
    table = pd.read_csv(folder / "device_action.csv", dtype=str, keep_default_na=False)
    table.insert(4, "kit_sent", "-")
    table.loc[table["rule_id"] == "DEV-W-1K", ["kit_sent", "exception_of"]] = ["true", "DEV-W-1"]
    table.to_csv(folder / "device_action.csv", index=False)
    return folder


WEST = dict(area="west", plan="other", device="PR-400NE", setup="rental_only", keep_number="no")


@pytest.mark.slow
def test_kit_sent_input_resolves_the_west_conflict(tmp_path: Path) -> None:
    book = load_rulebook(_kit_sent_book(tmp_path))
    conflicts = audit(book)
    dev = conflicts[(conflicts["kind"] == "conflict") & (conflicts["decision"] == "device_action")]
    assert dev.empty
    shipped = audit()
    assert not shipped[(shipped["kind"] == "conflict") & (shipped["decision"] == "device_action")].empty
    japanese = evaluate(pd.DataFrame([{**WEST, "回収キット": "はい"}]), rulebook=book)  # the header alias
    assert japanese.loc[0, "device_action"] == "return_if_kit"
    out = evaluate(pd.DataFrame([{**WEST, "kit_sent": "Y"}, {**WEST, "kit_sent": "no"}, WEST]), rulebook=book)
    assert out["device_action"].tolist() == ["return_if_kit", "none", "none"]
    exp = explain(rulebook=book, **WEST, kit_sent="yes")
    assert exp["device_action"].code == "return_if_kit" and "回収キット送付" in str(exp)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "sonet_policy",
            "explain",
            "--rules",
            str(book.folder),
            "--area",
            "west",
            "--plan",
            "other",
            "--device",
            "PR-400NE",
            "--setup",
            "rental_only",
            "--keep-number",
            "no",
            "--kit-sent",
            "yes",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    assert "answer: return_if_kit" in cli.stdout


def test_a_new_plan_value_is_data(tmp_path: Path) -> None:
    folder = tmp_path / "plan"
    shutil.copytree(RULES_DIR, folder)
    inputs = pd.read_csv(folder / "inputs.csv", dtype=str, keep_default_na=False)
    inputs.loc[inputs["input"] == "plan", "domain"] += "|mansion"
    inputs.to_csv(folder / "inputs.csv", index=False)
    ipv4 = pd.read_csv(folder / "ipv4.csv", dtype=str, keep_default_na=False)
    ipv4.loc[ipv4["rule_id"] == "V4-OTH-RENT", "plan"] = "other|mansion"
    ipv4.to_csv(folder / "ipv4.csv", index=False)
    book = load_rulebook(folder)
    out = evaluate(pd.DataFrame([{**WEST, "plan": "mansion"}]), rulebook=book)
    assert out.loc[0, "ipv4"] == "pppoe_pc"
    assert "mansion" in possible(rulebook=book, plan="mansion").known.values()


def test_a_synthetic_book_of_twelve_inputs_compiles_per_decision(tmp_path: Path) -> None:
    """12 inputs of 10 values, 5 decisions of 4 inputs: the dense product would be 10**12 cells."""
    folder = tmp_path / "syn"
    shutil.copytree(RULES_DIR, folder)
    for f in folder.glob("*.csv"):
        if f.name not in ("codes.csv",):
            f.unlink()
    values = "|".join(f"v{k}" for k in range(10))
    pd.DataFrame([dict(input=f"i{k}", type="category", domain=values, required="true") for k in range(12)]).to_csv(
        folder / "inputs.csv", index=False
    )
    decisions, codes = [], []
    for d in range(5):
        reads = [f"i{(d * 2 + j) % 12}" for j in range(4)]
        decisions.append(dict(decision=f"d{d}", hit_policy="UNIQUE", inputs="|".join(reads), outputs=f"d{d}"))
        codes += [dict(decision=f"d{d}", code=c, role="answer", label_ja=c, label_en=c) for c in ("a", "b")]
        rules = [
            {"rule_id": f"D{d}-A", **{i: "-" for i in reads}, f"d{d}": "a", "source": "pre.1"},
            {
                "rule_id": f"D{d}-B",
                **{i: "-" for i in reads},
                f"d{d}": "b",
                "source": "pre.1",
                "exception_of": f"D{d}-A",
            },
        ]
        rules[1][reads[0]] = "v0|v1"
        pd.DataFrame(rules).fillna("").to_csv(folder / f"d{d}.csv", index=False)
    pd.DataFrame(decisions).to_csv(folder / "decisions.csv", index=False)
    pd.DataFrame(codes).to_csv(folder / "codes.csv", index=False)
    book = load_rulebook(folder)
    compiled = book.compiled()
    assert compiled.dense_cells == 10**12 and compiled.n_cells == 5 * 10**4
    frame = pd.DataFrame({f"i{k}": [f"v{(r + k) % 10}" for r in range(2000)] for k in range(12)})
    out = evaluate(frame, rulebook=book)
    assert len(out) == 2000 and set(out["status"]) == {"ok"}
    assert out.loc[0, "d0"] == "b" and out.loc[5, "d0"] == "a"
    findings = audit(book)
    assert set(findings["kind"]) <= {"uncited_clause"}
