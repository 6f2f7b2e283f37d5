"""The encoding of a CSV file as people have it: UTF-8 (with or without BOM) or Shift_JIS/CP932 (what Excel writes on
a Japanese Windows machine), decided on the whole file before any row is read.

:func:`scan_text` reads the file once in blocks (memory stays bounded): it checks that every byte is text in the
encoding (UTF-8 at the speed of pyarrow's validator, other encodings with Python's decoder) and counts the
``"`` bytes on the way, which says whether every quoted value is closed. Only when the bytes are not text does a
second, slower pass find the line of the first bad byte for the message.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from sonet_policy.errors import ScenarioFileError

ENCODINGS = {"utf-8-sig": "UTF-8 with BOM", "utf-8": "UTF-8", "cp932": "Shift_JIS (CP932)"}
_SAMPLE = 1 << 22  # bytes read at a time


@dataclass(frozen=True)
class TextScan:
    """What :func:`scan_text` found: the encoding, and whether the file holds an even number of ``"`` bytes
    (every quoted value closed)."""

    encoding: str
    quotes_balanced: bool


def scan_text(path: Path | str, encoding: str | None = None) -> TextScan:
    """The encoding of ``path`` (``encoding`` when given and the whole file is text in it; otherwise detected:
    ``utf-8-sig``, ``utf-8`` (also plain ASCII) or ``cp932``) and its quote balance, in one pass per encoding
    tried. Raises :class:`ScenarioFileError` naming the file, the line and the encoding it reads as, if any.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes('エリア,"プラン\\n'.encode("cp932"))
    >>> scan_text(p)
    TextScan(encoding='cp932', quotes_balanced=False)
    """
    if encoding is not None:
        return _check(path, encoding)
    with open(path, "rb") as handle:
        head = handle.read(4096)
    wide = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if wide or head[:200].count(b"\0") > len(head[:200]) // 4:  # UTF-16 without a BOM: every other byte NUL
        raise ScenarioFileError(f"{path}: the file is UTF-16; save it as CSV UTF-8 or CSV (Shift_JIS)", path=path)
    candidates = ("utf-8-sig",) if head.startswith(codecs.BOM_UTF8) else ("utf-8", "cp932")
    for candidate in candidates:
        quotes = _quotes_if_text(path, candidate)
        if quotes is not None:
            return TextScan(candidate, quotes % 2 == 0)
    line, offset, what = _first_bad_byte(path, candidates[0])
    raise ScenarioFileError(
        f"{path}, line {line}: the file is neither UTF-8 nor Shift_JIS/CP932 text ({what} at byte {offset}); it may "
        "mix encodings: save it again as CSV UTF-8, or give --encoding",
        path=path,
    )


def detect_encoding(path: Path | str) -> str:
    """``utf-8-sig`` (UTF-8 with a BOM), ``utf-8`` (also plain ASCII) or ``cp932`` (Shift_JIS as Windows writes it),
    read on the whole file, so a CP932 character after megabytes of ASCII is found (:func:`scan_text`).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes("エリア,プラン\\n".encode("cp932"))
    >>> detect_encoding(p)
    'cp932'
    """
    return scan_text(path).encoding


def _check(path: Path | str, encoding: str) -> TextScan:
    """``encoding`` when the whole of ``path`` is text in it; otherwise :class:`ScenarioFileError` with the line
    of the first bad bytes and the encoding the file reads as (``--encoding cp932`` …), if any.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes("area\\nエリア\\n".encode("cp932"))
    >>> _check(p, "utf-8")
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
    quotes = _quotes_if_text(path, encoding)
    if quotes is not None:
        return TextScan(encoding, quotes % 2 == 0)
    line, _offset, what = _first_bad_byte(path, encoding)
    try:
        found = detect_encoding(path)
        hint = f"; it reads as {ENCODINGS[found]}: use --encoding {found}"
    except ScenarioFileError:
        hint = ""
    raise ScenarioFileError(f"{path}, line {line}: not {encoding} text ({what}){hint}", path=path)


def _quotes_if_text(path: Path | str, encoding: str) -> int | None:
    """The number of ``"`` bytes in ``path`` when the whole file is ``encoding`` text, else None."""
    utf8 = codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")
    decoder = None if utf8 else codecs.getincrementaldecoder(encoding)()
    quotes, pending = 0, b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_SAMPLE)
            quotes += int(np.count_nonzero(np.frombuffer(block, dtype=np.uint8) == 34))
            try:
                if decoder is not None:
                    decoder.decode(block, final=not block)
                else:
                    data = pending + block if pending else block
                    end = len(data) if not block else _utf8_cut(data)
                    pending = data[end:]
                    if not _utf8_valid(data[:end] if pending else data):
                        return None
            except UnicodeError:
                return None
            if not block:
                return quotes


def _utf8_cut(data: bytes) -> int:
    """Where ``data`` can be cut without splitting a UTF-8 character: before the lead byte of an unfinished one.

    >>> data = "あい".encode()
    >>> _utf8_cut(data), _utf8_cut(data[:4])
    (6, 3)
    """
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)
        if byte >= 0xC0:  # the lead byte of a character of 2, 3 or 4 bytes
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= size else len(data) - back
    return len(data)  # continuation bytes only: not UTF-8, the validator says so


def _utf8_valid(data: bytes) -> bool:
    """Whether ``data`` is UTF-8 (pyarrow's validator; ASCII at once)."""
    if data.isascii():
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _first_bad_byte(path: Path | str, encoding: str) -> tuple[int, int, str]:
    """``(line, byte offset, what)`` of the first bytes of ``path`` that are not ``encoding`` text (the file is
    known not to decode). Reads the file in blocks of :data:`_SAMPLE` bytes (memory stays bounded)."""
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
                return lines, offset, "the bytes end inside a character"
            lines += block.count(b"\n")
            offset += len(block)
