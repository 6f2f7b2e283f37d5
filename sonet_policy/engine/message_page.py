"""The page as the message reads it: each clause cut into sentences, and each footnote paired with the sentence
that anchors it.

A clause of the device tables is a row (``models | action``): the message says the action, the last cell. A
clause is cut after each sentence end (``message_texts.csv`` ``sentence_end``); a footnote mark right after it
stays with the sentence before (「ご返却ください。※3」). ``message_clauses.csv`` ``parts`` gives the sentences of a
clause the cut cannot read. A footnote is a clause that starts with the mark (``footnote_mark``: 「※」, 「※1」); its
anchor is the first sentence before it, in the same section of the page, that carries the same mark and anchors
no other footnote (「廃止 (※) されます」 for 「※ 他社電話事業者で…を除く」). A footnote without an anchor among the
sentences is a note of its own (「※ ルーター機能の自動停止 …」).

>>> from sonet_policy.book.rules import default_rulebook
>>> from sonet_policy.engine.message_data import message_data
>>> book = default_rulebook()
>>> page = page_of(book, message_data(book))
>>> [p.index for p in page.clauses["net.ov6.16"].parts]
[1, 2]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sonet_policy.book.cache import Slot
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.message_data import MessageData
from sonet_policy.source.clauses import text_key

_PAGE: Slot[Page] = Slot("message_page")
_ASCII_WORD = re.compile(r"[0-9A-Za-z]")


@dataclass(frozen=True)
class Part:
    """One sentence of a clause: ``index`` from 1, the text as the page writes it, the footnote labels it
    anchors (``""`` for an unnumbered mark, ``"1"`` for ※1)."""

    clause_id: str
    index: int
    text: str
    anchors: tuple[str, ...]


@dataclass(frozen=True)
class PageClause:
    """A clause of the page for the message: its place in the page, kind, section, English and sentences;
    ``footnote`` is its label when it is a footnote (starts with the mark), else None."""

    clause_id: str
    position: int
    kind: str
    section: str
    text_ja: str
    text_en: str
    parts: tuple[Part, ...]
    footnote: str | None


@dataclass(frozen=True)
class Marks:
    """The page's punctuation the message reads (``message_texts.csv``), as regular expressions."""

    mark: str
    end: str
    pointer: str
    cell: str

    def anchors(self, text: str, *, skip_start: bool) -> tuple[str, ...]:
        """The footnote labels a sentence anchors, in order (a footnote's own leading mark is not one)."""
        out = []
        for m in re.finditer(self.anchor_pattern(), text):
            if skip_start and not text[: m.start()].strip():
                continue
            out.append(m.group("label") or "")
        return tuple(out)

    def anchor_pattern(self, label: str | None = None) -> str:
        mark = re.escape(self.mark)
        if label is None:
            return rf"\(\s*{mark}\s*\)|{mark}(?P<label>\d*)"
        return rf"\s*\(\s*{mark}\s*\)\s*" if label == "" else rf"\s*{mark}{re.escape(label)}(?!\d)\s*"

    def footnote_label(self, text: str) -> str | None:
        m = re.match(rf"\s*{re.escape(self.mark)}(\d*)", text)
        return m.group(1) if m else None

    def without_anchor(self, text: str, label: str) -> str:
        """``text`` with the mark of footnote ``label`` taken out (the footnote is not said under it)."""
        return re.sub(self.anchor_pattern(label), _gap, text).strip()

    def without_footnote_mark(self, text: str) -> str:
        """A footnote said as a sentence of its own (its anchor is not said): the leading mark taken out."""
        return re.sub(rf"^\s*{re.escape(self.mark)}\d*\s*", "", text)

    def sentences(self, text: str) -> list[str]:
        if self.cell and self.cell.strip() and self.cell in text:
            text = text.rsplit(self.cell, 1)[-1]
        end, mark = re.escape(self.end), re.escape(self.mark)
        pieces = re.findall(rf"[^{end}]+?{end}(?:{mark}\d+)?|[^{end}]+$", text)
        return [p.strip() for p in pieces if p.strip()]


def _gap(m: re.Match) -> str:
    """What replaces a mark taken out of a sentence: a space between two ASCII words, else nothing."""
    s, i, j = m.string, m.start(), m.end()
    before, after = s[i - 1 : i], s[j : j + 1]
    return " " if _ASCII_WORD.match(before or "") and _ASCII_WORD.match(after or "") else ""


@dataclass(frozen=True)
class Page:
    """The clauses of a book's page for the message, and the footnote pairs: footnote -> (clause, sentence)."""

    clauses: dict[str, PageClause]
    anchor_of: dict[str, tuple[str, int]]
    marks: Marks


def marks_of(data: MessageData) -> Marks:
    return Marks(
        data.fill("footnote_mark"), data.fill("sentence_end"), data.fill("pointer"), data.fill("cell_separator")
    )


def _parts(clause_id: str, text: str, marks: Marks, given: tuple[str, ...], is_footnote: bool) -> tuple[Part, ...]:
    pieces = list(given) if given else marks.sentences(text)
    if given and not all(text_key(p) in text_key(text) for p in given):
        pieces = marks.sentences(text)  # parts that are not the clause's text (a revised page): cut it instead
    return tuple(
        Part(clause_id, k + 1, p, marks.anchors(p, skip_start=is_footnote and k == 0)) for k, p in enumerate(pieces)
    )


def _build(book: RuleBook, data: MessageData) -> Page:
    marks = marks_of(data)
    table = book.clauses
    clauses: dict[str, PageClause] = {}
    for position, rec in enumerate(table.to_dict(orient="records")):
        cid, text = rec["clause_id"], str(rec["text_ja"])
        label = marks.footnote_label(text)
        parts = _parts(cid, text, marks, data.use(cid).parts, label is not None)
        clauses[cid] = PageClause(cid, position, rec["kind"], rec["section"], text, str(rec["text_en"]), parts, label)
    return Page(clauses, _pair_footnotes(clauses), marks)


def _pair_footnotes(clauses: dict[str, PageClause]) -> dict[str, tuple[str, int]]:
    """Each footnote's anchor: the first unpaired sentence before it, in its section, with the same label."""
    open_anchors: dict[str, list[tuple[str, int, str]]] = {}
    out: dict[str, tuple[str, int]] = {}
    for c in clauses.values():
        waiting = open_anchors.setdefault(c.section, [])
        if c.footnote is not None:
            found = next((a for a in waiting if a[2] == c.footnote), None)
            if found is not None:
                waiting.remove(found)
                out[c.clause_id] = (found[0], found[1])
        for p in c.parts:
            waiting.extend((c.clause_id, p.index, label) for label in p.anchors)
    return out


def page_of(book: RuleBook, data: MessageData) -> Page:
    """The page of ``book`` for the message (built once per book)."""
    return book.cache.get(_PAGE, lambda: _build(book, data))
