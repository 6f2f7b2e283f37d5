"""Where a stream of answered batches goes: a CSV, a Parquet file or a workbook, written through the file boundary.

:func:`open_sink` yields an object with ``write(batch)`` (called from one writer thread, batch after batch) and
``rewind()`` (empty what was written, for a restart). The target becomes the output only when the block ends
well (:mod:`sonet_policy.files.write`: a temporary file renamed; ``-`` standard output; never the baseline); an
error leaves any earlier file as it was.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from sonet_policy.files.arrow import plain
from sonet_policy.files.write import open_output, write_back_soon
from sonet_policy.files.write_excel import XlsxWriter

_EOL = "\r\n"  # RFC 4180: a lone CR inside a value (pasted from Excel) is quoted, never a row end


@contextmanager
def open_sink(
    output: Path | str, kind: str, names: list[str], *, answers: list[str], encoded: dict, bom: bool
) -> Iterator[Any]:
    """A sink writing ``output`` in format ``kind`` (``csv``, ``parquet``, ``xlsx``) with the column ``names``,
    of which ``answers`` are the answer columns and ``encoded`` (position -> type) the input columns read as
    dictionaries; ``bom`` starts a CSV with a UTF-8 BOM."""
    if kind == "xlsx":
        sink = _XlsxSink(XlsxWriter(str(output)), names)
        try:
            yield sink
            sink.writer.save(output)
        except BaseException:
            sink.writer.discard()
            raise
        return
    with open_output(output, binary=True) as out:
        if kind == "csv":
            sink = _CsvSink(out, names, bom=bom)
        else:
            sink = _ParquetSink(out, names, answers, encoded=encoded)
        yield sink
        sink.close()


class _CsvSink:
    """UTF-8 CSV, CRLF line ends: the header by Python's csv module, the rows by pyarrow's writer (every text
    value quoted, so a CR or LF inside a value never splits a row). A pyarrow without the ``eol`` option (before
    version 19) has the rows written by pandas, with the same quoting of CR and LF."""

    def __init__(self, out: Any, names: list[str], *, bom: bool) -> None:
        self.out, self.writer = out, None
        buf = io.StringIO()
        csv.writer(buf, lineterminator=_EOL).writerow(names)
        out.write((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))

    def write(self, batch: Any) -> None:
        # text dictionaries decoded here, once per batch: pyarrow's CSV writer decodes them slowly, slice by slice
        batch = pa.RecordBatch.from_arrays([plain(c) for c in batch.columns], names=batch.schema.names)
        if self.writer is None:
            try:
                options = pcsv.WriteOptions(include_header=False, eol=_EOL)
            except TypeError:  # pyarrow < 19
                self.writer = False
            else:
                self.writer = pcsv.CSVWriter(self.out, batch.schema, write_options=options)
        if self.writer is False:
            frame = batch.to_pandas()
            self.out.write(frame.to_csv(index=False, header=False, lineterminator=_EOL).encode("utf-8"))
        else:
            self.writer.write_batch(batch)
        write_back_soon(self.out)

    def rewind(self) -> bool:
        return _rewind(self.out)

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

    def __init__(self, out: Any, names: list[str], answers: list[str], *, encoded: dict) -> None:
        self.out, self.names, self.writer, self.answers = out, names, None, set(answers)
        self.encoded = encoded
        self.declared = None  # the schema the file declares (the input columns as text), when it differs

    def write(self, batch: Any) -> None:
        direct = hasattr(pq.ParquetWriter, "add_key_value_metadata")
        if self.encoded and not direct:  # here, in the writer's thread, beside the reading of the next batch
            arrays = [batch.column(k) for k in range(batch.num_columns)]
            for k, type_ in self.encoded.items():
                if pa.types.is_dictionary(arrays[k].type):
                    arrays[k] = arrays[k].cast(type_)
            batch = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)
        if self.writer is None:
            self._open(batch.schema, direct)
        self.writer.write_batch(batch)
        write_back_soon(self.out)

    def _open(self, schema: Any, direct: bool) -> None:
        coded = [
            n
            for k, n in enumerate(schema.names)
            if n in self.answers or k in self.encoded or pa.types.is_dictionary(schema.field(k).type)
        ]
        fields = [
            f.with_type(self.encoded[k]) if k in self.encoded and pa.types.is_dictionary(f.type) else f
            for k, f in enumerate(schema)
        ]
        declared = pa.schema(fields, metadata=schema.metadata)
        if direct and not declared.equals(schema):
            self.declared = declared
        self.writer = pq.ParquetWriter(
            self.out,
            schema,
            compression="snappy",
            write_statistics=False,
            use_dictionary=coded,
            store_schema=self.declared is None,
        )

    def rewind(self) -> bool:
        return _rewind(self.out)

    def close(self) -> None:
        if self.writer is None:  # no row: still a valid file with the columns, as text
            self.write(pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in self.names], names=self.names))
        if self.declared is not None:  # what store_schema would write, for the declared types
            schema = base64.b64encode(self.declared.serialize().to_pybytes()).decode("ascii")
            self.writer.add_key_value_metadata({"ARROW:schema": schema})
        self.writer.close()


class _XlsxSink:
    def __init__(self, writer: XlsxWriter, names: list[str]) -> None:
        self.writer = writer
        writer.add_sheet("answers", names)

    def write(self, batch: Any) -> None:
        columns = [batch.column(k).to_pylist() for k in range(batch.num_columns)]
        for row in zip(*columns, strict=True):
            self.writer.append(list(row))

    def rewind(self) -> bool:
        return True  # nothing reaches the target before the workbook is saved


def _rewind(out: Any) -> bool:
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
