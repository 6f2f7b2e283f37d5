"""Policy diff: the changed scenarios equal an independent count (evaluate every scenario under both books),
the common refinement handles different day cuts and catalogues, populations are counted, the baseline is
never touched."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from sonet_policy import evaluate, load_rulebook
from sonet_policy.analysis.diff import _unanswerable, cells_of, diff
from sonet_policy.analysis.population import synthetic_population
from sonet_policy.analysis.proposals import read_table, write_table
from sonet_policy.analysis.whatif import set_cell, west_adopts_east
from sonet_policy.book.conditions import parse_cell
from sonet_policy.cli.main import main
from sonet_policy.paths import DEVICES_CSV, RULES_DIR

DECISIONS = ("procedure", "number", "ipv4", "wifi", "device_action")
INPUT_ORDER = ("area", "plan", "device", "setup", "keep_number", "days_since_phone_stop")
DAYS = list(range(0, 71))  # every whole day up to 70 (beyond every bound used here), and the empty value


def baseline_digest() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(RULES_DIR.iterdir())}


@pytest.fixture(scope="module", autouse=True)
def baseline_untouched():
    before = baseline_digest()
    yield
    assert baseline_digest() == before, "the baseline rule book was modified"


@pytest.fixture(scope="module")
def baseline():
    return load_rulebook()


@functools.lru_cache(maxsize=4)
def _scenarios(models: tuple[str, ...]) -> pd.DataFrame:
    return scenarios(list(models))


_ANSWERS: dict[tuple[str, tuple[str, ...]], pd.DataFrame] = {}  # the baseline's answers, shared by tests


def scenarios(models: list[str]) -> pd.DataFrame:
    """Every scenario over plain values (every day of DAYS and empty), built without the compiled grid."""
    index = pd.MultiIndex.from_product(
        [
            ["east", "west"],
            ["10g", "sml", "other"],
            models,
            ["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"],
            [False, True],
            [None, *DAYS],
        ],
        names=["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"],
    )
    frame = index.to_frame(index=False)
    frame["days_since_phone_stop"] = frame["days_since_phone_stop"].astype("Int64")
    return frame


def expected_changes(book_a, book_b, frame: pd.DataFrame) -> set[tuple]:
    """(decision, area, plan, device, setup, keep, day) whose answer differs, by evaluating both books."""
    key = (book_a.hash, tuple(frame["device"].drop_duplicates()))
    if key not in _ANSWERS:
        _ANSWERS[key] = evaluate(frame, rulebook=book_a)
    before, after = _ANSWERS[key], evaluate(frame, rulebook=book_b)
    out = set()
    for d in DECISIONS:

        def answer(ans: pd.DataFrame, d=d) -> pd.Series:
            code = ans[d].astype("string").fillna("")
            alt = f"{d}_alternatives"
            if alt in ans.columns:
                code = code + "/" + ans[alt].astype("string").fillna("")
            return code.mask(ans[d].isna(), "invalid")  # the decision could not be answered

        changed = frame[(answer(before) != answer(after)).to_numpy()]
        days = [None if pd.isna(v) else int(v) for v in changed["days_since_phone_stop"].tolist()]
        keep = [str(bool(v)).lower() for v in changed["keep_number"]]
        cols = [changed[c].tolist() for c in ("area", "plan", "device", "setup")]
        out |= {(d, *rest) for rest in zip(*cols, keep, days, strict=True)}
    return out


def _both_invalid(result) -> set[tuple]:
    """Scenarios (with decision) that neither book can answer for that decision: no customer's answer changes
    there, so a box may cover them (they are left out of the comparison)."""
    models = tuple(result.axes["device"].labels)
    frame = _scenarios(models)
    before, after = evaluate(frame, rulebook=result.book_a), evaluate(frame, rulebook=result.book_b)
    out = set()
    for d in DECISIONS:
        both = frame[(before[d].isna() & after[d].isna()).to_numpy()]
        days = [None if pd.isna(v) else int(v) for v in both["days_since_phone_stop"].tolist()]
        keep = [str(bool(v)).lower() for v in both["keep_number"]]
        cols = [both[c].tolist() for c in ("area", "plan", "device", "setup")]
        out |= {(d, *rest) for rest in zip(*cols, keep, days, strict=True)}
    return out


def reported_changes(result) -> set[tuple]:
    """The result's changed cells, expanded to every whole day of DAYS (and empty) they cover, and to every
    value of the inputs the decision does not read ("-"); minus scenarios neither book answers."""
    axis = result.axes["days_since_phone_stop"]
    days_of = {}
    for label, iv in zip(axis.labels, axis.intervals, strict=True):
        days_of[label] = [None] if iv is None else [d for d in DAYS if iv[0] <= d < min(iv[1], math.inf)]
    values = {n: list(result.axes[n].labels) for n in INPUT_ORDER}
    out = set()
    for rec in result.cells.to_dict(orient="records"):
        options = []
        for n in INPUT_ORDER:
            labels = values[n] if rec[n] == "-" else [rec[n]]
            if n == "days_since_phone_stop":
                labels = [day for label in labels for day in days_of[label]]
            options.append(labels)
        for combo in itertools.product(*options):
            out.add((rec["decision"], *combo))
    return out - _both_invalid(result)


def boxes_hold_exactly_the_changed_cells(result) -> bool:
    """Parse each box's scope back with the rule tables' grammar; minus cells invalid in both books, the
    boxes are disjoint and hold exactly the changed cells (over the decision's own inputs)."""
    ca, cb = result.book_a.compiled(), result.book_b.compiled()
    for decision, group in result.changes.groupby("decision"):
        inputs = result.inputs_of[decision]
        both_invalid = _unanswerable(ca, decision, cells_of(ca, result.axes, decision, inputs)) & _unanswerable(
            cb, decision, cells_of(cb, result.axes, decision, inputs)
        )
        shape = tuple(len(result.axes[n].labels) for n in inputs)
        covered = np.zeros(int(np.prod(shape)), dtype=np.int64)
        for rec in group.to_dict(orient="records"):
            assert all(rec[n] == "-" for n in INPUT_ORDER if n not in inputs)
            mask = np.ones(shape, dtype=bool)
            for k, name in enumerate(inputs):
                axis = result.axes[name]
                kind = "integer" if axis.kind == "integer" else "category"
                m = parse_cell(rec[name], name, kind).mask(axis)
                view = [1] * len(shape)
                view[k] = len(m)
                mask = mask & m.reshape(view)
            box = mask.reshape(-1) & ~both_invalid
            assert box.sum() == rec["cells"]
            covered += box
        want = np.zeros_like(covered)
        want[result.cells.loc[result.cells["decision"] == decision, "cell"].to_numpy()] = 1
        if not np.array_equal(covered, want):
            return False
    return True


def box_cells(result) -> int:
    return int(result.changes["cells"].sum())


def test_identical_books_have_no_change(baseline):
    result = diff(baseline, load_rulebook(RULES_DIR))
    assert result.cells.empty and result.changes.empty and result.axis_notes == []


@pytest.mark.slow
def test_one_rule_edit_shows_exactly_the_expected_scenarios(tmp_path, baseline):
    dst = set_cell(RULES_DIR, tmp_path / "p", "wifi.csv", "WIFI-2", "wifi", "stops")
    after = load_rulebook(dst)
    result = diff(baseline, after)
    want = expected_changes(baseline, after, _scenarios(baseline.models))
    assert want, "the edit must change something"
    assert reported_changes(result) == want
    assert result.changed_decisions == ["wifi"]
    # merged boxes cover exactly the changed cells, and name the rules on both sides
    assert box_cells(result) == len(result.cells)
    # WIFI-2 is the East rule (the West has its own WIFI-2W, citing no East clause): East said continues
    before = dict(zip(result.changes["area"], result.changes["before_code"], strict=True))
    assert before == {"east": "continues"}
    assert set(result.changes["after_code"]) == {"stops"}
    assert all("WIFI-2" in rules for rules in result.changes["before_rules"])
    assert set(result.changes["setup"]) == {"wlan_1g"}
    assert boxes_hold_exactly_the_changed_cells(result)


@pytest.mark.slow
def test_a_day_bound_edit_compares_on_the_common_refinement(tmp_path, baseline):
    dst = set_cell(RULES_DIR, tmp_path / "p", "ipv4.csv", "V4-OTH-V6-32", "days_since_phone_stop", ">=40")
    after = load_rulebook(dst)
    result = diff(baseline, after)
    assert result.axes["days_since_phone_stop"].breaks == (0, 32, 40)
    assert any("days_since_phone_stop" in n for n in result.axis_notes)
    want = expected_changes(baseline, after, _scenarios(baseline.models))
    assert reported_changes(result) == want
    assert set(result.changes["days_since_phone_stop"]) == {"[32,39]"}
    pairs = set(zip(result.changes["before_code"], result.changes["after_code"], strict=True))
    assert pairs == {("reapply_v6plus", "uncovered")}
    assert boxes_hold_exactly_the_changed_cells(result)


DAY_CELLS = ("-", "null", ">=10", "[0,20]", "(5,40]", "null|>=45", "<=31")


def random_edit(rng: np.random.Generator, book) -> tuple[str, str, str, str]:
    """One random cell edit (file, rule_id, column, value) that keeps the book loadable."""
    name = str(rng.choice(list(book.decisions)))
    spec = book.decisions[name]
    rule = book.rules[name][int(rng.integers(len(book.rules[name])))]
    column = str(rng.choice([*spec.inputs, name]))
    if column == name:
        value = str(rng.choice(book.priority(name)))
    elif column == "days_since_phone_stop":
        value = str(rng.choice(DAY_CELLS))
    else:
        domain = list(book.models) if column == "device" else list(book.inputs[column].domain)
        k = int(rng.integers(0, min(4, len(domain)) + 1))
        value = "-" if k == 0 else "|".join(sorted(rng.choice(domain, size=k, replace=False)))
    return f"{name}.csv", rule.rule_id, column, value


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_one_cell_edits_match_independent_evaluation(tmp_path, baseline, seed):
    file, rule_id, column, value = random_edit(np.random.default_rng(seed), baseline)
    after = load_rulebook(set_cell(RULES_DIR, tmp_path / "p", file, rule_id, column, value))
    result = diff(baseline, after)
    want = expected_changes(baseline, after, _scenarios(baseline.models))
    assert reported_changes(result) == want, (file, rule_id, column, value)
    assert boxes_hold_exactly_the_changed_cells(result)
    assert set(result.changed_decisions) <= {file.removesuffix(".csv")}


@pytest.mark.slow
def test_west_adopts_east_matches_independent_evaluation(tmp_path, baseline):
    after = load_rulebook(west_adopts_east(tmp_path / "w"))
    result = diff(baseline, after)
    want = expected_changes(baseline, after, _scenarios(baseline.models))
    assert reported_changes(result) == want
    assert result.changed_decisions == ["device_action"]
    assert set(result.changes["area"]) == {"west"}
    assert box_cells(result) == len(result.cells)
    assert boxes_hold_exactly_the_changed_cells(result)


@pytest.mark.slow
def test_a_different_catalogue_reports_absent_values(tmp_path, baseline):
    catalogue = read_table(DEVICES_CSV)
    extra = catalogue.iloc[[0]].assign(model="PR-700KI", key="PR700KI", series="PR-700")
    write_table(tmp_path / "devices.csv", pd.concat([catalogue, extra], ignore_index=True))
    after = load_rulebook(RULES_DIR, devices_path=tmp_path / "devices.csv")
    result = diff(baseline, after)
    assert any("PR-700KI only in the after book" in n for n in result.axis_notes)
    assert set(result.cells["device"]) == {"PR-700KI"}
    assert set(result.cells["before_status"]) == {"absent"}
    want = expected_changes(baseline, after, _scenarios((*baseline.models, "PR-700KI")))
    assert reported_changes(result) == want
    # the new model is in no device_action row: a gap after; wifi falls to the general rule
    dev = result.changes[result.changes["decision"] == "device_action"]
    assert set(dev["after_code"]) == {"uncovered"}


def test_population_counts_equal_an_independent_count(tmp_path, baseline):
    after = load_rulebook(west_adopts_east(tmp_path / "w"))
    pop = synthetic_population(20_000, seed=4)
    result = diff(baseline, after, population=pop)
    before_ans, after_ans = evaluate(pop, rulebook=baseline), evaluate(pop, rulebook=after)
    moved = before_ans["device_action"].astype(str) != after_ans["device_action"].astype(str)
    shift = result.shift.set_index("decision")
    assert shift.loc["device_action", "changed"] == int(moved.sum()) > 0
    assert shift.loc["wifi", "changed"] == 0
    trans = result.transitions
    assert int(trans["customers"].sum()) == int(moved.sum())
    pair = (before_ans["device_action"].astype(str) == "mail_exchange") & (
        after_ans["device_action"].astype(str) == "onsite_exchange"
    )
    got = trans[(trans["before"] == "mail_exchange") & (trans["after"] == "onsite_exchange")]["customers"]
    assert int(got.iloc[0]) == int(pair.sum())
    counts = result.counts[result.counts["decision"] == "device_action"].set_index("code")
    assert counts["before"].sum() == counts["after"].sum() == len(pop)
    assert counts.loc["onsite_exchange", "after"] == int((after_ans["device_action"] == "onsite_exchange").sum())
    assert counts.loc["conflict", "change"] == -int((before_ans["device_action"] == "conflict").sum())
    assert result.answers_after["rulebook_hash"].iloc[0] == after.hash
    # every changed customer sits in a changed scenario of the grid
    west_moved = pop.loc[moved.to_numpy(), "area"].astype(str)
    assert set(west_moved) == {"west"}


@pytest.mark.slow
def test_cli_diff_json(tmp_path, capsys):
    dst = set_cell(RULES_DIR, tmp_path / "p", "number.csv", "NUM-2", "number", "abolished")
    pop_csv = tmp_path / "pop.csv"
    synthetic_population(1000, seed=9).to_csv(pop_csv, index=False)
    assert main(["diff", str(RULES_DIR), str(dst), "--population", str(pop_csv), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["before"]["hash"] != out["after"]["hash"]
    assert [c["decision"] for c in out["changes"]] == ["number"]  # one box: invalid combinations don't split it
    assert out["changes"][0]["keep_number"] == "true" and out["changes"][0]["after_code"] == "abolished"
    keep = pd.read_csv(pop_csv)["keep_number"].sum()
    number = next(s for s in out["summary"] if s["decision"] == "number")
    assert number["changed"] == keep
    assert main(["diff", str(RULES_DIR), str(dst)]) == 0
    text = capsys.readouterr().out
    assert "NUM-2" in text and "abolished" in text


def test_builders_refuse_to_write_into_the_baseline(tmp_path):
    from sonet_policy.files.write import BaselineWriteError

    with pytest.raises(BaselineWriteError):
        set_cell(RULES_DIR, RULES_DIR / "copy", "wifi.csv", "WIFI-2", "wifi", "stops")
    with pytest.raises(BaselineWriteError):
        west_adopts_east(RULES_DIR)
    with pytest.raises(KeyError, match="no row"):
        set_cell(RULES_DIR, tmp_path / "x", "wifi.csv", "WIFI-99", "wifi", "stops")


def test_html_escapes_folder_names_and_lists_changes(tmp_path, baseline):
    dst = set_cell(RULES_DIR, tmp_path / "<script>x", "wifi.csv", "WIFI-3", "wifi", "stops")
    from sonet_policy.widgets.diff import diff_html

    page = diff_html(diff(baseline, load_rulebook(dst)))
    assert "<script>" not in page and "&lt;script&gt;x" in page
    assert "XG-100NE" in page and "WIFI-3" in page


def test_cli_diff_reports_a_bad_population_file(tmp_path, capsys):
    bad = tmp_path / "customers.csv"
    bad.write_text("area,plan\neast,sml\n", encoding="utf-8")
    assert main(["diff", str(RULES_DIR), str(RULES_DIR), "--population", str(bad)]) == 2
    assert "required column 'device'" in capsys.readouterr().err


def test_swapping_the_books_swaps_before_and_after(tmp_path, baseline):
    after = load_rulebook(west_adopts_east(tmp_path / "w"))
    forward, backward = diff(baseline, after), diff(after, baseline)
    swap = {f"before_{c}": f"after_{c}" for c in ("status", "code", "alternatives", "rules")}
    swap |= {v: k for k, v in swap.items()}
    left = forward.cells.rename(columns=swap)[forward.cells.columns].sort_values(["decision", "cell"])
    right = backward.cells.sort_values(["decision", "cell"])
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True))


def test_a_decision_only_one_book_has_is_reported_absent(tmp_path, baseline):
    dst = set_cell(RULES_DIR, tmp_path / "p", "wifi.csv", "WIFI-2", "note", "unchanged rule, new decision below")
    decisions = read_table(dst / "decisions.csv")
    extra = decisions.iloc[[0]].assign(decision="line_return", inputs="area", outputs="line_return")
    write_table(dst / "decisions.csv", pd.concat([decisions, extra], ignore_index=True))
    codes = read_table(dst / "codes.csv")
    extra = codes.iloc[[0]].assign(decision="line_return", code="not_needed", role="answer")
    write_table(dst / "codes.csv", pd.concat([codes, extra], ignore_index=True))
    table = pd.DataFrame(
        [dict(rule_id="LR-1", area="east", line_return="not_needed", exception_of="", source="pre.1", note="")]
    )
    write_table(dst / "line_return.csv", table)
    after = load_rulebook(dst)
    pop = synthetic_population(2000, seed=1)
    result = diff(baseline, after, population=pop)
    assert "decision line_return only in the after book" in result.axis_notes
    assert result.changed_decisions == ["line_return"]
    changed = result.changes.set_index("area")
    assert changed.loc["east", "before_status"] == "absent" and changed.loc["east", "after_code"] == "not_needed"
    assert changed.loc["west", "after_code"] == "uncovered"  # the new table has no West row: a gap after
    shift = result.shift.set_index("decision")
    assert shift.loc["line_return", "changed"] == len(pop)  # every customer moves from absent to an answer
    assert shift.drop("line_return")["changed"].eq(0).all()
