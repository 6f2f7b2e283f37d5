"""Tables the commands write (findings, diffs, populations): CSV, Parquet, or a workbook with one sheet per table.

Every file goes through :mod:`sonet_policy.files.write` (never the baseline, atomic, ``-`` standard output), and
what people open is neutralised against spreadsheet formulas (:mod:`sonet_policy.files.guard`) unless ``raw``;
a workbook never stores a cell as a formula, raw or not.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sonet_policy.files.arrow import cell_text
from sonet_policy.files.extensions import format_of
from sonet_policy.files.guard import neutralise_frame
from sonet_policy.files.write import open_output, write_csv
from sonet_policy.files.write_excel import XlsxWriter, xlsx_value


def write_tables(
    path: Path | str,
    tables: dict[str, pd.DataFrame],
    *,
    format: str | None = None,
    raw: bool = False,
    bom: bool = False,
    lineterminator: str = "\r\n",
) -> str:
    """Write ``tables`` (sheet name → frame) to ``path``: a workbook with one sheet per table, or for CSV and
    Parquet the first table (the main one: findings, changes, customers). Formulas are neutralised unless
    ``raw``; a workbook stores text as text, never as a formula. Returns the format written. Raises
    :class:`~sonet_policy.files.write.TargetError` for an unknown extension, and what
    :func:`sonet_policy.files.write.open_output` raises.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "f.xlsx"
    >>> write_tables(target, {"findings": pd.DataFrame({"note": ["=1+1"]}), "usage": pd.DataFrame({"n": [1]})})
    'xlsx'
    >>> pd.read_excel(target, sheet_name=None)["findings"]["note"].tolist()
    ["'=1+1"]
    """
    kind = format_of(path, format=format, output=True)
    tables = {title: _plain_frame(frame) for title, frame in tables.items()}
    first = next(iter(tables.values()))
    if kind == "csv":
        write_csv(path, first, raw=raw, bom=bom, lineterminator=lineterminator)
    elif kind == "parquet":
        table = pa.Table.from_pandas(first if raw else neutralise_frame(first), preserve_index=False)
        with open_output(path, binary=True) as out:
            pq.write_table(table, out)
    else:
        _write_workbook(path, tables, raw=raw)
    return kind


def _write_workbook(path: Path | str, tables: dict[str, pd.DataFrame], *, raw: bool) -> None:
    writer = XlsxWriter(str(path))
    try:
        for title, frame in tables.items():
            frame = frame if raw else neutralise_frame(frame)
            writer.add_sheet(title, [str(c) for c in frame.columns])
            for row in frame.itertuples(index=False, name=None):
                writer.append([xlsx_value(v) for v in row])
        writer.save(path)
    except BaseException:
        writer.discard()
        raise


def _plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells holding lists, dicts or bytes as text (a CSV, workbook or Parquet column holds one type), names as
    text.

    >>> _plain_frame(pd.DataFrame({"scope": [{"area": "東"}], "n": ["x"]})).iloc[0].tolist()
    ['{"area": "東"}', 'x']
    """
    out = frame.copy()
    out.columns = [str(c) for c in frame.columns]
    for k in range(len(out.columns)):
        col = out.iloc[:, k]
        if col.dtype == object:
            out.isetitem(k, col.map(cell_text))
    return out
