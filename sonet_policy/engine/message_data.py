"""The data the customer message is written from, beside the rule tables (``data/rules/README.md`` documents
each column): ``message_texts.csv`` (headings, connectives, templates), ``message_clauses.csv`` (how the message
says a clause: dropped, said only with another, with its links), the ``keeps`` column of the rule tables (what an
exception leaves standing of the rule it overrides) and ``question_ja`` in ``inputs.csv``.

A rule book folder without the message files reads the shipped ones (a what-if copy made by hand, a synthetic
book): the templates are the kit's, the clause uses name clauses of the shipped page and match nothing else.

>>> from sonet_policy.book.rules import default_rulebook
>>> data = message_data(default_rulebook())
>>> data.fill("heading", heading="X").startswith(data.fill("heading", heading="")[:1])
True
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import RuleBookError
from sonet_policy.paths import RULES_DIR

TEXTS = "message_texts.csv"
CLAUSES = "message_clauses.csv"
KEEPS = "keeps"
QUESTION = "question_ja"
SHOWN, HIDDEN = "", "no"

_DATA: Slot[MessageData] = Slot("message_data")


@dataclass(frozen=True)
class Template:
    """One row of ``message_texts.csv``: the Japanese (``{name}`` placeholders), the English beside it, the clauses
    it quotes and the link clauses that follow it."""

    key: str
    ja: str
    en: str
    source: tuple[str, ...] = ()
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClauseUse:
    """How the message says one clause (``message_clauses.csv``; a clause without a row is said as it is)."""

    show: str = SHOWN  # "no": never said (it points at another part of the page, or restates a sentence)
    style: str = ""  # "subhead", "option", or "text" (a link clause said as text)
    only_in: tuple[str, ...] = ()  # said only in the sections of these decisions
    needs: tuple[str, ...] = ()  # said only when every one of these clauses is said in the section
    with_: tuple[str, ...] = ()  # said together with these clauses, in the page's order
    links: tuple[str, ...] = ()  # the link clauses said right after it (what its 「下記」 points at)
    parts: tuple[str, ...] = ()  # its sentences, where the page's text cannot be cut by the sentence end


@dataclass(frozen=True)
class MessageData:
    """Everything the message reads beside the rules, for one rule book."""

    texts: dict[str, Template]
    uses: dict[str, ClauseUse]
    keeps: dict[str, tuple[str, ...]]
    questions: dict[str, str]

    def has(self, key: str) -> bool:
        return key in self.texts

    def fill(self, key: str, **values: str) -> str:
        """The Japanese of template ``key`` with its ``{name}`` placeholders filled (plain replacement: a value
        holding braces is not read as a placeholder)."""
        return _fill(self.texts[key].ja, values)

    def fill_en(self, key: str, **values: str) -> str:
        return _fill(self.texts[key].en, values)

    def use(self, clause_id: str) -> ClauseUse:
        return self.uses.get(clause_id, ClauseUse())


def _fill(text: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def _split(cell: object) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(cell).split("|") if p.strip())


def _read(book: RuleBook, name: str) -> pd.DataFrame:
    path = book.folder / name
    if not path.is_file():
        path = RULES_DIR / name
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _texts(frame: pd.DataFrame) -> dict[str, Template]:
    cols = {c: frame[c] if c in frame.columns else [""] * len(frame) for c in ("source", "links")}
    rows = zip(frame["key"], frame["ja"], frame["en"], cols["source"], cols["links"], strict=True)
    return {k: Template(k, ja, en, _split(src), _split(links)) for k, ja, en, src, links in rows}


def _uses(frame: pd.DataFrame) -> dict[str, ClauseUse]:
    out = {}
    for rec in frame.to_dict(orient="records"):
        out[rec["clause_id"]] = ClauseUse(
            show=rec.get("show", "").strip(),
            style=rec.get("style", "").strip(),
            only_in=_split(rec.get("in", "")),
            needs=_split(rec.get("needs", "")),
            with_=_split(rec.get("with", "")),
            links=_split(rec.get("links", "")),
            parts=_split(rec.get("parts", "")),
        )
    return out


def _keeps(book: RuleBook) -> dict[str, tuple[str, ...]]:
    out = {}
    for table in book.tables.values():
        if KEEPS in table.columns:
            out.update({rid: _split(cell) for rid, cell in zip(table["rule_id"], table[KEEPS], strict=True) if cell})
    return out


def _questions(book: RuleBook) -> dict[str, str]:
    path = book.folder / "inputs.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig") if path.is_file() else None
    if frame is None or QUESTION not in frame.columns:
        return {}
    return {name: q.strip() for name, q in zip(frame["input"], frame[QUESTION], strict=True) if q.strip()}


def _load(book: RuleBook) -> MessageData:
    try:
        texts, uses = _texts(_read(book, TEXTS)), _uses(_read(book, CLAUSES))
    except (KeyError, ValueError, OSError) as exc:
        problem = dict(file=TEXTS, row=0, column="", value="", problem=f"cannot be read: {exc}")
        raise RuleBookError([problem], folder=str(book.folder)) from exc
    return MessageData(texts, uses, _keeps(book), _questions(book))


def message_data(book: RuleBook) -> MessageData:
    """The message data of ``book`` (read once per book). Raises RuleBookError when a file cannot be read."""
    return book.cache.get(_DATA, lambda: _load(book))
