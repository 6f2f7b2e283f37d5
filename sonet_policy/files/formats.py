"""The files analysts have: CSV (any Japanese encoding), Excel workbooks, Parquet, standard input and output.

* :func:`format_of` tells the format from the extension (``.csv``/``.txt``, ``.xlsx``/``.xlsm``, ``.parquet``/
  ``.pq``); ``--format`` overrides it; ``-`` is CSV unless a format is given. Any other extension is a one-line
  error (exit 2), never an attempt to read it as CSV.
* :func:`evaluate_stream` (behind :func:`sonet_policy.files.scenarios.evaluate_file`) streams a scenario file of any
format
  through :func:`~sonet_policy.engine.evaluate.evaluate` batch by batch into an answers file of any format, with
  pyarrow's streaming CSV reader and writer for CSV (the speed of the libraries, memory bounded by bytes),
  Parquet by row groups, Excel row by row (openpyxl's read-only and write-only modes).
* :func:`write_tables` writes tables (findings, diffs, populations) as CSV, Parquet or a workbook with one
  sheet per table.

Every file is written through :mod:`sonet_policy.files.write` (never the baseline, atomic, special files written
directly, ``-`` standard output, signals clean up), and what people open is neutralised against spreadsheet
formulas unless ``raw``; a workbook never stores a cell as a formula, raw or not. Standard input is copied to a
private temporary file first (the encoding is detected on the whole input; Excel and Parquet need to seek),
removed at the end.
"""

from __future__ import annotations

import csv
import io as _io
import json
import os
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.files.scenarios import (
    ScenarioFileError,
    ScenarioFileInfo,
    StreamSummary,
    _chunks,
    _progress,
    _same_file,
    header_info,
    header_map,
    inspect_file,
)
from sonet_policy.files.write import (
    FORMULA_START,
    STDOUT,
    TargetError,
    neutralise,
    neutralise_frame,
    open_output,
    raise_if_interrupted,
    write_atomically,
)

FORMATS = ("csv", "xlsx", "parquet")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet", ".pq": "parquet"}
STDIN = "-"
_PIECE = 2 << 20  # bytes of CSV parsed at a time
_BATCH = 3 << 20  # bytes of a CSV file evaluated at a time, at most (peak RSS stays under 300 MB)
# bytes in memory of a Parquet batch, at most: the rows are read as Arrow data, without the copies parsing text
# costs, so a batch can hold more (and evaluate's cost per batch is spread over more rows)
_PARQUET_BATCH = 8 << 20
XLSX_MAX_ROWS = 1_048_576  # a worksheet's rows, the header included
XLSX_MAX_CELL = 32_767  # characters in one cell
_EOL = "\r\n"


def format_of(path: Path | str, *, format: str | None = None, output: bool = False) -> str:
    """``csv``, ``xlsx`` or ``parquet``: ``format`` when given, else from the extension of ``path`` (``-``, a
    name without extension, an existing FIFO or device: CSV). Raises :class:`ScenarioFileError` (an input) or
    :class:`~sonet_policy.files.write.TargetError` (an output) naming the path for an extension the kit does not read
    or write.

    >>> format_of("customers.XLSX"), format_of("-"), format_of("x.dat", format="parquet")
    ('xlsx', 'csv', 'parquet')
    >>> format_of("customers.xls")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: customers.xls: the kit reads .csv, .txt, .xlsx, .xlsm, ...
    """
    if format is not None:
        if format not in FORMATS:
            raise (TargetError if output else ScenarioFileError)(
                f"unknown format {format!r}; use one of {', '.join(FORMATS)}", path=path
            )
        return format
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if text == STDIN or not suffix:  # standard input or output, /dev/null, a name without extension
        return "csv"
    if os.path.exists(text) and not os.path.isfile(text):  # a FIFO, a device, a folder: checked where it is opened
        return "csv"
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    verb = "writes" if output else "reads"
    flag = "--output-format" if output else "--format"
    message = (
        f"{text}: the kit {verb} {', '.join(EXTENSIONS)} files (or CSV without extension), not {suffix}; "
        f"rename it, or give {flag} {'|'.join(FORMATS)}"
    )
    if suffix == ".xls":
        message += " (an .xls workbook: save it as .xlsx in Excel)"
    raise (TargetError if output else ScenarioFileError)(message, path=path)


# ---------------------------------------------------------------- standard input ----


@contextmanager
def spooled_stdin(path: Path | str, *, suffix: str = "") -> Iterator[Path]:
    """Yields ``path`` itself, or for ``-`` a private temporary copy of standard input (removed afterwards).
    Raises :class:`ScenarioFileError` when standard input is closed.

    >>> with spooled_stdin("customers.csv") as path:
    ...     str(path)
    'customers.csv'
    """
    if os.fspath(path) != STDIN:
        yield Path(path)
        return
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise ScenarioFileError("standard input is closed or not readable; give --input a file", path=STDIN)
    with tempfile.TemporaryDirectory(prefix="sonet-stdin-") as folder:
        copy = Path(folder) / f"stdin{suffix}"
        with open(copy, "wb") as out:
            shutil.copyfileobj(stream, out, 1 << 20)
        yield copy


# ---------------------------------------------------------------- headers ----


def _header_info(where: str, columns: list[str], *, book: RuleBook, encoding: str, path: str) -> ScenarioFileInfo:
    """The checks :func:`sonet_policy.files.scenarios.inspect_file` makes on a CSV header, for a sheet or a Parquet
    schema."""
    try:
        info = header_info(where, columns, rulebook=book, encoding=encoding)
    except ScenarioFileError as exc:
        exc.path = path  # the message names the sheet or schema; the error keeps the file
        raise
    info.path = path
    return info


# ---------------------------------------------------------------- sources ----


@dataclass
class _Source:
    """A scenario file opened for streaming: its header and its rows as record batches (columns in the file's
    order, named ``info.columns``), and where the reading is (for the progress bar)."""

    info: ScenarioFileInfo
    batches: Iterator  # of pyarrow.RecordBatch
    total: int
    position: Callable[[], int]
    unit: str = "B"
    first_row: int = 0  # a worksheet: the row Excel shows for the first row after the header (0: not a sheet)
    # input columns the file holds as text, read as dictionaries (evaluate reads their codes): position -> the
    # file's type, which an output keeps
    encoded: dict[int, object] = field(default_factory=dict)


def _text_cell(value: object) -> str:
    """An Excel cell as the text a CSV would hold: 31.0 is ``31``, TRUE ``true``, a date ISO 8601."""
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


def _xlsx_source(path: Path, *, shown: str, sheet: str | None, book: RuleBook, rows_per_batch: int) -> _Source:
    import openpyxl
    import pyarrow as pa

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException … for a file not a workbook
        raise ScenarioFileError(f"{shown}: not an Excel workbook (.xlsx) openpyxl can read: {exc}", path=shown) from exc
    names = workbook.sheetnames
    if sheet is None:
        title = names[0]
    elif sheet in names:
        title = sheet
    elif sheet.strip().isdigit() and 1 <= int(sheet) <= len(names):
        title = names[int(sheet) - 1]
    else:
        workbook.close()
        listed = ", ".join(f"{k}: {n!r}" for k, n in enumerate(names[:20], start=1))
        raise ScenarioFileError(
            f"{shown}: no sheet {sheet!r}; give --sheet a name or a number from 1 ({listed})", path=shown
        )
    where = f"{shown}, sheet {title!r}"
    ws = workbook[title]
    rows = ws.iter_rows(values_only=True)
    header_row, line = None, 0
    for values in rows:
        line += 1
        if any(v is not None and str(v).strip() for v in values):
            header_row = values
            break
    if header_row is None:
        workbook.close()
        raise ScenarioFileError(f"{where}: the sheet is empty (no header row)", path=shown)
    texts = [_text_cell(v).strip() if v is not None else "" for v in header_row]
    width = max(k + 1 for k, t in enumerate(texts) if t)  # trailing empty header cells are not columns
    columns = [t or f"Unnamed: {k}" for k, t in enumerate(texts[:width])]
    info = _header_info(where, columns, book=book, encoding=f"Excel workbook, sheet {title!r}", path=shown)
    header_line = line
    total = ws.max_row or 0
    state = {"row": header_line}

    def batches():
        try:
            names_ = [f"c{k}" for k in range(width)]
            cols: list[list[str]] = [[] for _ in range(width)]
            for values in rows:
                state["row"] += 1
                cells = [_text_cell(v) for v in values]
                if len(cells) > width and any(c != "" for c in cells[width:]):
                    k = width + next(i for i, c in enumerate(cells[width:]) if c != "")
                    raise ScenarioFileError(
                        f"{where}, row {state['row']}: a value in column {k + 1}, beyond the header's {width} "
                        "columns; give it a header or remove it",
                        path=shown,
                    )
                cells = (cells + [""] * width)[:width]
                for k in range(width):
                    cols[k].append(cells[k])
                if len(cols[0]) >= rows_per_batch:
                    yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], names=names_)
                    cols = [[] for _ in range(width)]
            if cols[0]:
                yield pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in cols], names=names_)
        finally:
            workbook.close()

    return _Source(info, batches(), total, lambda: state["row"], unit="rows", first_row=header_line + 1)


def _parquet_source(path: Path, *, shown: str, book: RuleBook, chunk_bytes: int, chunksize: int) -> _Source:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ScenarioFileError(f"{shown}: not a Parquet file pyarrow can read: {exc}", path=shown) from exc
    columns = [str(n) for n in reader.schema_arrow.names]
    info = _header_info(shown, columns, book=book, encoding="Parquet", path=shown)
    # The text columns that name inputs are read as dictionaries (one per row group, decoded from the file's own
    # dictionary pages without building a string per row): evaluate reads them from their codes.
    inputs = header_map(columns, rulebook=book)
    declared = reader.schema_arrow
    text = [c for c, f in zip(columns, declared, strict=True) if c in inputs and _is_text(f.type)]
    if text:
        reader.close()
        try:
            reader = pq.ParquetFile(path, read_dictionary=text)
        except (pa.ArrowException, OSError) as exc:
            raise ScenarioFileError(f"{shown}: not a Parquet file pyarrow can read: {exc}", path=shown) from exc
    meta = reader.metadata
    per_row = 64.0  # bytes in memory per row: measured on the first rows (the file's sizes are compressed)
    if meta.num_rows:
        try:
            sample = next(reader.iter_batches(batch_size=1_000, use_threads=False))
            per_row = max(8.0, sample.nbytes / max(sample.num_rows, 1))
        except (StopIteration, pa.ArrowException):
            pass
    size = max(1, min(chunksize, int(min(chunk_bytes, _PARQUET_BATCH) / per_row)))
    state = {"rows": 0}

    def batches():
        try:
            # a batch never spans row groups: the batches of consecutive row groups are joined up to ``size`` rows
            # (evaluate's cost per batch is then spread over more rows), their dictionaries unified
            held: list = []
            for batch in reader.iter_batches(batch_size=size, use_threads=False):  # threads hold more memory
                if held and sum(b.num_rows for b in held) + batch.num_rows > size:
                    yield _joined(held, state)
                    held = []
                held.append(batch)
            if held:
                yield _joined(held, state)
        except pa.ArrowException as exc:
            raise ScenarioFileError(f"{shown}: cannot read the Parquet data: {exc}", path=shown) from exc
        finally:
            reader.close()

    encoded = {k: f.type for k, f in enumerate(declared) if f.name in text}
    return _Source(info, batches(), meta.num_rows, lambda: state["rows"], unit="rows", encoded=encoded)


def _joined(batches: list, state: dict):
    """One record batch of ``batches`` (same schema), dictionary columns unified; counts its rows in ``state``."""
    import pyarrow as pa

    if len(batches) == 1:
        batch = batches[0]
    else:
        table = pa.Table.from_batches(batches).unify_dictionaries().combine_chunks()
        batch = pa.RecordBatch.from_arrays([c.chunk(0) for c in table.columns], schema=table.schema)
    state["rows"] += batch.num_rows
    return batch


def _quotes_balanced(path: Path) -> bool:
    """Whether ``path`` holds an even number of ``"`` bytes (every quoted value closed): pyarrow's reader would
    read an unclosed quote to the end of the file, so such a file is read by pandas, which names the line."""
    count = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            count += block.count(b'"')
    return count % 2 == 0


class _Fallback(Exception):
    """pyarrow's reader met a row it does not take as pandas does (fewer or more fields than the header)."""


def _csv_source(
    path: Path, *, shown: str, book: RuleBook, encoding: str | None, chunk_bytes: int, chunksize: int, fast: bool
) -> _Source:
    import pyarrow as pa

    info = inspect_file(path, rulebook=book, encoding=encoding)
    if shown != str(path):
        info.path = shown
    handle = open(path, "rb")  # noqa: SIM115 - closed by the generator
    total = os.fstat(handle.fileno()).st_size
    names_ = [f"c{k}" for k in range(len(info.columns))]

    def slow():
        with handle:
            try:
                for chunk in _chunks(path, info, chunksize, handle, chunk_bytes=chunk_bytes):
                    chunk = chunk.set_axis(names_, axis=1)
                    yield pa.RecordBatch.from_arrays([pa.array(chunk[c], pa.string()) for c in names_], names=names_)
            except ScenarioFileError as exc:  # named as the user named the file (standard input)
                raise ScenarioFileError(str(exc).replace(str(path), shown), path=shown) from None

    if not fast:
        return _Source(info, slow(), total, handle.tell)
    import pyarrow.csv as pcsv

    odd: list[int] = []

    def invalid(row) -> str:
        odd.append(row.number or 0)
        return "error"

    codec = {"utf-8-sig": "utf8", "utf-8": "utf8"}.get(info.encoding, info.encoding)  # pyarrow skips a BOM
    read = pcsv.ReadOptions(column_names=names_, encoding=codec, use_threads=True, block_size=1 << 19)
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid)
    # the input columns are parsed straight into dictionaries (cheaper than strings, and evaluate reads their
    # codes); the others are text
    mapping = header_map(info.columns, rulebook=book)
    encoded = {k: pa.string() for k, c in enumerate(info.columns) if c in mapping}
    types = [pa.dictionary(pa.int32(), pa.string()) if k in encoded else pa.string() for k in range(len(names_))]
    convert = pcsv.ConvertOptions(
        column_types=dict(zip(names_, types, strict=True)),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )

    def fast_batches():
        # The file is cut into pieces of at most _PIECE bytes at record ends (a line end outside quotes), each
        # parsed by pyarrow (threads within the piece); parsed pieces are gathered into batches of about
        # chunk_bytes of the file or chunksize rows. Only one raw piece is in memory at a time, however long the
        # file (pyarrow's own streaming reader reads ahead without bound, and big blocks cost their size many
        # times over while they are parsed).
        first, gathered, size, rows = True, [], 0, 0
        limit = min(chunk_bytes, _BATCH)

        def batch():
            table = pa.concat_tables(gathered).combine_chunks()
            gathered.clear()
            return pa.RecordBatch.from_arrays(
                [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns], names=names_
            )

        with handle:
            for piece in _record_pieces(handle, max(1 << 16, min(chunk_bytes, _PIECE))):
                try:
                    table = pcsv.read_csv(
                        pa.BufferReader(piece), read_options=read, parse_options=parse, convert_options=convert
                    )
                except pa.ArrowInvalid as exc:
                    if odd:
                        raise _Fallback() from exc
                    raise ScenarioFileError(f"{shown}: cannot read as CSV: {exc}", path=shown) from exc
                if gathered and size + len(piece) > limit:  # this piece would make the batch too big
                    yield batch()
                    size, rows = 0, 0
                size += len(piece)
                del piece
                if first:  # the header is the first record, read with the same quoting rules
                    table, first = table.slice(1), False
                while table.num_rows:
                    take = table.slice(0, chunksize - rows)
                    gathered.append(take)
                    rows += take.num_rows
                    table = table.slice(take.num_rows)
                    if rows >= chunksize:
                        yield batch()
                        size, rows = 0, 0
            if gathered:
                yield batch()

    return _Source(info, fast_batches(), total, handle.tell, encoded=encoded)


def _record_pieces(handle, size: int) -> Iterator[bytes]:
    """The bytes of ``handle`` in pieces of about ``size`` bytes, each ending at a line end outside quotes (an
    even number of ``"`` before it in the piece: a doubled quote inside a value counts twice), the last piece
    with whatever remains. Only the tail of each block is scanned for the cut."""
    import numpy as np

    pending = b""
    while True:
        block = handle.read(size)
        if not block:
            if pending:
                yield pending
            return
        data = pending + block if pending else block
        cut, window = -1, 1 << 16
        while cut < 0:
            lo = max(0, len(data) - window)
            tail = np.frombuffer(data, dtype=np.uint8, offset=lo)
            before = data.count(b'"', 0, lo) & 1  # (the count itself overflows the uint8 sum)
            parity = (before + np.cumsum(tail == 34, dtype=np.uint8)) & 1
            ends = np.flatnonzero((tail == 10) & (parity == 0))
            if ends.size:
                cut = lo + int(ends[-1]) + 1
            elif lo == 0:
                break
            window *= 4
        if cut < 0:  # no record end yet (one value longer than the block): read on
            pending = data
            continue
        yield data[:cut]
        pending = data[cut:]


@contextmanager
def open_scenarios(
    path: Path | str,
    *,
    format: str | None = None,
    sheet: str | None = None,
    rulebook: RuleBook | None = None,
    encoding: str | None = None,
    chunksize: int = 200_000,
    chunk_bytes: int = 16 << 20,
    fast: bool = True,
) -> Iterator[_Source]:
    """Open a scenario file of any format (``-``: standard input) for streaming: yields an object with ``info``
    (:class:`~sonet_policy.files.scenarios.ScenarioFileInfo`) and ``batches`` (pyarrow record batches, the file's
    columns in
    order). Raises :class:`ScenarioFileError` naming the file (and sheet, row or line) when it cannot be read
    or a required column is missing.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("area,plan,device,setup,keep_number,memo\\nwest,other,RV-230SE,v6plus_router,no,x\\n")
    >>> with open_scenarios(p) as source:
    ...     source.info.extra, sum(batch.num_rows for batch in source.batches)
    (['memo'], 1)
    """
    book = rulebook or default_rulebook()
    kind = format_of(path, format=format)
    shown = "standard input" if os.fspath(path) == STDIN else str(path)
    if kind != "csv" and encoding:
        raise ScenarioFileError(f"{shown}: --encoding applies to CSV files, not {kind}", path=shown)
    if kind != "xlsx" and sheet is not None:
        raise ScenarioFileError(f"{shown}: --sheet applies to Excel workbooks, not {kind}", path=shown)
    with spooled_stdin(path, suffix=f".{kind}") as real:
        if os.fspath(path) != STDIN:
            if not real.is_file():
                what = "not a regular file (a folder, FIFO or device)" if real.exists() else "no such file"
                raise ScenarioFileError(f"{shown}: {what}; give a {kind} file", path=shown)
        if kind == "csv":
            with open(real, "rb") as handle:
                magic = handle.read(4)
            for start, name, flag in (
                (b"PK\x03\x04", "an Excel workbook", "xlsx"),
                (b"PAR1", "a Parquet file", "parquet"),
            ):
                if magic == start:
                    raise ScenarioFileError(f"{shown}: {name}, not CSV text; give --format {flag}", path=shown)
        if kind == "xlsx":
            source = _xlsx_source(real, shown=shown, sheet=sheet, book=book, rows_per_batch=min(chunksize, 50_000))
        elif kind == "parquet":
            source = _parquet_source(real, shown=shown, book=book, chunk_bytes=chunk_bytes, chunksize=chunksize)
        else:
            source = _stdin_named(_csv_source, real, shown)(
                real,
                shown=shown,
                book=book,
                encoding=encoding,
                chunk_bytes=chunk_bytes,
                chunksize=chunksize,
                fast=fast and _quotes_balanced(real),
            )
        try:
            yield source
        finally:
            source.batches.close()


def read_frame(
    path: Path | str,
    *,
    format: str | None = None,
    sheet: str | None = None,
    rulebook: RuleBook | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """A whole scenario file of any format as a frame for :func:`~sonet_policy.engine.evaluate.evaluate`, as
    :func:`sonet_policy.files.scenarios.read_scenarios` reads a CSV: inputs renamed from their headers, blank rows
    dropped
    (counted in ``attrs["blank_lines"]``), extra columns kept, every cell text (a Parquet ``True`` is ``true``, a
    missing value empty). The index names each row as a person finds it: in a workbook the row Excel shows
    (blank rows above the header, the header and blank rows between counted: a header in row 3 makes the first
    data row 4), elsewhere the data rows counted from 1. Raises :class:`ScenarioFileError` as
    :func:`open_scenarios` does.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.parquet"
    >>> pd.DataFrame({"エリア": ["西"], "プラン": ["other"], "機器名": ["RV-230SE"], "利用環境": ["v6plus_router"],
    ...               "番号継続": [False]}).to_parquet(p)
    >>> read_frame(p).columns.tolist()
    ['area', 'plan', 'device', 'setup', 'keep_number']
    """
    import numpy as np
    import pyarrow as pa

    with open_scenarios(path, format=format, sheet=sheet, rulebook=rulebook, encoding=encoding) as source:
        info, parts, blanks, first_row = source.info, [], 0, source.first_row
        seen, kept = 0, []  # rows read so far (blank ones too), and the position of each row kept
        for batch in source.batches:
            blank = _blank_rows(batch)
            blanks += int(blank.sum())
            kept.append(np.flatnonzero(~blank) + seen)
            seen += batch.num_rows
            batch = batch.filter(pa.array(~blank)) if blank.any() else batch
            parts.append(pa.RecordBatch.from_arrays([_as_text(c) for c in batch.columns], names=batch.schema.names))
    names = [info.renamed.get(c, c) for c in info.columns]
    if parts:
        table = pa.Table.from_batches(parts).rename_columns([f"c{k}" for k in range(len(names))])
        frame = table.to_pandas().set_axis(names, axis=1)
    else:
        frame = pd.DataFrame({n: pd.Series(dtype="str") for n in names})
    if first_row:  # a worksheet: the row Excel shows (blank rows above, between and the header counted)
        positions = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
        frame.index = pd.Index(positions.astype(np.int64) + first_row, name="row")
    else:
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    frame.attrs["scenario_file"] = info
    frame.attrs["blank_lines"] = blanks
    return frame


def _stdin_named(function: Callable, real: Path, shown: str) -> Callable:
    """``function`` whose errors name ``shown`` (standard input) instead of its private temporary copy."""
    if str(real) == shown:
        return function

    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ScenarioFileError as exc:
            raise ScenarioFileError(str(exc).replace(str(real), shown), path=shown, field=exc.field) from None

    return call


# ---------------------------------------------------------------- neutralising ----


_FORMULA_BYTES = frozenset(ord(c) for c in FORMULA_START)


def _formula_candidates(array):
    """A numpy mask of the values of a pyarrow string array whose first byte starts a formula (read from the
    array's buffers: one pass, no copy; a superset of what :func:`~sonet_policy.files.write.neutralise` changes)."""
    import numpy as np
    import pyarrow as pa

    n = len(array)
    offsets_buf, data_buf = array.buffers()[1], array.buffers()[2]
    if n == 0 or data_buf is None or data_buf.size == 0:
        return np.zeros(n, dtype=bool)
    width = np.int64 if pa.types.is_large_string(array.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width, count=n + 1, offset=array.offset * np.dtype(width).itemsize)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    starts = offsets[:-1]
    first = data[np.minimum(starts, data.size - 1)]
    lut = np.zeros(256, dtype=bool)
    lut[list(_FORMULA_BYTES)] = True
    return lut[first] & (offsets[1:] > starts)


def _neutralise_array(array):
    """A pyarrow array with :func:`sonet_policy.files.write.neutralise` applied to every text value (vectorised: only
    the values that start with a formula character go through Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(array.type):  # the distinct values only
        values = array.dictionary
        fixed = _neutralise_array(values)
        if fixed is values:
            return array
        if len(pc.unique(fixed)) < len(fixed):  # '=1' became the "'=1" the dictionary holds too: encode again
            return pc.dictionary_encode(_neutralise_array(array.dictionary_decode())).cast(array.type)
        return pa.DictionaryArray.from_arrays(array.indices, fixed)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    risky = _formula_candidates(array)
    if not risky.any():
        return array
    import numpy as np

    where = np.flatnonzero(risky)
    before = array.take(where).to_pylist()
    after = [neutralise(v) for v in before]
    changed = [k for k, (a, b) in enumerate(zip(after, before, strict=True)) if a is not b]
    if not changed:
        return array
    flags = np.zeros(len(array), dtype=bool)
    flags[where[changed]] = True
    return pc.replace_with_mask(array, pa.array(flags), pa.array([after[k] for k in changed], array.type))


# ---------------------------------------------------------------- sinks ----


class _CsvSink:
    """UTF-8 CSV, CRLF line ends: the header by Python's csv module, the rows by pyarrow's writer (every text
    value quoted, so a CR or LF inside a value never splits a row). A pyarrow without the ``eol`` option (before
    version 19) has the rows written by pandas, with the same quoting of CR and LF."""

    def __init__(self, out, names: list[str], *, bom: bool) -> None:
        self.out, self.names, self.writer = out, names, None
        buf = _io.StringIO()
        csv.writer(buf, lineterminator=_EOL).writerow(names)
        out.write((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))

    def write(self, batch) -> None:
        import pyarrow.csv as pcsv

        if self.writer is None:
            try:
                opts = pcsv.WriteOptions(include_header=False, eol=_EOL)
            except TypeError:  # pyarrow < 19
                self.writer = False
            else:
                self.writer = pcsv.CSVWriter(self.out, batch.schema, write_options=opts)
        if self.writer is False:
            frame = batch.to_pandas()
            self.out.write(frame.to_csv(index=False, header=False, lineterminator=_EOL).encode("utf-8"))
            return
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.writer:
            self.writer.close()


class _ParquetSink:
    """Parquet, a row group per batch, snappy. The input columns read as dictionaries are written with the type
    the input file gives them (text); they, the answers and the columns that come as dictionaries are
    dictionary-encoded in the file, the other columns (identifiers, memos) are not. No min/max statistics: on
    these columns they cost a third of the writing and prune nothing.

    The input columns are handed to the writer as the dictionaries they were read as (the writer puts their
    values in the dictionary page and their indices in the data pages, as it would after hashing every row's
    text), and the file's Arrow schema (``ARROW:schema``, what pyarrow and pandas read the types from) is the
    one the text columns would give: the file reads back as text, with the same values, as if each column had
    been decoded to text first, without decoding a string per row. A pyarrow whose writer cannot set the file's
    metadata decodes them."""

    def __init__(self, out, names: list[str], answers: list[str], *, encoded: dict | None = None) -> None:
        self.out, self.names, self.writer, self.answers = out, names, None, set(answers)
        self.encoded = encoded or {}
        self.declared = None  # the schema the file declares (the input columns as text), when it differs

    def write(self, batch) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        direct = hasattr(pq.ParquetWriter, "add_key_value_metadata")
        if self.encoded and not direct:  # here, in the writer's thread, beside the reading of the next batch
            arrays = [batch.column(k) for k in range(batch.num_columns)]
            for k, type_ in self.encoded.items():
                if pa.types.is_dictionary(arrays[k].type):
                    arrays[k] = arrays[k].cast(type_)
            batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
        if self.writer is None:
            names = batch.schema.names
            coded = [
                n
                for k, n in enumerate(names)
                if n in self.answers or k in self.encoded or pa.types.is_dictionary(batch.schema.field(k).type)
            ]
            fields = [
                f.with_type(self.encoded[k]) if k in self.encoded and pa.types.is_dictionary(f.type) else f
                for k, f in enumerate(batch.schema)
            ]
            declared = pa.schema(fields, metadata=batch.schema.metadata)
            if direct and not declared.equals(batch.schema):
                self.declared = declared
            self.writer = pq.ParquetWriter(
                self.out,
                batch.schema,
                compression="snappy",
                write_statistics=False,
                use_dictionary=coded,
                store_schema=self.declared is None,
            )
        self.writer.write_batch(batch)

    def close(self) -> None:
        if self.writer is not None:
            if self.declared is not None:  # what store_schema would write, for the declared types
                import base64

                schema = base64.b64encode(self.declared.serialize().to_pybytes()).decode("ascii")
                self.writer.add_key_value_metadata({"ARROW:schema": schema})
            self.writer.close()


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


class _XlsxWriter:
    """A write-only openpyxl workbook, one sheet per table; every text cell is stored as text, never as a
    formula (openpyxl would store ``=…`` as one)."""

    def __init__(self, target: str) -> None:
        import openpyxl

        self.target = target
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = None
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


class _XlsxSink:
    def __init__(self, writer: _XlsxWriter, names: list[str]) -> None:
        self.writer = writer
        writer.add_sheet("answers", names)

    def write(self, batch) -> None:
        columns = [batch.column(k).to_pylist() for k in range(batch.num_columns)]
        for row in zip(*columns, strict=True):
            self.writer.append(list(row))

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- evaluate ----


def _filled(col):
    """A numpy mask: the values of a pyarrow array that are neither missing nor empty text (text lengths read
    from the offsets; a dictionary's values looked up by their indices)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(col)
    if pa.types.is_dictionary(col.type):
        values = _filled(col.dictionary)
        if not values.size:
            return np.zeros(n, dtype=bool)
        has = values[pc.fill_null(col.indices, 0).to_numpy(zero_copy_only=False)]
    elif _is_text(col.type):
        width = np.int64 if pa.types.is_large_string(col.type) else np.int32
        buf = col.buffers()[1]
        if buf is None or n == 0:
            return np.zeros(n, dtype=bool)
        size = np.dtype(width).itemsize
        offsets = np.frombuffer(buf, dtype=width, count=n + 1, offset=col.offset * size)
        has = offsets[1:] > offsets[:-1]
    else:
        return col.is_valid().to_numpy(zero_copy_only=False)
    if col.null_count:
        has &= col.is_valid().to_numpy(zero_copy_only=False)
    return has


def _blank_rows(batch):
    """A numpy mask: the rows whose every cell is empty or missing.

    >>> import pyarrow as pa
    >>> codes = pa.array(["", "x", None]).dictionary_encode()
    >>> _blank_rows(pa.record_batch([codes, pa.array(["", "", None])], names=["a", "b"])).tolist()
    [True, False, True]
    """
    import numpy as np

    filled = np.zeros(batch.num_rows, dtype=bool)
    for col in batch.columns:
        filled |= _filled(col)
        if filled.all():  # usually after the first column: no need to read the others
            break
    return ~filled


def _is_text(type_) -> bool:
    """Whether a pyarrow type is text (string or large string)."""
    import pyarrow as pa

    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


_DICTIONARIES: dict[int, tuple[object, object]] = {}  # id(categories) -> (categories, pyarrow array): reused


def _answers_arrow(answers: pd.DataFrame) -> list:
    """The answer columns (categoricals) as pyarrow dictionary arrays with int32 indices (a stable schema); the
    dictionaries of the rule book's columns are built once."""
    import numpy as np
    import pyarrow as pa

    arrays = []
    for name in answers.columns:
        cat = answers[name].array
        categories = cat.categories
        hit = _DICTIONARIES.get(id(categories))
        if hit is not None and hit[0] is categories:
            values = hit[1]
        else:
            values = pa.array(np.asarray(categories, dtype=object), pa.string())
            if len(_DICTIONARIES) > 64:
                _DICTIONARIES.clear()
            _DICTIONARIES[id(categories)] = (categories, values)
        codes = cat.codes
        indices = codes.astype(np.int32)
        if codes.size and codes.min() < 0:  # missing answers: a validity bitmap (a pass over the 1-byte codes)
            valid = codes >= 0
            np.maximum(indices, 0, out=indices)
            bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
            missing = codes.size - int(np.count_nonzero(valid))
            indices = pa.Array.from_buffers(pa.int32(), codes.size, [bitmap, pa.py_buffer(indices)], missing)
        else:
            indices = pa.array(indices, pa.int32())
        # the codes are the categories' positions: no check of every index against the dictionary
        arrays.append(pa.DictionaryArray.from_arrays(indices, values, safe=False))
    return arrays


def evaluate_stream(
    input: Path | str,
    output: Path | str,
    *,
    format: str | None = None,
    output_format: str | None = None,
    sheet: str | None = None,
    chunksize: int = 200_000,
    rulebook: RuleBook | None = None,
    progress: bool = True,
    encoding: str | None = None,
    bom: bool = False,
    raw: bool = False,
    chunk_bytes: int | None = 16 << 20,
) -> StreamSummary:
    """Evaluate the scenario file ``input`` batch by batch into ``output`` (see
    :func:`sonet_policy.files.scenarios.evaluate_file`, which calls this): CSV, Excel or Parquet on either side, by
    extension
    or by ``format`` / ``output_format``; ``-`` is standard input or output (CSV unless a format is given).

    Returns the :class:`~sonet_policy.files.scenarios.StreamSummary`. Raises :class:`ScenarioFileError` (the input:
    format,
    sheet, missing column, a malformed line), :class:`~sonet_policy.files.write.TargetError` and the other errors of
    :mod:`sonet_policy.files.write` (the output); an error leaves any earlier output as it was.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> text = "area,plan,device,setup,keep_number,days,memo\\nwest,other,RV-230SE,v6plus_router,no,31,=1+1\\n"
    >>> _ = (d / "in.csv").write_text(text)
    >>> evaluate_stream(d / "in.csv", d / "out.parquet", progress=False).status["ok"]
    1
    >>> pd.read_parquet(d / "out.parquet")["memo"].tolist()
    ["'=1+1"]
    """
    book = rulebook or default_rulebook()
    out_kind = format_of(output, format=output_format, output=True)
    in_kind = format_of(input, format=format)
    chunk_bytes = chunk_bytes or (1 << 30)
    if os.fspath(output) != STDOUT and os.fspath(input) != STDIN and Path(input).exists():
        if _same_file(Path(input), Path(output)):
            raise ScenarioFileError(f"{output}: the output would overwrite the input", path=output)
    try:
        return _evaluate_stream(
            input, output, in_kind, out_kind, sheet, chunksize, book, progress, encoding, bom, raw, chunk_bytes, True
        )
    except _Restart:
        return _evaluate_stream(
            input, output, in_kind, out_kind, sheet, chunksize, book, progress, encoding, bom, raw, chunk_bytes, False
        )


class _Restart(Exception):
    """The fast CSV reader gave up before anything was written for good: start again with pandas's reader."""


def _evaluate_stream(
    input, output, in_kind, out_kind, sheet, chunksize, book, progress, encoding, bom, raw, chunk_bytes, fast
) -> StreamSummary:
    import numpy as np
    import pyarrow as pa

    from sonet_policy.engine.evaluate import STATUSES, evaluate, output_columns

    counts = dict.fromkeys(STATUSES, 0)
    totals = {"rows": 0, "blank": 0}
    with ExitStack() as stack:
        source = stack.enter_context(
            open_scenarios(
                input,
                format=in_kind,
                sheet=sheet,
                rulebook=book,
                encoding=encoding,
                chunksize=chunksize,
                chunk_bytes=chunk_bytes,
                fast=fast,
            )
        )
        info = source.info
        answers_cols = output_columns(book)
        taken = set(info.columns) | set(answers_cols)
        rename_out: dict[str, str] = {}
        for c in info.columns:
            if c in answers_cols and c not in info.renamed:
                new, k = f"{c}_input", 2
                while new in taken:
                    new, k = f"{c}_input_{k}", k + 1
                rename_out[c] = new
                taken.add(new)
        names = [rename_out.get(c, c) for c in info.columns] + answers_cols
        shown_names = names if raw else [neutralise(n) for n in names]
        mapping = header_map(info.columns, rulebook=book)
        inputs = [(k, mapping[c]) for k, c in enumerate(info.columns) if c in mapping]
        xlsx = None
        if out_kind == "xlsx":
            xlsx = _XlsxWriter(str(output))
            stack.push(lambda kind, _exc, _tb: xlsx.discard() if kind is not None else None)
            sink = _XlsxSink(xlsx, shown_names)
        else:
            out = stack.enter_context(open_output(output, binary=True))
            sink = (
                _CsvSink(out, shown_names, bom=bom)
                if out_kind == "csv"
                else _ParquetSink(out, shown_names, shown_names[len(info.columns) :], encoded=source.encoded)
            )
        bar = _progress(source.total, progress)
        if bar is not None:
            bar.unit = source.unit
            stack.callback(bar.close)
        schema = None
        # one writer thread: a batch is formatted and written (pyarrow releases the GIL) while the next one is
        # read and evaluated; at most two batches wait, so memory stays bounded. Entered after the output, so an
        # error waits for the writes in flight before the temporary file is removed.
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="sonet-write"))
        pending: deque = deque()
        pool_ = pa.default_memory_pool()
        try:
            for batch in source.batches:
                blank = _blank_rows(batch)
                n_blank = int(blank.sum())
                if n_blank:
                    batch = batch.filter(pa.array(~blank))
                    totals["blank"] += n_blank
                if batch.num_rows == 0:
                    continue
                frame = pa.table(
                    [_for_evaluate(batch.column(k)) for k, _ in inputs], names=[name for _, name in inputs]
                ).to_pandas()
                answers = evaluate(frame, rulebook=book)
                arrays = [batch.column(k) for k in range(batch.num_columns)] + _answers_arrow(answers)
                if out_kind != "parquet":
                    arrays = [_flat_text(a) for a in arrays]
                if not raw:
                    arrays = [_neutralise_array(a) for a in arrays]
                if schema is None:
                    schema = pa.schema([pa.field(n, a.type) for n, a in zip(shown_names, arrays, strict=True)])
                pending.append(pool.submit(sink.write, pa.RecordBatch.from_arrays(arrays, schema=schema)))
                while len(pending) > 1:
                    pending.popleft().result()  # a write error surfaces here
                raise_if_interrupted()
                totals["rows"] += batch.num_rows
                pool_.release_unused()  # pyarrow's allocator keeps freed batches otherwise (15-20 MB of peak RSS)
                status = answers["status"].array
                found = np.bincount(status.codes[status.codes >= 0], minlength=len(status.categories))
                for k, name in enumerate(status.categories):
                    counts[str(name)] += int(found[k])
                if bar is not None:
                    bar.update(source.position() - bar.n)
                    bar.set_postfix(rows=totals["rows"], refresh=False)
        except pa.ArrowException as exc:  # a value pyarrow cannot convert or write: one line naming the file
            if isinstance(exc, OSError):  # writing failed (a full disk …): the files module names the output
                raise
            raise ScenarioFileError(
                f"{info.path}: cannot convert a value for the output: {exc}", path=info.path
            ) from exc
        except _Fallback:
            while pending:
                pending.popleft().result()
            # pyarrow met a row with fewer or more fields than the header: pandas reads the file as before (a
            # short row is padded, a long one is an error naming the line). Only a rewindable output restarts.
            if xlsx is None and not _rewind(out):
                raise ScenarioFileError(
                    f"{info.path}: a row has a different number of fields than the header; write to a file "
                    "(not standard output or a pipe) to have it read, or fix the row",
                    path=info.path,
                ) from None
            raise _Restart() from None
        while pending:
            pending.popleft().result()
        if schema is None:  # header only (or only blank lines): still a valid file with the columns
            empty = pa.RecordBatch.from_arrays(
                [pa.array([], pa.string()) for _ in shown_names], names=[f"c{k}" for k in range(len(shown_names))]
            )
            sink.write(pa.RecordBatch.from_arrays(empty.columns, names=shown_names))
        sink.close()
        if xlsx is not None:
            xlsx.save(output)
    return StreamSummary(
        input=info.path if os.fspath(input) != STDIN else "standard input",
        output=str(output) if os.fspath(output) != STDOUT else "standard output",
        encoding=info.encoding,
        rows=totals["rows"],
        blank_lines=totals["blank"],
        status=counts,
        renamed=info.renamed,
        extra=info.extra,
        rulebook_hash=book.hash,
    )


def _as_text(array):
    """A column as the text a CSV would hold: numbers and booleans written out, missing values empty."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = _plain(array)
    if not pa.types.is_string(array.type):
        array = pc.cast(array, pa.string()) if not pa.types.is_boolean(array.type) else _booleans(array)
    return pc.fill_null(array, "")


def _booleans(array):
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(array, pa.scalar("true"), pa.scalar("false"))


def _flat_text(array):
    """A column the CSV writer and a workbook cannot hold as it is (lists, structs, maps, bytes, tz-aware times,
    decimals) as text: JSON for containers (Japanese kept), ``repr`` for bytes; other columns unchanged."""
    import pyarrow as pa

    t = array.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    simple = (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
        or (pa.types.is_timestamp(t) and t.tz is None)
        or pa.types.is_date(t)
    )
    if simple:
        return array
    values = [None if v is None else str(_cell_text(v)) for v in array.to_pylist()]
    return pa.array(values, pa.string())


def _plain(array):
    """A column with dictionary-encoded values decoded."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type):
        return array.dictionary_decode()
    return array


def _for_evaluate(array):
    """An input column as evaluate reads it: text dictionaries as they come (evaluate reads their codes, a
    categorical in pandas), other dictionaries decoded."""
    import pyarrow as pa

    if pa.types.is_dictionary(array.type) and _is_text(array.type.value_type):
        return array
    return _plain(array)


def _rewind(out) -> bool:
    """Empty the output written so far, when it is a temporary file (not standard output or a pipe)."""
    try:
        if not out.seekable():
            return False
        out.flush()
        out.seek(0)
        out.truncate()
        return True
    except (OSError, ValueError):
        return False


# ---------------------------------------------------------------- tables ----


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
    if kind == "csv":
        from sonet_policy.files.write import write_csv

        write_csv(path, next(iter(tables.values())), raw=raw, bom=bom, lineterminator=lineterminator)
        return kind
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = next(iter(tables.values()))
        frame = frame if raw else neutralise_frame(frame)
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with open_output(path, binary=True) as out:
            pq.write_table(table, out)
        return kind
    writer = _XlsxWriter(str(path))
    try:
        for title, frame in tables.items():
            frame = frame if raw else neutralise_frame(frame)
            writer.add_sheet(title, [str(c) for c in frame.columns])
            for row in frame.itertuples(index=False, name=None):
                writer.append([_xlsx_value(v) for v in row])
        writer.save(path)
    except BaseException:
        writer.discard()
        raise
    return kind


def _cell_text(value: object) -> object:
    """A list, dict, tuple, set or bytes cell as text (JSON for containers, Japanese kept); others unchanged."""
    if isinstance(value, (list, dict, tuple, set)):
        return json.dumps(list(value) if isinstance(value, (tuple, set)) else value, ensure_ascii=False, default=str)
    if isinstance(value, (bytes, bytearray)):
        return repr(bytes(value))
    return value


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
            out.isetitem(k, col.map(_cell_text))
    return out


def _xlsx_value(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (str, int, float, bool)):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
            return str(value)
        return value
    if pd.isna(value) if not isinstance(value, (list, dict, tuple, set)) else False:
        return None
    return str(value)
