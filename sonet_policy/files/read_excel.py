"""The Excel backend of the one reader: a worksheet of an ``.xlsx``/``.xlsm`` workbook as record batches of text,
rows streamed by openpyxl's read-only mode.

The header is the first row with a value (blank rows above it are allowed); rows are numbered as Excel numbers
them. A cell reads as the text a CSV would hold (31.0 is ``31``, TRUE ``true``, a date ISO 8601); a value beyond
the header's columns is an error naming the sheet, the row and the column.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.header import header_info
from sonet_policy.files.read_source import ReadOptions, Source

_ROWS_PER_BATCH = 50_000  # at most, whatever the chunksize: a worksheet's rows are built in Python


def text_cell(value: object) -> str:
    """An Excel cell as the text a CSV would hold: 31.0 is ``31``, TRUE ``true``, a date ISO 8601.

    >>> text_cell(31.0), text_cell(True), text_cell(None), text_cell(2.5)
    ('31', 'true', '', '2.5')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def xlsx_source(path: Path, *, shown: str, book: RuleBook, options: ReadOptions) -> Source:
    """The sheet ``options.sheet`` (default the first) of the workbook ``path`` opened for streaming. Raises
    :class:`ScenarioFileError` naming the file (and the sheet) when it is not a workbook, has no such sheet, the
    sheet is empty or a required column is missing."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException … for a file not a workbook
        raise ScenarioFileError(f"{shown}: not an Excel workbook (.xlsx) openpyxl can read: {exc}", path=shown) from exc
    try:
        title = _sheet_title(workbook.sheetnames, options.sheet, shown)
        where = f"{shown}, sheet {title!r}"
        sheet = workbook[title]
        rows = sheet.iter_rows(values_only=True)
        texts, line = _header_row(rows, where, shown)
        columns = [t or f"Unnamed: {k}" for k, t in enumerate(texts)]
        info = header_info(where, columns, rulebook=book, encoding=f"Excel workbook, sheet {title!r}", path=shown)
    except BaseException:
        workbook.close()
        raise
    state = {"row": line}
    size = min(options.chunksize, _ROWS_PER_BATCH)
    batches = _batches(workbook, rows, state, width=len(columns), where=where, shown=shown, size=size)
    return Source(info, batches, sheet.max_row or 0, lambda: state["row"], unit="rows", first_row=line + 1)


def _sheet_title(names: list[str], sheet: str | None, shown: str) -> str:
    """The title of the sheet ``sheet`` names: a title, or a number from 1; the first sheet for None."""
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    if sheet.strip().isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    listed = ", ".join(f"{k}: {n!r}" for k, n in enumerate(names[:20], start=1))
    said = f"{shown}: no sheet {sheet!r}; give --sheet a name or a number from 1 ({listed})"
    raise ScenarioFileError(said, path=shown)


def _header_row(rows: Iterator[tuple], where: str, shown: str) -> tuple[list[str], int]:
    """The header's texts (trailing empty cells are not columns) and the row Excel shows for it: the first row
    with a value."""
    for line, values in enumerate(rows, start=1):
        texts = [text_cell(v).strip() for v in values]
        if any(texts):
            width = max(k + 1 for k, t in enumerate(texts) if t)
            return texts[:width], line
    raise ScenarioFileError(f"{where}: the sheet is empty (no header row)", path=shown)


def _batches(
    workbook: Any, rows: Iterator[tuple], state: dict, *, width: int, where: str, shown: str, size: int
) -> Iterator[Any]:
    """The rows after the header as batches of ``size`` rows of text; ``state["row"]`` is the row read last."""
    names = [f"c{k}" for k in range(width)]
    try:
        cols: list[list[str]] = [[] for _ in range(width)]
        for values in rows:
            state["row"] += 1
            cells = [text_cell(v) for v in values]
            beyond = next((k for k in range(width, len(cells)) if cells[k] != ""), None)
            if beyond is not None:
                raise ScenarioFileError(
                    f"{where}, row {state['row']}: a value in column {beyond + 1}, beyond the header's {width} "
                    "columns; give it a header or remove it",
                    path=shown,
                )
            cells = (cells + [""] * width)[:width]
            for k in range(width):
                cols[k].append(cells[k])
            if len(cols[0]) >= size:
                yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], names=names)
                cols = [[] for _ in range(width)]
        if cols[0]:
            yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], names=names)
    finally:
        workbook.close()
