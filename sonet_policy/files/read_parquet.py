"""The Parquet backend of the one reader: a Parquet file as record batches, row group by row group.

The text columns that name inputs are read as dictionaries (one per row group, decoded from the file's own
dictionary pages without building a string per row): evaluate reads them from their codes. Rows are numbered as
a spreadsheet would show the same table: the header is row 1, the first data row 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.arrow import is_text
from sonet_policy.files.header import header_info, header_map
from sonet_policy.files.read_source import ReadOptions, Source

# bytes in memory of a Parquet batch, at most: the rows are read as Arrow data, without the copies parsing text
# costs, so a batch can hold more (and evaluate's cost per batch is spread over more rows)
_PARQUET_BATCH = 8 << 20


def parquet_source(path: Path, *, shown: str, book: RuleBook, options: ReadOptions) -> Source:
    """The Parquet file ``path`` opened for streaming. Raises :class:`ScenarioFileError` naming the file when
    pyarrow cannot read it or a required column is missing."""
    reader = _open(path, shown)
    declared = reader.schema_arrow
    columns = [str(n) for n in declared.names]
    info = header_info(shown, columns, rulebook=book, encoding="Parquet")
    inputs = header_map(columns, rulebook=book)
    text = [c for c, f in zip(columns, declared, strict=True) if c in inputs and is_text(f.type)]
    if text:
        reader.close()
        reader = _open(path, shown, read_dictionary=text)
    size = max(1, min(options.chunksize, int(min(options.chunk_bytes, _PARQUET_BATCH) / _bytes_per_row(reader))))
    state = {"rows": 0}
    encoded = {k: f.type for k, f in enumerate(declared) if f.name in text}
    batches = _batches(reader, size, state, shown)
    return Source(info, batches, reader.metadata.num_rows, lambda: state["rows"], unit="rows", encoded=encoded)


def _open(path: Path, shown: str, **options: Any) -> Any:
    try:
        return pq.ParquetFile(path, **options)
    except (pa.ArrowException, OSError) as exc:
        raise ScenarioFileError(f"{shown}: not a Parquet file pyarrow can read: {exc}", path=shown) from exc


def _bytes_per_row(reader: Any) -> float:
    """Bytes in memory per row, measured on the first rows (the file's sizes are compressed)."""
    if reader.metadata.num_rows:
        try:
            sample = next(reader.iter_batches(batch_size=1_000, use_threads=False))
            return max(8.0, sample.nbytes / max(sample.num_rows, 1))
        except (StopIteration, pa.ArrowException):
            pass
    return 64.0


def _batches(reader: Any, size: int, state: dict, shown: str) -> Iterator[Any]:
    """Batches of at most ``size`` rows. A batch never spans row groups in pyarrow: the batches of consecutive
    row groups are joined up to ``size`` rows (evaluate's cost per batch is then spread over more rows)."""
    try:
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


def _joined(batches: list, state: dict) -> Any:
    """One record batch of ``batches`` (same schema), dictionary columns unified; counts its rows in ``state``."""
    if len(batches) == 1:
        batch = batches[0]
    else:
        table = pa.Table.from_batches(batches).unify_dictionaries().combine_chunks()
        batch = pa.RecordBatch.from_arrays([c.chunk(0) for c in table.columns], schema=table.schema)
    state["rows"] += batch.num_rows
    return batch
