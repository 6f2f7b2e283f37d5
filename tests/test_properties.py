"""Property test of evaluating a scenario file (Hypothesis): any CSV round-trips every row.

Profiles: ``ci`` (default, 150 examples per test) and ``fuzz`` (3,000 per test), chosen by the environment
variable ``HYPOTHESIS_PROFILE`` (``make fuzz`` sets ``HYPOTHESIS_PROFILE=fuzz``).
"""

from __future__ import annotations

import os

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonet_policy import evaluate
from sonet_policy.engine.evaluate import STATUSES

for _name, _examples in (("ci", 150), ("fuzz", 3000)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CELL_TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "west", "東", "10g", "PR-600KI", "ＰＲ－６００ＫＩ", "yes", "はい", "31", "0012", "NaN", "None"]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
    st.sampled_from(["a,b", 'say "hi"', "two\nlines", "tab\there", "=1+1", "'quoted'", "\ufeffbom"]),
)
HEADER = ["エリア", "plan", "機器名", "Setup", "keep-number", "日数", "メモ"]


@given(
    rows=st.lists(st.lists(CELL_TEXT, min_size=7, max_size=7), max_size=12),
    blank_at=st.sets(st.integers(0, 12), max_size=3),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp932"]),
    chunksize=st.integers(1, 5),
)
@pytest.mark.slow
def test_any_csv_file_round_trips_every_row(tmp_path_factory, rows, blank_at, encoding, chunksize) -> None:
    """Whatever the cells hold (commas, quotes, newlines, Japanese, BOM characters), every non-blank row of the
    file comes out once, in order, with its extra column unchanged (only a formula gets its leading '), in any
    encoding and chunk size."""
    import csv
    import io

    from sonet_policy.files.guard import neutralise
    from sonet_policy.files.stream import evaluate_file

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i, row in enumerate(rows):
        if i in blank_at:
            buf.write("\r\n")
        writer.writerow(row)
    text = buf.getvalue()
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = b""
    if data.decode(encoding) != text:  # not in the encoding, or read back as another character (cp932: ¬ as ￢)
        encoding, data = "utf-8", text.encode("utf-8")
    folder = tmp_path_factory.mktemp("csv")
    (folder / "in.csv").write_bytes(data)
    summary = evaluate_file(
        folder / "in.csv", folder / "out.csv", evaluate=evaluate, chunksize=chunksize, progress=False
    )
    kept = [r for r in rows if any(c != "" for c in r)]
    out = pd.read_csv(folder / "out.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    assert summary.rows == len(out) == len(kept)
    assert out["メモ"].tolist() == [neutralise(r[6]) for r in kept]
    assert out["機器名"].tolist() == [neutralise(r[2]) for r in kept]
    assert set(out["status"]) <= set(STATUSES)
    assert summary.encoding in ("utf-8", "utf-8-sig", "cp932")
