"""Scenario files as people have them: encodings, header aliases, blank lines, extra columns, big files.

* :func:`detect_encoding` tells UTF-8 (with or without BOM) from Shift_JIS/CP932 (what Excel writes on a
  Japanese Windows machine).
* :func:`inspect_file` reads only the header: it maps Japanese and loosely typed column names onto the
  inputs (the names ``inputs.csv`` gives them: the input, its labels, its ``header_aliases``)
  and reports a missing required column before any work is done.
* :func:`read_scenarios` reads a whole file into a frame that :func:`~sonet_policy.engine.evaluate.evaluate` takes.
* :func:`evaluate_file` streams a file of any size in chunks through ``evaluate`` into an answers CSV, written
  to a temporary file and renamed at the end, so an interrupt never leaves a half-written answers file.

Every cell is read as text and stays data: nothing read from a file is ever executed.
"""

from __future__ import annotations

import codecs
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError

ENCODINGS = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp932": "Shift_JIS (CP932)"}
_SAMPLE = 1 << 22  # bytes read at a time to detect the encoding (the whole file is read)
# RFC 4180 line ends: Python's csv writer quotes a cell holding a line-end character only when that character
# is part of the line terminator, so with "\n" a lone "\r" in a cell (pasted from Excel) would split the row.
_EOL = "\r\n"


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return "_".join(text.replace("-", " ").split())


def _first_bad_byte(path: Path | str, encoding: str) -> tuple[int, int, str] | None:
    """``(line, byte offset, what)`` of the first bytes of ``path`` that are not ``encoding`` text; None when the
    whole file decodes. Reads the file in blocks of :data:`_SAMPLE` bytes (memory stays bounded)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, offset = 1, 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_SAMPLE)
            pending = decoder.getstate()[0]
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:  # exc.object is the pending bytes and this block
                before = exc.object[: exc.start]
                line = lines - pending.count(b"\n") + before.count(b"\n")
                bad = exc.object[exc.start : exc.start + 1]
                return line, offset - len(pending) + exc.start, f"byte 0x{bad.hex() or '??'}: {exc.reason}"
            except UnicodeError as exc:  # e.g. a UTF-16 stream without a BOM
                return lines, offset, str(exc)
            if not block:
                return None
            lines += block.count(b"\n")
            offset += len(block)


def detect_encoding(path: Path | str) -> str:
    """``utf-8-sig`` (UTF-8 with a BOM), ``utf-8`` (also plain ASCII) or ``cp932`` (Shift_JIS as Windows writes it).

    Reads the whole file (in blocks, memory stays bounded), so a CP932 character after megabytes of ASCII is
    found. Raises :class:`ScenarioFileError` naming the file and the line when the bytes are none of these.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes("エリア,プラン\\n".encode("cp932"))
    >>> detect_encoding(p)
    'cp932'
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    wide = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if wide or head[:200].count(b"\0") > len(head[:200]) // 4:  # UTF-16 without a BOM: every other byte NUL
        raise ScenarioFileError(f"{path}: the file is UTF-16; save it as CSV UTF-8 or CSV (Shift_JIS)", path=path)
    candidates = ("utf-8-sig",) if head.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    first = None
    for encoding in candidates:
        bad = _first_bad_byte(path, encoding)
        if bad is None:
            return encoding
        first = first or bad
    line, offset, what = first
    raise ScenarioFileError(
        f"{path}, line {line}: the file is neither UTF-8 nor Shift_JIS/CP932 text ({what} at byte {offset}); it may "
        "mix encodings: save it again as CSV UTF-8, or give --encoding",
        path=path,
    )


def check_encoding(path: Path | str, encoding: str) -> str:
    """``encoding`` when the whole of ``path`` is text in it; otherwise raises :class:`ScenarioFileError` with the
    line of the first bad bytes and the encoding the file reads as (``--encoding cp932`` …), if any.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes("area\\nエリア\\n".encode("cp932"))
    >>> check_encoding(p, "utf-8")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: ...s.csv, line 2: not utf-8 text (byte 0x83: ...): use ...
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ScenarioFileError(
            f"unknown encoding {encoding!r}; use utf-8, utf-8-sig or cp932 (or leave --encoding out)", path=path
        ) from None
    bad = _first_bad_byte(path, encoding)
    if bad is None:
        return encoding
    line, _offset, what = bad
    try:
        found = detect_encoding(path)
        hint = f"; it reads as {ENCODINGS[found]}: use --encoding {found}"
    except ScenarioFileError:
        hint = ""
    raise ScenarioFileError(f"{path}, line {line}: not {encoding} text ({what}){hint}", path=path)


def _parser_problem(path: Path | str, exc: Exception) -> str:
    """A CSV parser error as one line naming the file and the line."""
    text = str(exc)
    quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if quote:
        line = int(quote.group(1)) + 1
        return (
            f'{path}, line {line}: a quoted value is never closed (a " opens it and no " ends it before the end of '
            'the file); close the quote, or double a " that is part of the text'
        )
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        expected, line, saw = fields.groups()
        return f"{path}, line {line}: {saw} fields where the header has {expected}; quote commas inside a value"
    return f"{path}: cannot read as CSV: {text}"


@dataclass
class ScenarioFileInfo:
    """What :func:`inspect_file` found: the encoding, how each header maps to an input, the extra columns."""

    path: str
    encoding: str
    columns: list[str]  # as in the file
    renamed: dict[str, str]  # file header -> input name, where they differ
    extra: list[str]  # columns that are not inputs: passed through to the output
    missing_optional: list[str] = field(default_factory=list)


def header_map(columns: list[str], *, rulebook: RuleBook | None = None) -> dict[str, str]:
    """The input each column names (columns that name none are left out).

    >>> header_map(["エリア", " Plan ", "機器名", "keep-number", "memo"])
    {'エリア': 'area', ' Plan ': 'plan', '機器名': 'device', 'keep-number': 'keep_number'}
    """
    book = rulebook or default_rulebook()
    lookup = book.header_lookup()  # the names inputs.csv gives each input (name, labels, header_aliases)
    return {c: lookup[_key(c)] for c in columns if _key(c) in lookup and lookup[_key(c)] in book.inputs}


def inspect_file(
    path: Path | str, *, rulebook: RuleBook | None = None, encoding: str | None = None
) -> ScenarioFileInfo:
    """Read only the header of ``path``: the encoding, the column mapping, the extra columns.

    Raises :class:`ScenarioFileError` naming the file and the column when a required input is missing (or
    named twice), or when the file cannot be read; no rows are read.
    """
    book = rulebook or default_rulebook()
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise ScenarioFileError(
                f"{path}: not a regular file (a folder, FIFO or device); give a CSV file", path=path
            )
        raise ScenarioFileError(f"{path}: no such file", path=path)
    forced = encoding
    encoding = check_encoding(path, encoding) if encoding else detect_encoding(path)
    try:
        header = pd.read_csv(path, nrows=0, dtype=str, encoding=encoding).columns
        raw = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding=encoding)
    except pd.errors.EmptyDataError as exc:
        raise ScenarioFileError(f"{path}: the file is empty (no header line)", path=path) from exc
    except pd.errors.ParserError as exc:
        raise ScenarioFileError(_parser_problem(path, exc), path=path) from exc
    except UnicodeError as exc:
        raise ScenarioFileError(f"{path}: cannot read the header as {encoding} text: {exc}", path=path) from exc
    hint = ""
    if forced:
        try:
            found = detect_encoding(path)
        except ScenarioFileError:
            found = forced
        if codecs.lookup(found).name != codecs.lookup(forced).name:
            hint = f" (read as {forced}; the file reads as {ENCODINGS[found]}: leave --encoding out)"
    return header_info(
        str(path),
        [str(c) for c in header],
        rulebook=book,
        encoding=encoding,
        raw=[str(v) for v in raw.iloc[0]],
        hint=hint,
    )


def header_info(
    where: str,
    columns: list[str],
    *,
    rulebook: RuleBook,
    encoding: str,
    raw: list[str] | None = None,
    hint: str = "",
) -> ScenarioFileInfo:
    """Check the header ``columns`` of a scenario source named ``where`` (a file, a sheet, a Parquet schema):
    no name twice (``raw``: the names as written, before a reader renamed duplicates), no input named by two
    columns, every required input present (``hint`` is added to that message). Returns the
    :class:`ScenarioFileInfo`; raises :class:`ScenarioFileError` naming ``where`` and the columns.

    >>> header_info("s.csv", ["エリア", "memo", "memo"], rulebook=default_rulebook(), encoding="utf-8")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: s.csv: columns 2 and 3 are both named 'memo'; rename or remove one
    """
    book = rulebook
    seen: dict[str, int] = {}
    for k, name in enumerate(raw if raw is not None else columns):
        if name.strip() and name in seen:  # pandas would rename the second one and the input would be lost
            raise ScenarioFileError(
                f"{where}: columns {seen[name] + 1} and {k + 1} are both named {_cut(name)!r}; rename or remove one",
                path=where,
                field=name,
            )
        seen[name] = k
    mapping = header_map(columns, rulebook=book)
    named: dict[str, list[str]] = {}
    for col, name in mapping.items():
        named.setdefault(name, []).append(col)
    for name, cols in named.items():
        if len(cols) > 1:
            raise ScenarioFileError(
                f"{where}: columns {', '.join(repr(_cut(c)) for c in cols)} all name the input {name!r}; keep one",
                path=where,
                field=name,
            )
    required = [n for n, spec in book.inputs.items() if spec.required]
    missing = [n for n in required if n not in named]
    if missing:
        labels = {n: book.inputs[n].label_ja for n in missing}
        wanted = ", ".join(f"{n!r} ({labels[n]})" if labels[n] else repr(n) for n in missing)
        raise ScenarioFileError(
            f"{where}: required column {wanted} is missing; it has "
            f"{', '.join(repr(_cut(c)) for c in columns[:20]) or 'none'}{hint}",
            path=where,
            field=missing[0],
        )
    return ScenarioFileInfo(
        path=where,
        encoding=encoding,
        columns=columns,
        renamed={c: n for c, n in mapping.items() if c != n},
        extra=[c for c in columns if c not in mapping],
        missing_optional=[n for n in book.inputs if n not in named and n not in required],
    )


def _chunks(
    path: Path, info: ScenarioFileInfo, chunksize: int, handle=None, *, chunk_bytes: int | None = None
) -> Iterator[pd.DataFrame]:
    """The file's rows in chunks of at most ``chunksize`` rows and, when ``chunk_bytes`` and the open binary
    ``handle`` are given, of about ``chunk_bytes`` bytes of the file (the rows per chunk follow the bytes per
    row read so far; the first chunk is small)."""
    reader = pd.read_csv(
        handle if handle is not None else path,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        encoding=info.encoding,
        skip_blank_lines=False,
        iterator=True,
    )
    by_bytes = chunk_bytes is not None and handle is not None
    size, rows, start = (min(chunksize, 128) if by_bytes else chunksize), 0, handle.tell() if by_bytes else 0
    with reader:
        while True:
            try:
                chunk = reader.get_chunk(size)
            except StopIteration:
                return
            except pd.errors.ParserError as exc:
                raise ScenarioFileError(_parser_problem(path, exc), path=path) from exc
            except UnicodeError as exc:  # a forced encoding that is wrong further down (checked first, so rare)
                raise ScenarioFileError(f"{path}: not {info.encoding} text: {exc}", path=path) from exc
            if not isinstance(chunk.index, pd.RangeIndex):  # pandas took the extra leading fields as an index
                raise ScenarioFileError(
                    f"{path}: a row has more fields than the header ({len(info.columns)} columns); quote commas "
                    "inside a value",
                    path=path,
                )
            rows += len(chunk)
            if by_bytes and rows:
                per_row = max(handle.tell() - start, 1) / rows  # the parser reads ahead: an overestimate
                size = max(1, min(chunksize, int(chunk_bytes / per_row)))
            yield chunk


def _prepare(chunk: pd.DataFrame, info: ScenarioFileInfo) -> tuple[pd.DataFrame, int]:
    """Drop blank lines (every cell empty); rename input columns. Returns the frame and the blanks dropped."""
    filled = chunk.ne("").any(axis=1) if len(chunk.columns) else pd.Series(False, index=chunk.index)
    blanks = int((~filled).sum())
    if blanks:
        chunk = chunk.loc[filled]
    chunk.index = chunk.index + 2  # the line a spreadsheet shows (header = 1), one line per record
    chunk.index.name = "line"
    return chunk.rename(columns=info.renamed), blanks


def read_scenarios(path: Path | str, *, rulebook: RuleBook | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a scenario CSV as people have it, ready for :func:`~sonet_policy.engine.evaluate.evaluate`.

    UTF-8 with or without BOM and Shift_JIS/CP932 are detected (``encoding`` forces one); Japanese and loosely
    typed headers are renamed to the inputs (:func:`header_map`); blank lines (every cell empty) are dropped;
    extra columns are kept as they are. Every cell is text. The index is the file's line number (header = 1).
    ``frame.attrs["scenario_file"]`` holds the :class:`ScenarioFileInfo`, ``frame.attrs["blank_lines"]`` the
    number of blank lines dropped. Raises :class:`ScenarioFileError` for a missing required column.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> text = "エリア,プラン,機器名,利用環境,番号継続,memo\\n西,other,RV-230SE,v6plus_router,no,x\\n\\n"
    >>> _ = p.write_bytes(text.encode("cp932"))
    >>> frame = read_scenarios(p)
    >>> frame.attrs["scenario_file"].encoding, list(frame.columns), frame.attrs["blank_lines"]
    ('cp932', ['area', 'plan', 'device', 'setup', 'keep_number', 'memo'], 1)
    """
    from sonet_policy.files.formats import format_of, read_frame

    if format_of(path) != "csv":  # an Excel workbook or a Parquet file
        return read_frame(path, rulebook=rulebook, encoding=encoding)
    info = inspect_file(path, rulebook=rulebook, encoding=encoding)
    parts, blanks = [], 0
    for chunk in _chunks(Path(path), info, 1 << 20):
        frame, dropped = _prepare(chunk, info)
        parts.append(frame)
        blanks += dropped
    frame = pd.concat(parts) if parts else pd.DataFrame(columns=[info.renamed.get(c, c) for c in info.columns])
    frame.attrs["scenario_file"] = info
    frame.attrs["blank_lines"] = blanks
    return frame


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
            lines.append("columns read as inputs: " + ", ".join(f"{_cut(k)} → {v}" for k, v in self.renamed.items()))
        if self.extra:
            more = f" … and {len(self.extra) - 20} more" if len(self.extra) > 20 else ""
            lines.append("extra columns passed through: " + ", ".join(_cut(c) for c in self.extra[:20]) + more)
        if self.blank_lines:
            lines.append(f"{self.blank_lines} blank line(s) skipped (every cell empty): not in the output")
        lines.append(f"rule book {self.rulebook_hash}")
        return "\n".join(lines)


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is optional
        return None
    stream = getattr(sys.stderr, "terminal", sys.stderr)  # the raw terminal under the CLI's inert wrapper
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=stream, desc="evaluate")


def evaluate_file(
    input: Path | str,
    output: Path | str,
    *,
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
    """Evaluate the scenario file ``input`` batch by batch and write ``output``: the input's columns (as in the
    file) followed by the answer columns of :func:`~sonet_policy.engine.evaluate.evaluate`, one row per non-blank
    input row, in order. An input column whose name is also an answer column is written as ``<name>_input``
    (``<name>_input_2`` … when that is taken too): the output's headers are all different.

    CSV, Excel (``sheet``: a name or a number from 1) and Parquet are read and written, by extension or by
    ``format`` / ``output_format``; ``-`` is standard input or output (:mod:`sonet_policy.files.formats`). Memory
    stays bounded whatever the file's size: a batch holds at most ``chunksize`` rows and about ``chunk_bytes``
    bytes of the file. The output is written through :func:`sonet_policy.files.write.open_output`: a temporary file
    renamed when every row is written (an error or an interrupt leaves any earlier ``output`` as it was; the
    baseline is refused). A CSV output is UTF-8 with CRLF line ends, every text value quoted; ``bom`` starts it
    with a BOM, so that Excel opens it as UTF-8. Cells and headers a spreadsheet would run as formulas get a
    leading ``'`` unless ``raw`` (:func:`sonet_policy.files.write.neutralise`). A progress bar (tqdm, on stderr)
    shows when ``progress``. Raises :class:`ScenarioFileError` before any row is read when a required column is
    missing, :class:`~sonet_policy.files.write.TargetError` / ``BaselineWriteError`` / ``OutputError`` for an
    output it cannot write.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> text = "area,plan,device,setup,keep_number,days,memo\\nwest,other,RV-230SE,v6plus_router,no,31,x\\n"
    >>> _ = (d / "in.csv").write_text(text)
    >>> evaluate_file(d / "in.csv", d / "out.csv", progress=False).status["ok"]
    1
    """
    from sonet_policy.files.formats import evaluate_stream

    return evaluate_stream(
        input,
        output,
        format=format,
        output_format=output_format,
        sheet=sheet,
        chunksize=chunksize,
        rulebook=rulebook,
        progress=progress,
        encoding=encoding,
        bom=bom,
        raw=raw,
        chunk_bytes=chunk_bytes,
    )


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file (links, ``..`` and bind mounts included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()
