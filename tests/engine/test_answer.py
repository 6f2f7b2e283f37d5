"""answer(**scenario) gives what evaluate gives for a frame of that one row: every scenario case, random
scenarios with odd values, every cell of every decision grid; explain agrees with it."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.answer import answer, lookup_of
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.engine.explain import explain

CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)
BOOK = default_rulebook()


def _row_of(out: pd.DataFrame) -> dict[str, object]:
    rec = out.astype(object).iloc[0].to_dict()
    return {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in rec.items()}


def _evaluate_one(scenario: dict[str, object], book=BOOK) -> dict[str, object]:
    frame = pd.DataFrame([scenario], dtype=object) if scenario else pd.DataFrame(index=[0])
    return _row_of(evaluate(frame, rulebook=book))


@pytest.mark.parametrize("k", range(len(CASES)))
def test_every_scenario_case_as_evaluate(k: int) -> None:
    row = {n: v for n, v in CASES.iloc[k].items() if n in BOOK.inputs}
    assert answer(**row) == _evaluate_one(row)
    # the frame as read_csv types it (pyarrow strings) gives the same row
    assert answer(**row) == _row_of(evaluate(CASES.iloc[[k]][list(row)].reset_index(drop=True)))


def _odd_values(book, name: str, rng: random.Random) -> list[object]:
    spec = book.inputs[name]
    axis = book.compiled().axes[name]
    good: list[object] = list(axis.labels) + list(spec.aliases)
    if spec.type == "integer":
        good = [0, 5, 31, 32, 400, "31", "３１", "+7", "007", "31.0", 31.0, np.int64(12), -1, "-3", 2.5]
    if spec.type == "boolean":
        good += [True, False, 0, 1, 1.0, "1.0", "YES", np.bool_(True), 2]
    wide = ["".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in str(v)) for v in good if isinstance(v, str)]
    odd = [
        None,
        math.nan,
        pd.NA,
        "",
        "  ",
        "??",
        ["a"],
        {"a": 1},
        {1, 2},
        b"east",
        10**400,
        -(10**30),
        2**63,
        float("inf"),
        (1, 2),
        " " + str(rng.choice(good)) + " ",
        str(rng.choice(good)).upper(),
        str(rng.choice(good)).title(),
    ]
    return good + wide + odd


def _random_scenarios(book, n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    pools = {name: _odd_values(book, name, rng) for name in book.inputs}
    out = []
    for _ in range(n):
        s = {}
        for name, pool in pools.items():
            r = rng.random()
            if r < 0.08:
                continue  # not given
            s[name] = rng.choice(pool) if r < 0.45 else rng.choice(pool[: max(3, len(pool) // 3)])
        out.append(s)
    return out


@pytest.mark.slow
def test_random_scenarios_with_odd_values_as_evaluate() -> None:
    scenarios = _random_scenarios(BOOK, 400, seed=14)
    statuses = set()
    for s in scenarios:
        got = answer(**s)
        assert got == _evaluate_one(s), s
        statuses.add(got["status"])
    assert {"ok", "partial", "invalid"} <= statuses  # the sample reaches answered, partial and invalid rows


def test_every_cell_of_every_decision_as_evaluate() -> None:
    compiled = BOOK.compiled()
    base = {name: compiled.axes[name].labels[-1] for name in BOOK.inputs}
    rows = []
    for grid in compiled.decisions.values():
        for cell in range(grid.n_cells):
            row = dict(base)
            for name, p in grid.positions(cell).items():
                axis = compiled.axes[name]
                if axis.kind == "integer":
                    iv = axis.intervals[p]
                    row[name] = None if iv is None else int(iv[0])
                else:
                    row[name] = axis.labels[p]
            rows.append(row)
    frame = pd.DataFrame(rows, dtype=object)
    expected = evaluate(frame).astype(object)
    expected = expected.where(expected.notna(), None).to_dict("records")
    assert len(rows) == sum(g.n_cells for g in compiled.decisions.values())
    for row, want in zip(rows, expected, strict=True):
        assert answer(**row) == want, row


def test_header_aliases_unknown_keywords_and_absent_inputs() -> None:
    full = dict(
        area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days_since_phone_stop=31
    )
    renamed = dict(full)
    renamed["days"] = renamed.pop("days_since_phone_stop")
    assert answer(**renamed) == answer(**full)
    out = answer(**full, colour="red")
    assert out["status"] == "invalid" and out["error"] == "colour: not an input of this rule book"
    assert out["ipv4"] is None and out["rules"] is None
    for name in full:  # each input left out: as evaluate without that column
        s = {k: v for k, v in full.items() if k != name}
        assert answer(**s) == _evaluate_one(s)
    assert answer() == _evaluate_one({})


def test_a_book_with_a_boolean_input_and_another_book_are_read_on_their_own(tmp_path) -> None:
    # two books at once: each has its own cached lk
    import shutil

    from sonet_policy.book.load import load_rulebook

    shutil.copytree("data", tmp_path / "data")
    inputs = tmp_path / "data/rules/inputs.csv"
    text = inputs.read_text(encoding="utf-8").replace("east: e|東|", "east: e|ひがし|東|")
    inputs.write_text(text, encoding="utf-8")
    other = load_rulebook(tmp_path / "data/rules")
    s = dict(area="ひがし", plan="sml", device="PR-400NE", setup="rental_only", keep_number="yes")
    assert answer(**s, rulebook=other)["status"] == "ok"
    assert answer(**s, rulebook=other) == _evaluate_one(s, other)
    assert answer(**s)["error"] == _evaluate_one(s)["error"] == "area: 'ひがし' is not one of east|west"
    assert lookup_of(other) is not lookup_of(BOOK)


def test_the_memo_is_bounded_and_never_holds_unhashable_values() -> None:
    lk = lookup_of(BOOK)
    reader = next(iter(lk.readers.values()))
    for k in range(50):
        reader.read(f"spelling {k}")
        reader.read([k])
        reader.read(float("nan"))
    assert all(isinstance(key[1], (str, int, float, type(None), np.generic)) for key in reader.memo)
    assert not any(isinstance(key[1], float) and math.isnan(key[1]) for key in reader.memo)


def test_explain_gives_the_codes_status_and_error_of_answer() -> None:
    for s in _random_scenarios(BOOK, 120, seed=10) + [dict(CASES.iloc[k]) for k in range(len(CASES))]:
        s = {k: v for k, v in s.items() if k in BOOK.inputs}
        a = answer(**s)
        e = explain(**s)
        assert e.status == a["status"]
        assert (e.error or None) == a["error"]
        if a["status"] != "invalid":
            assert e.codes == {d: (a[d] if a[d] is not None else "invalid") for d in BOOK.decisions}


def _one_row_cases() -> list[pd.DataFrame]:
    frames = []
    for s in _random_scenarios(BOOK, 150, seed=21):
        frames.append(pd.DataFrame([s], dtype=object) if s else pd.DataFrame(index=[0]))
        try:
            frames.append(pd.DataFrame([s]))  # dtypes as pandas infers them (bool, int64, float64, str, object)
        except (TypeError, ValueError):
            pass
    for k in range(len(CASES)):
        frames.append(CASES.iloc[[k]])
        typed = CASES.iloc[[k]].copy()
        typed["keep_number"] = typed["keep_number"].map({"true": True, "false": False, "yes": True, "no": False})
        frames.append(typed)
    frames.append(pd.DataFrame({"days": [31], "area": ["west"], "extra column": [object()]}, index=["r"]))
    frames.append(pd.DataFrame({"keep_number": [True], "days_since_phone_stop": [31.0]}))
    odd = {"keep_number": [1], "days_since_phone_stop": [True], "area": [False], "device": [True]}
    frames.append(pd.DataFrame(odd))
    return frames


@pytest.mark.slow
def test_evaluate_on_one_row_is_the_first_row_of_the_same_row_twice() -> None:
    # a row's answer does not depend on the frame around it: the same frame, dtypes and categories included
    typed_bool = 0
    for frame in _one_row_cases():
        one = evaluate(frame)
        twice = evaluate(pd.concat([frame, frame]))
        pd.testing.assert_frame_equal(one, twice.iloc[:1])
        typed_bool += any(getattr(d, "kind", "") == "b" for d in frame.dtypes)
    assert typed_bool >= 10
