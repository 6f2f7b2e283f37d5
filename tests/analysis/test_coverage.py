"""Coverage: which pairs of input values each decision answers, leaves open or answers twice, as shares and
as the worst state of each pair; the clauses no rule cites; the audit's findings as a table and behind a pair."""

from __future__ import annotations

import numpy as np
import pytest

from sonet_policy.analysis.audit import audit
from sonet_policy.analysis.coverage import (
    coverage_counts,
    coverage_matrix,
    coverage_shares,
    default_axes,
    findings_table,
    pair_findings,
    scenario_grid,
    share_matrix,
    uncited_clauses,
)
from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate


def test_default_axes_are_read_from_the_book() -> None:
    book = default_rulebook()
    categories = [n for n, s in book.inputs.items() if s.type == "category"]
    assert default_axes(book) == tuple(categories[:2])


def test_scenario_grid_holds_every_cell_and_evaluate_agrees_with_it() -> None:
    book = default_rulebook()
    scenarios, labels = scenario_grid(book)
    compiled = book.compiled()
    assert len(scenarios) == compiled.dense_cells  # every combination of every axis (not the per-decision grids)
    assert not scenarios.duplicated().any()
    answers = evaluate(scenarios, rulebook=book)
    for decision in book.decisions:  # unanswered exactly where a constraint blocking the decision rules it out
        blocking = [c for c in compiled.constraints if decision in c.blocks]
        ruled = compiled.ruled_out_over(compiled.inputs, blocking) if blocking else np.zeros(1, dtype=bool)
        assert int(answers[decision].isna().sum()) == int(ruled.sum()), decision
    assert (answers["status"] == "partial").any() and not (answers["status"] == "invalid").any()


def test_shares_do_not_overstate_a_corner_gap() -> None:
    shares = coverage_shares(rows="area", columns="device")
    ipv4 = shares[shares["decision"] == "ipv4"]
    assert (ipv4["worst"] == "gap").all()  # the old heat map: every pair orange
    assert (ipv4["covered_share"] > 0.9).all() and (ipv4["gap_share"] > 0).all()
    shares_sum = ipv4[["covered_share", "gap_share", "conflict_share"]].sum(axis=1)
    assert ((shares_sum - 1).abs() < 1e-12).all()
    assert (ipv4["covered"] + ipv4["gap"] + ipv4["conflict"] == ipv4["scenarios"]).all()


def test_shares_count_what_evaluate_answers_for_one_pair() -> None:
    book = default_rulebook()
    shares = coverage_shares(book, rows="area", columns="device")
    row = shares[
        (shares["decision"] == "device_action") & (shares["area"] == "west") & (shares["device"] == "RS-500MI")
    ]
    scenarios, labels = scenario_grid(book)
    inside = (labels["area"] == "west") & (labels["device"] == "RS-500MI")
    answers = evaluate(scenarios[inside], rulebook=book)
    answers = answers[answers["device_action"].notna()]  # the decision answered (a constraint may block it alone)
    assert int(row["scenarios"].iloc[0]) == len(answers)
    assert int(row["gap"].iloc[0]) == int((answers["device_action"] == "uncovered").sum()) > 0


def test_shares_follow_any_two_inputs_and_refuse_unknown_ones() -> None:
    shares = coverage_shares(rows="plan", columns="setup")
    assert list(shares.columns[:3]) == ["plan", "setup", "decision"]
    assert len(shares) == 3 * 4 * len(default_rulebook().decisions)
    assert shares.loc[shares["scenarios"] == 0, "worst"].eq("n/a").all()  # e.g. sml with the 10G option
    assert (shares["scenarios"] == 0).any()
    with pytest.raises(ValueError, match="'colour' is not an input"):
        coverage_shares(rows="colour")
    with pytest.raises(ValueError, match="different inputs"):
        coverage_shares(rows="plan", columns="plan")


def test_share_matrix_is_what_a_heat_map_draws() -> None:
    shares = coverage_shares(rows="area", columns="device")
    m = share_matrix(shares, "device_action", state="gap")
    assert list(m.index) == ["east", "west"]
    assert m.loc["west", "RS-500MI"] > 0 and m.loc["east", "PR-600KI"] == 0


def test_pair_findings_open_the_findings_behind_a_cell() -> None:
    findings = audit()
    found = pair_findings(findings, {"area": "west", "device": "RS-500KI"})
    assert "gap" in set(found["kind"]) and set(found["decision"]) <= set(default_rulebook().decisions)
    assert all(i in findings.index for i in found.index)
    none = pair_findings(findings, {"area": "east", "device": "RS-500KI"}, decision="device_action")
    assert none.empty or "gap" not in set(none["kind"])


# ------------------------------------------------------------------------ the worst state, clauses, findings


def test_coverage_matrix_marks_the_west_device_gaps_and_conflicts():
    book = default_rulebook()
    m = coverage_matrix(book, "device_action")
    assert m.loc["east", "PR-200NE"] == "covered"
    assert m.loc["west", "RS-500KI"] == "gap"  # the page lists RS-500 for East only
    assert m.loc["west", "PR-600KI"] == "conflict"  # DEV-W-1 and DEV-W-1K: no exception declared
    counts = coverage_counts(book)
    assert counts.loc["device_action"].sum() == 2 * len(book.models)
    assert counts.loc["procedure", "covered"] == 2 * len(book.models)


def test_findings_table_sorts_stably_and_flattens_lists():
    findings = audit()
    table = findings_table(findings, sort_by="decision")
    assert table["decision"].is_monotonic_increasing
    assert len(table) == len(findings)
    first_conflict = table[table["kind"] == "conflict"].iloc[0]
    assert "," in first_conflict["rules"] and "[" not in first_conflict["rules"]
    with pytest.raises(ValueError, match="cannot sort"):
        findings_table(findings, sort_by="colour")


def test_uncited_clauses_are_not_cited_by_any_rule():
    book = default_rulebook()
    cited = {c for rules in book.rules.values() for r in rules for c in r.source}
    table = uncited_clauses(book)
    assert not table.empty and not set(table["clause_id"]) & cited
