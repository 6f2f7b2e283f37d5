"""Safe edits: proposals are copies; saving validates first and writes atomically; the baseline is never
written; a rule book cannot make the loader read outside its folder."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest

from sonet_policy import RuleBookError, evaluate, load_rulebook
from sonet_policy.analysis.proposals import (
    copy_rulebook,
    create_proposal,
    read_table,
    save_table,
    validate_proposal,
    write_table,
)
from sonet_policy.cli.main import main
from sonet_policy.files.write import BaselineWriteError
from sonet_policy.paths import RULES_DIR


def digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module", autouse=True)
def baseline_untouched():
    before = digest(RULES_DIR)
    yield
    assert digest(RULES_DIR) == before, "the baseline rule book was modified"


@pytest.fixture
def proposal(tmp_path):
    return create_proposal("edit-1", root=tmp_path)


def test_create_copies_every_table_and_loads_with_the_same_hash(proposal):
    assert digest(proposal) == digest(RULES_DIR)
    assert load_rulebook(proposal).hash == load_rulebook(RULES_DIR).hash
    assert validate_proposal(proposal).empty


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "a..b"])
def test_bad_proposal_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="proposal name"):
        create_proposal(name, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_proposal_is_not_overwritten(proposal, tmp_path):
    with pytest.raises(FileExistsError):
        create_proposal("edit-1", root=tmp_path)


@pytest.mark.slow
def test_save_valid_table_writes_and_changes_hash_and_answers(proposal):
    table = read_table(proposal / "wifi.csv")
    table.loc[table["rule_id"] == "WIFI-3", "wifi"] = "stops"
    book = save_table(proposal, "wifi", table)
    assert book.hash != load_rulebook(RULES_DIR).hash
    assert read_table(proposal / "wifi.csv").equals(table)
    row = pd.DataFrame([dict(area="east", plan="10g", device="XG-100NE", setup="wlan_router_10g", keep_number=True)])
    out = evaluate(row, rulebook=book)
    assert out.loc[0, "wifi"] == "stops" and out.loc[0, "rulebook_hash"] == book.hash
    assert not list(proposal.glob(".*.tmp")), "no temporary file is left behind"


def test_save_invalid_table_writes_nothing_and_lists_every_problem(proposal):
    before = digest(proposal)
    table = read_table(proposal / "wifi.csv")
    table.loc[0, "wifi"] = "sometimes"  # unknown code
    table.loc[1, "device"] = "PR-700KI"  # not in the catalogue
    with pytest.raises(RuleBookError) as err:
        save_table(proposal, "wifi", table)
    problems = err.value.problems
    assert set(problems["file"]) == {"wifi.csv"}
    assert set(zip(problems["row"], problems["column"], strict=True)) == {(2, "wifi"), (3, "device")}
    assert digest(proposal) == before


def test_save_refuses_the_baseline_before_any_work():
    table = read_table(RULES_DIR / "wifi.csv")
    with pytest.raises(BaselineWriteError):
        save_table(RULES_DIR, "wifi", table)
    with pytest.raises(BaselineWriteError):
        write_table(RULES_DIR / "wifi.csv", table)
    with pytest.raises(BaselineWriteError):
        copy_rulebook(RULES_DIR, RULES_DIR / "sub")
    # a path that reaches the baseline through '..' or a symlink is refused too
    with pytest.raises(BaselineWriteError):
        write_table(RULES_DIR / ".." / "rules" / "wifi.csv", table)


def test_save_refuses_the_baseline_through_a_symlink(tmp_path):
    link = tmp_path / "looks-like-a-proposal"
    link.symlink_to(RULES_DIR, target_is_directory=True)
    with pytest.raises(BaselineWriteError):
        save_table(link, "wifi", read_table(RULES_DIR / "wifi.csv"))


@pytest.mark.parametrize("name", ["../decisions", "wifi.csv", "nope"])
def test_save_only_known_tables(proposal, name):
    with pytest.raises(ValueError):
        save_table(proposal, name, read_table(proposal / "wifi.csv"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(proposal, monkeypatch):
    original = (proposal / "wifi.csv").read_bytes()

    def boom(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        write_table(proposal / "wifi.csv", read_table(proposal / "wifi.csv"))
    assert (proposal / "wifi.csv").read_bytes() == original
    assert sorted(p.name for p in proposal.iterdir()) == sorted(p.name for p in RULES_DIR.iterdir())


def test_validate_returns_problems_instead_of_raising(proposal, tmp_path):
    (proposal / "number.csv").unlink()
    problems = validate_proposal(proposal)
    assert problems[["file", "problem"]].values.tolist() == [["number.csv", "file is missing"]]
    missing = validate_proposal(tmp_path / "does-not-exist")
    assert len(missing) == 1 and missing.loc[0, "problem"] == "not a folder"


# --- loading cannot read outside the folder -------------------------------------------------------------


def test_a_decision_name_that_climbs_out_is_refused_without_reading(proposal, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("rule_id,keep_number,number,exception_of,source,note\n", encoding="utf-8")
    decisions = read_table(proposal / "decisions.csv")
    decisions.loc[decisions["decision"] == "number", "decision"] = "../secret"
    write_table(proposal / "decisions.csv", decisions)
    problems = validate_proposal(proposal)
    hit = problems[(problems["file"] == "decisions.csv") & (problems["column"] == "decision")]
    assert hit["value"].tolist() == ["../secret"]
    assert not problems["file"].str.contains("secret.csv").any()


@pytest.mark.parametrize("file", ["wifi.csv", "decisions.csv", "constraints.csv"])
def test_a_symlink_out_of_the_folder_is_not_read(proposal, tmp_path, file):
    outside = tmp_path / "outside.csv"
    outside.write_bytes((RULES_DIR / file).read_bytes())  # a perfectly valid table, but outside the folder
    (proposal / file).unlink()
    (proposal / file).symlink_to(outside)
    problems = validate_proposal(proposal)
    hit = problems[problems["file"] == file]
    assert hit["problem"].str.contains("outside the rule book folder").all() and len(hit) == 1


def test_the_hash_ignores_files_outside_the_folder(proposal, tmp_path):
    outside = tmp_path / "other.csv"
    outside.write_text("a\n1\n", encoding="utf-8")
    (proposal / "extra.csv").symlink_to(outside)
    before = load_rulebook(proposal).hash
    outside.write_text("a\n2\n", encoding="utf-8")
    assert load_rulebook(proposal).hash == before


@pytest.mark.slow
def test_cli_new_and_check(tmp_path, capsys):
    assert main(["proposal", "new", "p1", "--root", str(tmp_path)]) == 0
    folder = tmp_path / "p1"
    table = read_table(folder / "number.csv")
    table.loc[table["rule_id"] == "NUM-2", "number"] = "abolished"
    save_table(folder, "number", table)
    capsys.readouterr()
    assert main(["proposal", "check", "p1", "--root", str(tmp_path)]) == 0
    assert "NUM-2" in capsys.readouterr().out
    customers = tmp_path / "customers.csv"
    customers.write_text(
        "area,plan,device,setup,keep_number\neast,sml,PR-600KI,rental_only,yes\nwest,sml,PR-600KI,rental_only,no\n",
        encoding="utf-8",
    )
    assert main(["proposal", "check", "p1", "--root", str(tmp_path), "--population", str(customers)]) == 0
    out = capsys.readouterr().out
    number = [line.split() for line in out.splitlines() if line.strip().startswith("number ")]
    # number: changed cells, boxes, customers, changed, share: one of the two customers keeps the number
    assert number and number[0][1:] == ["1", "1", "2", "1", "0.5"]
    os.remove(folder / "codes.csv")
    assert main(["proposal", "check", str(folder)]) == 2
    assert "codes.csv" in capsys.readouterr().err


@pytest.mark.slow
def test_review_validates_audits_and_diffs_against_the_baseline(proposal):
    from sonet_policy.analysis.proposals import review_proposal

    table = read_table(proposal / "device_action.csv")
    save_table(proposal, "device_action", table[table["rule_id"] != "DEV-W-1K"])
    review = review_proposal(proposal)
    assert review.ok
    change = review.findings_change.set_index("kind")["change"]
    # West's return-kit footnote rule was the other side of a conflict, and the only rule citing its clause
    assert change["conflict"] == -1 and change["uncited_clause"] == 1
    uncited = review.findings[review.findings["kind"] == "uncited_clause"]
    assert uncited["clauses"].map(list).tolist() == [["dev.w.n1b"]]
    assert review.diff.changed_decisions == ["device_action"]
    assert set(review.diff.changes["before_code"]) == {"conflict"}
    assert set(review.diff.changes["after_code"]) == {"none"}
    (proposal / "codes.csv").write_text("decision,code\n", encoding="utf-8")
    broken = review_proposal(proposal)
    assert not broken.ok and broken.diff is None and "codes.csv" in set(broken.problems["file"])


def test_a_table_symlinked_to_the_baseline_is_never_written(proposal):
    (proposal / "wifi.csv").unlink()
    (proposal / "wifi.csv").symlink_to(RULES_DIR / "wifi.csv")
    table = read_table(RULES_DIR / "wifi.csv")
    table.loc[table["rule_id"] == "WIFI-3", "wifi"] = "stops"
    with pytest.raises(BaselineWriteError):
        save_table(proposal, "wifi", table)
    assert read_table(RULES_DIR / "wifi.csv").loc[2, "wifi"] == "continues"
