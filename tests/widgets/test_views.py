"""Issue 15, items 9 and the small points: the diff view picks proposals from a dropdown and says a broken one
without Python class names, changed scenarios carry the page's clauses, one colour per meaning across the
charts, values printed on bars and heat-map cells, Excel rows named as Excel shows them."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sonet_policy.analysis.population import synthetic_population
from sonet_policy.analysis.proposals import create_proposal, read_table
from sonet_policy.widgets import DiffView

CLASS_NAMES = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|Error:")


def shown_html(out) -> str:
    assert len(out.outputs) == 1
    return out.outputs[0]["data"]["text/html"]


@pytest.fixture(scope="module")
def population():
    return synthetic_population(800, seed=3)


def test_diff_view_offers_the_proposals_found_and_the_what_ifs(tmp_path, population):
    from sonet_policy.analysis.whatif import what_ifs

    folder = create_proposal("stops-everywhere", root=tmp_path)
    table = read_table(folder / "wifi.csv")
    table["wifi"] = "stops"
    table.to_csv(folder / "wifi.csv", index=False)
    create_proposal("same", root=tmp_path)
    (tmp_path / "notes").mkdir()  # a folder that is no rule book is not offered
    view = DiffView(population=population, proposals=tmp_path)
    options = list(view.what_if.options)
    assert options == [*what_ifs()["label"], "proposal same", "proposal stops-everywhere", "a folder"]
    view.what_if.value = "proposal stops-everywhere"
    view.run()
    assert view.result is not None and view.result.changed_decisions == ["wifi"]
    create_proposal("later", root=tmp_path)
    assert view.find_proposals() == ["later", "same", "stops-everywhere"]
    assert view.what_if.value == "proposal stops-everywhere"  # the choice is kept


def test_diff_view_finds_proposals_under_the_proposals_folder(tmp_path, monkeypatch, population):
    monkeypatch.setenv("SONET_POLICY_PROPOSALS", str(tmp_path))
    create_proposal("from-env", root=tmp_path)
    assert "proposal from-env" in DiffView(population=population).what_if.options


def test_a_broken_proposal_is_said_in_lines_naming_file_row_and_column_without_class_names(tmp_path, population):
    folder = create_proposal("broken", root=tmp_path)
    table = read_table(folder / "wifi.csv")
    table.loc[1, "area"] = "nowhere"
    table.to_csv(folder / "wifi.csv", index=False)
    view = DiffView(population=population, proposals=tmp_path)
    view.what_if.value = "proposal broken"
    view.run()
    shown = shown_html(view.out)
    assert "wifi.csv, row 3, column area:" in shown and "nowhere" in shown
    assert not CLASS_NAMES.search(shown), shown
    view.what_if.value = "a folder"
    view.folder.value = str(tmp_path / "absent")
    view.run()
    shown = shown_html(view.out)
    assert "absent" in shown and "not a folder" in shown and not CLASS_NAMES.search(shown)


def test_no_widget_module_shows_a_python_class_name():
    from pathlib import Path

    import sonet_policy

    root = Path(sonet_policy.__file__).parent
    for path in [*sorted((root / "widgets").glob("*.py")), root / "analysis" / "proposals.py"]:
        text = path.read_text(encoding="utf-8")
        for pattern in ("type(exc).__name__", "type(e).__name__", "{exc!r}", "{e!r}", "repr(exc)", "repr(e)"):
            assert pattern not in text, f"{path.name} shows {pattern}"


def test_changed_scenarios_carry_the_clause_ids_and_their_japanese_text(population):
    from sonet_policy.book.load import default_rulebook

    view = DiffView(population=population)
    view.run()
    changed = view.grids["Changed scenarios"].frame
    assert {"before_clauses", "after_clauses", "clauses_ja"} <= set(changed.columns)
    book = default_rulebook()
    sources = {r.rule_id: r.source for rules in book.rules.values() for r in rules}
    clauses = book.clauses.reset_index(drop=True) if "clause_id" in book.clauses.columns else book.clauses.reset_index()
    text = dict(zip(clauses["clause_id"], clauses["text_ja"], strict=True))
    first = changed.iloc[0]
    expected = [c for rule in first["before_rules"].split() for c in sources[rule]]
    assert first["before_clauses"].split() == list(dict.fromkeys(expected))
    for clause in first["before_clauses"].split():
        assert f"{clause} 「{text[clause]}」" in first["clauses_ja"]
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", first["clauses_ja"])  # Japanese, as on the page
    assert "clauses_ja" in pd.read_csv(__import__("io").BytesIO(view.files["diff-changes.csv"])).columns


# ------------------------------------------------------------------------------------ charts


@pytest.mark.slow
def test_the_coverage_heat_map_prints_each_cells_share_equal_to_the_coverage_table():
    from sonet_policy.analysis.coverage import coverage_shares, share_label, share_matrix
    from sonet_policy.widgets.audit import coverage_share_figure

    shares = coverage_shares(rows="area", columns="device")
    fig = coverage_share_figure(shares)
    decisions = list(dict.fromkeys(shares["decision"]))
    assert len(fig.axes) == len(decisions) + 1  # a panel per decision and the colour bar
    seen = set()
    for ax, decision in zip(fig.axes, decisions, strict=False):
        m = share_matrix(shares, decision)
        printed = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
        expected = {(i, j): share_label(v) for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)) if v == v}
        assert printed == expected, decision
        seen |= set(printed.values())
    assert "100%" in seen and len(seen) > 2  # not one value everywhere
    # the numbers are the coverage table's: covered / scenarios, rounded down
    row = shares.iloc[int(np.argmin(shares["covered_share"].where(shares["covered_share"] > 0, 2)))]
    assert share_label(row["covered"] / row["scenarios"]) == f"{int(100 * row['covered'] / row['scenarios'])}%"


def test_a_cell_says_100_only_when_every_scenario_is_covered():
    from sonet_policy.analysis.coverage import share_label

    assert share_label(0.9999) == "99%" and share_label(1e-6) == "1%" and share_label(1.0) == "100%"


@pytest.mark.slow
def test_the_audit_views_heat_map_is_the_printed_share_map():
    from sonet_policy.widgets import AuditView

    view = AuditView()
    assert "share covered" in repr(view.heatmap) and view.heatmap.png.startswith(b"\x89PNG")


def _bar_colours(ax) -> dict[str, set[str]]:
    from matplotlib.colors import to_hex

    handles, labels = ax.get_legend_handles_labels()
    out: dict[str, set[str]] = {}
    for handle, label in zip(handles, labels, strict=True):
        out.setdefault(label, set()).update(to_hex(p.get_facecolor()) for p in handle.patches)
    return out


def test_one_colour_per_meaning_across_the_charts_and_red_is_only_a_conflict(population):
    from sonet_policy.widgets import STATUS_COLOURS, population_impact
    from sonet_policy.widgets.population import impact_figure

    fig = impact_figure(population_impact(population))
    colours: dict[str, set[str]] = {}
    for ax in fig.axes:
        for label, used in _bar_colours(ax).items():
            colours.setdefault(label, set()).update(used)
    assert all(len(used) == 1 for used in colours.values()), colours
    flat = {label: next(iter(used)) for label, used in colours.items()}
    assert len(set(flat.values())) == len(flat)  # no two meanings share a colour
    assert flat["conflict"] == STATUS_COLOURS["conflict"] and flat["gap"] == STATUS_COLOURS["gap"]
    reserved = set(STATUS_COLOURS.values())
    assert not {c for label, c in flat.items() if label not in STATUS_COLOURS} & reserved


def test_every_bar_prints_its_value(population):
    from sonet_policy.widgets import population_impact
    from sonet_policy.widgets.population import impact_figure

    result = population_impact(population)
    left, right = impact_figure(result).axes[:2]
    printed = [t.get_text() for t in right.texts]
    for measure in ("gap", "conflict"):
        for v in result.summary[measure]:
            assert not v or f"{int(v):,}" in printed
    totals = result.summary["customers"] - result.summary["invalid"]
    assert all(f"{int(v):,}" in [t.get_text() for t in left.texts] for v in totals)


# ------------------------------------------------------------------------------------ Excel rows


def _workbook(path, rows, *, top: int = 3):
    """A workbook whose header is in row ``top`` (the rows above it blank), as a person may have one."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for k, row in enumerate(rows):
        for j, value in enumerate(row):
            sheet.cell(row=top + k, column=1 + j, value=value)
    book.save(path)
    return path


def _customers() -> list[list[object]]:
    header = ["area", "plan", "device", "setup", "keep_number"]
    good = ["west", "other", "RV-230SE", "v6plus_router", "no"]
    bad = ["west", "other", "NO-SUCH-MODEL-9", "v6plus_router", "no"]
    return [header, good, ["east", "sml", "PR-600KI", "wlan_1g", "yes"], bad, good]


def test_read_scenarios_names_workbook_rows_as_excel_shows_them(tmp_path):
    from sonet_policy.engine.evaluate import evaluate
    from sonet_policy.files.read import read_scenarios

    rows = _customers()
    path = _workbook(tmp_path / "c.xlsx", [*rows[:3], [None] * len(rows[0]), *rows[3:]])  # a blank row too
    frame = read_scenarios(path)
    # header in row 3; data in rows 4, 5, (6 blank), 7, 8
    assert frame.index.tolist() == [4, 5, 7, 8] and frame.index.name == "row"
    errors = evaluate(frame)["error"].astype("string").fillna("")
    assert errors[errors.ne("")].index.tolist() == [7] and "NO-SUCH-MODEL-9" in errors[7]


def _upload(path):
    """A FileUpload value as ipywidgets 8 holds it after a person picks the file."""
    from datetime import UTC, datetime

    data = path.read_bytes()
    when = datetime(2026, 11, 26, tzinfo=UTC)
    return ({"name": path.name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": when},)


@pytest.mark.slow
def test_an_uploaded_workbook_names_the_bad_row_as_excel_and_the_cli_do(tmp_path):
    import subprocess
    import sys

    from sonet_policy.widgets import PopulationView
    from sonet_policy.widgets.downloads import read_upload

    path = _workbook(tmp_path / "customers.xlsx", _customers())  # 2 blank rows, header in row 3
    frame = read_upload(_upload(path))
    assert frame.index.tolist() == [4, 5, 6, 7]  # the 3rd data row is row 6
    view = PopulationView(n=10)
    view.upload.value = _upload(path)
    note = view.upload_note.value
    assert "4 customer(s) read" in note and "1 row(s) with a problem: row 6: " in note and "NO-SUCH-MODEL-9" in note
    # the CLI's answers file gives that row the same reason
    out = tmp_path / "answers.csv"
    cli = [sys.executable, "-m", "sonet_policy", "evaluate", "--input", str(path), "--output", str(out)]
    assert subprocess.run(cli, capture_output=True, timeout=120).returncode == 0
    answers = pd.read_csv(out, dtype=str, keep_default_na=False)
    reason = answers.loc[2, "error"]  # the 3rd data row
    assert reason and f"row 6: {reason}" in __import__("html").unescape(note)


@pytest.mark.slow
def test_a_broken_workbook_row_is_the_same_message_from_the_cli_and_the_upload(tmp_path):
    import subprocess
    import sys

    from sonet_policy.widgets.downloads import UploadError, read_upload

    rows = _customers()
    rows[3] = [*rows[3], "stray"]  # a value beyond the header in the 3rd data row: row 6
    path = _workbook(tmp_path / "customers.xlsx", rows)
    with pytest.raises(UploadError) as caught:
        read_upload(_upload(path))
    out = tmp_path / "answers.csv"
    cli = [sys.executable, "-m", "sonet_policy", "evaluate", "--input", str(path), "--output", str(out)]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    said = str(caught.value)
    assert "row 6" in said and "/tmp" not in said
    assert said.replace("customers.xlsx", str(path), 1) in done.stderr
