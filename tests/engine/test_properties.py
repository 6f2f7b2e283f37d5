"""Property tests of ``evaluate`` on arbitrary frames (Hypothesis).

Profiles: ``ci`` (default, 150 examples per test) and ``fuzz`` (3,000 per test), chosen by the environment
variable ``HYPOTHESIS_PROFILE`` (``make fuzz`` sets ``HYPOTHESIS_PROFILE=fuzz``).
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonet_policy import default_rulebook, evaluate, explain
from sonet_policy.engine.evaluate import STATUSES

INPUT_ORDER = ("area", "plan", "device", "setup", "keep_number", "days_since_phone_stop")

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "fuzz", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

BOOK = default_rulebook()
MODELS = list(BOOK.models)
FIELD_ERROR = re.compile(rf"^({'|'.join(INPUT_ORDER)}): \S.*")

# Valid spellings per input (as people type them), then values that must be rejected or are odd.
VALID = {
    "area": ["east", "west", "East", " WEST ", "東", "西日本", "ＮＴＴ東日本", "e", "W"],
    "plan": ["10g", "sml", "other", "10ギガ", "Ｓ/Ｍ/Ｌ", "その他", "OTHER"],
    "device": [*MODELS, "pr-600ki", "ＰＲ－６００ＫＩ", "PR600KI", " rv 230 se ", "xg-100ne"],
    "setup": ["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only", " Rental_Only "],
    "keep_number": [True, False, "yes", "no", "1", "0", "はい", "いいえ", "TRUE", "f", np.True_, 1, 0],
    "days_since_phone_stop": [0, 1, 30, 31, 32, 33, 365, "31", " 32 ", "３１", 31.0, np.int64(5), None, ""],
}
ODD = st.one_of(
    st.none(),
    st.just(float("nan")),
    st.just(pd.NA),
    st.just(pd.NaT),
    st.just(""),
    st.just("   "),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(min_size=1, max_size=8).map(lambda t: t * 600),  # huge strings, cheap to generate
    st.just("x" * 100_000),
    st.sampled_from(["nan", "None", "NaN", "inf", "-1", "1e3", "31.5", "0x1F", "__import__('os')", "<script>"]),
    st.sampled_from([b"bytes", (1, 2), 3 + 4j]),
    st.builds(list, st.lists(st.text(max_size=5), max_size=2)),  # unhashable: a list, a dict, a set in one row
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just({1, 2}),
    st.just(10**400),
)


def column_values(name: str, n: int) -> st.SearchStrategy[list]:
    value = st.one_of(st.sampled_from(VALID[name]), ODD) if name in VALID else ODD
    # mostly valid values, so that ok rows (and the explain check) happen often
    mostly = st.one_of(st.sampled_from(VALID[name]), st.sampled_from(VALID[name]), value)
    return st.lists(mostly, min_size=n, max_size=n)


INDEXES = ("range", "shuffled", "duplicates", "strings", "offset", "datetime")


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=25))
    kind = draw(st.sampled_from(INDEXES))
    if kind == "range":
        index = pd.RangeIndex(n)
    elif kind == "shuffled":
        index = pd.Index(draw(st.permutations(list(range(n)))), dtype="int64")
    elif kind == "duplicates":
        index = pd.Index(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype="int64")
    elif kind == "strings":
        index = pd.Index([f"row{i}" for i in range(n)][::-1], dtype=object)
    elif kind == "offset":
        index = pd.RangeIndex(100, 100 + 2 * n, 2)
    else:
        index = pd.date_range("2026-01-01", periods=n)
    data: dict[str, pd.Series] = {}
    names = [c for c in INPUT_ORDER if draw(st.integers(0, 9)) > 0]  # a field is sometimes missing
    for name in names:
        values = draw(column_values(name, n))
        series = pd.Series(values, index=index, dtype=object)
        dtype = draw(st.sampled_from(["object", "object", "string", "category", "native"]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pandas warns about some odd values it is asked to store
                if dtype == "string":
                    series = series.astype("string")
                elif dtype == "category":
                    series = series.astype("category")
                elif dtype == "native":
                    series = pd.Series(list(values), index=index)
        except (TypeError, ValueError, OverflowError):
            pass  # a dtype the values cannot take: keep object
        data[name] = series
    for i in range(draw(st.integers(0, 2))):  # extra columns
        data[f"extra{i}"] = pd.Series(draw(st.lists(ODD, min_size=n, max_size=n)), index=index, dtype=object)
    frame = pd.DataFrame(data, index=index)
    if n == 0 and not data:
        frame = pd.DataFrame(index=index)
    if draw(st.integers(0, 19)) == 0 and "area" in frame.columns:  # a duplicated column name
        frame = pd.concat([frame, frame[["area"]]], axis=1)
    return frame


def _scenario(frame: pd.DataFrame, label_pos: int) -> dict[str, object]:
    row = {}
    for name in INPUT_ORDER:
        if name in frame.columns:
            column = frame[name]
            if isinstance(column, pd.DataFrame):
                column = column.iloc[:, 0]
            row[name] = column.iloc[label_pos]
    return row


def _same(a: object, b: object) -> bool:
    return str(a) == str(b)


@pytest.mark.slow
@given(frames(), st.randoms(use_true_random=False))
def test_evaluate_never_raises_and_keeps_every_row(frame: pd.DataFrame, rnd) -> None:
    out = evaluate(frame)
    # one row per input row, same index in the same order
    assert len(out) == len(frame)
    assert out.index.equals(frame.index)
    assert list(out.index) == list(frame.index)
    assert set(out["status"].astype(str)) <= set(STATUSES)
    assert out["status"].notna().all()
    assert (out["rulebook_hash"].astype(str) == BOOK.hash).all()
    # rows not fully answered (invalid, partial) say which field and why; other rows have no error
    invalid = out["status"].isin(["invalid", "partial"])
    required_absent = [n for n in INPUT_ORDER if BOOK.inputs[n].required and n not in frame.columns]
    for message in out.loc[invalid.to_numpy(), "error"].astype(str).unique():
        assert FIELD_ERROR.match(message), message
        for name in required_absent:
            assert f"{name}: missing (the column is absent)" in message
    assert out.loc[~invalid.to_numpy(), "error"].isna().all()
    # ok rows agree with explain for the same scenario (a few sampled rows per example)
    ok_positions = np.flatnonzero((out["status"] == "ok").to_numpy())
    for pos in rnd.sample(list(ok_positions), min(3, len(ok_positions))):
        exp = explain(**_scenario(frame, pos))
        assert exp.status == "ok", exp.error
        for decision, code in exp.codes.items():
            assert _same(out[decision].iloc[pos], code), (decision, out.iloc[pos].to_dict(), exp.codes)
    # every non-ok, non-invalid row also agrees with explain on its status (a sample)
    other = np.flatnonzero(out["status"].isin(["uncovered", "conflict"]).to_numpy())
    for pos in rnd.sample(list(other), min(2, len(other))):
        exp = explain(**_scenario(frame, pos))
        assert exp.status == out["status"].iloc[pos]
    # partly answered rows agree with explain decision by decision (unanswered: explain says invalid)
    partial = np.flatnonzero((out["status"] == "partial").to_numpy())
    for pos in rnd.sample(list(partial), min(2, len(partial))):
        exp = explain(**_scenario(frame, pos))
        assert exp.status == "partial"
        for decision, code in exp.codes.items():
            have = out[decision].iloc[pos]
            assert (code == "invalid") == pd.isna(have) and (pd.isna(have) or _same(have, code)), decision


@pytest.mark.slow
@given(st.data())
def test_a_row_does_not_depend_on_its_neighbours(data) -> None:
    """Evaluating a row alone gives the same answer as evaluating it among others."""
    frame = data.draw(frames())
    if len(frame) == 0:
        return
    out = evaluate(frame)
    pos = data.draw(st.integers(0, len(frame) - 1))
    alone = evaluate(frame.iloc[[pos]])
    left = out.iloc[pos].astype(object).where(out.iloc[pos].notna(), None).to_dict()
    right = alone.iloc[0].astype(object).where(alone.iloc[0].notna(), None).to_dict()
    assert {k: str(v) for k, v in left.items()} == {k: str(v) for k, v in right.items()}


@pytest.mark.parametrize(
    "value",
    [math.inf, -math.inf, 2**80, -(2**80), 1e308, 31.5, -0.0, True, "1e3", "inf", "nan", "0x1F", "３２"],
)
def test_odd_day_values(value: object) -> None:
    """Day counts that are not whole, finite, non-negative numbers are invalid with a days_since… error."""
    row = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False)
    out = evaluate(pd.DataFrame([{**row, "days_since_phone_stop": value}], dtype=object))
    status, error = out.loc[0, "status"], out.loc[0, "error"]
    # whole days: ints and integral floats up to 2**63 - 1, text of digits (full-width read); not 1e3 or 0x1F
    if isinstance(value, str):
        whole = value in ("３２",)
    elif isinstance(value, bool):
        whole = False
    else:
        whole = math.isfinite(value) and value == int(value) and 0 <= value < 2**63
    if whole:
        assert status == "ok", error
    else:
        assert status == "partial" and pd.isna(out.loc[0, "ipv4"]) and out.loc[0, "procedure"] == "support_desk"
        assert str(error).startswith("days_since_phone_stop: ")


def test_many_distinct_unknown_devices_stay_cheap_and_suggest_like_nearest() -> None:
    """Each distinct unknown label gets the suggestions of ``devices.nearest`` up to ``NEAREST_LIMIT`` labels;
    past it the error still names the field and the value (a column of customer ids read as devices must not
    cost a difflib search per row)."""
    from sonet_policy.engine.values import NEAREST_LIMIT
    from sonet_policy.source.catalogue import nearest

    labels = ["PR-600kl", "rv23OSE", "ＰＲ－６００ＫＬ", "x" * 500] + [f"C{i:07d}" for i in range(NEAREST_LIMIT + 50)]
    row = dict(area="west", plan="other", setup="v6plus_router", keep_number="no")
    out = evaluate(pd.DataFrame([{**row, "device": d} for d in labels]))
    assert (out["status"] == "partial").all()
    for pos in (0, 1, 2, 3, 10, NEAREST_LIMIT - 1):
        near = ", ".join(nearest(labels[pos][:100], MODELS)) or "none close"
        assert out["error"].iloc[pos].endswith(f"is not in the catalogue; nearest: {near}")
    assert out["error"].iloc[-1] == f"device: '{labels[-1]}' is not in the catalogue"


def test_numpy_scalars_are_shown_as_people_read_them() -> None:
    row = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False)
    frame = pd.DataFrame([{**row, "days_since_phone_stop": v} for v in (np.True_, np.float64(3.5))], dtype=object)
    assert evaluate(frame)["error"].tolist() == [
        "days_since_phone_stop: True is not a whole number",
        "days_since_phone_stop: 3.5 is not a whole number",
    ]


def test_mixed_bool_and_number_columns_do_not_borrow_a_neighbours_reading() -> None:
    """True == 1 == 1.0 in Python: a row must not be read as its neighbour's spelling (found by the fuzz run)."""
    row = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False)

    def statuses(field: str, values: list) -> list[str]:
        frame = pd.DataFrame([{**row, "days_since_phone_stop": 31, field: v} for v in values], dtype=object)
        return evaluate(frame)["status"].astype(str).tolist()

    assert statuses("days_since_phone_stop", [1, True]) == ["ok", "partial"]
    assert statuses("days_since_phone_stop", [True, 1]) == ["partial", "ok"]
    assert statuses("days_since_phone_stop", [True]) == ["partial"]
    # keep_number: 1, 1.0 and True all mean true, alone or together
    assert statuses("keep_number", [True, 1.0, 1, "1"]) == ["ok"] * 4
    assert statuses("keep_number", [1.0]) == statuses("keep_number", [0.0]) == ["ok"]
    assert statuses("keep_number", [2.0, True]) == ["partial", "ok"]
