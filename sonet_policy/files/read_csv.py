"""The CSV backend of the one reader: a CSV file in any Japanese encoding as record batches of text.

The encoding is decided on the whole file first (:mod:`sonet_policy.files.encoding`), and the header is line 1.
The rows are read by pyarrow: the file is cut into pieces at record ends (a line end outside quotes), each piece
parsed into one batch (the input columns straight into dictionaries when asked: evaluate reads their codes).
Only one raw piece is in memory at a time, however long the file. A file pyarrow does not take as pandas does
(an unclosed quote, a row with fewer or more fields than the header) is read by pandas instead, which pads a
short row and names the line of a long one.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.encoding import ENCODINGS, TextScan, detect_encoding, scan_text
from sonet_policy.files.header import ScenarioFileInfo, header_info, header_map
from sonet_policy.files.read_source import ReadOptions, Source

_PIECE = 4 << 20  # bytes of CSV parsed into one batch, at most (peak RSS stays under 300 MB)


class RowWidthFallback(Exception):
    """pyarrow's reader met a row it does not take as pandas does (fewer or more fields than the header)."""


def csv_source(path: Path, *, shown: str, book: RuleBook, options: ReadOptions, fast: bool = True) -> Source:
    """``path`` (named ``shown`` in messages) opened for streaming; ``fast``: pyarrow reads the rows where it can.
    Raises :class:`ScenarioFileError` for a file that is not text, has no header or misses a required column."""
    scan = scan_text(path, options.encoding)
    info = _header(path, shown, book=book, scan=scan, forced=options.encoding)
    handle = open(path, "rb")  # noqa: SIM115 - closed by the batches' generator
    total = os.fstat(handle.fileno()).st_size
    if fast and scan.quotes_balanced:
        inputs = header_map(info.columns, rulebook=book) if options.dictionaries else {}
        encoded = {k: pa.string() for k, c in enumerate(info.columns) if c in inputs}
        batches = _arrow_batches(handle, shown, info, options, set(encoded))
        return Source(info, batches, total, handle.tell, encoded=encoded)
    return Source(info, _pandas_batches(handle, shown, info, options), total, handle.tell)


def _header(path: Path, shown: str, *, book: RuleBook, scan: TextScan, forced: str | None) -> ScenarioFileInfo:
    """The header (line 1) checked against the inputs."""
    try:
        first = pd.read_csv(
            path, header=None, nrows=1, dtype=str, keep_default_na=False, skip_blank_lines=False, encoding=scan.encoding
        )
    except pd.errors.EmptyDataError as exc:
        raise ScenarioFileError(f"{shown}: the file is empty (no header line)", path=shown) from exc
    except pd.errors.ParserError as exc:
        raise ScenarioFileError(_parser_problem(shown, exc), path=shown) from exc
    raw = [str(v) for v in first.iloc[0]]
    if not any(v.strip() for v in raw):
        raise ScenarioFileError(
            f"{shown}, line 1: the line is empty; the first line must be the header (the column names)", path=shown
        )
    hint = ""
    if forced:
        try:
            found = detect_encoding(path)
        except ScenarioFileError:
            found = forced
        if codecs.lookup(found).name != codecs.lookup(forced).name:
            hint = f" (read as {forced}; the file reads as {ENCODINGS[found]}: leave --encoding out)"
    columns = [name if name else f"Unnamed: {k}" for k, name in enumerate(raw)]
    return header_info(shown, columns, rulebook=book, encoding=scan.encoding, raw=raw, hint=hint)


def _parser_problem(shown: str, exc: Exception) -> str:
    """A CSV parser error as one line naming the file and the line."""
    text = str(exc)
    quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if quote:
        line = int(quote.group(1)) + 1
        return (
            f'{shown}, line {line}: a quoted value is never closed (a " opens it and no " ends it before the end of '
            'the file); close the quote, or double a " that is part of the text'
        )
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        expected, line, saw = fields.groups()
        return f"{shown}, line {line}: {saw} fields where the header has {expected}; quote commas inside a value"
    return f"{shown}: cannot read as CSV: {text}"


# ---------------------------------------------------------------- pyarrow ----


def _arrow_batches(handle: Any, shown: str, info: ScenarioFileInfo, options: ReadOptions, coded: set[int]) -> Iterator:
    """The rows after the header, one batch per piece of about ``chunk_bytes`` bytes of the file (at most
    :data:`_PIECE`), cut to ``chunksize`` rows. Raises :class:`RowWidthFallback` at a row of another width."""
    names = [f"c{k}" for k in range(len(info.columns))]
    odd: list[int] = []

    def invalid(row: Any) -> str:
        odd.append(row.number or 0)
        return "error"

    codec = {"utf-8-sig": "utf8", "utf-8": "utf8"}.get(info.encoding, info.encoding)  # pyarrow skips a BOM
    parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid)
    types = [pa.dictionary(pa.int32(), pa.string()) if k in coded else pa.string() for k in range(len(names))]
    convert = pcsv.ConvertOptions(
        column_types=dict(zip(names, types, strict=True)), strings_can_be_null=False, quoted_strings_can_be_null=False
    )
    first = True
    with handle:
        for piece in _record_pieces(handle, max(1 << 16, min(options.chunk_bytes, _PIECE))):
            # one block for the whole piece (twice its size: a transcoded piece grows), so one chunk per column
            read = pcsv.ReadOptions(
                column_names=names, encoding=codec, use_threads=False, block_size=2 * len(piece) + (1 << 16)
            )
            try:
                table = pcsv.read_csv(
                    pa.BufferReader(piece), read_options=read, parse_options=parse, convert_options=convert
                )
            except pa.ArrowInvalid as exc:
                if odd:
                    raise RowWidthFallback() from exc
                raise ScenarioFileError(f"{shown}: cannot read as CSV: {exc}", path=shown) from exc
            del piece
            if first:  # the header is the first record, read with the same quoting rules
                table, first = table.slice(1), False
            batch = _one_batch(table)
            for start in range(0, batch.num_rows, options.chunksize):
                yield batch.slice(start, options.chunksize)


def _one_batch(table: Any) -> Any:
    """A table's columns as one record batch (dictionaries unified where a column came in several chunks)."""
    if any(c.num_chunks != 1 for c in table.columns):
        table = table.unify_dictionaries().combine_chunks()
    arrays = [c.chunk(0) if c.num_chunks else pa.array([], c.type) for c in table.columns]
    return pa.RecordBatch.from_arrays(arrays, names=table.column_names)


def _record_pieces(handle: Any, size: int) -> Iterator[bytes]:
    """The bytes of ``handle`` in pieces of about ``size`` bytes, each ending at a line end outside quotes (an
    even number of ``"`` before it in the piece: a doubled quote inside a value counts twice), the last piece
    with whatever remains. Only the tail of each block is scanned for the cut."""
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
            before = np.count_nonzero(np.frombuffer(data, dtype=np.uint8, count=lo) == 34) & 1  # (uint8 overflows)
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


# ---------------------------------------------------------------- pandas ----


def _pandas_batches(handle: Any, shown: str, info: ScenarioFileInfo, options: ReadOptions) -> Iterator:
    """The rows after the header as batches of text read by pandas: at most ``chunksize`` rows and about
    ``chunk_bytes`` bytes of the file (the rows per batch follow the bytes per row read so far; the first batch
    is small)."""
    names = [f"c{k}" for k in range(len(info.columns))]
    size, rows = min(options.chunksize, 128), 0
    with handle, _said_as_csv(shown, info.encoding):
        reader = pd.read_csv(
            handle,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=info.encoding,
            skip_blank_lines=False,
            iterator=True,
        )
        with reader:
            while True:
                try:
                    chunk = reader.get_chunk(size)
                except StopIteration:
                    return
                if not isinstance(chunk.index, pd.RangeIndex):  # pandas took the extra leading fields as an index
                    raise ScenarioFileError(
                        f"{shown}: a row has more fields than the header ({len(info.columns)} columns); quote "
                        "commas inside a value",
                        path=shown,
                    )
                rows += len(chunk)
                if rows:
                    per_row = max(handle.tell(), 1) / rows  # the parser reads ahead: an overestimate
                    size = max(1, min(options.chunksize, int(options.chunk_bytes / per_row)))
                chunk = chunk.set_axis(names, axis=1)
                yield pa.RecordBatch.from_arrays([pa.array(chunk[c], pa.string()) for c in names], names=names)


@contextmanager
def _said_as_csv(shown: str, encoding: str) -> Iterator[None]:
    """pandas's reading errors as :class:`ScenarioFileError`, one line naming the file and the line."""
    try:
        yield
    except pd.errors.ParserError as exc:
        raise ScenarioFileError(_parser_problem(shown, exc), path=shown) from exc
    except UnicodeError as exc:  # a forced encoding that is wrong further down (checked first, so rare)
        raise ScenarioFileError(f"{shown}: not {encoding} text: {exc}", path=shown) from exc
