"""How a scenario cell is read (issue 9 items 3, 4 and 13): each cell on its own merit, whole days as digits,
the frame API reads the headers the file reader reads. Each test failed on the code before inputs.csv."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sonet_policy import evaluate, explain

ROW = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False)


@pytest.mark.parametrize("odd", [["west"], {"a": 1}, b"west", 10**400, {1, 2}, ("west",)])
def test_one_odd_cell_never_changes_how_the_rest_of_its_column_is_read(odd: object) -> None:
    for column in ("area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"):
        good = dict(ROW, days_since_phone_stop=31)
        values = [good[column], odd, good[column]]
        frame = pd.DataFrame([dict(good) for _ in values])
        frame[column] = pd.Series(values, dtype=object)
        out = evaluate(frame)
        assert out["status"].tolist()[0::2] == ["ok", "ok"], (column, odd, out["error"].tolist())
        assert out.loc[1, "status"] in ("partial", "invalid") and out.loc[1, "error"].startswith(f"{column}: ")


def test_a_day_count_of_ten_to_the_400_is_one_invalid_row_in_evaluate_and_explain() -> None:
    frame = pd.DataFrame([dict(ROW, days_since_phone_stop=d) for d in (31, 10**400, "9" * 5000)], dtype=object)
    out = evaluate(frame)
    assert out["status"].tolist() == ["ok", "partial", "partial"]
    assert "is too large" in out.loc[1, "error"]
    exp = explain(**ROW, days_since_phone_stop=10**400)
    assert exp.status == "partial" and exp["ipv4"].code == "invalid" and exp["wifi"].code == "stops"


@pytest.mark.parametrize("text", ["1.0", "1", "1.00", " 1.0 "])
def test_keep_number_text_1_0_reads_like_the_number_1_0(text: str) -> None:
    out = evaluate(pd.DataFrame([dict(ROW, keep_number=text), dict(ROW, keep_number=1.0)], dtype=object))
    assert out["procedure"].tolist() == ["port_out", "port_out"]


@pytest.mark.parametrize("days", ["1_000", "٣١", "1e30", 1e30, "0x1F", "31.5", "+inf", "NaN"])
def test_days_are_whole_numbers_written_as_digits_only(days: object) -> None:
    out = evaluate(pd.DataFrame([dict(ROW, days_since_phone_stop=days)], dtype=object))
    assert out.loc[0, "status"] == "partial" and pd.isna(out.loc[0, "ipv4"])
    assert out.loc[0, "error"].startswith("days_since_phone_stop: ")


@pytest.mark.parametrize("days", ["31", "３１", "31.0", 31, 31.0, np.int64(31)])
def test_days_written_as_digits_are_read(days: object) -> None:
    out = evaluate(pd.DataFrame([dict(ROW, days_since_phone_stop=days)], dtype=object))
    assert out.loc[0, "ipv4"] == "pppoe_router", out.loc[0, "error"]


@pytest.mark.parametrize("cell", [("RV-230SE",), ["RV-230SE"], b"RV-230SE"])
def test_a_tuple_or_list_device_cell_never_resolves_to_a_model(cell: object) -> None:
    frame = pd.DataFrame([dict(ROW)], dtype=object)
    frame.at[0, "device"] = cell
    out = evaluate(frame)
    assert pd.isna(out.loc[0, "device_action"]) and out.loc[0, "error"].startswith("device: ")


def test_evaluate_reads_the_headers_the_file_reader_reads() -> None:
    frame = pd.DataFrame(
        [
            {
                " AREA ": "west",
                "Plan": "other",
                "機器名": "RV-230SE",
                "利用環境": "v6plus_router",
                "番号継続": "no",
                "DAYS": 31,
            }
        ]
    )
    out = evaluate(frame)
    assert out.loc[0, "status"] == "ok", out.loc[0, "error"]
    assert out.loc[0, "ipv4"] == "pppoe_router"


def test_rules_of_an_uncovered_decision_leave_no_double_space() -> None:
    out = evaluate(pd.DataFrame([dict(ROW, plan="other", setup="v6plus_router")]))  # ipv4: no rule for empty days
    assert out.loc[0, "ipv4"] == "uncovered"
    assert "  " not in out.loc[0, "rules"] and out.loc[0, "rules"] == out.loc[0, "rules"].strip()
