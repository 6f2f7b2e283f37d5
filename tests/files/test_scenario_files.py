"""Scenario files as people have them: encodings, Japanese headers, blank lines, extra columns, streaming,
atomic output, and the ``evaluate`` command."""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import default_rulebook, evaluate
from sonet_policy.cli.main import main
from sonet_policy.engine.evaluate import output_columns
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.encoding import detect_encoding
from sonet_policy.files.header import header_map
from sonet_policy.files.read import inspect_file, read_scenarios
from sonet_policy.files.stream import evaluate_file

HEADER_EN = "area,plan,device,setup,keep_number,days_since_phone_stop,memo"
HEADER_JA = "エリア,プラン,機器名,利用環境,番号継続,電話機能停止からの日数,メモ"
ROWS = [
    "west,other,RV-230SE,v6plus_router,no,31,電話は解約",
    "東,10g,ＰＲ‐６００ＫＩ,wlan_1g,はい,,0012",
    "east,sml,PR-400KI,rental_only,false,40,",
    "north,sml,XX-1,,maybe,-3,壊れた行",
]


def write(path: Path, header: str, rows: list[str], encoding: str, *, bom: bool = False) -> Path:
    data = ("\r\n".join([header, *rows]) + "\r\n").encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"), ("cp932", False, "cp932"), ("shift_jis", False, "cp932")],
)
def test_encodings_are_detected_and_read_alike(tmp_path: Path, encoding: str, bom: bool, expected: str) -> None:
    path = write(tmp_path / "s.csv", HEADER_JA, ROWS, encoding, bom=bom)
    assert detect_encoding(path) == expected
    frame = read_scenarios(path)
    assert frame.attrs["scenario_file"].encoding == expected
    assert list(frame.columns) == ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop", "メモ"]
    assert frame["area"].tolist() == ["west", "東", "east", "north"]
    assert frame["メモ"].tolist() == ["電話は解約", "0012", "", "壊れた行"]  # text stays text, leading zeros kept
    out = evaluate(frame)
    assert out["status"].tolist() == ["ok", "ok", "ok", "invalid"]


def test_ascii_is_utf8_and_utf16_is_refused_clearly(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_text("area,plan,device,setup,keep_number\n", encoding="ascii")
    assert detect_encoding(plain) == "utf-8"
    wide = tmp_path / "w.csv"
    wide.write_bytes("area,plan\n".encode("utf-16"))
    with pytest.raises(ScenarioFileError, match="UTF-16"):
        detect_encoding(wide)
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"area,plan\n\x81\x20\xef\xbb\n")
    with pytest.raises(ScenarioFileError, match="neither UTF-8 nor Shift_JIS"):
        detect_encoding(latin)


def test_encoding_detection_reads_past_a_cut_multibyte_character(tmp_path: Path) -> None:
    """A character whose bytes straddle the blocks the file is read in (4 MiB) is one character, not bad bytes."""
    path = tmp_path / "s.csv"
    for cut in (1, 2):  # the block ends after the first or the second byte of あ
        path.write_bytes(b"area\n" + b"x" * ((4 << 20) - 5 - cut) + "あいう\n".encode())
        assert detect_encoding(path) == "utf-8"
    path.write_bytes(b"area\n" + b"x" * (4 << 20) + b"\n" + "あ".encode()[:1])  # a character the file cuts short
    with pytest.raises(ScenarioFileError, match="line 3: the file is neither UTF-8 nor Shift_JIS"):
        detect_encoding(path)


def test_every_label_ja_of_inputs_csv_and_every_alias_is_a_header() -> None:
    book = default_rulebook()
    for name, spec in book.inputs.items():
        assert header_map([spec.label_ja]) == {spec.label_ja: name}
        assert header_map([name.upper().replace("_", " ")]) == {name.upper().replace("_", " "): name}
    aliases = {alias: name for name, spec in book.inputs.items() for alias in spec.headers}
    assert {"エリア", "日数", "days", "model"} <= set(aliases) | {s.label_ja for s in book.inputs.values()}
    for alias, name in aliases.items():
        assert header_map([alias]) == {alias: name}
        assert header_map([f" {alias.upper()} "])[f" {alias.upper()} "] == name
    assert header_map(["memo", "status", "エリア2"]) == {}


def test_blank_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = ["", ROWS[0], ",,,,,,", "", ROWS[1], ",,,", "   ,,,,,,"]
    path = write(tmp_path / "s.csv", HEADER_EN, rows, "utf-8")
    frame = read_scenarios(path)
    assert frame.attrs["blank_lines"] == 4
    assert len(frame) == 3  # the whitespace row is not blank: it is evaluated (and invalid)
    assert frame.index.tolist() == [3, 6, 8]  # the line numbers a spreadsheet shows
    out = evaluate(frame)
    assert out["status"].tolist() == ["ok", "ok", "invalid"]


def test_missing_required_column_is_reported_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("エリア,プラン,機器名,利用環境,memo\n" + "west,other,RV-230SE,v6plus_router,x\n" * 3)

    def boom(*args, **kwargs):
        raise AssertionError("evaluate ran although a column is missing")

    with pytest.raises(ScenarioFileError) as caught:
        evaluate_file(path, tmp_path / "out.csv", evaluate=boom, progress=False)
    assert caught.value.field == "keep_number"
    assert "keep_number" in str(caught.value) and "番号継続" in str(caught.value) and str(path) in str(caught.value)
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(ScenarioFileError, match="keep_number"):
        read_scenarios(path)


def test_two_columns_naming_one_input_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("area,エリア,plan,device,setup,keep_number\n")
    with pytest.raises(ScenarioFileError, match="'area', 'エリア' all name the input 'area'"):
        inspect_file(path)


def test_optional_column_may_be_absent(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("area,plan,device,setup,keep_number\neast,10g,XG-100NE,wlan_router_10g,yes\n")
    info = inspect_file(path)
    assert info.missing_optional == ["days_since_phone_stop"]
    assert evaluate(read_scenarios(path))["status"].tolist() == ["ok"]


def test_streaming_equals_evaluating_the_whole_frame(tmp_path: Path) -> None:
    rows = (ROWS * 7)[:25]
    path = write(tmp_path / "s.csv", HEADER_JA, ["", *rows[:10], ",,,,,,", *rows[10:]], "cp932")
    summary = evaluate_file(path, tmp_path / "small.csv", evaluate=evaluate, chunksize=3, progress=False)
    evaluate_file(path, tmp_path / "big.csv", evaluate=evaluate, chunksize=10_000, progress=False)
    small = pd.read_csv(tmp_path / "small.csv", dtype=str, keep_default_na=False)
    big = pd.read_csv(tmp_path / "big.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(small, big)
    assert summary.rows == 25 and summary.blank_lines == 2 and sum(summary.status.values()) == 25
    assert summary.encoding == "cp932"
    # the output: the input columns as in the file, then every answer column, one row per non-blank input row
    assert list(small.columns) == HEADER_JA.split(",") + output_columns(default_rulebook())
    assert small["メモ"].tolist() == [r.split(",")[-1] for r in rows]
    whole = evaluate(read_scenarios(path)).astype(object).fillna("").astype(str).reset_index(drop=True)
    answers = small[output_columns(default_rulebook())].reset_index(drop=True)
    pd.testing.assert_frame_equal(answers, whole[answers.columns], check_dtype=False)


def test_an_input_column_named_like_an_answer_is_kept_under_another_name(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("area,plan,device,setup,keep_number,status,error\nwest,other,RV-230SE,v6plus_router,no,old,x\n")
    evaluate_file(path, tmp_path / "out.csv", evaluate=evaluate, progress=False)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert out.loc[0, "status_input"] == "old" and out.loc[0, "error_input"] == "x"
    assert out.loc[0, "status"] == "uncovered"  # days empty: the page gives no IPv4 answer for this case
    assert len(out.columns) == len(set(out.columns))


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("exception", [Interrupted, KeyboardInterrupt])
def test_an_interrupt_leaves_no_half_written_answers(tmp_path: Path, exception) -> None:
    path = write(tmp_path / "s.csv", HEADER_EN, ROWS * 5, "utf-8")
    target = tmp_path / "answers.csv"
    calls = {"n": 0}

    def flaky(frame, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the first call reads the answer columns from an empty frame
            raise exception("stopped mid-way")
        return evaluate(frame, **kwargs)

    with pytest.raises(exception):
        evaluate_file(path, target, evaluate=flaky, chunksize=4, progress=False)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    # an earlier answers file stays as it was
    target.write_text("earlier answers\n")
    calls["n"] = 0
    with pytest.raises(exception):
        evaluate_file(path, target, evaluate=flaky, chunksize=4, progress=False)
    assert target.read_text() == "earlier answers\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.csv", "s.csv"]


def test_the_output_never_overwrites_the_input(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", HEADER_EN, ROWS, "utf-8")
    before = path.read_bytes()
    with pytest.raises(ScenarioFileError, match="overwrite the input"):
        evaluate_file(path, path, evaluate=evaluate, progress=False)
    assert path.read_bytes() == before


def test_header_only_and_empty_files(tmp_path: Path) -> None:
    header_only = tmp_path / "h.csv"
    header_only.write_text(HEADER_EN + "\n")
    summary = evaluate_file(header_only, tmp_path / "out.csv", evaluate=evaluate, progress=False)
    assert summary.rows == 0
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 0 and list(out.columns) == HEADER_EN.split(",") + output_columns(default_rulebook())
    empty = tmp_path / "e.csv"
    empty.write_bytes(b"")
    with pytest.raises(ScenarioFileError, match="empty"):
        evaluate_file(empty, tmp_path / "out2.csv", evaluate=evaluate, progress=False)


def test_short_rows_are_evaluated_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(HEADER_EN + "\nwest,other\n" + ROWS[0] + "\n")
    summary = evaluate_file(path, tmp_path / "out.csv", evaluate=evaluate, progress=False)
    out = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert summary.rows == 2
    assert out["status"].tolist() == ["invalid", "ok"]
    assert out.loc[0, "error"].startswith("device: missing")


def test_progress_goes_to_stderr(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "s.csv", HEADER_EN, ROWS, "utf-8")
    evaluate_file(path, tmp_path / "out.csv", evaluate=evaluate, chunksize=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "evaluate" in captured.err and "rows=4" in captured.err


def test_cli_evaluate_summary_and_exit_codes(tmp_path: Path, capsys) -> None:
    path = write(tmp_path / "s.csv", HEADER_JA, ["", *ROWS, ",,,,,,"], "cp932")
    target = tmp_path / "out" / "answers.csv"
    assert main(["evaluate", "--input", str(path), "--output", str(target), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "4 rows" in err and "ok 3" in err and "invalid 1" in err
    assert "Shift_JIS (CP932)" in err
    assert "2 blank line(s) skipped" in err
    assert "エリア → area" in err and "extra columns passed through: メモ" in err
    assert len(pd.read_csv(target)) == 4
    assert target.read_bytes().startswith("エリア".encode())  # UTF-8, no BOM by default
    assert main(["evaluate", "--input", str(path), "--output", str(target), "--no-progress", "--bom"]) == 0
    assert target.read_bytes().startswith(codecs.BOM_UTF8 + "エリア".encode())
    assert b"\r\n" in target.read_bytes()
    capsys.readouterr()
    # a missing column: exit 2, a message naming the column and the file, no output
    bad = tmp_path / "bad.csv"
    bad.write_text("area,plan,device,keep_number\nwest,other,RV-230SE,no\n")
    assert main(["evaluate", "--input", str(bad), "--output", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "setup" in err and "bad.csv" in err
    assert not (tmp_path / "x.csv").exists()
    # a row with more fields than the header: exit 2, nothing written
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(HEADER_EN + "\n" + ROWS[0] + "\n" + ROWS[0] + ",extra,more\n")
    assert main(["evaluate", "--input", str(ragged), "--output", str(tmp_path / "y.csv"), "--no-progress"]) == 2
    assert "line 3" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()
    ragged.write_text(HEADER_EN + "\n" + ROWS[0] + ",extra,more\n" + ROWS[0] + "\n")  # the first row
    assert main(["evaluate", "--input", str(ragged), "--output", str(tmp_path / "y.csv"), "--no-progress"]) == 2
    assert "more fields than the header" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()
    # an encoding Python does not know
    assert main(["evaluate", "--input", str(path), "--output", str(tmp_path / "e.csv"), "--encoding", "klingon"]) == 2
    assert "klingon" in capsys.readouterr().err
    # a file that does not exist
    assert main(["evaluate", "--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "z.csv")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_atomic_write_gives_the_usual_permissions(tmp_path):
    import os

    from sonet_policy.files.write import write_atomically

    target = tmp_path / "answers.csv"
    write_atomically(target, lambda tmp: tmp.write_text("a\n", encoding="utf-8"))
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text(encoding="utf-8") == "a\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
