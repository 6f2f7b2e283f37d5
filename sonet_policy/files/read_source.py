"""What every reader backend (CSV, Excel, Parquet) gives the one reader: the header's info and the rows as pyarrow
record batches, with the row a spreadsheet shows for the first of them.

The row-numbering rule is here, once: a record's row is ``first_row`` plus its position among every record
after the header, blank ones included. A CSV's header is line 1 and a Parquet file's header row 1 (the first
data row is 2); a worksheet's rows are numbered as Excel numbers them (blank rows above the header counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sonet_policy.files.header import ScenarioFileInfo

FIRST_DATA_ROW = 2  # the header is row 1


@dataclass(frozen=True, kw_only=True)
class ReadOptions:
    """How to read a scenario file: its ``format`` (None: by extension), the ``sheet`` of a workbook (a name or a
    number from 1), a forced ``encoding`` of a CSV, the batch bounds (rows and bytes of the file), and whether a
    CSV's input columns are parsed into dictionaries (``dictionaries``: cheaper to evaluate and to write to
    Parquet; plain text is cheaper to parse and to write back as text)."""

    format: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    chunksize: int = 200_000
    chunk_bytes: int = 16 << 20
    dictionaries: bool = False


@dataclass
class Source:
    """A scenario file opened for streaming: its header and its rows as record batches (columns in the file's
    order, named ``info.columns``), and where the reading is (for the progress bar)."""

    info: ScenarioFileInfo
    batches: Iterator[Any]  # of pyarrow.RecordBatch
    total: int
    position: Callable[[], int]
    unit: str = "B"
    first_row: int = FIRST_DATA_ROW  # the row a spreadsheet shows for the first record after the header
    # input columns the file holds as text, read as dictionaries (evaluate reads their codes): position -> the
    # file's type, which an output keeps
    encoded: dict[int, Any] = field(default_factory=dict)
