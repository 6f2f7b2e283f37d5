"""A revised page: the splitter gives the shipped clauses back, the alignment says what changed (and nothing when
only spacing changed), the proposal carries the new page, and the audit shows which rules stand on changed text.

Every revision here is built from the shipped page by a named edit, so each test says what an editor did."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from sonet_policy import load_rulebook
from sonet_policy.analysis.audit import audit, counts
from sonet_policy.analysis.proposals import read_table, review_proposal
from sonet_policy.analysis.revision import compare, review, stamp, update
from sonet_policy.cli.main import main
from sonet_policy.errors import PageError
from sonet_policy.paths import RULES_DIR
from sonet_policy.source.alignment import align
from sonet_policy.source.citations import text_citations
from sonet_policy.source.clauses import page_text, read_clauses
from sonet_policy.source.revision import apply_edits
from sonet_policy.source.splitter import split_page

PAGE = page_text()
LINES = PAGE.splitlines()

MODEL_ADDED = [("east: PR-300NE joins the visit-exchange row", "PR-200NE |", "PR-200NE PR-300NE |")]
DAY_BOUND = [
    ("heading: 32 → 30 days", "停止から 32 日以上経過している場合\n", "停止から 30 日以上経過している場合\n"),
    ("body: 32 → 30 days", "32 日以降経過後", "30 日以降経過後"),
    (
        "heading: under 32 → under 30",
        "停止から 32 日以上経過していない場合\n",
        "停止から 30 日以上経過していない場合\n",
    ),
]
FOOTNOTE_DROPPED = [
    ("west ※1 loses its second sentence", "回収キットが送付された場合は、回収キットにて機器を返却してください。\n", "")
]
SENTENCE_ADDED = [
    (
        "a sentence after net.owl.2",
        "別途、設定やお手続き等は必要ありません。\n",
        "別途、設定やお手続き等は必要ありません。\nルーターの再起動が必要な場合があります。\n",
    )
]


def digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module", autouse=True)
def baseline_untouched():
    before = digest(RULES_DIR), digest(RULES_DIR.parent / "source")
    yield
    assert (digest(RULES_DIR), digest(RULES_DIR.parent / "source")) == before, "the baseline was modified"


def lines_swapped(first: range, second: range) -> str:
    """The page with two adjacent blocks of lines (1-based, ``first`` before ``second``) swapped."""
    a = [LINES[n - 1] for n in first]
    b = [LINES[n - 1] for n in second]
    return "\n".join(LINES[: first.start - 1] + b + a + LINES[second.stop - 1 :]) + "\n"


def status_of(report, clause_id: str) -> str:
    rows = report.clauses[(report.clauses["old_id"] == clause_id) | (report.clauses["new_id"] == clause_id)]
    return rows["status"].iloc[0]


# ---------------------------------------------------------------- the splitter ----


def test_splitting_the_shipped_page_gives_back_every_clause_line_and_text() -> None:
    table = read_clauses()
    split = split_page(PAGE)
    assert split.problems == []
    assert [(s.line, s.text) for s in split.segments] == list(zip(table["line"], table["text_ja"], strict=True))


def test_table_rows_are_marked_and_belong_to_their_table() -> None:
    segs = split_page(PAGE).segments
    rows = [(s.text.split(" | ")[0], s.table) for s in segs if s.row]
    assert len(rows) == 7
    assert ("PR-200NE", 96) in rows and ("PR-200NE RV-230NE/SE", 111) in rows


@pytest.mark.parametrize(
    "edit, line, problem",
    [
        (("three cells", "PR-200NE | 訪問での機器交換となります。 |", "PR-200NE | 訪問 | 余分 |"), "100", "3 cells"),
        (
            (
                "answer line lost",
                "機器返却が必要な場合があります。 「回収キット」が郵送されましたら機器をご返却ください。※3 |\n※1 PR",
                "※1 PR",
            ),
            "103",
            "1 of 2",
        ),
        (("model cell in prose", "PR-200NE |", "PR-200NE 新機種 |"), "100", "not in the page's device notation"),
    ],
)
@pytest.mark.slow
def test_a_table_row_that_cannot_be_parsed_is_reported_by_line_never_raised(edit, line, problem, tmp_path) -> None:
    page = apply_edits(PAGE, [edit])
    report = compare(page)
    assert len(report.problems) == 1
    found = report.problems.iloc[0]
    assert found["line"].split("-")[0] == line and problem in found["problem"]
    assert "cannot be read" in str(report) or "could not parse" in str(report)
    with pytest.raises(PageError, match=f"line {line}"):
        update(page, "broken", root=tmp_path)
    assert not (tmp_path / "broken").exists(), "nothing is written for a page the kit cannot read"
    new = tmp_path / "new.txt"
    new.write_text(page, encoding="utf-8")
    assert main(["source", "diff", str(new)]) == 0
    assert main(["source", "update", str(new), "--proposal", "broken", "--root", str(tmp_path)]) == 2


def test_the_splitter_never_raises_on_odd_text() -> None:
    for text in ["", "|", "---|---|", "a |\n---|---|\n", "a |\n---|---|\nb |\nc | d | e | f |\n", "・\n※\n|||\n"]:
        split_page(text)


# ---------------------------------------------------------------- the alignment ----


def test_whitespace_width_and_blank_lines_are_not_edits() -> None:
    page = "\n\n".join(line.replace(" ", "  ").replace("So-net", "Ｓｏ－ｎｅｔ") + "  " for line in LINES)
    page = page.replace("32 日", "３２　日")
    assert page != PAGE
    report = compare(page)
    assert report.counts() == {"unchanged": 119, "moved": 0, "edited": 0, "added": 0, "removed": 0}
    assert report.stale_rules == [] and report.devices.empty and report.numbers == [] and report.problems.empty


def test_a_model_added_to_a_row_edits_that_row_only_and_adds_the_model() -> None:
    report = compare(apply_edits(PAGE, MODEL_ADDED))
    assert report.counts()["edited"] == 1 and report.counts()["unchanged"] == 118
    assert status_of(report, "dev.e.r2") == "edited"
    assert report.devices.to_dict(orient="records") == [
        dict(change="added", area="east", model="PR-300NE", row="dev.e.r2")
    ]
    stale = [(s["rule_id"], s["table"], s["row"]) for s in report.stale_rules]
    assert stale == [
        ("DEV-E-2", "device_action.csv", 4),
        ("INV-EXCHANGE-WIFI", "invariants.csv", 4),
        ("device_action/onsite_exchange", "codes.csv", 20),  # its label quotes the row (citations.csv)
    ]
    assert report.numbers == [], "the digits inside a model name are not a number of the page"
    assert "PR-300NE" in set(report.new_catalogue["model"])


def test_a_model_moved_between_areas_is_removed_from_one_table_and_added_to_the_other() -> None:
    report = compare(
        apply_edits(
            PAGE,
            [
                ("east row 1 drops RS-500KI/MI", "PR-S300NE/SE/HI RS-500KI/MI |", "PR-S300NE/SE/HI |"),
                (
                    "west row 1 gets RS-500KI/MI",
                    "RV-S340NE/SE/HI |\n機器の返却",
                    "RV-S340NE/SE/HI RS-500KI/MI |\n機器の返却",
                ),
            ],
        )
    )
    got = report.devices.sort_values(["change", "model"]).to_dict(orient="records")
    assert got == [
        dict(change="added", area="west", model="RS-500KI", row="dev.w.r1"),
        dict(change="added", area="west", model="RS-500MI", row="dev.w.r1"),
        dict(change="removed", area="east", model="RS-500KI", row="dev.e.r1"),
        dict(change="removed", area="east", model="RS-500MI", row="dev.e.r1"),
    ]
    cat = report.new_catalogue.set_index("model")
    assert cat.loc["RS-500KI", "west"] and not cat.loc["RS-500KI", "east"]
    stale = {s["rule_id"] for s in report.stale_rules}
    assert stale == {"DEV-E-1", "DEV-W-1", "WIFI-W1", "INV-ROUTER-WIFI", "INV-ROUTER-IPV4"} | {
        "EC-WEST1-KIT",  # the readings and the code label that quote the two rows (citations.csv)
        "EC-RS500-WEST",
        "device_action/none",
    }


def test_a_footnote_sentence_removed_is_removed_and_its_rule_is_stale() -> None:
    report = compare(apply_edits(PAGE, FOOTNOTE_DROPPED))
    assert report.counts() == {"unchanged": 118, "moved": 0, "edited": 0, "added": 0, "removed": 1}
    assert status_of(report, "dev.w.n1b") == "removed"
    assert [s["rule_id"] for s in report.stale_rules] == ["DEV-W-1K", "EC-WEST1-KIT"]  # the reading quotes it too
    stale = report.stale_rules[0]
    assert stale["clauses"] == [
        dict(
            clause_id="dev.w.n1b",
            status="removed",
            old_text="回収キットが送付された場合は、回収キットにて機器を返却してください。",
            new_text=None,
        )
    ]


def test_a_changed_day_bound_points_at_the_rule_cells_that_use_it() -> None:
    report = compare(apply_edits(PAGE, DAY_BOUND))
    assert sorted(report.changed["old_id"]) == ["net.ov6.4", "net.ov6.5", "net.ov6.8"]
    assert set(report.changed["status"]) == {"edited"}
    assert all(r > 0.9 for r in report.changed["similarity"])
    cells = {
        (n["clause_id"], n["old"], n["new"], u["rule_id"], u["cell"], u["match"])
        for n in report.numbers
        for u in n["cells"]
    }
    assert ("net.ov6.4", 32, 30, "V4-OTH-V6-32", ">=32", "exact") in cells
    assert ("net.ov6.8", 32, 30, "V4-OTH-V6-31", "[0,31]", "adjacent") in cells
    assert {s["rule_id"] for s in report.stale_rules} == {"V4-OTH-V6-32", "V4-OTH-V6-31"} | {
        "EC-PRE-STOP",  # every other row of the book that quotes the days (citations.csv)
        "ipv4/reapply_v6plus",
        "branch.days_since_phone_stop.>=32",
        "branch.days_since_phone_stop.0-31",
    }


def test_a_sentence_added_gets_a_new_id_and_renumbers_nothing_else() -> None:
    report = compare(apply_edits(PAGE, SENTENCE_ADDED))
    assert report.counts() == {"unchanged": 119, "moved": 0, "edited": 0, "added": 1, "removed": 0}
    added = report.changed.iloc[0]
    assert added["new_id"] == "net.owl.3" and added["section"] == "ipv4.other_wlan_1g"
    table = report.new_clauses
    old = read_clauses()
    kept = table[table["revision"] != "added"]
    assert kept["clause_id"].tolist() == old["clause_id"].tolist()
    assert kept["text_ja"].tolist() == old["text_ja"].tolist()
    new = table[table["revision"] == "added"].iloc[0]
    assert (new["normative"], new["reviewed"], new["text_en"]) == ("true", "false", "")
    assert report.stale_rules == []


def test_lines_reordered_are_moves() -> None:
    report = compare(lines_swapped(range(106, 107), range(107, 108)))  # east ※2 and ※3 change places
    assert report.counts() == {"unchanged": 118, "moved": 1, "edited": 0, "added": 0, "removed": 0}
    assert report.stale_rules == []


@pytest.mark.parametrize(
    "first, second, moved",
    [(range(25, 30), range(30, 38), 5), (range(71, 78), range(78, 88), 7), (range(94, 109), range(109, 124), 11)],
    ids=["10g and S/M/L sections", "wifi and the repeated procedure", "east and west device tables"],
)
def test_two_sections_swapped_are_moves_not_removals_and_additions(first, second, moved) -> None:
    page = lines_swapped(first, second)
    report = compare(page)
    c = report.counts()
    assert c["added"] == c["removed"] == c["edited"] == 0
    assert c["moved"] == moved and c["unchanged"] == 119 - moved
    moved_ids = report.clauses.loc[report.clauses["status"] == "moved", "old_id"]
    assert moved_ids.str.rsplit(".", n=1).str[0].nunique() == 1, "the moves are one whole section"
    assert (report.clauses["old_id"] == report.clauses["new_id"]).all()
    assert report.stale_rules == [] and report.devices.empty


def test_align_is_order_independent_for_a_full_reversal() -> None:
    texts = [f"文{k}。" for k in range(6)]
    result = align(texts, texts[::-1])
    assert sorted(i for _s, i, _j, _r, _m in result) == list(range(6))
    assert {s for s, *_ in result} == {"unchanged", "moved"}


def test_a_rewrite_beyond_the_threshold_is_removed_and_added() -> None:
    report = compare(
        apply_edits(PAGE, [("rewritten", "別途、設定やお手続き等は必要ありません。", "何もする必要はございません。")])
    )
    assert report.counts()["removed"] == 1 and report.counts()["added"] == 1


# ---------------------------------------------------------------- the command line ----


def test_source_diff_json_has_the_documented_keys(tmp_path, capsys) -> None:
    new = tmp_path / "new.txt"
    new.write_text(apply_edits(PAGE, MODEL_ADDED + FOOTNOTE_DROPPED), encoding="utf-8")
    assert main(["source", "diff", str(new), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"clauses", "stale_rules", "devices", "numbers", "counts"} <= set(out)
    assert all({"status", "old_id", "new_id", "old_text", "new_text"} <= set(c) for c in out["clauses"])
    assert len(out["clauses"]) == 119 and out["counts"]["unchanged"] == 117
    assert {c["status"] for c in out["clauses"]} == {"unchanged", "edited", "removed"}
    assert all({"rule_id", "clauses"} <= set(s) for s in out["stale_rules"])
    assert out["devices"] == [dict(change="added", area="east", model="PR-300NE", row="dev.e.r2")]


def test_source_commands_say_what_is_missing() -> None:
    assert main(["source", "diff"]) == 2
    assert main(["source", "update", "x.txt"]) == 2
    assert main(["source", "review", "WIFI-1"]) == 2


# ---------------------------------------------------------------- the proposal on a new page ----


@pytest.fixture
def revised(tmp_path):
    """A proposal on a page with a model added, a day bound moved, a footnote sentence dropped and a sentence added."""
    page = apply_edits(PAGE, MODEL_ADDED + DAY_BOUND + FOOTNOTE_DROPPED + SENTENCE_ADDED)
    folder, report = update(page, "revised", root=tmp_path)
    return folder, report


def test_update_writes_the_page_its_clauses_and_catalogue_beside_the_rules_as_they_were(revised) -> None:
    folder, report = revised
    assert (folder / "sonet-hikari-denwa-cancellation.txt").read_text(encoding="utf-8").count("PR-300NE") == 1
    book = load_rulebook(folder)
    assert "PR-300NE" in book.models and "net.owl.3" in set(book.clauses["clause_id"])
    for decision in book.decisions:
        rules, base = read_table(folder / f"{decision}.csv"), read_table(RULES_DIR / f"{decision}.csv")
        pd.testing.assert_frame_equal(rules, base)  # the shipped rules are stamped already: kept as they are
        assert rules["cited_hash"].str.fullmatch(r"[0-9a-f]{12}").all()
    table = read_clauses(folder / "clauses.csv")
    removed = table.loc["dev.w.n1b"]
    assert (removed["revision"], removed["text_ja"], bool(removed["normative"])) == ("removed", "", False)


def test_the_audit_of_the_proposal_shows_stale_citations_and_the_new_clause(revised) -> None:
    folder, _ = revised
    findings = audit(folder)
    stale = findings[findings["kind"] == "stale_citation"].set_index(
        findings[findings["kind"] == "stale_citation"]["rules"].str[0]
    )
    assert set(stale.index) == {"DEV-E-2", "DEV-W-1K", "V4-OTH-V6-32", "V4-OTH-V6-31", "INV-EXCHANGE-WIFI"} | {
        "EC-PRE-STOP",  # the rows of the tables citations.csv names
        "EC-WEST1-KIT",
        "ipv4/reapply_v6plus",
        "device_action/onsite_exchange",
        "branch.days_since_phone_stop.>=32",
        "branch.days_since_phone_stop.0-31",
    }
    assert "Invariant INV-EXCHANGE-WIFI (invariants.csv row 4)" in stale.loc["INV-EXCHANGE-WIFI", "message"]
    assert stale.loc["INV-EXCHANGE-WIFI", "invariant"] == "INV-EXCHANGE-WIFI"
    row = stale.loc["V4-OTH-V6-32"]
    assert (
        row["scope"] == {"plan": "other", "setup": "v6plus_router", "days_since_phone_stop": [">=32"]} or row["scope"]
    )
    assert "32 日以上経過している場合" in row["message"] and "30 日以上経過している場合" in row["message"]
    assert row["witness"]["plan"] == "other" and row["witness"]["days_since_phone_stop"] >= 32
    assert "(removed from the page)" in stale.loc["DEV-W-1K", "message"]
    uncited = findings[findings["kind"] == "uncited_clause"]
    assert uncited["clauses"].tolist() == [["net.owl.3"]]
    assert counts(audit())["stale_citation"] == 0


@pytest.mark.slow
def test_review_clears_a_stale_citation_and_marks_a_clause_read(revised) -> None:
    folder, _ = revised
    assert review(folder, ["V4-OTH-V6-32", "net.owl.3"]) == {"rules": ["V4-OTH-V6-32"], "clauses": ["net.owl.3"]}
    stale = audit(folder)
    stale = stale[stale["kind"] == "stale_citation"]["rules"].str[0].tolist()
    assert "V4-OTH-V6-32" not in stale and "V4-OTH-V6-31" in stale
    assert read_clauses(folder / "clauses.csv").loc["net.owl.3", "reviewed"] == "true"
    with pytest.raises(ValueError, match="NOPE"):
        review(folder, ["NOPE"])
    assert main(["source", "review", "V4-OTH-V6-31", "--proposal", str(folder)]) == 0
    assert "V4-OTH-V6-31" not in audit(folder)["rules"].str[0].tolist()
    assert counts(audit(folder))["uncited_clause"] == 1, "reviewed, the new sentence is still normative"
    assert main(["source", "review", "net.owl.3", "--kind", "warning", "--proposal", str(folder)]) == 0
    assert counts(audit(folder))["uncited_clause"] == 0
    assert read_clauses(folder / "clauses.csv").loc["net.owl.3", "kind"] == "warning"


@pytest.mark.slow
def test_editing_a_rule_source_without_review_makes_it_stale(tmp_path) -> None:
    folder, _ = update(PAGE, "same", root=tmp_path)
    assert counts(audit(folder))["stale_citation"] == 0
    table = read_table(folder / "wifi.csv")
    table.loc[table["rule_id"] == "WIFI-3", "source"] = "dev.e.n4|wifi.4"
    table.to_csv(folder / "wifi.csv", index=False)
    stale = audit(folder)
    assert stale[stale["kind"] == "stale_citation"]["rules"].tolist() == [["WIFI-3"]]


def test_the_loader_reads_a_proposals_own_clauses_and_checks_the_hash_format(revised) -> None:
    folder, _ = revised
    assert load_rulebook(folder).clauses.loc["net.ov6.4", "text_ja"].count("30 日") == 1
    assert load_rulebook().clauses.loc["net.ov6.4", "text_ja"].count("32 日") == 1
    table = read_table(folder / "wifi.csv")
    table.loc[0, "cited_hash"] = "not-a-hash"
    table.to_csv(folder / "wifi.csv", index=False)
    with pytest.raises(Exception) as info:
        load_rulebook(folder)
    problems = info.value.problems
    assert problems[["file", "row", "column", "value"]].values.tolist() == [["wifi.csv", 2, "cited_hash", "not-a-hash"]]


def test_stamp_never_writes_the_baseline() -> None:
    from sonet_policy.files.write import BaselineWriteError

    with pytest.raises(BaselineWriteError):
        stamp(RULES_DIR)


@pytest.mark.slow
def test_proposal_check_lists_stale_citations_uncited_clauses_and_customers_who_move(revised, capsys) -> None:
    from sonet_policy.analysis.population import synthetic_population

    folder, _ = revised
    for rid, cell in (("V4-OTH-V6-32", ">=30"), ("V4-OTH-V6-31", "[0,29]")):
        table = read_table(folder / "ipv4.csv")
        table.loc[table["rule_id"] == rid, "days_since_phone_stop"] = cell
        table.to_csv(folder / "ipv4.csv", index=False)
    population = synthetic_population(20_000, seed=1)
    result = review_proposal(folder, population=population)
    assert result.ok
    change = result.findings_change.set_index("kind")["change"]
    assert change["stale_citation"] == 11 and change["uncited_clause"] == 1
    moved = result.diff.shift.set_index("decision").loc["ipv4", "changed"]
    days = population["days_since_phone_stop"]
    expected = ((population["plan"] == "other") & (population["setup"] == "v6plus_router") & days.isin([30, 31])).sum()
    assert moved == expected > 0
    assert main(["proposal", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "stale_citation: 11" in out and "uncited_clause: 1" in out and "net.owl.3" in out


@pytest.mark.parametrize("seed", range(4))
def test_a_shuffled_and_mangled_page_never_raises(seed: int) -> None:
    """Lines dropped, duplicated, cut in half and bars added at random: a report, never an exception."""
    import random

    rng = random.Random(seed)
    lines = list(LINES)
    for _ in range(12):
        k = rng.randrange(len(lines))
        op = rng.choice(["drop", "dup", "cut", "bar", "swap"])
        if op == "drop":
            del lines[k]
        elif op == "dup":
            lines.insert(k, lines[k])
        elif op == "cut":
            lines[k] = lines[k][: len(lines[k]) // 2]
        elif op == "bar":
            lines[k] = lines[k] + " |"
        else:
            j = rng.randrange(len(lines))
            lines[k], lines[j] = lines[j], lines[k]
    report = compare("\n".join(lines))
    c = report.counts()
    assert c["unchanged"] + c["moved"] + c["edited"] + c["removed"] == 119
    json.loads(report.to_json())


def test_a_model_gone_from_the_page_leaves_a_proposal_that_names_the_rule_to_edit(tmp_path, capsys) -> None:
    new = tmp_path / "new.txt"
    new.write_text(apply_edits(PAGE, [("RS-500 gone", " RS-500KI/MI |", " |")]), encoding="utf-8")
    assert main(["source", "update", str(new), "--proposal", "gone", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "removed: RS-500KI (east, row dev.e.r1)" in out
    assert "does not load yet" in out and "RS-500KI" in out and "device_action.csv" in out
    assert main(["proposal", "check", "gone", "--root", str(tmp_path)]) == 2


def test_a_second_revision_keeps_what_the_first_removed(revised, tmp_path) -> None:
    folder, _ = revised
    again = apply_edits(
        PAGE,
        MODEL_ADDED
        + DAY_BOUND
        + FOOTNOTE_DROPPED
        + SENTENCE_ADDED
        + [("one more", "PR-200NE PR-300NE |", "PR-200NE PR-300NE PR-350NE |")],
    )
    second, report = update(again, "second", base=folder, root=tmp_path)
    assert report.counts()["edited"] == 1 and report.counts()["removed"] == 0
    book = load_rulebook(second)
    assert book.clauses.loc["dev.w.n1b", "revision"] == "removed"
    stale = audit(second)
    assert "DEV-W-1K" in stale[stale["kind"] == "stale_citation"]["rules"].str[0].tolist()


def test_a_row_whose_answer_text_changed_is_listed_with_both_texts() -> None:
    report = compare(
        apply_edits(PAGE, [("visit → mail", "訪問での機器交換となります。", "郵送での機器交換となります。")])
    )
    assert report.devices.empty, "the models of the row are the same"
    assert report.device_answers.to_dict(orient="records") == [
        dict(
            row="dev.e.r2",
            area="east",
            old_answer="訪問での機器交換となります。",
            new_answer="郵送での機器交換となります。",
        )
    ]


def test_edits_keep_every_clause_id_in_place(revised) -> None:
    folder, _ = revised
    table = read_clauses(folder / "clauses.csv")
    assert table.loc[table["revision"] != "added", "clause_id"].tolist() == read_clauses()["clause_id"].tolist()
    edited = table[table["revision"] == "edited"]
    assert sorted(edited.index) == ["dev.e.r2", "net.ov6.4", "net.ov6.5", "net.ov6.8"]
    assert (edited["reviewed"] == "false").all() and edited["previous_text_ja"].str.contains("32 日|PR-200NE").all()


def test_a_new_row_in_a_device_table_gets_a_row_id_and_its_models_join_the_catalogue() -> None:
    row = (
        "a new East row",
        "PR-200NE | 訪問での機器交換となります。 |\n",
        "PR-200NE | 訪問での機器交換となります。 |\nPR-700NE/KI | 訪問での機器交換となります。 |\n",
    )
    report = compare(apply_edits(PAGE, [row]))
    assert report.counts()["added"] == 1
    assert report.changed.iloc[0]["new_id"] == "dev.e.r5"
    assert sorted(report.devices["model"]) == ["PR-700KI", "PR-700NE"] and set(report.devices["row"]) == {"dev.e.r5"}
    assert {"PR-700NE", "PR-700KI"} <= set(report.new_catalogue.loc[report.new_catalogue["east"], "model"])


def test_a_row_moved_to_the_other_areas_table_takes_a_row_id_there(tmp_path) -> None:
    row = "PR-200NE | 訪問での機器交換となります。 |\n"
    last_west = "ご返却ください。※3 |\n※1 無線"  # the end of the West table
    page = apply_edits(PAGE, [("out of East", row, "")])
    page = apply_edits(page, [("into West", last_west, last_west.replace("※1 無線", row + "※1 無線"))])
    report = compare(page)
    (moved,) = report.changed.to_dict(orient="records")
    assert (moved["status"], moved["old_id"], moved["new_id"]) == ("moved", "dev.e.r2", "dev.w.r4")
    assert moved["section"] == "devices.west"
    assert report.devices.sort_values("change").to_dict(orient="records") == [
        dict(change="added", area="west", model="PR-200NE", row="dev.w.r4"),
        dict(change="removed", area="east", model="PR-200NE", row="dev.e.r2"),
    ]
    assert [s["rule_id"] for s in report.stale_rules] == [
        "DEV-E-2",
        "INV-EXCHANGE-WIFI",
        "device_action/onsite_exchange",
    ]
    folder, _ = update(page, "row-moved", root=tmp_path)
    table = read_clauses(folder / "clauses.csv")
    assert table.loc["dev.e.r2", "revision"] == "removed" and table.loc["dev.w.r4", "revision"] == "moved"
    book = load_rulebook(folder)
    assert bool(book.devices.set_index("model").loc["PR-200NE", "west"]) is True
    assert not bool(book.devices.set_index("model").loc["PR-200NE", "east"])


# ---------------------------------------------------------------- the shipped book's stamps ----

CITING_TABLES = ("constraints.csv", "invariants.csv")


def citing_rows(folder) -> dict[str, tuple[str, ...]]:
    """Every rule, constraint and invariant of the rule book ``folder``: its id → the clause ids it cites."""
    book = load_rulebook(folder)
    out = {rid: r.source for rid, r in book.rule_index.items()}
    for file, id_col in zip(CITING_TABLES, ("constraint_id", "invariant_id"), strict=True):
        table = read_table(folder / file)
        out |= {rec[id_col]: tuple(rec["source"].split("|")) for rec in table.to_dict(orient="records")}
    return out | {c.row_id: c.source for c in text_citations(folder)}  # the tables citations.csv names


def test_the_shipped_book_is_stamped_and_no_citation_is_stale() -> None:
    book = load_rulebook()
    tables = [f"{d}.csv" for d in book.decisions] + list(CITING_TABLES)
    for file in tables:
        hashes = read_table(RULES_DIR / file)["cited_hash"]
        assert hashes.str.fullmatch(r"[0-9a-f]{12}").all(), f"{file}: python scripts/stamp_rules.py stamps it"
    assert counts(audit())["stale_citation"] == 0


def test_a_changed_clause_text_in_a_copy_flags_exactly_the_rows_citing_it(tmp_path) -> None:
    """The copy's own clauses.csv says other text for dev.e.n1: its two rules and two invariants turn stale."""
    from sonet_policy.analysis.proposals import copy_rulebook
    from sonet_policy.source.clauses import CLAUSES_CSV

    folder = copy_rulebook(RULES_DIR, tmp_path / "copy")
    clauses = read_table(CLAUSES_CSV)
    clauses.loc[clauses["clause_id"] == "dev.e.n1", "text_ja"] += "（変更）"
    clauses.to_csv(folder / "clauses.csv", index=False)
    findings = audit(folder)
    stale = findings[findings["kind"] == "stale_citation"]
    expected = {rid for rid, source in citing_rows(folder).items() if "dev.e.n1" in source}
    assert expected == {"DEV-E-1X", "WIFI-2", "INV-ROUTER-IPV4", "INV-KEEPS-WIFI"} | {
        "EC-WEST1-KIT",
        "EC-WEST1-WIFI",
        "device_action/keeps_working",
    }
    assert sorted(stale["rules"].str[0]) == sorted(expected)
    by_id = stale.set_index(stale["rules"].str[0])
    assert "Invariant INV-KEEPS-WIFI (invariants.csv row 5)" in by_id.loc["INV-KEEPS-WIFI", "message"]
    assert "（変更）" in by_id.loc["WIFI-2", "message"]


@pytest.mark.slow
def test_an_edited_clause_that_invariants_cite_flags_the_invariant_rows_with_file_and_row(tmp_path) -> None:
    """wifi.3 (why wireless LAN stops) is cited by WIFI-1 and by two invariants: a new page that edits it makes all
    three stale, in the report (file and row) and in the audit of the proposal; review clears an invariant."""
    old = "機器の交換による影響のためとなります。"
    page = apply_edits(PAGE, [("wifi.3 loses the exchange", old, "影響のためとなります。")])
    report = compare(page)
    stale = [(s["rule_id"], s["table"], s["row"]) for s in report.stale_rules]
    assert stale == [
        ("WIFI-1", "wifi.csv", 2),
        ("INV-ROUTER-WIFI", "invariants.csv", 2),
        ("INV-EXCHANGE-WIFI", "invariants.csv", 4),
    ]
    folder, _ = update(page, "wifi3", root=tmp_path)
    found = audit(folder)
    found = found[found["kind"] == "stale_citation"]
    assert found["rules"].str[0].tolist() == ["INV-ROUTER-WIFI", "INV-EXCHANGE-WIFI", "WIFI-1"]  # no decision first
    assert "(invariants.csv row 2)" in found["message"].iloc[0] and old in found["message"].iloc[0]
    assert review(folder, ["INV-ROUTER-WIFI"]) == {"rules": ["INV-ROUTER-WIFI"], "clauses": []}
    after = audit(folder)
    assert after[after["kind"] == "stale_citation"]["rules"].str[0].tolist() == ["INV-EXCHANGE-WIFI", "WIFI-1"]


def test_an_invariant_stamp_that_is_not_a_hash_names_file_row_and_column(tmp_path) -> None:
    from sonet_policy.analysis.proposals import copy_rulebook
    from sonet_policy.errors import RuleBookError

    folder = copy_rulebook(RULES_DIR, tmp_path / "copy")
    table = read_table(folder / "invariants.csv")
    table.loc[2, "cited_hash"] = "0123"
    table.to_csv(folder / "invariants.csv", index=False)
    with pytest.raises(RuleBookError) as info:
        audit(folder)
    got = info.value.problems[["file", "row", "column", "value"]].values.tolist()
    assert got == [["invariants.csv", 4, "cited_hash", "0123"]]


@pytest.mark.slow
def test_the_stamps_change_no_answer(tmp_path) -> None:
    """The shipped book and a copy without any cited_hash column compile to the same grids and answer a
    population the same (the stamps are read by the audit only)."""
    from sonet_policy import evaluate
    from sonet_policy.analysis.population import synthetic_population
    from sonet_policy.analysis.proposals import copy_rulebook

    folder = copy_rulebook(RULES_DIR, tmp_path / "unstamped")
    for path in folder.glob("*.csv"):
        table = read_table(path)
        if "cited_hash" in table.columns:
            table.drop(columns="cited_hash").to_csv(path, index=False)
    stamped, bare = load_rulebook(), load_rulebook(folder)
    assert stamped.hash != bare.hash
    for name, grid in stamped.compiled().decisions.items():
        other = bare.compiled().decisions[name]
        assert grid.outcomes == other.outcomes
        assert (grid.outcome_id == other.outcome_id).all() and (grid.matches == other.matches).all()
    population = synthetic_population(5_000, seed=3)
    ours = evaluate(population, rulebook=stamped).drop(columns="rulebook_hash")
    pd.testing.assert_frame_equal(ours, evaluate(population, rulebook=bare).drop(columns="rulebook_hash"))
