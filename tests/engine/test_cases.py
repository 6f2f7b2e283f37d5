"""Scenario cases as data (tests/cases/scenarios.csv): inputs, expected answers, a sentence naming each case.

An empty expected cell is not checked. Together the cases cover every rule of the shipped book, every
catalogue device in both areas and both sides of every day bound; the last tests here prove that.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import default_rulebook, evaluate, explain

CASES = Path(__file__).parents[1] / "cases" / "scenarios.csv"
INPUTS = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]
EXPECTED = ["procedure", "number", "ipv4", "ipv4_alternatives", "wifi", "device_action", "status"]


def load_cases() -> pd.DataFrame:
    return pd.read_csv(CASES, dtype=str, keep_default_na=False, encoding="utf-8")


CASE_TABLE = load_cases()


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    return evaluate(CASE_TABLE[INPUTS])


@pytest.mark.parametrize("i", range(len(CASE_TABLE)), ids=list(CASE_TABLE["case"]))
def test_case(i: int, answers: pd.DataFrame) -> None:
    case = CASE_TABLE.iloc[i]
    got = answers.iloc[i]
    unanswered_allowed = case["status"] in ("partial", "invalid")
    for col in EXPECTED:
        want = case[col]
        if want == "" and not unanswered_allowed:
            continue  # (a row partly or not answered: an empty expectation means the decision is unanswered)
        have = got[col]
        have = "" if pd.isna(have) else str(have)
        assert have == want, f"{case['case']}: {col} is {have!r}, expected {want!r} (error: {got['error']})"
    if unanswered_allowed:
        assert isinstance(got["error"], str) and ":" in got["error"]


def test_cases_agree_with_explain(answers: pd.DataFrame) -> None:
    """explain gives the same codes as evaluate for every valid case."""
    for i, case in CASE_TABLE.iterrows():
        row = answers.loc[i]
        if row["status"] == "invalid":
            continue
        exp = explain(**{k: (case[k] or None) for k in INPUTS})
        for decision in ("procedure", "number", "ipv4", "wifi", "device_action"):
            want = "invalid" if pd.isna(row[decision]) else row[decision]  # explain names an unanswered decision
            assert exp.codes[decision] == want, case["case"]


def test_cases_cover_every_rule(answers: pd.DataFrame) -> None:
    book = default_rulebook()
    fired = {rid for text in answers["rules"].dropna() for rid in str(text).split()}
    missing = sorted(set(book.rule_index) - fired)
    assert missing == [], f"rules no case exercises: {missing}"


def test_cases_cover_every_device_in_both_areas() -> None:
    book = default_rulebook()
    for area in ("east", "west"):
        typed = set(CASE_TABLE.loc[CASE_TABLE["area"] == area, "device"])
        assert set(book.models) <= typed, f"{area}: {sorted(set(book.models) - typed)}"


def test_cases_sit_on_both_sides_of_every_day_bound() -> None:
    book = default_rulebook()
    axis = book.compiled().axes["days_since_phone_stop"]
    days = set(pd.to_numeric(CASE_TABLE["days_since_phone_stop"], errors="coerce").dropna().astype(int))
    bounds = [int(b) for b in axis.breaks if b > 0]
    assert bounds, "the shipped book cuts the day axis (31/32)"
    for b in bounds:
        assert {b - 1, b} <= days, f"cases need day {b - 1} and day {b}"
    assert "" in set(CASE_TABLE["days_since_phone_stop"]), "a case where the phone has not stopped"
