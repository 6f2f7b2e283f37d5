"""The one reader of customer files: CSV (any Japanese encoding), Excel, Parquet, standard input and uploaded bytes.

* :func:`read_scenarios` reads a whole file (a path, ``-``, or the bytes of an upload with its name) into a frame
  that :func:`~sonet_policy.engine.evaluate.evaluate` takes; :func:`inspect_file` reads only its header;
  :func:`open_source` opens it for streaming (:mod:`sonet_policy.files.stream`). The format follows the
  extension (:func:`sonet_policy.files.extensions.format_of`).

Whatever the format: headers are mapped onto the inputs (Japanese too: :mod:`sonet_policy.files.header`), every
cell is text and stays data (nothing read is ever executed), rows whose every cell is empty are dropped and
counted, extra columns are kept, and a row is named by the row a spreadsheet shows
(:mod:`sonet_policy.files.read_source`): a CSV's header is line 1, a workbook's rows as Excel numbers them, a
Parquet file's first data row is 2. A file that cannot be read is :class:`ScenarioFileError`, one line naming
the file (and sheet, row or line) as the user named it: standard input and uploads are read from a private
temporary copy whose path no message shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.arrow import as_text, blank_rows
from sonet_policy.files.extensions import STDIN, format_of
from sonet_policy.files.header import ScenarioFileInfo
from sonet_policy.files.read_csv import RowWidthFallback, csv_source
from sonet_policy.files.read_excel import xlsx_source
from sonet_policy.files.read_parquet import parquet_source
from sonet_policy.files.read_source import ReadOptions, Source

_MAGIC = {b"PK\x03\x04": ("an Excel workbook", "xlsx"), b"PAR1": ("a Parquet file", "parquet")}


def read_scenarios(
    source: Path | str | bytes,
    *,
    name: str | None = None,
    format: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    rulebook: RuleBook | None = None,
) -> pd.DataFrame:
    """A whole scenario file as a frame for :func:`~sonet_policy.engine.evaluate.evaluate`: ``source`` is a path,
    ``-`` (standard input) or the bytes of an uploaded file called ``name`` (its format from its name, or from its
    first bytes when they are a workbook or a Parquet file).

    Inputs are renamed from their headers, blank rows dropped (counted in ``attrs["blank_lines"]``), extra
    columns kept, every cell text (a Parquet ``True`` is ``true``, a missing value empty). The index, named
    ``row``, is the row a spreadsheet shows. ``attrs["scenario_file"]`` is the
    :class:`~sonet_policy.files.header.ScenarioFileInfo`. Raises :class:`ScenarioFileError` naming the file as
    the user named it.

    >>> text = "エリア,プラン,機器名,利用環境,番号継続,memo\\n西,other,RV-230SE,v6plus_router,no,x\\n,,,,,\\n東,,,,,\\n"
    >>> frame = read_scenarios(text.encode("cp932"), name="顧客.csv")
    >>> frame.attrs["scenario_file"].encoding, list(frame.columns), frame.index.tolist(), frame.attrs["blank_lines"]
    ('cp932', ['area', 'plan', 'device', 'setup', 'keep_number', 'memo'], [2, 4], 1)
    """
    book = rulebook or default_rulebook()
    kind = _kind_of(source, name=name, format=format)
    options = ReadOptions(format=kind, sheet=sheet, encoding=encoding)
    with local_file(source, name=name, kind=kind) as (path, shown):
        try:
            return _read_frame(path, shown, book=book, options=options, fast=True)
        except RowWidthFallback:  # a row of another width: pandas pads a short one, names a long one
            return _read_frame(path, shown, book=book, options=options, fast=False)


def inspect_file(
    path: Path | str, *, rulebook: RuleBook | None = None, encoding: str | None = None
) -> ScenarioFileInfo:
    """Read only the header of the scenario file ``path``: the encoding (or sheet, or Parquet), the column
    mapping, the extra columns. Raises :class:`ScenarioFileError` naming the file and the column when a
    required input is missing (or named twice), or when the file cannot be read; no rows are read.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("エリア,plan,device,setup,keep_number,memo\\n")
    >>> inspect_file(p).extra
    ['memo']
    """
    kind = format_of(path)
    options = ReadOptions(format=kind, encoding=encoding)
    with local_file(path, kind=kind) as (real, shown):
        with open_source(real, shown, book=rulebook or default_rulebook(), options=options) as source:
            return source.info


def _kind_of(source: Path | str | bytes, *, name: str | None, format: str | None) -> str:
    if not isinstance(source, bytes):
        return format_of(source, format=format)
    kind = format_of(name or "upload", format=format)
    if format is None and kind == "csv" and source[:4] in _MAGIC:  # an upload has no --format to give
        return _MAGIC[source[:4]][1]
    return kind


@contextmanager
def local_file(source: Path | str | bytes, *, kind: str, name: str | None = None) -> Iterator[tuple[Path, str]]:
    """Yields ``(a path to read, the name messages give it)``: a file as it is, or a private temporary copy of
    standard input (``-``) or of uploaded bytes (``name``), removed afterwards. Raises
    :class:`ScenarioFileError` for a path that is not a regular file and when standard input is closed.

    >>> with local_file("customers.csv", kind="csv") as (path, shown):
    ...     shown
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: customers.csv: no such file; give a csv file
    """
    if not isinstance(source, bytes) and os.fspath(source) != STDIN:
        path = Path(source)
        if not path.is_file():
            what = "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file"
            raise ScenarioFileError(f"{path}: {what}; give a {kind} file", path=path)
        yield path, str(path)
        return
    shown = (name or "upload") if isinstance(source, bytes) else "standard input"
    stream = None if isinstance(source, bytes) else getattr(sys.stdin, "buffer", None)
    if stream is None and not isinstance(source, bytes):
        raise ScenarioFileError("standard input is closed or not readable; give --input a file", path=STDIN)
    with tempfile.TemporaryDirectory(prefix="sonet-input-") as folder:
        copy = Path(folder) / f"input.{kind}"
        with open(copy, "wb") as out:
            if isinstance(source, bytes):
                out.write(source)
            else:
                shutil.copyfileobj(stream, out, 1 << 20)
        yield copy, shown


@contextmanager
def open_source(path: Path, shown: str, *, book: RuleBook, options: ReadOptions, fast: bool = True) -> Iterator[Source]:
    """The scenario file ``path`` (named ``shown`` in messages) opened for streaming in the format
    ``options.format``: yields a :class:`~sonet_policy.files.read_source.Source` (the header's info, the rows
    as pyarrow record batches in the file's order). ``fast``: a CSV is read by pyarrow where it can (it raises
    :class:`~sonet_policy.files.read_csv.RowWidthFallback` at a row of another width). Raises
    :class:`ScenarioFileError` naming ``shown`` (and sheet, row or line), never a temporary path.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_text("area,plan,device,setup,keep_number,memo\\nwest,other,RV-230SE,v6plus_router,no,x\\n")
    >>> with open_source(p, str(p), book=default_rulebook(), options=ReadOptions(format="csv")) as source:
    ...     source.info.extra, sum(batch.num_rows for batch in source.batches)
    (['memo'], 1)
    """
    kind = options.format or format_of(path)
    try:
        _check_options(path, shown, kind, options)
        if kind == "xlsx":
            source = xlsx_source(path, shown=shown, book=book, options=options)
        elif kind == "parquet":
            source = parquet_source(path, shown=shown, book=book, options=options)
        else:
            source = csv_source(path, shown=shown, book=book, options=options, fast=fast)
        try:
            yield source
        finally:
            source.batches.close()
    except ScenarioFileError as exc:
        if str(path) == shown:
            raise
        said = str(exc).replace(str(path), shown).replace(str(path.parent), "")
        raise ScenarioFileError(said, path=shown, field=exc.field) from None


def _check_options(path: Path, shown: str, kind: str, options: ReadOptions) -> None:
    if kind != "csv" and options.encoding:
        raise ScenarioFileError(f"{shown}: --encoding applies to CSV files, not {kind}", path=shown)
    if kind != "xlsx" and options.sheet is not None:
        raise ScenarioFileError(f"{shown}: --sheet applies to Excel workbooks, not {kind}", path=shown)
    if kind == "csv":
        with open(path, "rb") as handle:
            magic = handle.read(4)
        if magic in _MAGIC:
            what, flag = _MAGIC[magic]
            raise ScenarioFileError(f"{shown}: {what}, not CSV text; give --format {flag}", path=shown)


def _read_frame(path: Path, shown: str, *, book: RuleBook, options: ReadOptions, fast: bool) -> pd.DataFrame:
    """Every row of the file as text, blank rows dropped, indexed by the row a spreadsheet shows."""
    with open_source(path, shown, book=book, options=options, fast=fast) as source:
        info, parts, kept, seen, blanks = source.info, [], [], 0, 0
        for batch in source.batches:
            blank = blank_rows(batch)
            blanks += int(blank.sum())
            kept.append(np.flatnonzero(~blank) + seen)  # positions among every record after the header
            seen += batch.num_rows
            batch = batch.filter(pa.array(~blank)) if blank.any() else batch
            parts.append(pa.RecordBatch.from_arrays([as_text(c) for c in batch.columns], names=batch.schema.names))
    names = [info.renamed.get(c, c) for c in info.columns]
    if parts:
        frame = pa.Table.from_batches(parts).to_pandas().set_axis(names, axis=1)
    else:
        frame = pd.DataFrame({n: pd.Series(dtype="str") for n in names})
    positions = np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
    frame.index = pd.Index(positions.astype(np.int64) + source.first_row, name="row")
    frame.attrs["scenario_file"] = info
    frame.attrs["blank_lines"] = blanks
    return frame
