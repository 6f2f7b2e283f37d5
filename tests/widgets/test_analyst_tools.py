"""The analyst's tools of issue 15 that the apps build on: grids, downloads and uploads, and the notebook save
rule (coverage shares: tests/analysis/test_coverage.py; the customer message: tests/engine/test_message.py)."""

from __future__ import annotations

import codecs
import io
import json
import re

import pandas as pd
import pytest

from sonet_policy import explain
from sonet_policy.analysis.audit import audit
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.files.notebooks import WIDGET_VIEW, pre_save_hook, strip_widgets
from sonet_policy.paths import PROJECT_DIR
from sonet_policy.widgets.downloads import (
    UploadError,
    csv_bytes,
    download_links,
    excel_bytes,
    read_upload,
    spreadsheet_safe,
)
from sonet_policy.widgets.tables import Grid, grid, grid_options, plain_text

WEST_RV = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=31)

# ----------------------------------------------------------------------------------------------- grids


def test_grid_text_is_the_frame_and_stays_the_same_across_runs() -> None:
    frame = pd.DataFrame({"scope": [{"area": "west", "device": ["RS-500KI"]}], "n": [3]})
    a, b = grid(frame, caption="findings"), grid(frame, caption="findings")
    assert a.summary() == b.summary()
    lines = a.summary().splitlines()
    assert [line.split() for line in lines] == [
        ["findings:", "1", "row", "x", "2", "columns"],
        ["scope", "n"],
        ["area=west,", "device=RS-500KI", "3"],
    ]
    assert len(lines[1]) == len(lines[2])  # a fixed layout: columns aligned
    bundle = a._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and bundle["text/plain"] == a.summary()


def test_grid_escapes_cells_wraps_and_left_aligns() -> None:
    options = grid_options(pd.DataFrame({"a": ["x"]}))
    assert options["allow_html"] is False
    assert "nowrap" not in options["classes"]
    assert options["columnDefs"] == [{"className": "dt-left", "targets": "_all"}]
    g = Grid(pd.DataFrame({"note": ["<b>bold</b>"]}))
    assert json.loads(g.widget._dt_args["data_json"]) == [["&lt;b&gt;bold&lt;/b&gt;"]]  # shown, never run


def test_grid_keeps_every_row_and_a_named_index() -> None:
    frame = pd.DataFrame({"n": range(5000)}, index=pd.Index(range(5000), name="line"))
    g = grid(frame)
    assert list(g.frame.columns) == ["line", "n"]
    assert len(json.loads(g.widget._dt_args["data_json"])) == 5000  # not downsampled
    assert plain_text(frame).splitlines()[0] == "5000 rows x 2 columns"
    assert plain_text(frame).splitlines()[-1] == "… 4980 more row(s) in the grid"


def test_grid_update_replaces_rows_in_the_same_widget() -> None:
    g = grid(pd.DataFrame({"n": [1, 2]}))
    widget = g.widget
    g.update(pd.DataFrame({"n": [7]}), caption="after")
    assert g.widget is widget and g.summary().startswith("after: 1 row x 1 column")
    assert json.loads(widget._dt_args["data_json"]) == [[7]]


def test_grid_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(TypeError, match="not list"):
        grid([1, 2])  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------- downloads


FORMULAS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_is_utf8_with_bom_crlf_and_reads_back() -> None:
    answers = evaluate(pd.DataFrame([WEST_RV | {"days_since_phone_stop": "31"}]).drop(columns="days"))
    data = csv_bytes(answers)
    assert data.startswith(codecs.BOM_UTF8)
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["device_action"].tolist() == ["mail_exchange"]
    assert list(back.columns) == list(answers.columns)


def test_spreadsheet_formulas_are_neutralised_in_csv_and_excel() -> None:
    frame = pd.DataFrame({"memo": FORMULAS + ["plain", "ー長音", "-5"], "n": [-1, 2, 3, 4, 5, 6, 7, 8, 9]})
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["memo"].tolist()[:6] == ["'" + f for f in FORMULAS[:4]] + ["'\tx", "'\rx"]
    assert back["memo"].tolist()[6:] == ["plain", "ー長音", "-5"]  # the CLI's rule: a plain number stays a number
    assert back["n"].tolist()[0] == "-1"  # numbers are numbers, not text to neutralise
    workbook = pd.read_excel(io.BytesIO(excel_bytes({"memo": frame})), sheet_name="memo", dtype=str)
    assert workbook["memo"].tolist()[:4] == ["'" + f for f in FORMULAS[:4]]
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(excel_bytes({"memo": frame})))["memo"]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_excel_has_one_sheet_per_table_and_reads_back() -> None:
    findings = audit()
    tables = {"findings": findings, "counts": findings["kind"].value_counts().rename_axis("kind").reset_index()}
    sheets = pd.read_excel(io.BytesIO(excel_bytes(tables)), sheet_name=None)
    assert list(sheets) == ["findings", "counts"]
    assert len(sheets["findings"]) == len(findings)
    assert sheets["findings"]["kind"].tolist() == findings["kind"].tolist()
    first_scope = findings["scope"].iloc[0]
    assert sheets["findings"]["scope"].iloc[0] == ", ".join(
        f"{k}={'|'.join(v) if isinstance(v, list) else v}" for k, v in first_scope.items()
    )


def test_download_links_carry_the_files_in_the_page() -> None:
    d = download_links({"answers": pd.DataFrame({"code": ["kept"]})}, stem="west RV/31")
    assert list(d.files) == ["west_RV_31-answers.csv", "west_RV_31.xlsx"]
    hrefs = re.findall(r"href='data:([^;]+);base64,([^']+)'", d.html)
    assert [m for m, _ in hrefs] == ["text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    import base64

    assert base64.b64decode(hrefs[0][1]) == d.files["west_RV_31-answers.csv"]
    assert "download='west_RV_31-answers.csv'" in d.html
    assert d._repr_mimebundle_()["text/plain"] == "Downloads: west_RV_31-answers.csv, west_RV_31.xlsx"


def test_download_refuses_what_is_not_a_table() -> None:
    with pytest.raises(TypeError, match="not dict"):
        spreadsheet_safe({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no table"):
        download_links({})


# ----------------------------------------------------------------------------------------------- uploads


def _upload(name: str, data: bytes) -> tuple[dict, ...]:
    return ({"name": name, "type": "", "size": len(data), "content": memoryview(data), "last_modified": 0},)


def test_upload_of_a_japanese_cp932_csv_reads_like_the_cli() -> None:
    text = "エリア,プラン,機器名,利用環境,番号継続,日数,メモ\n西,other,rv230se,v6plus_router,no,31,=1+1\n\n"
    frame = read_upload(_upload("顧客.csv", text.encode("cp932")))
    assert list(frame.columns) == ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop", "メモ"]
    assert frame.attrs["scenario_file"].path == "顧客.csv"
    answers = evaluate(frame)
    assert answers["device_action"].tolist() == ["mail_exchange"] and answers["ipv4"].tolist() == ["pppoe_router"]


def test_upload_of_an_excel_workbook_with_japanese_headers() -> None:
    sheet = pd.DataFrame(
        {
            "エリア": ["west", "", "east"],
            "プラン": ["other", "", "10g"],
            "機器名": ["RV-230SE", "", "PR-600KI"],
            "利用環境": ["v6plus_router", "", "wlan_1g"],
            "番号継続": ["no", "", "yes"],
            "電話機能停止からの日数": [32, None, None],
        }
    )
    data = excel_bytes({"customers": sheet})
    frame = read_upload(_upload("customers.xlsx", data))
    assert frame.index.tolist() == [2, 4]  # the rows Excel shows; the blank row 3 is dropped
    assert frame.attrs["blank_lines"] == 1
    answers = evaluate(frame)
    expected = [
        explain(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=32),
        explain(area="east", plan="10g", device="PR-600KI", setup="wlan_1g", keep_number=True, days=None),
    ]
    assert answers["ipv4"].tolist() == [e.codes["ipv4"] for e in expected]
    assert answers["ipv4"].tolist()[0] == "reapply_v6plus"
    assert answers.index.tolist() == [2, 4]


def test_upload_errors_name_the_file_not_a_temporary_path() -> None:
    with pytest.raises(UploadError, match=r"^customers\.csv: required column 'device'") as caught:
        read_upload(_upload("customers.csv", b"area,plan,setup,keep_number\nwest,other,wlan_1g,no\n"))
    assert "/tmp" not in str(caught.value) and caught.value.field == "device"
    with pytest.raises(UploadError, match=r"^book\.xlsx: not an Excel workbook"):
        read_upload(_upload("book.xlsx", b"PK\x03\x04 not really a zip"))
    with pytest.raises(UploadError, match="exactly one customer file"):
        read_upload(())
    with pytest.raises(UploadError, match=r"^c\.xlsx, sheet 'table': required column 'plan' \(プラン\), 'device'"):
        read_upload(_upload("c.xlsx", excel_bytes(pd.DataFrame({"area": ["west"]}))))


# ----------------------------------------------------------------------------------------------- notebooks


def test_committed_notebooks_hold_no_widget_views_and_the_kernelspec_jupyterlab_writes() -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    for path in sorted((PROJECT_DIR / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"] == {
            "display_name": spec.display_name,
            "language": "python",
            "name": "python3",
        }
        assert "widgets" not in nb["metadata"], path.name
        assert not any(WIDGET_VIEW in o.get("data", {}) for c in nb["cells"] for o in c.get("outputs", [])), path.name


def test_pre_save_hook_keeps_text_and_drops_widget_views_state_and_timings() -> None:
    content = {
        "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"x": "y" * 10_000}}}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# t"},
            {
                "cell_type": "code",
                "metadata": {"execution": {"iopub.execute_input": "2026-11-26"}},
                "outputs": [
                    {"output_type": "execute_result", "data": {WIDGET_VIEW: {"model_id": "1"}, "text/plain": "App"}},
                    {"output_type": "display_data", "data": {WIDGET_VIEW: {"model_id": "2"}}},
                    {"output_type": "stream", "name": "stdout", "text": "hi"},
                ],
            },
        ],
    }
    model = {"type": "notebook", "content": content}
    pre_save_hook(model=model, path="x.ipynb", contents_manager=None)
    cell = content["cells"][1]
    assert content["metadata"] == {} and cell["metadata"] == {}
    assert [o.get("data") for o in cell["outputs"]] == [{"text/plain": "App"}, None]
    text = {"type": "file", "content": "keep"}
    pre_save_hook(model=text, path="x.txt")
    assert text == {"type": "file", "content": "keep"}
    assert strip_widgets({"cells": []}) == 0


def test_jupyter_config_uses_the_hook() -> None:
    from traitlets.config import PyFileConfigLoader

    loader = PyFileConfigLoader("jupyter_server_config.py", path=str(PROJECT_DIR / "jupyter"))
    config = loader.load_config()
    assert config.ContentsManager.pre_save_hook == "sonet_policy.files.notebooks.pre_save_hook"
