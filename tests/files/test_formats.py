"""The files analysts have: Excel and Parquet in and out, standard input and output, the format by extension
or --format, and the guarantees of the file boundary (one row out per row in, formulas neutralised, one-line
errors naming file, sheet and row) on every path."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.cli.main import main
from sonet_policy.engine.evaluate import evaluate, output_columns
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.extensions import format_of
from sonet_policy.files.read import read_scenarios
from sonet_policy.files.stream import evaluate_file
from sonet_policy.files.write_tables import write_tables
from sonet_policy.paths import PROJECT_DIR

ENV = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "PYTHONUNBUFFERED": "1"}
HEADER_JA = ["エリア", "プラン", "機器名", "利用環境", "番号継続", "電話機能停止からの日数", "メモ"]
ROWS = [
    ["west", "other", "RV-230SE", "v6plus_router", "no", "31", "電話は解約"],
    ["東", "10g", "ＰＲ‐６００ＫＩ", "wlan_1g", "はい", "", '=HYPERLINK("http://x")'],
    ["east", "sml", "PR-400KI", "rental_only", "false", "40", "-2+3"],
    ["north", "sml", "XX-1", "", "maybe", "-3", "@SUM(A1)"],
]
STATUS = ["ok", "ok", "ok", "invalid"]
BOOK = default_rulebook()


def run(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sonet_policy", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=ENV,
        cwd=PROJECT_DIR,
    )


def workbook(
    path: Path, rows: list[list], *, header: list[str] = HEADER_JA, sheet: str = "顧客", lead: int = 0
) -> Path:
    """A workbook with an empty first sheet named 'メモ', then ``sheet`` holding ``lead`` empty rows, the header
    and the rows (days as numbers, as Excel stores them)."""
    wb = openpyxl.Workbook()
    wb.active.title = "メモ"
    ws = wb.create_sheet(sheet)
    for _ in range(lead):
        ws.append([])
    ws.append(header)
    for row in rows:
        ws.append(
            [int(v) if isinstance(v, str) and v.lstrip("-").isdigit() and k == 5 else v for k, v in enumerate(row)]
        )
    wb.save(path)
    return path


def csv_file(path: Path, rows: list[list], *, header: list[str] = HEADER_JA, encoding: str = "utf-8") -> Path:
    frame = pd.DataFrame(rows, columns=header)
    path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode(encoding))
    return path


# ---------------------------------------------------------------- formats ----


@pytest.mark.slow
def test_the_format_follows_the_extension_and_an_unknown_one_is_a_clear_error(tmp_path: Path) -> None:
    assert [format_of(p) for p in ("a.csv", "a.TXT", "a.xlsx", "a.xlsm", "a.parquet", "a.pq", "-", "noext")] == [
        "csv",
        "csv",
        "xlsx",
        "xlsx",
        "parquet",
        "parquet",
        "csv",
        "csv",
    ]
    assert format_of("a.bin", format="parquet") == "parquet"
    source = tmp_path / "customers.xls"
    source.write_bytes(b"\xd0\xcf\x11\xe0 old excel")
    result = run("evaluate", "--input", str(source), "--output", str(tmp_path / "a.csv"))
    assert result.returncode == 2
    err = result.stderr.decode()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "customers.xls" in err and ".xlsx" in err and "neither UTF-8" not in err
    result = run("evaluate", "--input", str(csv_file(tmp_path / "s.csv", ROWS)), "--output", str(tmp_path / "a.json"))
    assert result.returncode == 2 and "a.json" in result.stderr.decode() and "--output-format" in result.stderr.decode()
    assert not (tmp_path / "a.json").exists()


# ---------------------------------------------------------------- Excel ----


def test_excel_in_by_sheet_name_or_number_with_japanese_headers_after_empty_rows(tmp_path: Path) -> None:
    book = workbook(tmp_path / "customers.xlsx", ROWS, lead=2)
    for sheet in ("顧客", "2"):
        out = tmp_path / f"answers-{sheet}.csv"
        summary = evaluate_file(book, out, evaluate=evaluate, sheet=sheet, progress=False)
        frame = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert summary.rows == len(frame) == len(ROWS)
        assert frame["status"].tolist() == STATUS
        assert frame["エリア"].tolist() == [r[0] for r in ROWS]
        assert frame["電話機能停止からの日数"].tolist() == ["31", "", "40", "-3"]  # 31, not 31.0
        assert "顧客" in summary.encoding
    # the first sheet is empty: no header row, named with the sheet
    with pytest.raises(ScenarioFileError, match="sheet 'メモ'.*empty"):
        evaluate_file(book, tmp_path / "x.csv", evaluate=evaluate, progress=False)
    with pytest.raises(ScenarioFileError, match=r"no sheet 'Sheet9'.*1: 'メモ', 2: '顧客'"):
        evaluate_file(book, tmp_path / "x.csv", evaluate=evaluate, sheet="Sheet9", progress=False)
    assert not (tmp_path / "x.csv").exists()


def test_excel_out_is_a_real_workbook_and_never_stores_a_formula(tmp_path: Path) -> None:
    source = csv_file(
        tmp_path / "s.csv", [*ROWS, [""] * 7, ["west", "other", "RV-230SE", "v6plus_router", "no", "31", "=1+1"]]
    )
    out = tmp_path / "answers.xlsx"
    for raw in (False, True):
        summary = evaluate_file(source, out, evaluate=evaluate, progress=False, raw=raw)
        assert summary.rows == 5 and summary.blank_lines == 1
        ws = openpyxl.load_workbook(out)["answers"]  # a real workbook (zip), not CSV text under an .xlsx name
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0][:7]) == HEADER_JA and list(rows[0][7:]) == output_columns_default()
        assert len(rows) == 1 + 5
        memo = [r[6] for r in rows[1:]]
        cells = [row[6] for row in ws.iter_rows(min_row=2)]
        assert all(c.data_type == "s" for c in cells)  # text, never 'f' (a formula)
        if raw:
            assert memo[1] == '=HYPERLINK("http://x")' and memo[4] == "=1+1"
        else:
            assert memo == ["電話は解約", '\'=HYPERLINK("http://x")', "'-2+3", "'@SUM(A1)", "'=1+1"]
        assert [r[rows[0].index("status")] for r in rows[1:]] == [*STATUS, "ok"]


def output_columns_default() -> list[str]:
    from sonet_policy import default_rulebook

    return output_columns(default_rulebook())


def test_excel_errors_name_file_sheet_and_row(tmp_path: Path, capsys) -> None:
    book = workbook(tmp_path / "b.xlsx", ROWS)
    wb = openpyxl.load_workbook(book)
    wb["顧客"].cell(row=4, column=9, value="stray")  # beyond the header's 7 columns
    wb.save(book)
    assert main(["evaluate", "--input", str(book), "--sheet", "顧客", "--output", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err
    assert "b.xlsx" in err and "sheet '顧客'" in err and "row 4" in err and "column 9" in err
    assert not (tmp_path / "a.csv").exists()
    dup = workbook(tmp_path / "d.xlsx", ROWS, header=[*HEADER_JA[:6], "エリア"])
    assert main(["evaluate", "--input", str(dup), "--sheet", "2", "--output", str(tmp_path / "a.csv")]) == 2
    assert "columns 1 and 7" in capsys.readouterr().err
    missing = workbook(tmp_path / "m.xlsx", [r[1:] for r in ROWS], header=HEADER_JA[1:])
    assert main(["evaluate", "--input", str(missing), "--sheet", "2", "--output", str(tmp_path / "a.csv")]) == 2
    assert "'area'" in capsys.readouterr().err
    notbook = tmp_path / "fake.xlsx"
    notbook.write_text("area,plan\n")
    assert main(["evaluate", "--input", str(notbook), "--output", str(tmp_path / "a.csv")]) == 2
    assert "fake.xlsx: not an Excel workbook" in capsys.readouterr().err


def test_a_text_longer_than_an_excel_cell_is_an_error_naming_row_and_column(tmp_path: Path) -> None:
    source = csv_file(tmp_path / "s.csv", [[*ROWS[0][:6], "x" * 40_000]])
    old = tmp_path / "a.xlsx"
    old.write_bytes(b"old")
    with pytest.raises(ScenarioFileError, match=r"row 2, column 7: 40,000 characters"):
        evaluate_file(source, old, evaluate=evaluate, progress=False)
    assert old.read_bytes() == b"old"  # the earlier output is kept
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


# ---------------------------------------------------------------- Parquet ----


@pytest.mark.slow
def test_parquet_round_trip_streams_by_row_groups_one_row_out_per_row_in(tmp_path: Path) -> None:
    n = 5_000
    rows = [ROWS[k % 4] for k in range(n)]
    frame = pd.DataFrame(rows, columns=HEADER_JA)
    frame["電話機能停止からの日数"] = pd.to_numeric(frame["電話機能停止からの日数"]).astype("Int64")  # typed
    frame.loc[7] = [None] * 7  # a blank row
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=700)
    out = tmp_path / "out.parquet"
    summary = evaluate_file(source, out, evaluate=evaluate, progress=False, chunk_bytes=4096, chunksize=300)
    assert summary.rows == n - 1 and summary.blank_lines == 1
    back = pq.read_table(out)
    assert back.num_rows == n - 1
    assert back.schema.field("電話機能停止からの日数").type == pa.int64()  # pass-through keeps its type
    table = back.to_pandas()
    expected = frame.drop(index=7).reset_index(drop=True)
    assert table["メモ"].tolist()[:4] == ["電話は解約", '\'=HYPERLINK("http://x")', "'-2+3", "'@SUM(A1)"]
    assert table["エリア"].tolist() == expected["エリア"].tolist()
    assert table["status"].astype(str).tolist() == [STATUS[k % 4] for k in range(n) if k != 7]
    assert pq.ParquetFile(out).metadata.num_row_groups > 1  # written batch by batch


HOSTILE = [  # input values a spreadsheet or a parser could take for something else; each row has an 顧客ID
    ["west", "other", "RV-230SE", "v6plus_router", "no", "31"],
    ["=1+1", "@SUM(A1)", "+RV-230SE", "-2+3", "\tno", "\r31"],
    ["ＷＥＳＴ", " other ", "ｒｖ－２３０ｓｅ", "V6PLUS_ROUTER", "いいえ", "３１"],
    ["", None, "", None, "", None],
    ["east\r\nwest", 'sml"', "PR-400KI\x00", "rental_only", "yes", "-0"],
    ["東", "10g", "x" * 5_000, "wlan_1g", "true", "1e3"],
    ["'=1+1", "sml", "PR-600KI", "wlan_1g", "false", "31.0"],
]


def _hostile_frame(n: int) -> pd.DataFrame:
    rows = [HOSTILE[k % len(HOSTILE)] for k in range(n)]
    frame = pd.DataFrame(rows, columns=HEADER_JA[:6], dtype=object)
    frame["顧客ID"] = [f"=C{k}" if k % 5 == 0 else f"C{k}" for k in range(n)]
    return frame


def test_dictionary_read_parquet_with_hostile_values_answers_as_plain_strings(tmp_path: Path) -> None:
    """The kit reads a Parquet file's text input columns as dictionaries (and a CSV's as dictionaries too):
    odd, hostile and missing values get exactly the answers evaluate gives the same values as plain strings,
    row by row, whether the file stores the columns as text or as dictionaries (pandas categoricals)."""
    frame = _hostile_frame(700)
    expected = evaluate(frame.iloc[:, :6].set_axis(list(BOOK.inputs)[:6], axis=1))
    assert set(expected["status"]) >= {"ok", "invalid"}
    plain, coded = tmp_path / "plain.parquet", tmp_path / "coded.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), plain, row_group_size=150)
    pq.write_table(pa.Table.from_pandas(frame.astype("category"), preserve_index=False), coded, row_group_size=150)
    assert pa.types.is_dictionary(pq.read_schema(coded).field("エリア").type)
    answers = output_columns(BOOK)
    for source in (plain, coded):
        out = tmp_path / f"{source.stem}-out.parquet"
        summary = evaluate_file(source, out, evaluate=evaluate, progress=False, chunksize=100)
        back = pd.read_parquet(out)
        assert summary.rows == len(back) == len(frame) and summary.blank_lines == 0
        pd.testing.assert_frame_equal(back[answers].astype(object), expected.astype(object), check_index_type=False)
        assert back["顧客ID"].tolist() == [f"'=C{k}" if k % 5 == 0 else f"C{k}" for k in range(len(frame))]
    # the same rows through CSV (read into dictionaries by pyarrow's reader): the same answers, where CSV can
    # hold the value (no missing cell, no NUL, no lone CR)
    csv_rows = frame.fillna("").replace({"\x00": "", "\r31": "31"}, regex=True)
    text = csv_file(tmp_path / "h.csv", csv_rows.values.tolist(), header=list(frame.columns))
    evaluate_file(text, tmp_path / "h-out.csv", evaluate=evaluate, progress=False)
    via_csv = pd.read_csv(tmp_path / "h-out.csv", dtype=str, keep_default_na=False)
    direct = evaluate(csv_rows.iloc[:, :6].set_axis(list(BOOK.inputs)[:6], axis=1))
    assert via_csv["status"].tolist() == direct["status"].astype(str).tolist()
    assert via_csv["rules"].tolist() == ["" if pd.isna(v) else v for v in direct["rules"]]


def test_parquet_output_keeps_the_input_types_and_reads_back(tmp_path: Path) -> None:
    """Text inputs read as dictionaries are written back as text (the file's own type), answers as
    dictionaries; the output is itself a valid input (its answers pass through as <name>_input)."""
    frame = _hostile_frame(300)
    source, out, again = tmp_path / "in.parquet", tmp_path / "out.parquet", tmp_path / "again.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=64)
    evaluate_file(source, out, evaluate=evaluate, progress=False)
    schema = pq.read_schema(out)
    given = pq.read_schema(source)
    assert [schema.field(c).type for c in frame.columns] == [given.field(c).type for c in frame.columns]
    assert schema.field("エリア").type == pa.string()
    assert all(pa.types.is_dictionary(schema.field(c).type) for c in output_columns(BOOK))
    back = pq.read_table(out).to_pandas()
    risky = ("=", "+", "-", "@", "\t", "\r")
    neutral = frame.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(risky) and v != "-0" else v)
    assert back[frame.columns.tolist()].astype(object).equals(neutral.astype(object))
    evaluate_file(out, again, evaluate=evaluate, progress=False)
    twice = pd.read_parquet(again)
    assert twice["status_input"].astype(str).tolist() == back["status"].astype(str).tolist()
    # the neutralised inputs read again are other values ('=1+1 is not =1+1), the plain ones answer alike
    ok = back["status"] == "ok"
    assert twice.loc[ok, "procedure"].astype(str).tolist() == back.loc[ok, "procedure"].astype(str).tolist()


def test_a_bad_value_in_row_group_3_is_answered_on_its_own_row(tmp_path: Path) -> None:
    """One row in the third row group holds an area the page does not know: that row, and only that row, is
    not ok, with the value named, whatever the batch and row-group cuts (dictionaries differ per row group)."""
    n, bad = 1_000, 2 * 150 + 37  # row groups of 150 rows: the bad row is in the third
    frame = pd.DataFrame([ROWS[0]] * n, columns=HEADER_JA)
    frame["メモ"] = [f"row {k}" for k in range(n)]
    frame.loc[bad, "エリア"] = "north"
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, row_group_size=150)
    assert pq.ParquetFile(source).metadata.num_row_groups == 7
    # 64: batches cut inside row groups; 400 and 200,000: row groups joined (all seven in one batch)
    for chunk in (64, 400, 200_000):
        out = tmp_path / f"out-{chunk}.parquet"
        evaluate_file(source, out, evaluate=evaluate, progress=False, chunksize=chunk)
        back = pd.read_parquet(out)
        wrong = back.index[back["status"] != "ok"].tolist()
        assert wrong == [bad] and back.loc[bad, "メモ"] == f"row {bad}"
        assert "'north'" in back.loc[bad, "error"] and back["error"].isna().sum() == n - 1
        assert back["メモ"].tolist() == [f"row {k}" for k in range(n)]  # in order, none lost or doubled
        groups = pq.ParquetFile(out).metadata.num_row_groups  # a row group per batch written
        assert groups >= n / chunk and (chunk < n or groups == 1)


def test_parquet_inputs_written_from_their_dictionaries_read_back_as_the_decoded_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text inputs (string and large string, hostile values, a dictionary per row group) reach the writer as
    the dictionaries they were read as; the file holds them as Parquet text and declares the input's own types:
    it reads back exactly as the file written from the decoded text (the path of a pyarrow whose writer cannot
    set the file's metadata) — same schema, same values, same answers."""
    frame = _hostile_frame(500)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.set_column(1, "プラン", table.column(1).cast(pa.large_string()))
    source = tmp_path / "in.parquet"
    pq.write_table(table, source, row_group_size=90)
    direct, decoded = tmp_path / "direct.parquet", tmp_path / "decoded.parquet"
    evaluate_file(source, direct, evaluate=evaluate, progress=False, chunksize=200)
    monkeypatch.delattr(pq.ParquetWriter, "add_key_value_metadata")
    evaluate_file(source, decoded, evaluate=evaluate, progress=False, chunksize=200)
    monkeypatch.undo()
    a, b = pq.read_table(direct), pq.read_table(decoded)
    assert a.schema.equals(b.schema, check_metadata=True) and a.equals(b)
    assert [a.schema.field(c).type for c in frame.columns] == [table.schema.field(c).type for c in frame.columns]
    assert a.schema.field("プラン").type == pa.large_string() and a.schema.field("エリア").type == pa.string()
    assert all(pa.types.is_dictionary(a.schema.field(c).type) for c in output_columns(BOOK))
    meta = pq.ParquetFile(direct).metadata
    assert list(meta.metadata) == [b"ARROW:schema"]  # one declaration of the types, not two
    assert str(pq.ParquetFile(direct).schema.column(0).logical_type) == "String"  # text without the declaration
    assert meta.row_group(0).column(0).has_dictionary_page  # dictionary-encoded in the file
    back = a.to_pandas()
    risky = ("=", "+", "-", "@", "\t", "\r")
    neutral = frame.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(risky) and v != "-0" else v)
    assert back[frame.columns.tolist()].astype(object).equals(neutral.astype(object))
    expected = evaluate(frame.iloc[:, :6].set_axis(list(BOOK.inputs)[:6], axis=1))
    answers = output_columns(BOOK)
    pd.testing.assert_frame_equal(back[answers].astype(object), expected.astype(object), check_index_type=False)


def test_dictionary_columns_blank_rows_and_formula_collisions(tmp_path: Path) -> None:
    """A row whose every cell is empty is blank also when the file stores a column as a dictionary (an empty
    string is a value of the dictionary, not a missing one); neutralising a dictionary that holds both '=1' and
    "'=1" keeps one value per entry, so pandas reads the answers file back."""
    frame = pd.DataFrame([ROWS[0], ROWS[0], ROWS[0]], columns=HEADER_JA)
    frame["メモ"] = ["=1", "'=1", "x"]
    frame.loc[1] = [""] * 7  # blank: every cell empty text
    source, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.Table.from_pandas(frame.astype("category"), preserve_index=False), source)
    summary = evaluate_file(source, out, evaluate=evaluate, progress=False)
    assert summary.rows == 2 and summary.blank_lines == 1
    back = pd.read_parquet(out)
    assert back["メモ"].astype(str).tolist() == ["'=1", "x"] and back["status"].astype(str).tolist() == ["ok", "ok"]
    frame.loc[1, "メモ"] = "'=1"
    pq.write_table(pa.Table.from_pandas(frame.astype("category"), preserve_index=False), source)
    evaluate_file(source, out, evaluate=evaluate, progress=False)
    assert pd.read_parquet(out)["メモ"].astype(str).tolist() == ["'=1", "'=1", "x"]


@pytest.mark.slow
def test_parquet_and_excel_populations_and_findings_as_tables(tmp_path: Path) -> None:
    assert main(["population", "--n", "30", "--output", str(tmp_path / "p.parquet")]) == 0
    assert main(["population", "--n", "30", "--output", str(tmp_path / "p.xlsx")]) == 0
    a = read_scenarios(tmp_path / "p.parquet")
    b = read_scenarios(tmp_path / "p.xlsx")
    assert len(a) == len(b) == 30 and a["keep_number"].isin(["true", "false"]).all()
    assert main(["audit", "--population", str(tmp_path / "p.parquet"), "--output", str(tmp_path / "f.xlsx")]) == 0
    sheets = pd.read_excel(tmp_path / "f.xlsx", sheet_name=None)
    assert list(sheets) == ["findings", "rule_usage"] and len(sheets["findings"]) > 0
    rules = str(PROJECT_DIR / "data" / "rules")
    argv = ["diff", rules, rules, "--population", str(tmp_path / "p.xlsx"), "--output", str(tmp_path / "d.xlsx")]
    assert main(argv) == 0
    assert list(pd.read_excel(tmp_path / "d.xlsx", sheet_name=None)) == ["changes", "summary", "transitions", "counts"]
    assert main(["audit", "--output", str(tmp_path / "f.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "f.parquet")) == len(sheets["findings"])


def test_write_tables_neutralises_formulas_in_every_format(tmp_path: Path) -> None:
    frame = pd.DataFrame({"note": ["=cmd|' /C calc'!A0", "ok"], "=x": [1, 2], "scope": [{"area": "東"}, ["a"]]})
    write_tables(tmp_path / "t.xlsx", {"t": frame})
    write_tables(tmp_path / "t.parquet", {"t": frame})
    write_tables(tmp_path / "t.csv", {"t": frame})
    for back in (
        pd.read_excel(tmp_path / "t.xlsx"),
        pd.read_parquet(tmp_path / "t.parquet"),
        pd.read_csv(tmp_path / "t.csv"),
    ):
        assert back.columns.tolist() == ["note", "'=x", "scope"]
        assert back["note"].tolist() == ["'=cmd|' /C calc'!A0", "ok"]
        assert back["scope"].tolist() == ['{"area": "東"}', '["a"]']


# ---------------------------------------------------------------- standard input and output ----


@pytest.mark.slow
def test_stdin_to_stdout_csv_and_parquet_through_pipes(tmp_path: Path) -> None:
    data = csv_file(tmp_path / "s.csv", ROWS, encoding="cp932").read_bytes()
    result = run("evaluate", "--input", "-", "--output", "-", "--no-progress", stdin=data)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.BytesIO(result.stdout), dtype=str, keep_default_na=False)
    assert frame["status"].tolist() == STATUS and frame["エリア"].tolist() == [r[0] for r in ROWS]
    assert "standard input" in result.stderr.decode() and "Shift_JIS" in result.stderr.decode()
    parquet = run(
        "evaluate", "--input", "-", "--output", "-", "--output-format", "parquet", "--no-progress", stdin=data
    )
    assert parquet.returncode == 0, parquet.stderr
    assert pq.read_table(pa.BufferReader(parquet.stdout)).column("status").to_pylist() == STATUS
    # Excel and Parquet from standard input with --format
    book = workbook(tmp_path / "b.xlsx", ROWS, sheet="Sheet").read_bytes()
    result = run("evaluate", "--input", "-", "--format", "xlsx", "--sheet", "2", "--output", "-", stdin=book)
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(io.BytesIO(result.stdout))["status"].tolist() == STATUS
    result = run("evaluate", "--input", "-", "--format", "parquet", "--output", "-", stdin=parquet.stdout)
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(io.BytesIO(result.stdout))["status"].tolist() == STATUS
    # Excel to standard output: a workbook
    result = run("evaluate", "--input", "-", "--output", "-", "--output-format", "xlsx", stdin=data)
    assert result.returncode == 0 and result.stdout.startswith(b"PK")
    assert len(pd.read_excel(io.BytesIO(result.stdout))) == len(ROWS)
    # a workbook on stdin without --format is read as CSV: a clear error, not a traceback
    result = run("evaluate", "--input", "-", "--output", "-", stdin=book)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert b"standard input: an Excel workbook" in result.stderr and b"--format xlsx" in result.stderr


# ---------------------------------------------------------------- CSV through pyarrow ----


def test_csv_crlf_quoting_and_rows_of_another_width_keep_their_guarantees(tmp_path: Path) -> None:
    """Values holding CR, LF, commas and quotes come back whole (every text value is quoted, CRLF line ends);
    a short row is padded (pandas reads such files), a long one is an error naming the line."""
    rows = [[*ROWS[0][:6], v] for v in ("a\rb", "two\nlines", 'say "hi"', "a,b", "\ufeffbom", "")]
    source = csv_file(tmp_path / "s.csv", rows)
    out = tmp_path / "out.csv"
    evaluate_file(source, out, evaluate=evaluate, progress=False)
    data = out.read_bytes()
    assert data.count(b"\r\n") >= len(rows) + 1 and b'"a\rb"' in data
    assert pd.read_csv(out, dtype=str, keep_default_na=False)["メモ"].tolist() == [r[6] for r in rows]
    short = tmp_path / "short.csv"
    short.write_text(",".join(HEADER_JA) + "\n" + ",".join(ROWS[0]) + "\nwest,other\n")
    assert evaluate_file(short, out, evaluate=evaluate, progress=False).rows == 2
    long = tmp_path / "long.csv"
    long.write_text(",".join(HEADER_JA) + "\n" + ",".join(ROWS[0]) + "\n" + ",".join(ROWS[0]) + ",x,y\n")
    with pytest.raises(ScenarioFileError, match="line 3"):
        evaluate_file(long, out, evaluate=evaluate, progress=False)
    unclosed = tmp_path / "q.csv"
    unclosed.write_text(",".join(HEADER_JA) + "\n" + ",".join(ROWS[0][:6]) + ',"never closed\nwest\n')
    with pytest.raises(ScenarioFileError, match="line 2: a quoted value is never closed"):
        evaluate_file(unclosed, out, evaluate=evaluate, progress=False)


def test_a_csv_with_every_value_quoted_streams_through_pyarrow(tmp_path: Path) -> None:
    """Regression: a CSV with more than 255 quotes before the last 64 KB of a 2 MB piece (every value quoted, as
    many tools write) crashed the record cutter with an OverflowError (numpy's uint8 sum)."""
    source = tmp_path / "quoted.csv"
    lines = ['"area","plan","device","setup","keep_number","days"']
    lines += [f'"west","other","RV-230SE","v6plus_router","no","{k % 90}"' for k in range(30_000)]
    source.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    summary = evaluate_file(source, tmp_path / "out.csv", evaluate=evaluate, progress=False)
    assert summary.rows == 30_000 and summary.status["ok"] == 30_000


def test_read_scenarios_reads_a_sheet_as_text(tmp_path: Path) -> None:
    frame = read_scenarios(workbook(tmp_path / "b.xlsx", ROWS), sheet="顧客")
    assert frame.columns.tolist()[:6] == ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]
    assert frame["days_since_phone_stop"].tolist() == ["31", "", "40", "-3"]


def test_evaluate_stream_refuses_the_baseline_in_every_format(tmp_path: Path) -> None:
    from sonet_policy.files.write import BaselineWriteError

    source = csv_file(tmp_path / "s.csv", ROWS)
    for name in ("x.xlsx", "x.parquet", "x.csv"):
        with pytest.raises(BaselineWriteError):
            evaluate_file(source, PROJECT_DIR / "data" / "rules" / name, evaluate=evaluate, progress=False)
        assert not (PROJECT_DIR / "data" / "rules" / name).exists()


def test_parquet_columns_of_lists_bytes_and_zoned_times_pass_through_as_text(tmp_path: Path) -> None:
    """A Parquet file with nested, binary or time-zoned extra columns is answered into CSV and Excel: those
    cells come out as text (JSON for lists), never a traceback; Parquet keeps their types."""
    import datetime as dt

    frame = pd.DataFrame(ROWS[:2], columns=HEADER_JA)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column("tags", pa.array([["=a", "東"], None], pa.list_(pa.string())))
    table = table.append_column("blob", pa.array([b"\x00=x", b"ok"], pa.binary()))
    zone = dt.timezone(dt.timedelta(hours=9))
    table = table.append_column(
        "at", pa.array([dt.datetime(2026, 11, 26, 9, tzinfo=zone)] * 2, pa.timestamp("s", "Asia/Tokyo"))
    )
    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    evaluate_file(source, tmp_path / "a.csv", evaluate=evaluate, progress=False)
    back = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    assert back["tags"].tolist() == ['["=a", "東"]', ""] and back["status"].tolist() == STATUS[:2]
    assert back["blob"].tolist() == ["b'\\x00=x'", "b'ok'"] and back["at"].str.startswith("2026-11-26").all()
    evaluate_file(source, tmp_path / "a.xlsx", evaluate=evaluate, progress=False)
    assert len(pd.read_excel(tmp_path / "a.xlsx")) == 2
    evaluate_file(source, tmp_path / "a.parquet", evaluate=evaluate, progress=False)
    assert pq.read_table(tmp_path / "a.parquet").schema.field("tags").type == pa.list_(pa.string())
