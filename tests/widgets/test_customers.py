"""Several customers in the explorer (issue 15): a customer file uploaded as a FileUpload holds it, every row
answered with the CLI's guarantees, one row loaded into a ScenarioExplorer through its public ``set``."""

from __future__ import annotations

import datetime
import io

import pandas as pd
import pytest

from sonet_policy import evaluate, explain
from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import output_columns
from sonet_policy.paths import DATA_DIR
from sonet_policy.widgets import CustomersView, ScenarioExplorer, customer_answers, read_customers

SAMPLE = DATA_DIR / "samples" / "customers-sample.csv"
ANSWERS = output_columns(default_rulebook())


def upload(name: str, content: bytes) -> tuple[dict, ...]:
    """What ipywidgets 8's FileUpload holds after a person picks one file: a tuple of dicts."""
    return (
        {
            "name": name,
            "type": "text/csv" if name.endswith(".csv") else "application/octet-stream",
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC),
        },
    )


def sample_frame() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)


def as_xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


@pytest.fixture
def view() -> tuple[CustomersView, ScenarioExplorer]:
    app = ScenarioExplorer()
    return CustomersView(app), app


def test_the_sample_has_japanese_headers_and_one_answer_row_per_customer(view) -> None:
    customers, _ = view
    customers.upload.value = upload(SAMPLE.name, SAMPLE.read_bytes())  # as the browser sets it
    raw = sample_frame()
    assert list(raw.columns[:5]) == ["エリア", "プラン", "機器名", "利用環境", "番号継続"]  # header aliases
    answers = customers.answers
    assert answers is not None and len(answers) == len(raw) == 5
    assert answers["row"].tolist() == [2, 3, 4, 5, 6]  # the rows a spreadsheet shows (header = 1)
    assert answers["memo"].tolist() == raw["memo"].tolist()  # the customer's own columns kept, in order
    assert answers.columns[:3].tolist() == ["row", "status", "error"]  # a bad row shows without scrolling
    # then the customer's columns, Japanese headers read as the inputs they name, the memo as given
    inputs = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]
    assert answers.columns[3:10].tolist() == [*inputs, "memo"]
    assert sorted(answers.columns[1:3].tolist() + answers.columns[10:].tolist()) == sorted(ANSWERS)
    assert customers.grid.frame.shape[0] == 5
    assert customers.summary() == "CustomersView: customers-sample.csv, 5 customer(s): ok 4, partial 1"


def test_many_rows_with_bad_ones_keep_their_count_and_order() -> None:
    good = "西,other,RV-230SE,v6plus_router,廃止,31"
    bad = ["北,other,RV-230SE,v6plus_router,廃止,31", "西,other,RV-230SE,v6plus_router,maybe,31", "西,,,,,"]
    lines = [good if k % 4 else bad[k % 3] for k in range(60)]
    text = "エリア,プラン,機器名,利用環境,番号継続,日数\n" + "\n".join(lines) + "\n"
    answers = customer_answers(read_customers(upload("many.csv", text.encode("cp932"))))
    assert len(answers) == 60
    assert answers["row"].tolist() == list(range(2, 62))
    bad_rows = answers.loc[answers["error"] != "", "row"].tolist()
    assert bad_rows == [k + 2 for k in range(60) if k % 4 == 0]


def test_a_bad_row_names_its_row_and_field_in_its_own_error_cell(view) -> None:
    customers, _ = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    errors = dict(zip(customers.answers["row"], customers.answers["error"], strict=True))
    assert errors[5].startswith("row 5: device: 'XX-999' is not in the catalogue")
    assert "days_since_phone_stop: 'abc' is not a whole number" in errors[5]
    assert [r for r, e in errors.items() if e] == [5]  # the other rows carry no error
    row5 = customers.answers.set_index("row").loc[5]
    assert row5["status"] == "partial" and row5["procedure"] == "support_desk"  # what it can answer, it does


def test_excel_parquet_and_csv_give_the_same_answers() -> None:
    raw = sample_frame()
    from_csv = customer_answers(read_customers(upload("c.csv", SAMPLE.read_bytes())))
    from_xlsx = customer_answers(read_customers(upload("c.xlsx", as_xlsx(raw))))
    parquet = io.BytesIO()
    raw.to_parquet(parquet)
    from_parquet = customer_answers(read_customers(upload("c.parquet", parquet.getvalue())))
    keep = ["row", *ANSWERS]
    pd.testing.assert_frame_equal(from_xlsx[keep], from_csv[keep])
    pd.testing.assert_frame_equal(from_parquet[keep], from_csv[keep])
    assert len(from_csv) == 5


def test_selecting_row_k_sets_the_explorer_to_row_ks_scenario(view) -> None:
    customers, app = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    expected = {
        2: {"area": "west", "plan": "other", "device": "RV-230SE", "setup": "v6plus_router", "keep_number": False},
        3: {"area": "west", "plan": "other", "device": "RV-230SE", "setup": "v6plus_router", "keep_number": False},
        4: {"area": "east", "plan": "sml", "device": "PR-600KI", "setup": "rental_only", "keep_number": True},
        6: {"area": "east", "plan": "10g", "device": "PR-600KI", "setup": "wlan_router_10g", "keep_number": False},
    }
    days = {2: 31, 3: 32, 4: None, 6: 0}
    answers = customers.answers.set_index("row")
    for k in (3, 6, 2, 4):  # not in file order: each row replaces the last
        customers.picker.value = k  # as a person picks it
        assert app.scenario == {**expected[k], "days_since_phone_stop": days[k]}, k
        assert app.codes == {d: answers.loc[k, d] for d in app.codes}, k  # the cards show the grid's answers
        assert app.codes == explain(**app.scenario).codes
        assert customers.loaded.value.endswith(f"row {k} loaded into the explorer</span>")


def test_selecting_the_bad_row_shows_its_errors_on_the_cards_and_says_what_was_not_loaded(view) -> None:
    customers, app = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    customers.select(2)
    customers.select(5)
    assert app.scenario["device"] == "XX-999"  # the combobox takes it: the cards say why it is wrong
    assert app.codes["device_action"] == "invalid"
    assert app.scenario["days_since_phone_stop"] == 31  # kept from row 2, and said so
    assert "days_since_phone_stop: &#x27;abc&#x27; is not a whole number" in customers.loaded.value
    assert "the explorer keeps its value" in customers.loaded.value


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("utf16.csv", "エリア,プラン\n西,other\n".encode("utf-16"), "utf16.csv: the file is UTF-16"),
        ("damaged.xlsx", b"PK\x03\x04 not really a workbook", "damaged.xlsx: not an Excel workbook"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "old.xls: the kit reads CSV, Excel (.xlsx, .xlsm) and Parquet"),
        ("notes.pdf", b"%PDF-1.4", "notes.pdf: the kit reads CSV, Excel (.xlsx, .xlsm) and Parquet"),
        ("broken.parquet", b"PAR1 not really parquet", "broken.parquet: not a Parquet file"),
        ("columns.csv", b"foo,bar\n1,2\n", "columns.csv: required column 'area'"),
    ],
)
@pytest.mark.slow
def test_a_file_that_cannot_be_read_is_one_line_naming_it(view, name, content, says) -> None:
    customers, _ = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    before = customers.answers
    customers.load_upload(upload(name, content))
    note = customers.note.value
    assert "sp-error" in note and says in note.replace("&#x27;", "'")
    text = note.split(">", 1)[1]
    assert "\n" not in text and "Error" not in text and "Traceback" not in text and "/tmp" not in text
    assert customers.answers is before  # the view keeps what it showed


def test_downloads_neutralise_formulas_and_read_back(view) -> None:
    customers, _ = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    assert sorted(customers.files) == ["customers-sample-evaluated-answers.csv", "customers-sample-evaluated.xlsx"]
    csv = pd.read_csv(
        io.BytesIO(customers.files["customers-sample-evaluated-answers.csv"]),
        encoding="utf-8-sig",
        dtype=str,
        keep_default_na=False,
    )
    assert csv["memo"].iloc[-1] == "'=1+1 stays text in the downloads"
    assert csv["row"].tolist() == ["2", "3", "4", "5", "6"]
    xlsx = pd.read_excel(io.BytesIO(customers.files["customers-sample-evaluated.xlsx"]), dtype=str)
    assert xlsx["memo"].iloc[-1] == "'=1+1 stays text in the downloads"
    assert xlsx["error"].fillna("").tolist() == csv["error"].tolist()


def test_downloads_carry_each_customers_message(view) -> None:
    from sonet_policy.engine.message import message_column

    customers, _ = view
    customers.load_upload(upload(SAMPLE.name, SAMPLE.read_bytes()))
    assert "message_ja" not in customers.answers.columns  # the grid stays narrow
    csv = pd.read_csv(
        io.BytesIO(customers.files["customers-sample-evaluated-answers.csv"]),
        encoding="utf-8-sig",
        dtype=str,
        keep_default_na=False,
    )
    frame = read_customers(upload(SAMPLE.name, SAMPLE.read_bytes()))
    book = default_rulebook()
    answers = evaluate(frame[[c for c in frame.columns if c in book.inputs]])
    expected = message_column(answers).tolist()
    assert [m.replace("\r\n", "\n") for m in csv["message_ja"]] == expected
    assert all(m.startswith("【") for m in expected)
