"""The lines of one answer: the sentences of the clauses its deciding rules cite, in the page's order.

For the deciding rules of a decision (one rule, rules that agree, or the two sides of a conflict): every clause
each cites, and of the rules an exception overrides only what its ``keeps`` names (``dev.e.r1#1``: the first
sentence of a clause). Then, per ``message_clauses.csv``: a clause marked ``no`` is not said, one marked ``in``
only in those decisions' sections, one with ``needs`` only with those clauses, one with ``with`` together with
those, and after a clause its ``links`` (the link names the page gives, 『…』). A heading is said only as a
``subhead``. A footnote is said right under the sentence that anchors it, mark and all, when that sentence is
said; else as a sentence of its own without its mark; a mark whose footnote is not said is taken out of its
sentence. A sentence that points below (``pointer``) and has neither ``links`` nor ``needs`` is left out and
named in the agent's notes: the message never says 「下記」 of nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sonet_policy.book.model import RuleBook
from sonet_policy.engine.message_data import HIDDEN, MessageData
from sonet_policy.engine.message_page import Page, PageClause, Part
from sonet_policy.source.clauses import text_key

EXEMPT = frozenset({"subhead", "link", "text", "branch"})  # headings and link names: not sentences
Path = tuple[tuple[str, frozenset[str]], ...]


@dataclass(frozen=True)
class Line:
    """One line of a section. ``source``: a clause id, or the data file and key of a template. ``style``:
    sentence, footnote, option, subhead, link, text (a link clause said as text), template, question or branch.
    ``rule``: the rule whose clause it says; ``group``: a sentence and the links said after it share one;
    ``path``: the branch it is said in (input, values)."""

    ja: str
    en: str
    source: str
    style: str
    rule: str = ""
    anchored: bool = False
    group: int = 0
    path: Path = ()
    said: str = ""  # the sentence without its marks and its style's decoration (what is compared); "": ja
    anchor: tuple[int, str] | None = None  # a footnote said under its anchor: the anchor's group and the label

    @property
    def key(self) -> str | None:
        """What "said twice" compares (NFKC, spacing aside); None for a heading, a link name or a branch line."""
        return None if self.style in EXEMPT else text_key(self.said or self.ja)


@dataclass(frozen=True)
class Context:
    """What the lines are read from: the book, its message data and its page."""

    book: RuleBook
    data: MessageData
    page: Page


@dataclass
class _Chosen:
    """The clauses an answer says: clause id -> the sentences (None: all) and the rule it is said for."""

    parts: dict[str, set[int] | None] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)

    def take(self, cid: str, index: int | None, rule: str) -> None:
        if cid not in self.parts:
            self.parts[cid], self.owner[cid] = (None if index is None else {index}), rule
        elif self.parts[cid] is not None:
            current = self.parts[cid]
            self.parts[cid] = None if index is None else {*(current or set()), index}


def _ref(ref: str) -> tuple[str, int | None]:
    cid, _, index = ref.partition("#")
    return cid, int(index) if index.isdigit() else None


def _choose(ctx: Context, rule_ids: tuple[str, ...]) -> _Chosen:
    chosen = _Chosen()
    index = ctx.book.rule_index
    for rid in rule_ids:
        rule = index[rid]
        for cid in rule.source:
            chosen.take(cid, None, rid)
        for ref in ctx.data.keeps.get(rid, ()):
            cid, part = _ref(ref)
            if any(cid in index[t].source for t in rule.exception_of if t in index):
                chosen.take(cid, part, rid)
    for cid in list(chosen.parts):
        for other in ctx.data.use(cid).with_:
            chosen.take(other, None, chosen.owner[cid])
    return chosen


def _allowed(ctx: Context, cid: str, decision: str) -> bool:
    clause = ctx.page.clauses.get(cid)
    use = ctx.data.use(cid)
    if clause is None or use.show == HIDDEN or (use.only_in and decision not in use.only_in):
        return False
    return clause.kind != "heading" or use.style == "subhead"


def _filter(ctx: Context, chosen: _Chosen, decision: str) -> None:
    for cid in [c for c in chosen.parts if not _allowed(ctx, c, decision)]:
        del chosen.parts[cid]
    changed = True
    while changed:  # a clause said only with others goes when one of them goes
        missing = [c for c in chosen.parts if any(n not in chosen.parts for n in ctx.data.use(c).needs)]
        for cid in missing:
            del chosen.parts[cid]
        changed = bool(missing)


def _shown_parts(clause: PageClause, wanted: set[int] | None) -> list[Part]:
    return [p for p in clause.parts if wanted is None or p.index in wanted]


def _anchored(ctx: Context, chosen: _Chosen) -> dict[str, tuple[str, int]]:
    """The footnotes said under their anchor: footnote -> (anchor clause, sentence)."""
    out = {}
    for cid in chosen.parts:
        anchor = ctx.page.anchor_of.get(cid)
        if anchor is None or anchor[0] not in chosen.parts:
            continue
        wanted = chosen.parts[anchor[0]]
        if wanted is None or anchor[1] in wanted:
            out[cid] = anchor
    return out


def _style(ctx: Context, clause: PageClause, anchored: bool) -> str:
    use = ctx.data.use(clause.clause_id)
    if clause.kind == "link":
        return "text" if use.style == "text" else "link"
    if use.style in ("subhead", "option"):
        return use.style
    return "footnote" if anchored else "sentence"


def render(ctx: Context, style: str, text: str) -> str:
    """A line's Japanese in its style's template (link, subhead, option); a sentence as it is."""
    return ctx.data.fill(style, text=text) if style in ("link", "subhead", "option") else text


def _part_text(ctx: Context, clause: PageClause, part: Part, anchored: bool, kept: set[tuple[str, int, str]]) -> str:
    marks = ctx.page.marks
    text = part.text
    if clause.footnote is not None and part.index == 1 and not anchored:
        text = marks.without_footnote_mark(text)
    for label in part.anchors:
        if (clause.clause_id, part.index, label) not in kept:
            text = marks.without_anchor(text, label)
    return text


def _points_at_nothing(ctx: Context, cid: str, text: str) -> bool:
    use = ctx.data.use(cid)
    return text_key(ctx.page.marks.pointer) in text_key(text) and not (use.links or use.needs)


def _link_lines(ctx: Context, cid: str, rule: str, group: int) -> list[Line]:
    out = []
    for ref in ctx.data.use(cid).links:
        link_id, index = _ref(ref)
        clause = ctx.page.clauses.get(link_id)
        if clause is None:
            continue
        style = _style(ctx, clause, False)
        for part in _shown_parts(clause, None if index is None else {index}):
            out.append(Line(render(ctx, style, part.text), clause.text_en, link_id, style, rule, group=group))
    return out


def rule_lines(
    ctx: Context, decision: str, rule_ids: tuple[str, ...], *, first_group: int = 0
) -> tuple[list[Line], list[str]]:
    """The lines the deciding ``rule_ids`` of ``decision`` say, in the page's order, and the sentences left out
    because they point below at nothing. Groups are numbered from ``first_group``."""
    chosen = _choose(ctx, rule_ids)
    _filter(ctx, chosen, decision)
    anchored = _anchored(ctx, chosen)
    kept = {(a, i, ctx.page.clauses[f].footnote or "") for f, (a, i) in anchored.items()}
    placed: list[tuple[tuple, list[Line]]] = []
    dropped: list[str] = []
    groups: dict[tuple[str, int], int] = {}
    group = first_group
    for cid, wanted in chosen.parts.items():
        clause = ctx.page.clauses[cid]
        under = anchored.get(cid)
        style = _style(ctx, clause, under is not None)
        lines: list[Line] = []
        for part in _shown_parts(clause, wanted):
            text = _part_text(ctx, clause, part, under is not None, kept)
            if _points_at_nothing(ctx, cid, text):
                dropped.append(text)
                continue
            group += 1
            groups[(cid, part.index)] = group
            en = clause.text_en if part.index == 1 else ""
            said = _plain(ctx, part)
            lines.append(
                Line(render(ctx, style, text), en, cid, style, chosen.owner[cid], under is not None, group, said=said)
            )
        if lines:
            lines += _link_lines(ctx, cid, chosen.owner[cid], group)
        order = (ctx.page.clauses[under[0]].position, 1, clause.position) if under else (clause.position, 0, 0)
        placed.append((order, lines))
    placed.sort(key=lambda item: item[0])
    out = [line for _, lines in placed for line in lines]
    return [_with_anchor(line, anchored, groups, ctx) for line in out], dropped


def _plain(ctx: Context, part: Part) -> str:
    """A sentence without any footnote mark: what says it twice is compared on."""
    marks = ctx.page.marks
    text = marks.without_footnote_mark(part.text)
    for label in part.anchors:
        text = marks.without_anchor(text, label)
    return text


def _with_anchor(
    line: Line, anchored: dict[str, tuple[str, int]], groups: dict[tuple[str, int], int], ctx: Context
) -> Line:
    """A footnote said under its anchor knows the anchor's line (a footnote taken out takes the mark with it)."""
    at = anchored.get(line.source)
    if at is None or line.style not in ("footnote",) or (at[0], at[1]) not in groups:
        return line
    return replace(line, anchor=(groups[(at[0], at[1])], ctx.page.clauses[line.source].footnote or ""))


def template_lines(ctx: Context, key: str, *, group: int, **values: str) -> list[Line]:
    """A template's line (``message_texts.csv``) and the link lines that follow it."""
    data = ctx.data
    line = Line(
        data.fill(key, **values), data.fill_en(key, **values), f"message_texts.csv {key}", "template", group=group
    )
    out = [line]
    for link_id in data.texts[key].links:
        clause = ctx.page.clauses.get(link_id)
        if clause is not None:
            out.append(Line(render(ctx, "link", clause.text_ja), clause.text_en, link_id, "link", group=group))
    return out


def on_path(lines: list[Line], path: Path) -> list[Line]:
    """The lines said in one branch."""
    return [replace(line, path=path) for line in lines]
