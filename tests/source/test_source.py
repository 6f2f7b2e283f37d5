"""The clause table is a faithful split of the page, and the catalogue a faithful expansion of its tables."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sonet_policy import default_rulebook
from sonet_policy.source.catalogue import build_catalogue, expand_notation, label_key, nearest, read_catalogue
from sonet_policy.source.clauses import NORMATIVE_KINDS, page_text, read_clauses


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_every_clause_is_verbatim_text_of_the_page() -> None:
    page = _flat(page_text())
    table = read_clauses()
    for cid, text in zip(table["clause_id"], table["text_ja"], strict=True):
        assert _flat(text) in page, f"{cid} is not on the page: {text!r}"


def test_every_line_of_the_page_is_in_some_clause() -> None:
    """Each line, less the clauses that claim it (column ``line``), leaves only bullets and table bars."""
    table = read_clauses()
    spans = table["line"].str.split("-")
    first = spans.str[0].astype(int)
    last = spans.str[-1].astype(int)
    for n, line in enumerate(page_text().splitlines(), start=1):
        claimed = table[(first <= n) & (n <= last)]
        assert len(claimed), f"line {n} is claimed by no clause"
        rest = line
        for text in sorted(claimed["text_ja"], key=len, reverse=True):
            for part in text.split(" | "):
                rest = rest.replace(part, "", 1) if part in rest else rest
        leftover = re.sub(r"[\s・|]", "", rest)
        assert leftover == "", f"line {n}: {leftover!r} is in no clause"


def test_clause_ids_are_unique_and_normative_follows_kind() -> None:
    table = read_clauses()
    assert table["clause_id"].is_unique
    assert (table["normative"] == table["kind"].isin(NORMATIVE_KINDS)).all()
    assert table["text_en"].ne("").all(), "every clause has an English gloss"


def test_every_normative_clause_is_cited_by_a_rule_or_constraint() -> None:
    book = default_rulebook()
    cited = {cid for rule in book.rule_index.values() for cid in rule.source}
    cited |= {cid for c in book.constraints for cid in c.source}
    normative = set(book.clauses.loc[book.clauses["normative"], "clause_id"])
    assert sorted(normative - cited) == []


def test_shipped_catalogue_equals_a_fresh_build_from_the_page() -> None:
    shipped = read_catalogue()
    fresh = build_catalogue()
    pd.testing.assert_frame_equal(shipped.reset_index(drop=True), fresh.reset_index(drop=True), check_dtype=False)
    assert len(shipped) == 40
    assert shipped["key"].is_unique


def test_build_devices_writes_the_shipped_catalogue_byte_for_byte(tmp_path) -> None:
    from sonet_policy.cli.main import main
    from sonet_policy.paths import DEVICES_CSV

    assert main(["build-devices", "--output", str(tmp_path / "devices.csv")]) == 0
    assert (tmp_path / "devices.csv").read_bytes() == DEVICES_CSV.read_bytes()


def test_device_rows_and_their_areas_come_from_section_scope(tmp_path) -> None:
    """Which clauses are device rows is data (section_scope.csv, column device_rows): change it, the catalogue
    follows; a pattern that does not compile is named by file, row and column."""
    from sonet_policy.source.catalogue import SECTION_SCOPE_CSV

    scope = pd.read_csv(SECTION_SCOPE_CSV, dtype=str, keep_default_na=False)
    edited = scope.copy()
    edited.loc[edited["section"] == "devices.west", "device_rows"] = ""  # the West table lists no device rows
    edited.loc[edited["section"] == "devices.east", "device_rows"] = r"dev\.e\.r1"  # the East table: its first row
    edited.to_csv(tmp_path / "scope.csv", index=False)
    cat = build_catalogue(section_scope=tmp_path / "scope.csv").set_index("model")
    assert not cat["west"].any() and (cat["west_clause"] == "").all()
    assert set(cat["east_clause"]) == {"dev.e.r1"} and len(cat) == 14
    renamed = scope.assign(applies_to=scope["applies_to"].str.replace("area=", "region=").str.upper())
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    columns = build_catalogue(section_scope=tmp_path / "renamed.csv").columns.tolist()
    assert columns == ["model", "key", "family", "series", "EAST", "WEST", "EAST_clause", "WEST_clause"]
    scope.loc[1, "device_rows"] = "dev.w.r(["
    scope.to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(ValueError, match=r"broken.csv: row 3, column device_rows: 'dev.w.r\(\[' is not a pattern"):
        build_catalogue(section_scope=tmp_path / "broken.csv")


def test_catalogue_marks_models_missing_from_one_area() -> None:
    cat = read_catalogue().set_index("model")
    assert not cat.loc["RS-500KI", "west"] and cat.loc["RS-500KI", "east"]
    assert cat[["east", "west"]].any(axis=1).all()
    assert int((~cat["west"]).sum()) == 2 and int((~cat["east"]).sum()) == 0


@pytest.mark.parametrize(
    "spec, models",
    [
        ("PR-400NE/KI/MI", ["PR-400NE", "PR-400KI", "PR-400MI"]),
        ("RV-S340NE/SE/HI", ["RV-S340NE", "RV-S340SE", "RV-S340HI"]),
        ("XG-100NE ※4 RT-200NE/KI", ["XG-100NE", "RT-200NE", "RT-200KI"]),
    ],
)
def test_expand_notation(spec: str, models: list[str]) -> None:
    assert expand_notation(spec) == models


def test_expand_notation_rejects_text() -> None:
    with pytest.raises(ValueError, match="notation"):
        expand_notation("PR-400NE 機器")


@pytest.mark.parametrize(
    "label", ["PR-600KI", "pr-600ki", "ＰＲ－６００ＫＩ", "PR600KI", " PR 600 KI ", "PR\u3000600KI", "pr\u2010600ki"]
)
def test_labels_normalise_to_the_same_key(label: str) -> None:
    assert label_key(label) == "PR600KI"


def test_nearest_names_close_models() -> None:
    models = tuple(read_catalogue()["model"])
    assert nearest("PR-700KI", models)[0] in {"PR-600KI", "PR-500KI", "PR-400KI"}
    assert nearest("RV230SE", models)[0] == "RV-230SE"
