"""The widget apps: set control values as a person would and check what the apps show."""

from __future__ import annotations

import importlib
import json
import re
import sys
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.widgets import (
    AnswerCards,
    AuditView,
    Dashboard,
    DiffView,
    PopulationView,
    ScenarioExplorer,
    coverage_heatmap,
    domain_options,
    impact_bars,
    population_impact,
    rules_involved,
)


def shown_html(out) -> str:
    """The HTML an Output widget displays (what JupyterLab and Voilà render)."""
    assert len(out.outputs) == 1, "the Output is replaced, not appended to"
    return out.outputs[0]["data"]["text/html"]


def codes_in(markup: str) -> dict[str, str]:
    return dict(re.findall(r"data-decision='([^']+)' data-code='([^']+)'", markup))


@pytest.fixture
def app() -> ScenarioExplorer:
    return ScenarioExplorer()


def test_explorer_starts_on_the_defaults_and_renders_five_cards(app):
    shown = codes_in(shown_html(app.out))
    assert list(shown) == ["procedure", "number", "ipv4", "wifi", "device_action"]
    assert shown["device_action"] == "keeps_working"  # East ※1: PR-600KI on the 1 Giga wireless LAN line
    assert shown == app.codes


def test_changing_the_area_control_recomputes_the_cards(app):
    app.device.value = "PR-200NE"
    assert codes_in(shown_html(app.out))["device_action"] == "onsite_exchange"
    app.area.value = "west"
    assert codes_in(shown_html(app.out))["device_action"] == "mail_exchange"


@pytest.mark.parametrize("spelling", ["rv-230se", "ＲＶ－２３０ＳＥ", "RV230SE", " rv 230 se "])
def test_device_combobox_accepts_any_spelling(app, spelling):
    assert app.device.ensure_option is False
    assert "RV-230SE" in app.device.options
    app.device.value = spelling
    assert app.explanation.resolved["device"] == "RV-230SE"
    assert app.codes["device_action"] == "mail_exchange"


def test_days_control_and_its_empty_checkbox(app):
    app.set(area="west", plan="other", device="RV-230SE", setup="v6plus_router")
    assert app.empty["days_since_phone_stop"].value and app.days.disabled
    assert app.scenario["days_since_phone_stop"] is None
    app.empty["days_since_phone_stop"].value = False
    assert not app.days.disabled
    app.days.value = 31
    assert app.codes["ipv4"] == "pppoe_router"
    app.days.value = 32
    assert app.codes["ipv4"] == "reapply_v6plus"
    assert "data-code='reapply_v6plus'" in shown_html(app.out)


def test_cards_carry_japanese_text_rule_ids_and_clauses(app):
    app.set(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=32)
    markup = shown_html(app.out)
    assert "「v6プラス」の解約 / 再申し込みが必要です。" in markup  # the answer in Japanese
    assert "Cancel and re-apply for v6プラス" in markup  # and in English
    assert "V4-OTH-V6-32" in markup  # the rule id
    assert "net.ov6.4:" in markup  # a clause id with its Japanese text
    assert "Next:" in markup


def test_invalid_combination_shows_why_not_a_traceback(app):
    app.set(plan="sml", setup="wlan_router_10g")
    markup = shown_html(app.out)
    assert app.codes["ipv4"] == app.codes["wifi"] == app.codes["device_action"] == "invalid"
    assert app.codes["procedure"] != "invalid"  # procedure does not read plan or setup
    assert "data-code='invalid'" in markup
    assert "10ギガ" in markup and "Traceback" not in markup
    assert "error: setup:" in app.summary()


def test_unknown_device_names_the_nearest_models(app):
    app.device.value = "PR-700KI"
    assert "nearest: PR-600KI" in shown_html(app.out)


def test_typed_text_is_escaped(app):
    app.device.value = "<script>alert(1)</script>"
    markup = shown_html(app.out)
    assert "<script>alert" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


def test_set_rejects_unknown_controls_and_keeps_one_output(app):
    with pytest.raises(TypeError, match="colour"):
        app.set(colour="red")
    app.set(area="west", device="RV-230SE", days=40)
    assert len(app.out.outputs) == 1


def test_display_bundle_is_the_widget_with_a_summary_as_text(app):
    bundle = app._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("ScenarioExplorer: area=east plan=10g device=PR-600KI")
    assert "device_action=keeps_working" in bundle["text/plain"]


def test_answer_cards_html_and_text():
    cards = AnswerCards(ScenarioExplorer(area="west", device="RV-230SE").explanation)
    assert "data-code='mail_exchange'" in cards._repr_html_()
    assert "answer: mail_exchange" in repr(cards)


def test_domain_options_label_codes_from_the_inputs_table():
    options = dict((code, label) for label, code in domain_options(default_rulebook(), "setup"))
    assert options["wlan_1g"] == "wlan_1g · 無線LAN機能付きの1ギガ回線"
    assert list(options) == ["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"]


# ------------------------------------------------------------------------------------------- audit


@pytest.mark.slow
def test_heatmap_is_a_deterministic_png():
    book = default_rulebook()
    first, second = coverage_heatmap(book), coverage_heatmap(book)
    assert first.png.startswith(b"\x89PNG") and first.png == second.png
    assert b"Matplotlib" not in first.png  # no version metadata
    assert "40 devices" in repr(first)


def test_audit_view_picks_a_finding_and_shows_its_witness_in_the_explorer():
    view = AuditView()
    assert len(view.finding.options) == sum(isinstance(x, dict) for x in view.findings["witness"])
    gap = next(v for label, v in view.finding.options if "gap · device_action" in label)
    view.finding.value = gap
    assert view.explorer.codes["device_action"] == "uncovered"
    assert "data-decision='device_action' data-code='uncovered'" in shown_html(view.explorer.out)
    conflict = next(v for label, v in view.finding.options if "conflict · wifi" in label)
    view.finding.value = conflict
    assert view.explorer.codes["wifi"] == "conflict"
    view.pick(gap)
    assert view.finding.value == gap and view.explorer.codes["device_action"] == "uncovered"
    with pytest.raises(ValueError, match="no witness"):
        view.pick(len(view.findings) + 5)


def test_audit_view_starts_with_the_dropdown_and_the_explorer_agreeing():
    view = AuditView()
    first = view.findings.iloc[view.finding.value]["witness"]
    assert view.explorer.scenario["device"] == first["device"]
    assert view.explorer.scenario["area"] == first["area"]


def test_audit_view_sort_dropdown_reorders_the_grid():
    view = AuditView()
    by_kind = view.grid.frame["#"].tolist()
    view.sort_by.value = "decision"
    assert view.grid.frame["#"].tolist() != by_kind
    assert view.grid.frame.iloc[0]["decision"] == "device_action"
    assert view.grid.widget.df.iloc[0]["decision"] == "device_action"  # what the grid widget holds
    assert view.table().iloc[0]["decision"] == "device_action"
    assert "sorted by decision" in view.summary()


@pytest.mark.slow
def test_audit_view_findings_are_a_grid_and_download_as_csv_and_excel():
    import io

    view = AuditView()
    assert "sp-grid" in view.grid.widget._dom_classes
    assert len(view.grid.frame) == len(view.findings)
    assert sorted(view.files) == ["audit-coverage.csv", "audit-findings.csv", "audit.xlsx"]
    assert "audit-findings.csv" in view.downloads.value and "data:text/csv;base64," in view.downloads.value
    csv = pd.read_csv(io.BytesIO(view.files["audit-findings.csv"]), encoding="utf-8-sig", dtype=str)
    assert csv["kind"].tolist() == view.findings["kind"].tolist()
    sheets = pd.read_excel(io.BytesIO(view.files["audit.xlsx"]), sheet_name=None)
    assert set(sheets) == {"findings", "coverage"}
    assert len(sheets["coverage"]) == len(view.shares)
    assert sheets["coverage"]["covered"].sum() == view.shares["covered"].sum()


@pytest.mark.slow
def test_audit_view_heat_map_draws_shares_and_opens_a_pairs_findings():
    from sonet_policy.analysis.coverage import pair_findings

    view = AuditView()
    assert view.heatmap.description.startswith("coverage heat map: share covered")  # the PNG, when asked
    assert len(view.map.cells) == len(view.shares) and view.map in view.widget.children  # the clickable map
    # a pair with one uncovered corner is a share, not a solid alarm: ipv4 is neither 0 nor 1 on any pair
    ipv4 = view.shares[view.shares["decision"] == "ipv4"]["covered_share"]
    assert ((ipv4 > 0) & (ipv4 < 1)).all()
    rows, columns = view.shares.columns[0], view.shares.columns[1]
    pair = view.pair.options[-1][1]
    found = view.open_pair(*pair)
    assert view.pair.value == pair
    expected = pair_findings(view.findings, {rows: pair[0], columns: pair[1]})
    assert found.index.tolist() == expected.index.tolist() and len(found) > 0
    assert view.pair_grid.frame["#"].tolist() == expected.index.tolist()
    assert f"{len(expected)} finding(s)" in shown_html(view.pair_out)
    with pytest.raises(ValueError, match="not a value"):
        view.open_pair("nowhere", pair[1])


@pytest.mark.slow
def test_the_clickable_heat_map_is_the_coverage_share_table():
    """Every cell of the clickable map prints share_label of the table's covered share, in the PNG's colour,
    with the table's counts in its tooltip; decision by decision, in the PNG's order."""
    from matplotlib.colors import to_hex

    from sonet_policy.analysis.coverage import coverage_shares, share_label, share_matrix
    from sonet_policy.widgets import ShareHeatMap
    from sonet_policy.widgets.audit import coverage_share_figure

    shares = coverage_shares(rows="area", columns="device")
    heat = ShareHeatMap(shares)
    assert len(heat.cells) == len(shares)
    table = shares.set_index(["decision", "area", "device"])
    for cell in heat.cells:
        rec = table.loc[(cell["decision"], cell["row"], cell["column"])]
        share = rec["covered"] / rec["scenarios"]
        assert cell["label"] == share_label(share) == share_label(rec["covered_share"]), cell
        assert f"{rec['covered']}/{rec['scenarios']} scenarios covered, {rec['gap']} gap" in cell["tooltip"]
        assert f"{rec['conflict']} conflict" in cell["tooltip"]
    assert {c["label"] for c in heat.cells} >= {"100%", "96%"}  # not one value everywhere
    # the PNG's colour scale: each panel's image maps the same share to the same colour
    fig = coverage_share_figure(shares)
    decisions = list(dict.fromkeys(shares["decision"]))
    assert heat.data["decisions"] == decisions and heat.data["columns"] == list(dict.fromkeys(shares["device"]))
    k = 0
    for ax, decision in zip(fig.axes, decisions, strict=False):
        m = share_matrix(shares, decision)
        for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
            cell = heat.cells[k]
            assert (cell["decision"], cell["row"], cell["column"]) == (decision, m.index[i], m.columns[j])
            assert cell["colour"] == to_hex(ax.images[0].to_rgba(v)), cell
            k += 1
    assert repr(heat) == "ShareHeatMap: share covered, 5 decisions x 2 area x 40 device"
    # the pair picker names each open decision's share as its cell prints it (58/60 is 96% in both, not 97%)
    from sonet_policy.widgets.audit import pair_options

    printed = {(c["decision"], c["row"], c["column"]): c["label"] for c in heat.cells}
    for label, (r, c) in pair_options(shares):
        for part in label.split(": covered ", 1)[1].split(", "):
            decision, share = part.split(" ")
            assert printed[(decision, r, c)] == share, label
    assert heat._repr_mimebundle_()[0]["text/plain"] == repr(heat)  # what a saved notebook keeps


@pytest.mark.slow
def test_a_heat_map_click_opens_the_pairs_findings_as_the_picker_does():
    clicked, picked = AuditView(), AuditView()
    pair = clicked.pair.options[-1][1]  # not the preselected first pair
    assert clicked.pair.value != pair and clicked.map.selected == ["", *clicked.pair.value]
    decision = clicked.shares["decision"].iloc[-1]
    clicked.map.selected = [decision, *pair]  # what the browser sets on a cell click
    picked.pair.value = pair  # the picker under the map
    assert clicked.pair.value == pair  # the picker follows the click
    assert clicked.pair_findings.index.tolist() == picked.pair_findings.index.tolist() != []
    assert shown_html(clicked.pair_out) == shown_html(picked.pair_out)
    assert clicked.pair_grid.frame.equals(picked.pair_grid.frame)
    assert clicked.map.selected == [decision, *pair]  # the clicked cell stays the one outlined
    assert picked.map.selected == ["", *pair]  # a pair picked: its cells are outlined in every decision
    other = clicked.pair.options[1][1]
    clicked.pair.value = other
    assert clicked.map.selected == ["", *other]
    clicked.map.selected = [decision, "nowhere", pair[1]]  # a stale map: one line, no traceback
    assert "nowhere" in shown_html(clicked.pair_out) and "Error" not in shown_html(clicked.pair_out)


@pytest.mark.slow
def test_audit_view_shows_a_broken_rule_book_in_the_app(tmp_path):
    import shutil

    from sonet_policy.book.load import load_rulebook
    from sonet_policy.paths import RULES_DIR

    shutil.copytree(RULES_DIR, tmp_path / "rules")
    view = AuditView(rulebook=load_rulebook(tmp_path / "rules"))
    (tmp_path / "rules" / "wifi.csv").write_text("rule_id,area\nW,nowhere\n", encoding="utf-8")
    view.rerun.click()
    shown = shown_html(view.table_out)
    assert "wifi.csv, column source: required column is missing" in shown  # the file, the column, the reason
    assert "Error" not in shown  # no Python class name


def test_dashboard_has_the_explorer_and_the_audit():
    board = Dashboard()
    assert list(board.tabs) == ["Scenario explorer", "Coverage audit", "Compare 比較"]
    assert board.tab.titles == ("Scenario explorer", "Coverage audit", "Compare 比較")
    assert "device_action=keeps_working" in repr(board)


# ------------------------------------------------------------------------------------ population


@pytest.mark.slow
def test_population_view_waits_for_the_button_then_counts_every_customer():
    view = PopulationView(n=3000, seed=5)
    assert view.result is None and "Press the button" in shown_html(view.out)
    view.button.click()
    markup = shown_html(view.out)
    assert "SYNTHETIC" in markup and "<img" in markup
    summary = view.result.summary
    assert int(summary["customers"].sum()) == 3000
    assert list(summary.columns[:2]) == ["area", "plan"]
    device_cols = [c for c in summary.columns if c.startswith("device_")]
    # every customer has exactly one device action: a code, a finding, or invalid
    findings = int(view.result.answers["device_action"].isin(["uncovered", "conflict"]).sum())
    assert int(summary[device_cols].to_numpy().sum()) + findings + int(summary["invalid"].sum()) == 3000
    assert int(summary["conflict"].sum()) >= int((view.result.answers["device_action"] == "conflict").sum())
    assert "3000 customers" in view.summary()


@pytest.mark.slow
def test_population_view_same_seed_same_counts_and_grouping_control():
    a, b = PopulationView(n=2000, seed=3), PopulationView(n=2000, seed=3)
    a.run()
    b.by.value = "setup"
    b.run()
    assert a.result.totals().equals(b.result.totals())  # same customers, whatever the grouping
    assert sorted(b.result.summary["setup"]) == sorted(b.result.population["setup"].unique())
    assert int(b.result.summary["customers"].sum()) == 2000


def test_population_view_with_an_own_frame_is_not_labelled_synthetic():
    own = pd.DataFrame(
        {
            "area": ["west", "east"],
            "plan": ["other", "10g"],
            "device": ["rv-230se", "XG-100NE"],
            "setup": ["v6plus_router", "wlan_router_10g"],
            "keep_number": [False, True],
            "days_since_phone_stop": [32, None],
        }
    )
    view = PopulationView(population=own)
    view.run()
    assert "SYNTHETIC" not in shown_html(view.out)
    totals = view.result.totals()["customers"]
    assert totals[("device_action", "mail_exchange")] == 1
    assert totals[("device_action", "keeps_working")] == 1
    assert totals[("ipv4", "reapply_v6plus")] == 1


@pytest.mark.slow
def test_population_view_shows_grids_and_downloads_of_its_tables():
    import io

    view = PopulationView(n=2000, seed=4)
    view.run()
    assert view.summary_grid.frame["customers"].tolist() == view.result.summary["customers"].tolist()
    assert len(view.totals_grid.frame) == len(view.result.totals())
    assert sorted(view.files) == ["population-summary.csv", "population-totals.csv", "population.xlsx"]
    csv = pd.read_csv(io.BytesIO(view.files["population-summary.csv"]), encoding="utf-8-sig")
    assert int(csv["customers"].sum()) == 2000
    sheets = pd.read_excel(io.BytesIO(view.files["population.xlsx"]), sheet_name=None)
    assert set(sheets) == {"summary", "totals"}
    assert int(sheets["totals"]["customers"].sum()) == int(view.result.totals()["customers"].sum())
    assert "population-totals.csv" in view.downloads.value


def _uploaded(name: str, data: bytes) -> tuple[dict, ...]:
    """A FileUpload value as ipywidgets 8 holds it after a person picks a file."""
    from datetime import datetime

    when = datetime(2026, 11, 26, tzinfo=UTC)
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": when},)


@pytest.mark.slow
def test_population_view_evaluates_an_uploaded_customer_file_csv_and_excel():
    import io

    own = pd.DataFrame(
        {
            "area": ["west", "east", "west"],
            "plan": ["other", "10g", "nowhere"],
            "device": ["rv-230se", "XG-100NE", "rv-230se"],
            "setup": ["v6plus_router", "wlan_router_10g", "v6plus_router"],
            "keep_number": ["no", "yes", "no"],
            "days_since_phone_stop": ["32", "", "1"],
        }
    )
    view = PopulationView(n=100)
    view.upload.value = _uploaded("customers.csv", own.to_csv(index=False).encode("utf-8"))
    assert "customers.csv: 3 customer(s) read" in view.upload_note.value
    assert "SYNTHETIC" not in shown_html(view.out)
    assert len(view.result.answers) == 3  # one row per input row, the bad one too
    totals = view.result.totals()["customers"]
    # the row with an unknown plan is a partial answer: its device action (which reads no plan) still counts
    assert totals[("device_action", "mail_exchange")] == 2 and totals[("device_action", "keeps_working")] == 1
    answers = pd.read_csv(io.BytesIO(view.files["population-answers.csv"]), encoding="utf-8-sig")
    assert len(answers) == 3
    excel = io.BytesIO()
    own.to_excel(excel, index=False)
    view.upload.value = _uploaded("customers.xlsx", excel.getvalue())
    assert "customers.xlsx: 3 customer(s) read" in view.upload_note.value
    assert len(view.result.answers) == 3


@pytest.mark.slow
def test_population_view_says_a_bad_upload_in_one_line_without_class_names():
    view = PopulationView(n=500)
    view.run()
    before = view.result
    view.upload.value = _uploaded("customers.csv", b"name,colour\nx,red\n")
    note = view.upload_note.value
    assert "customers.csv" in note and "sp-error" in note
    assert "Error" not in note and "\n" not in note and "Traceback" not in note
    assert view.result is before  # the view keeps what it showed


@pytest.mark.slow
def test_impact_bars_png_is_deterministic():
    from sonet_policy.analysis.population import synthetic_population

    result = population_impact(synthetic_population(500, seed=2))
    assert impact_bars(result).png == impact_bars(result).png
    assert "SYNTHETIC" in repr(impact_bars(result))


# ------------------------------------------------------------------------------------------ diff


def _tree_digest(folder):
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_diff_view_compares_a_copy_and_leaves_the_baseline_alone():
    from sonet_policy.analysis.population import synthetic_population
    from sonet_policy.paths import RULES_DIR

    before = _tree_digest(RULES_DIR)
    view = DiffView(population=synthetic_population(2000, seed=1))
    view.button.click()
    assert _tree_digest(RULES_DIR) == before
    assert view.result.changed_decisions == ["device_action"]
    for title in ("Changed scenarios", "Rules involved", "Customers changing answer (before → after)"):
        assert len(view.grids[title].frame) > 0 and view.grids[title].caption == title
    assert len(view.grids["Changed scenarios"].frame) == len(view.result.changes)
    involved = rules_involved(view.result).set_index("rule_id")
    assert involved.loc["DEV-W-2", "side"] == "before" and involved.loc["DEV-E-2-W", "side"] == "after"
    assert " " not in "".join(involved.index)
    shift = view.result.summary().set_index("decision")["changed"]
    assert shift["wifi"] == 0 and shift["device_action"] > 0
    assert f"device_action {shift['device_action']}" in view.summary()


def test_diff_view_takes_an_analysts_folder_and_reports_a_missing_one(tmp_path):
    from sonet_policy.analysis.population import synthetic_population
    from sonet_policy.analysis.whatif import set_cell
    from sonet_policy.paths import RULES_DIR

    copy = set_cell(RULES_DIR, tmp_path / "copy", "wifi.csv", "WIFI-3", "wifi", "stops")
    view = DiffView(population=synthetic_population(1000, seed=1))
    view.what_if.value = "a folder"
    view.run()
    assert "type the folder" in shown_html(view.out)  # no folder typed yet: said in the app
    view.folder.value = str(copy)
    view.run()
    changes = view.result.changes
    assert changes[["decision", "device", "before_code", "after_code"]].values.tolist() == [
        ["wifi", "XG-100NE", "continues", "stops"]
    ]
    view.folder.value = str(tmp_path / "nowhere")
    view.run()
    assert "nowhere" in shown_html(view.out) and "not a folder" in shown_html(view.out)


@pytest.mark.slow
def test_diff_view_downloads_its_tables_as_csv_and_excel():
    import io

    from sonet_policy.analysis.population import synthetic_population

    view = DiffView(population=synthetic_population(1000, seed=2))
    assert view.files == {} and view.downloads.value == ""
    view.run()
    assert sorted(view.files) == [
        "diff-changes.csv",
        "diff-per-decision.csv",
        "diff-rules.csv",
        "diff-transitions.csv",
        "diff.xlsx",
    ]
    changes = pd.read_csv(io.BytesIO(view.files["diff-changes.csv"]), encoding="utf-8-sig", dtype=str)
    assert len(changes) == len(view.result.changes)
    assert changes["after_code"].tolist() == view.result.changes["after_code"].astype(str).tolist()
    per_decision = pd.read_excel(io.BytesIO(view.files["diff.xlsx"]), sheet_name="per-decision")
    assert per_decision["changed"].tolist() == view.result.summary()["changed"].tolist()


# ------------------------------------------------------------------- without the notebooks extra


def test_without_ipywidgets_the_import_says_which_extra_to_install(monkeypatch):
    for name in [n for n in sys.modules if n == "sonet_policy.widgets" or n.startswith("sonet_policy.widgets.")]:
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r'needs ipywidgets .*pip install "sonet-policy\[notebooks\]"') as caught:
        importlib.import_module("sonet_policy.widgets")
    assert not isinstance(caught.value, ModuleNotFoundError) and caught.value.name == "ipywidgets"


# ------------------------------------------------------------------- the notebooks as committed

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_the_four_notebooks_and_the_dashboard_are_there():
    names = [p.name for p in NOTEBOOKS]
    for prefix in ("01-", "02-", "03-", "04-"):
        assert sum(n.startswith(prefix) for n in names) == 1, prefix
    assert "dashboard.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_thin_executed_in_order_and_without_widget_state(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in nb["metadata"], "saved widget state is not committed"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), "run top to bottom, once"
    for cell in code:
        source = "".join(cell["source"])
        assert len(source.splitlines()) <= 10, f"long cell (logic belongs in the package):\n{source}"
        assert "execution" not in cell["metadata"], "no timings"
        for out in cell["outputs"]:
            assert out["output_type"] != "error", source
            assert WIDGET_VIEW not in out.get("data", {}), "widget views keep only their text"
            text = json.dumps(out)
            assert not re.search(r"0x[0-9a-f]{6,}", text), "memory address in a stored output"
            assert "/tmp/" not in text and "/work/" not in text, "absolute path in a stored output"
    if path.name != "dashboard.ipynb":
        tagged = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, "one parameters cell"
        assert nb["cells"][0]["cell_type"] == "markdown" and nb["cells"][0]["source"][0].startswith("# ")


def test_population_notebook_says_synthetic():
    nb = json.loads((NOTEBOOK_DIR / "03-population-impact.ipynb").read_text(encoding="utf-8"))
    assert "SYNTHETIC" in "".join(nb["cells"][0]["source"])


def test_run_notebooks_clean_strips_widget_state_views_and_timings():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("run_notebooks", NOTEBOOK_DIR.parent / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cell = nbformat.v4.new_code_cell("app")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cell.outputs = [
        nbformat.v4.new_output("execute_result", {"text/plain": "Explorer: ...", WIDGET_VIEW: {"model_id": "abc"}})
    ]
    nb.cells = [cell]
    cleaned = module.clean(nb)
    assert "widgets" not in cleaned.metadata and "execution" not in cleaned.cells[0].metadata
    assert cleaned.cells[0].outputs[0]["data"] == {"text/plain": "Explorer: ..."}


def test_explorer_shows_the_five_answers_on_one_row_above_the_cards():
    app = ScenarioExplorer(area="west", plan="other", device="rv-230se", setup="v6plus_router", keep_number=False)
    app.set(days=31)
    row = dict(re.findall(r"data-row-decision='([^']+)' data-row-code='([^']+)'", app.row.value))
    assert row == app.explanation.codes and len(row) == 5
    assert row["device_action"] == codes_in(shown_html(app.out))["device_action"]
    children = list(app.widget.children)
    assert children.index(app.row) < children.index(app.out) < children.index(app.message_box)
    app.set(days=32)  # the row follows every change
    assert dict(re.findall(r"data-row-decision='([^']+)' data-row-code='([^']+)'", app.row.value)) == app.codes


def test_explorer_shows_the_customer_message_with_a_copy_button_and_english():
    import html as html_lib

    from sonet_policy.engine.message import message_of

    app = ScenarioExplorer(area="west", plan="other", device="rv-230se", setup="v6plus_router", keep_number=False)
    app.set(days=31)
    expected = message_of(**app.scenario)
    assert app.message.ja == expected.ja and "【解約方法】" in app.message.ja
    box = app.message_box.value
    assert "sp-copy" in box and "sp-print" in box and "textarea" in box
    assert html_lib.escape(expected.ja) in box and html_lib.escape(expected.en) in box
    app.set(plan="sml", setup="wlan_router_10g")  # ruled out: the field to correct, and a note for the agent
    assert app.message.notes and html_lib.escape(app.message.notes[0]) in app.message_box.value
