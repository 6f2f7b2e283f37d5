"""The synthetic population: seeded, labelled synthetic, shares as documented; impact counts add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sonet_policy import evaluate
from sonet_policy.analysis.population import (
    POPULATION_COLUMNS,
    assumptions,
    impact,
    impact_summary,
    load_population,
    synthetic_population,
)
from sonet_policy.cli.main import main
from sonet_policy.errors import ScenarioError
from sonet_policy.source.catalogue import read_catalogue

N = 40_000


@pytest.fixture(scope="module")
def pop() -> pd.DataFrame:
    return synthetic_population(N, seed=7)


@pytest.fixture(scope="module")
def answers(pop) -> pd.DataFrame:
    return evaluate(pop)


def test_same_seed_same_frame_other_seed_other_frame():
    a, b = synthetic_population(2000, seed=11), synthetic_population(2000, seed=11)
    pd.testing.assert_frame_equal(a, b)
    c = synthetic_population(2000, seed=12)
    assert not a["device"].equals(c["device"])


def test_columns_and_synthetic_label(pop):
    assert list(pop.columns) == POPULATION_COLUMNS
    assert pop["synthetic"].all() and pop.attrs["synthetic"] is True
    assert pop.attrs["seed"] == 7 and pop.attrs["n"] == N
    assert pop["customer_id"].is_unique
    assert "SYNTHETIC" in synthetic_population.__doc__


def test_each_assumption_group_sums_to_one():
    table = assumptions()
    sums = table.groupby(["variable", "given"])["share"].sum()
    # every group is complete; the 10g XG-100 group says with "*" that the rest is drawn by area
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert table[table["value"] == "*"][["variable", "given"]].values.tolist() == [["device.series", "plan=10g"]]


def test_an_input_without_shares_is_drawn_uniformly(tmp_path):
    import shutil

    from sonet_policy import load_rulebook
    from sonet_policy.paths import RULES_DIR

    folder = tmp_path / "kit"
    shutil.copytree(RULES_DIR, folder)
    inputs = pd.read_csv(folder / "inputs.csv", dtype=str, keep_default_na=False)
    row = dict(input="kit_sent", type="boolean", domain="true|false", required="false", empty="false", order="7")
    pd.concat([inputs, pd.DataFrame([row])], ignore_index=True).fillna("").to_csv(folder / "inputs.csv", index=False)
    pop = synthetic_population(20_000, seed=3, rulebook=load_rulebook(folder))
    assert "kit_sent" in pop.columns and abs(pop["kit_sent"].mean() - 0.5) < 4 * np.sqrt(0.25 / 20_000)


def test_shares_close_to_the_table(pop):
    """Observed shares within 4 standard errors of the documented ones."""

    def close(observed: float, expected: float, n: int) -> None:
        se = np.sqrt(expected * (1 - expected) / n)
        assert abs(observed - expected) < 4 * se + 1e-9, (observed, expected)

    close((pop["area"] == "east").mean(), 0.55, N)
    close((pop["plan"] == "10g").mean(), 0.08, N)
    close(pop["keep_number"].mean(), 0.40, N)
    close(pop["days_since_phone_stop"].notna().mean(), 0.30, N)
    tenG = pop[pop["plan"] == "10g"]
    close((tenG["setup"] == "wlan_router_10g").mean(), 0.40, len(tenG))
    # 10g: 0.60 XG-100 directly, plus the area tables' XG-100 share (0.04) of the remaining 0.40
    close((tenG["device"] == "XG-100NE").mean(), 0.60 + 0.40 * 0.04, len(tenG))
    west = pop[(pop["area"] == "west") & (pop["plan"] != "10g")]
    close(west["device"].isin(["RS-500KI", "RS-500MI"]).mean(), 0.005, len(west))


def test_setup_and_days_domains(pop):
    assert ((pop["setup"] == "wlan_router_10g") <= (pop["plan"] == "10g")).all()
    days = pop["days_since_phone_stop"].dropna()
    assert days.min() >= 0 and days.max() <= 90
    assert set(pop["device"].astype(str)) <= set(read_catalogue()["model"])
    # every series of the catalogue is drawn in both areas
    series = read_catalogue().set_index("model")["series"]
    for area in ("east", "west"):
        drawn = set(series[pop.loc[pop["area"] == area, "device"].astype(str)])
        assert drawn == set(series)


def test_every_synthetic_customer_evaluates(answers):
    assert (answers["status"] != "invalid").all()


def test_impact_counts_add_up_per_decision_and_group(pop, answers):
    table = impact(answers, pop, by=("area", "plan"))
    per = table.groupby(["area", "plan", "decision"])["customers"].sum().unstack("decision")
    sizes = {(str(a), str(p)): int(k) for (a, p), k in pop.groupby(["area", "plan"], observed=True).size().items()}
    assert len(sizes) == 6
    for decision in per.columns:
        assert {key: int(v) for key, v in per[decision].items()} == sizes
    np.testing.assert_allclose(table.groupby(["area", "plan", "decision"])["share"].sum(), 1.0)
    # independent count of one cell of the table
    want = int(((pop["area"] == "west") & (pop["plan"] == "sml") & (answers["wifi"] == "stops")).sum())
    pick = (table["area"] == "west") & (table["plan"] == "sml") & (table["decision"] == "wifi")
    got = table[pick & (table["code"] == "stops")]["customers"]
    assert int(got.iloc[0]) == want


def test_summary_matches_independent_counts(pop, answers):
    s = impact_summary(answers, pop, by=("area",)).set_index("area")
    west = pop["area"] == "west"
    assert s.loc["west", "customers"] == west.sum()
    assert s.loc["west", "loses_wifi"] == int((west & (answers["wifi"] == "stops")).sum())
    loses_ipv4 = ~answers["ipv4"].isin(["continues", "uncovered", "conflict"])
    assert s.loc["east", "loses_ipv4"] == int(((~west) & loses_ipv4).sum())
    gap = (answers[["procedure", "number", "ipv4", "wifi", "device_action"]] == "uncovered").any(axis=1)
    assert s.loc["west", "gap"] == int((west & gap).sum())
    # RS-500 in West has no row in West's device table: a gap the population must show
    assert s.loc["west", "gap"] > 0
    assert s.loc["east", "device_mail_exchange"] == int(((~west) & (answers["device_action"] == "mail_exchange")).sum())
    total = impact_summary(answers, pop, by=())
    assert int(total.loc[0, "customers"]) == N


def test_invalid_rows_are_counted_not_dropped():
    frame = synthetic_population(50, seed=1).astype({"setup": object, "plan": object, "device": object})
    frame.loc[0, "setup"] = "wlan_router_10g"
    frame.loc[0, "plan"] = "sml"  # a combination the page rules out
    frame.loc[1, "device"] = "PR-999XX"
    answers = evaluate(frame)
    s = impact_summary(answers, frame, by=())
    assert int(s.loc[0, "invalid"]) == 2
    table = impact(answers, frame, by=())
    assert int(table[(table["decision"] == "ipv4") & (table["code"] == "invalid")]["customers"].iloc[0]) == 2


def test_impact_refuses_misaligned_answers(pop, answers):
    with pytest.raises(ValueError, match="evaluate it first"):
        impact(answers.iloc[:10], pop)


def test_load_population_reads_own_csv_and_reports_missing_columns(tmp_path):
    path = tmp_path / "mine.csv"
    synthetic_population(30, seed=5).drop(columns=["customer_id"]).to_csv(path, index=False)
    mine = load_population(path)
    assert len(mine) == 30 and mine["customer_id"].tolist()[:2] == ["1", "2"]
    assert mine["synthetic"].all()  # the file says so
    assert (evaluate(mine)["status"] != "invalid").all()
    bad = tmp_path / "bad.csv"
    bad.write_text("area,plan\neast,sml\n", encoding="utf-8")
    japanese = tmp_path / "jp.csv"
    japanese.write_bytes(
        "エリア,プラン,機器名,利用環境,番号継続\n西,other,RV-230SE,rental_only,いいえ\n".encode("cp932")
    )
    row = evaluate(load_population(japanese)).iloc[0]
    assert (row["device_action"], row["ipv4"], row["status"]) == ("mail_exchange", "pppoe_pc", "ok")
    with pytest.raises(ScenarioError, match="required column 'device'"):
        load_population(bad)


def test_cli_writes_the_generator_output(tmp_path):
    out = tmp_path / "pop.csv"
    assert main(["population", "--n", "500", "--seed", "3", "--output", str(out)]) == 0
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    fresh = synthetic_population(500, seed=3)
    assert written["device"].tolist() == fresh["device"].astype(str).tolist()
    assert (
        written["days_since_phone_stop"].tolist() == fresh["days_since_phone_stop"].astype("string").fillna("").tolist()
    )


def test_cli_refuses_a_negative_count(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["population", "--n", "-5", "--output", str(tmp_path / "p.csv")])
    assert exit_.value.code == 2 and "negative" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()
