"""Split a support page into clauses the way ``data/source/clauses.csv`` splits the shipped page.

The page is plain text, one paragraph or heading per line, with pipe tables for the device lists. The rules
(each read off the shipped clause table; a test checks that splitting the shipped page gives back exactly its
clause boundaries, texts and line numbers):

* a line is a clause; blank lines are skipped;
* a line holding bullets (``見出し ・A ・B``) is split at each bullet, and a ``※`` note that follows a sentence
  end and a space (``…。 ※ …``) starts a clause of its own; a ``※`` inside a sentence (``廃止 (※) されます``) or
  glued to a sentence end inside a table cell (``不要です。※1``) does not;
* a ``|`` closing a line outside a table is dropped;
* a table is a header line ending in ``|`` followed by a separator line (``---|---|``): the two lines are one
  clause (``機器名 | 対応内容 | ---|---``). Each row collects cells (line by line: a row may span lines) until it
  has as many cells as the header; its clause text is the cells joined by `` | ``, its line span the lines it
  took (``98-99``). The table ends at the first line that does not end in ``|``.

A row with more cells than the header, or a table that ends in the middle of a row, is a *problem*: the
splitter keeps its text as a clause (so nothing is lost and the alignment still sees it) and names the line.
It never raises on page text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_BULLET = re.compile(r"\s+・")
_NOTE_AFTER_SENTENCE = re.compile(r"(?<=。)\s+(?=※)")


@dataclass(frozen=True)
class Segment:
    """One clause of a page as the splitter finds it.

    ``line`` is the line number (``"2"``) or span (``"98-99"``); ``table`` the line number of the table header
    the clause belongs to (0 outside a table); ``row`` is true for a table row (not the header)."""

    line: str
    text: str
    table: int = 0
    row: bool = False


@dataclass
class SplitPage:
    """The clauses of a page, in page order, and the lines the splitter could not parse (``problems``: dicts
    with ``line``, ``text``, ``problem``)."""

    segments: list[Segment]
    problems: list[dict] = field(default_factory=list)


def _cells(line: str) -> list[str]:
    body = line.strip()
    body = body[:-1] if body.endswith("|") else body
    return [c.strip() for c in body.split("|")]


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _text_line(n: int, line: str) -> list[Segment]:
    body = line.strip()
    if body.endswith("|"):
        body = body[:-1].rstrip()
    parts: list[str] = []
    for piece in _BULLET.split(body):
        parts.extend(_NOTE_AFTER_SENTENCE.split(piece))
    parts = [p.strip().removeprefix("・").strip() for p in parts]
    return [Segment(str(n), p) for p in parts if p]


def split_page(text: str) -> SplitPage:
    """Split page ``text`` into clauses (see the module docstring); never raises on page text.

    Returns a :class:`SplitPage`: the segments in page order and the problems (lines it could not parse).

    >>> page = "見出し ・一つ目。 ・二つ目。 ※ 注記 |\\n機器名 | 対応 |\\n---|---|\\nPR-1A |\\n不要です。 |\\n"
    >>> for s in split_page(page).segments:
    ...     print(s.line, s.text)
    1 見出し
    1 一つ目。
    1 二つ目。
    1 ※ 注記
    2-3 機器名 | 対応 | ---|---
    4-5 PR-1A | 不要です。
    """
    lines = text.splitlines()
    out = SplitPage([])
    n = 0
    header = 0  # line of the current table's header (0: not in a table)
    width = 0
    pending: list[str] = []
    start = 0

    def close_table(at: int) -> None:
        nonlocal header, pending
        if pending:
            out.segments.append(Segment(_span(start, at), " | ".join(pending), header, True))
            out.problems.append(
                dict(
                    line=_span(start, at),
                    text=" | ".join(pending),
                    problem=f"table row ends after {len(pending)} of {width} cells (the table stops here)",
                )
            )
        header, pending = 0, []

    while n < len(lines):
        line = lines[n]
        number = n + 1
        n += 1
        if not line.strip():
            continue
        ends_in_bar = line.rstrip().endswith("|")
        if header and not ends_in_bar:
            close_table(number - 1)
        after = n
        while after < len(lines) and not lines[after].strip():  # blank lines between header and separator
            after += 1
        if not header and ends_in_bar and after < len(lines) and _SEPARATOR.match(lines[after]):
            cells = _cells(line)
            separator = lines[after].strip().removesuffix("|").strip()
            out.segments.append(Segment(_span(number, after + 1), " | ".join([*cells, separator]), number))
            header, width, pending = number, len(cells), []
            n = after + 1
            continue
        if header:
            if not pending:
                start = number
            pending.extend(_cells(line))
            if len(pending) >= width:
                joined = " | ".join(pending)
                out.segments.append(Segment(_span(start, number), joined, header, True))
                if len(pending) > width:
                    out.problems.append(
                        dict(
                            line=_span(start, number),
                            text=joined,
                            problem=f"table row has {len(pending)} cells, the header has {width}",
                        )
                    )
                pending = []
            continue
        out.segments.extend(_text_line(number, line))
    if header:
        close_table(len(lines))
    return out
