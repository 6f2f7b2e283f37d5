"""Workbooks the kit writes (openpyxl's write-only mode): one sheet per table, every text cell stored as text.

openpyxl would store a text starting with ``=`` as a formula: a cell is always text here, raw or not (the
formulas people could run are neutralised before, by :mod:`sonet_policy.files.guard`). Characters XML cannot
hold are shown as ``\\x01``; a text longer than a cell holds, or more rows than a sheet holds, is an error naming
the row and column. The workbook becomes the target only when saved (:func:`sonet_policy.files.write.write_atomically`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.write import write_atomically

XLSX_MAX_ROWS = 1_048_576  # a worksheet's rows, the header included
XLSX_MAX_CELL = 32_767  # characters in one cell


class XlsxWriter:
    """A write-only openpyxl workbook for ``target``, one sheet per table; :meth:`save` writes it atomically,
    :meth:`discard` drops it after an error."""

    def __init__(self, target: str) -> None:
        import openpyxl

        self.target = target
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet: Any = None
        self.rows = 0

    def add_sheet(self, title: str, names: list[str]) -> None:
        self.sheet = self.workbook.create_sheet(title=title[:31] or "Sheet")
        self.rows = 0
        self.append([str(n) for n in names])

    def append(self, values: list) -> None:
        from openpyxl.cell import WriteOnlyCell

        self.rows += 1
        if self.rows > XLSX_MAX_ROWS:
            raise ScenarioFileError(
                f"{self.target}: more than {XLSX_MAX_ROWS - 1:,} rows, the most an Excel sheet holds; write CSV or "
                "Parquet instead",
                path=self.target,
            )
        cells = []
        for k, value in enumerate(values):
            value = _xlsx_text(value, lambda k=k: f"{self.target}, row {self.rows}, column {k + 1}")
            cell = WriteOnlyCell(self.sheet, value=value)
            if cell.data_type == "f":  # openpyxl reads a leading = as a formula: keep it text
                cell.data_type = "s"
            cells.append(cell)
        self.sheet.append(cells)

    def save(self, path: Path | str) -> None:
        write_atomically(path, lambda tmp: self.workbook.save(tmp))

    def discard(self) -> None:
        """Close the sheets' temporary files after an error (nothing is written to the target)."""
        for ws in self.workbook.worksheets:
            try:
                ws.close()
            except Exception:  # noqa: S110 - already closed or half-written: only the temporary file matters
                pass
            out = getattr(getattr(ws, "_writer", None), "out", None)
            if isinstance(out, str):
                Path(out).unlink(missing_ok=True)


def _xlsx_text(value: object, where: Callable[[], str]) -> object:
    """A value for an openpyxl cell: characters XML cannot hold shown as ``\\x01``; text longer than a cell
    holds is an error naming the row and column."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
        if len(value) > XLSX_MAX_CELL:
            raise ScenarioFileError(
                f"{where()}: {len(value):,} characters, more than an Excel cell holds "
                f"({XLSX_MAX_CELL:,}); write CSV or Parquet instead"
            )
    return value


def xlsx_value(value: object) -> object:
    """A frame's cell as an openpyxl cell takes it: missing values empty, integers beyond 2**53 as text (Excel
    would round them), what openpyxl cannot store as text.

    >>> xlsx_value(float("nan")), xlsx_value(2**60), xlsx_value(3)
    (None, '1152921504606846976', 3)
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (str, int, float, bool)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
            return str(value)
        return value
    if pd.isna(value) if not isinstance(value, (list, dict, tuple, set)) else False:
        return None
    return str(value)
