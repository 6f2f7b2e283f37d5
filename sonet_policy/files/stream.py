"""Streaming a scenario file of any size through :func:`~sonet_policy.engine.evaluate.evaluate` into an answers file.

:func:`evaluate_file` reads any format the one reader reads (:mod:`sonet_policy.files.read`) batch by batch and
writes any format (:mod:`sonet_policy.files.sinks`): the input's columns as in the file, then the answer
columns, one row per non-blank input row, in order. Memory stays bounded by bytes whatever the file's size.
What people open is neutralised against spreadsheet formulas (:mod:`sonet_policy.files.guard`) unless ``raw``;
the output is written atomically (:mod:`sonet_policy.files.write`), so an error or an interrupt leaves any
earlier output as it was.

Per batch: blank rows dropped, the input columns handed to evaluate as they were read (text dictionaries become
categoricals, whose codes evaluate reads), the answers turned into dictionary arrays, the guard applied to each
column (a dictionary through its values only); one writer thread decodes, formats and writes a batch while the
next one is read and evaluated.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.arrow import AnswerArrays, blank_rows, flat_text, for_evaluate
from sonet_policy.files.encoding import ENCODINGS
from sonet_policy.files.extensions import STDIN, format_of
from sonet_policy.files.guard import neutralise, neutralise_array
from sonet_policy.files.header import ScenarioFileInfo, cut, header_map
from sonet_policy.files.read import local_file, open_source
from sonet_policy.files.read_csv import RowWidthFallback
from sonet_policy.files.read_source import ReadOptions, Source
from sonet_policy.files.sinks import open_sink
from sonet_policy.files.write import STDOUT, raise_if_interrupted


@dataclass(frozen=True, kw_only=True)
class StreamOptions:
    """How :func:`evaluate_file` reads and writes: the formats (None: by extension), the ``sheet`` of a workbook,
    a forced ``encoding``, the batch bounds (rows, bytes of the input; None: no byte budget), a BOM on a CSV
    output, ``raw`` (no formula guard), a progress bar on stderr."""

    format: str | None = None
    output_format: str | None = None
    sheet: str | None = None
    encoding: str | None = None
    chunksize: int = 200_000
    chunk_bytes: int | None = 16 << 20
    bom: bool = False
    raw: bool = False
    progress: bool = True

    def reading(self, kind: str, *, dictionaries: bool) -> ReadOptions:
        budget = self.chunk_bytes or (1 << 30)
        return ReadOptions(
            format=kind,
            sheet=self.sheet,
            encoding=self.encoding,
            chunksize=self.chunksize,
            chunk_bytes=budget,
            dictionaries=dictionaries,
        )


@dataclass
class StreamSummary:
    """What :func:`evaluate_file` did."""

    input: str
    output: str
    encoding: str
    rows: int  # rows written: every non-blank input row
    blank_lines: int  # lines with every cell empty, not written
    status: dict[str, int]
    renamed: dict[str, str]
    extra: list[str]
    rulebook_hash: str

    def __str__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.status.items())
        lines = [f"{self.rows} rows → {self.output}: {counts}"]
        lines.append(f"read {self.input} as {ENCODINGS.get(self.encoding, self.encoding)}")
        if self.renamed:
            lines.append("columns read as inputs: " + ", ".join(f"{cut(k)} → {v}" for k, v in self.renamed.items()))
        if self.extra:
            more = f" … and {len(self.extra) - 20} more" if len(self.extra) > 20 else ""
            lines.append("extra columns passed through: " + ", ".join(cut(c) for c in self.extra[:20]) + more)
        if self.blank_lines:
            lines.append(f"{self.blank_lines} blank line(s) skipped (every cell empty): not in the output")
        lines.append(f"rule book {self.rulebook_hash}")
        return "\n".join(lines)


def evaluate_file(
    input: Path | str,
    output: Path | str,
    *,
    evaluate: Callable[..., pd.DataFrame],
    chunksize: int = 200_000,
    rulebook: RuleBook | None = None,
    progress: bool = True,
    encoding: str | None = None,
    bom: bool = False,
    raw: bool = False,
    chunk_bytes: int | None = 16 << 20,
    format: str | None = None,
    output_format: str | None = None,
    sheet: str | None = None,
) -> StreamSummary:
    """Answer the scenario file ``input`` batch by batch with ``evaluate`` (called as ``evaluate(frame,
    rulebook=...)``: :func:`sonet_policy.evaluate`, which the command passes) and write ``output``: the input's
    columns (as in the file) followed by the answer columns, one row per non-blank input row, in order. An input
    column whose name is also an answer column is written as ``<name>_input`` (``<name>_input_2`` … when that
    is taken too): the output's headers are all different.

    CSV, Excel (``sheet``: a name or a number from 1) and Parquet are read and written, by extension or by
    ``format`` / ``output_format``; ``-`` is standard input or output. A batch holds at most ``chunksize`` rows
    and about ``chunk_bytes`` bytes of the file. A CSV output is UTF-8 with CRLF line ends, every text value
    quoted; ``bom`` starts it with a BOM, so that Excel opens it as UTF-8. Cells and headers a spreadsheet would
    run as formulas get a leading ``'`` unless ``raw``. A progress bar (tqdm, on stderr) shows when
    ``progress``. Raises :class:`~sonet_policy.errors.ScenarioFileError` before any row is read when a
    required column is missing, :class:`~sonet_policy.files.write.TargetError` / ``BaselineWriteError`` /
    ``OutputError`` for an output it cannot write.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> text = "area,plan,device,setup,keep_number,days,memo\\nwest,other,RV-230SE,v6plus_router,no,31,=1+1\\n"
    >>> _ = (d / "in.csv").write_text(text)
    >>> from sonet_policy import evaluate
    >>> evaluate_file(d / "in.csv", d / "out.parquet", evaluate=evaluate, progress=False).status["ok"]
    1
    >>> pd.read_parquet(d / "out.parquet")["memo"].tolist()
    ["'=1+1"]
    """
    options = StreamOptions(
        format=format,
        output_format=output_format,
        sheet=sheet,
        encoding=encoding,
        chunksize=chunksize,
        chunk_bytes=chunk_bytes,
        bom=bom,
        raw=raw,
        progress=progress,
    )
    book = rulebook or default_rulebook()
    out_kind = format_of(output, format=output_format, output=True)
    in_kind = format_of(input, format=format)
    if os.fspath(output) != STDOUT and os.fspath(input) != STDIN and Path(input).exists():
        if _same_file(Path(input), Path(output)):
            raise ScenarioFileError(f"{output}: the output would overwrite the input", path=output)
    with local_file(input, kind=in_kind) as (path, shown):
        job = _Job(
            path=path,
            shown=shown,
            output=output,
            in_kind=in_kind,
            out_kind=out_kind,
            book=book,
            answer=lambda frame: evaluate(frame, rulebook=book),
            options=options,
        )
        try:
            return _stream(job, fast=True)
        except _Restart:  # pyarrow met a row of another width: pandas reads the file (pads or names the row)
            return _stream(job, fast=False)


@dataclass(frozen=True, kw_only=True)
class _Job:
    """One stream: the input on disk and as the user named it, the output, both formats, the book, options."""

    path: Path
    shown: str
    output: Path | str
    in_kind: str
    out_kind: str
    book: RuleBook
    answer: Callable[[pd.DataFrame], pd.DataFrame]  # evaluate with the job's book
    options: StreamOptions


class _Restart(Exception):
    """The fast CSV reader gave up before anything was written for good: start again with pandas's reader."""


def _stream(job: _Job, *, fast: bool) -> StreamSummary:
    """Read, evaluate and write every batch of the job's input (see :func:`evaluate_file`)."""
    options, book = job.options, job.book
    # a CSV's inputs are parsed into dictionaries for a Parquet output (written as they are); as text otherwise
    reading = options.reading(job.in_kind, dictionaries=job.out_kind == "parquet")
    with ExitStack() as stack:
        source = stack.enter_context(open_source(job.path, job.shown, book=book, options=reading, fast=fast))
        empty = job.answer(pd.DataFrame(index=pd.RangeIndex(0)))  # the answer columns and the statuses
        answer_names = [str(c) for c in empty.columns]
        names = _output_names(source.info, answer_names)
        shown = names if options.raw else [str(neutralise(n)) for n in names]
        sink = stack.enter_context(
            open_sink(job.output, job.out_kind, shown, answers=answer_names, encoded=source.encoded, bom=options.bom)
        )
        writes = stack.enter_context(_Writes(sink.write))  # after the output: an error waits for the writes
        tally = _Tally(empty["status"].array.categories, _progress_bar(source, options.progress))
        stack.callback(tally.close)
        batch_of = _Batches(source.info, job, shown)
        try:
            for batch in source.batches:
                answered = batch_of(batch, tally)
                if answered is not None:
                    writes.submit(answered)
                raise_if_interrupted()
                tally.moved(source.position())
        except pa.ArrowException as exc:  # a value pyarrow cannot convert or write: one line naming the file
            if isinstance(exc, OSError):  # writing failed (a full disk …): the files module names the output
                raise
            said = f"{job.shown}: cannot convert a value for the output: {exc}"
            raise ScenarioFileError(said, path=job.shown) from exc
        except RowWidthFallback:
            writes.drain()
            if not sink.rewind():
                raise ScenarioFileError(
                    f"{job.shown}: a row has a different number of fields than the header; write to a file "
                    "(not standard output or a pipe) to have it read, or fix the row",
                    path=job.shown,
                ) from None
            raise _Restart() from None
        writes.drain()
    return tally.summary(job, source.info)


def _output_names(info: ScenarioFileInfo, answers: list[str]) -> list[str]:
    """The input's columns (one named like an answer column as ``<name>_input``, ``<name>_input_2`` …), then the
    answer columns."""
    taken = set(info.columns) | set(answers)
    renamed: dict[str, str] = {}
    for c in info.columns:
        if c in answers and c not in info.renamed:
            new, k = f"{c}_input", 2
            while new in taken:
                new, k = f"{c}_input_{k}", k + 1
            renamed[c] = new
            taken.add(new)
    return [renamed.get(c, c) for c in info.columns] + answers


class _Batches:
    """One read batch answered, as the output takes it (None for a batch of blank rows only)."""

    def __init__(self, info: ScenarioFileInfo, job: _Job, names: list[str]) -> None:
        mapping = header_map(info.columns, rulebook=job.book)
        self.inputs = [(k, mapping[c]) for k, c in enumerate(info.columns) if c in mapping]
        self.answer, self.names, self.out_kind, self.raw = job.answer, names, job.out_kind, job.options.raw
        self.answers = AnswerArrays()
        self.schema: Any = None

    def __call__(self, batch: Any, tally: _Tally) -> Any:
        blank = blank_rows(batch)
        if blank.any():
            batch = batch.filter(pa.array(~blank))
        tally.blank(int(blank.sum()))
        if batch.num_rows == 0:
            return None
        frame = pa.table(
            [for_evaluate(batch.column(k)) for k, _ in self.inputs], names=[name for _, name in self.inputs]
        ).to_pandas()
        answers = self.answer(frame)
        tally.add(answers["status"].array)
        arrays = [batch.column(k) for k in range(batch.num_columns)] + self.answers(answers)
        if self.out_kind != "parquet":  # lists, bytes, zoned times as text
            arrays = [flat_text(a) for a in arrays]
        if not self.raw:
            arrays = [neutralise_array(a) for a in arrays]
        if self.schema is None:
            self.schema = pa.schema([pa.field(n, a.type) for n, a in zip(self.names, arrays, strict=True)])
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _Writes:
    """One writer thread: a batch is formatted and written (pyarrow releases the GIL) while the next one is read
    and evaluated; at most two batches wait, so memory stays bounded. A write error surfaces at the next
    submit or at :meth:`drain`."""

    def __init__(self, write: Callable[[Any], None]) -> None:
        self.write = write
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sonet-write")
        self.pending: deque = deque()

    def __enter__(self) -> _Writes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.pool.shutdown(wait=True)

    def submit(self, batch: Any) -> None:
        self.pending.append(self.pool.submit(self.write, batch))
        while len(self.pending) > 1:
            self.pending.popleft().result()
        pa.default_memory_pool().release_unused()  # pyarrow keeps freed batches otherwise (15-20 MB of peak RSS)

    def drain(self) -> None:
        while self.pending:
            self.pending.popleft().result()


class _Tally:
    """Rows, blank rows and statuses counted as the stream goes; the progress bar moved."""

    def __init__(self, statuses: Any, bar: Any) -> None:
        self.counts = dict.fromkeys((str(s) for s in statuses), 0)
        self.rows, self.blanks, self.bar = 0, 0, bar

    def blank(self, n: int) -> None:
        self.blanks += n

    def add(self, status: Any) -> None:
        self.rows += len(status)
        found = np.bincount(status.codes[status.codes >= 0], minlength=len(status.categories))
        for k, name in enumerate(status.categories):
            self.counts[str(name)] = self.counts.get(str(name), 0) + int(found[k])

    def moved(self, position: int) -> None:
        if self.bar is not None:
            self.bar.update(position - self.bar.n)
            self.bar.set_postfix(rows=self.rows, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def summary(self, job: _Job, info: ScenarioFileInfo) -> StreamSummary:
        return StreamSummary(
            input=job.shown,
            output=str(job.output) if os.fspath(job.output) != STDOUT else "standard output",
            encoding=info.encoding,
            rows=self.rows,
            blank_lines=self.blanks,
            status=self.counts,
            renamed=info.renamed,
            extra=info.extra,
            rulebook_hash=job.book.hash,
        )


def _progress_bar(source: Source, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return None
    stream = getattr(sys.stderr, "terminal", sys.stderr)  # the raw terminal under the CLI's inert wrapper
    return tqdm(total=source.total, unit=source.unit, unit_scale=True, unit_divisor=1024, file=stream, desc="evaluate")


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (links, ``..`` and bind mounts included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
