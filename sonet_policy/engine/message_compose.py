"""Compose the message from a plan per decision: every decision gets a section, whatever its status.

A plan is :class:`Settled` (the deciding rules of an answer, a conflict's rules, or none: uncovered),
:class:`Branches` (while an input is unknown: one verdict per group of its values, at most a few) or
:class:`Pending` (an input to ask for, or one to correct). Then, over the whole message, no sentence is said
twice: of the lines saying one sentence the message keeps one, and takes the others out only where a customer
who reads them also reads the kept one (a branch's line for the line said to everyone, never one branch's for
another's). The kept line is the one a rule would be mute without (its only line in that section), then the
footnote under its anchor, then the one in the shortest section, then the first. A section left with nothing
says, from a template, that the sections above say it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

from sonet_policy.engine.message_lines import Context, Line, on_path, rule_lines, template_lines
from sonet_policy.engine.message_page import Marks


@dataclass(frozen=True)
class Verdict:
    """What decided one decision in one scenario: ``status`` ok, uncovered or conflict, and the deciding rules."""

    status: str
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settled:
    verdict: Verdict


@dataclass(frozen=True)
class Branches:
    """One verdict per group of values (axis labels) of an unknown ``input``; ``other`` marks the last group as
    "every other value"."""

    input: str
    groups: tuple[tuple[tuple[str, ...], Verdict], ...]
    heads: tuple[str, ...]


@dataclass(frozen=True)
class Pending:
    """A section that waits on ``input``: unknown (ask for it) or ``invalid`` (correct it; ``error`` says why)."""

    input: str
    invalid: bool = False
    error: str = ""


Plan = Settled | Branches | Pending


@dataclass
class Section:
    """One decision's part of the message: ``heading`` (its line), ``lines`` and ``status`` (ok, uncovered,
    conflict, invalid, or open while an input is unknown)."""

    decision: str
    status: str
    heading: str
    lines: list[Line]
    settles_to: str = ""  # a branched section's status should every branch turn out to say the same words

    def settle(self) -> None:
        """A branched section whose branches say nothing of their own (the same words for every value) is
        settled."""
        if self.status == "open" and self.settles_to and not any(x.style == "branch" for x in self.lines):
            self.status = self.settles_to

    @property
    def ja(self) -> str:
        return "\n".join([self.heading, *(line.ja for line in self.lines)])

    def to_dict(self) -> dict:
        lines = [{"ja": line.ja, "source": line.source} for line in self.lines]
        return {"decision": self.decision, "status": self.status, "ja": self.ja, "lines": lines}


@dataclass
class Message:
    """The customer message: ``ja`` to send as it is (sections apart by a blank line), ``notes`` for the agent
    only. ``to_dict()`` is what ``sonet_policy.message`` returns and ``message --format json`` prints."""

    sections: list[Section]
    notes: list[str] = field(default_factory=list)
    rulebook_hash: str = ""

    @property
    def ja(self) -> str:
        return "\n\n".join(s.ja for s in self.sections)

    @property
    def en(self) -> str:
        """The same lines in English, for review (the clauses' and templates' English)."""
        return "\n\n".join("\n".join([s.decision, *(line.en for line in s.lines if line.en)]) for s in self.sections)

    def to_dict(self) -> dict:
        return {
            "ja": self.ja,
            "sections": [s.to_dict() for s in self.sections],
            "notes": list(self.notes),
            "rulebook_hash": self.rulebook_hash,
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def __str__(self) -> str:
        notes = "".join(f"\n# {n}" for n in self.notes)
        return f"{self.ja}{notes}"


@dataclass
class _Writer:
    """Writes the sections of one message: the context, the notes, and the inputs asked for so far."""

    ctx: Context
    notes: list[str] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)
    group: int = 0

    def heading(self, decision: str) -> str:
        return self.ctx.book.decisions[decision].question_ja

    def label(self, name: str) -> str:
        spec = self.ctx.book.inputs[name]
        return spec.label_ja or spec.label_en or name

    def template(self, key: str, **values: str) -> list[Line]:
        self.group += 1
        return template_lines(self.ctx, key, group=self.group, **values)

    def verdict(self, decision: str, verdict: Verdict) -> list[Line]:
        heading = self.heading(decision)
        if verdict.status == "uncovered":
            self.notes.append(self.ctx.data.fill("note.uncovered", heading=heading))
            return self.template("uncovered", heading=heading) + self.template("uncovered_ask")
        lines, dropped = rule_lines(self.ctx, decision, verdict.rules, first_group=self.group)
        self.group = max([self.group, *(line.group for line in lines)])
        for text in dropped:
            self.notes.append(self.ctx.data.fill("note.dropped", heading=heading, text=text))
        if verdict.status == "conflict":
            rules = ", ".join(verdict.rules)
            self.notes.append(self.ctx.data.fill("note.conflict", heading=heading, rules=rules))
        return lines

    def pending(self, decision: str, how: Pending) -> list[Line]:
        heading, label = self.heading(decision), self.label(how.input)
        lines = self.template("pending", heading=heading, label=label)
        if how.invalid:
            if how.input not in self.asked:  # one note and one line per field to correct
                self.asked.add(how.input)
                self.notes.append(self.ctx.data.fill("note.invalid", heading=heading, label=label, error=how.error))
            return lines + self.template("invalid", label=label)
        if how.input not in self.asked:
            self.asked.add(how.input)
            question = self.ctx.data.questions.get(how.input)
            if question:
                self.group += 1
                lines.append(Line(question, "", f"inputs.csv {how.input} question_ja", "question", group=self.group))
            else:
                lines += self.template("ask", label=label)
        return lines

    def branches(self, decision: str, how: Branches) -> list[Line]:
        per_group = [self.verdict(decision, verdict) for _, verdict in how.groups]
        keys = [{line.key for line in lines if line.key} for lines in per_group]
        common = set.intersection(*keys) if keys else set()
        said_first = {line.group for line in per_group[0] if line.key in common}
        out = [line for line in per_group[0] if line.group in said_first]  # said to every branch: once, above
        for (values, _), head, lines in zip(how.groups, how.heads, per_group, strict=True):
            own = _without_orphan_links([line for line in lines if line.key is None or line.key not in common])
            if not own:
                continue
            path = ((how.input, frozenset(values)),)
            self.group += 1
            out.append(Line(head, "", f"message_texts.csv branch.{how.input}", "branch", group=self.group, path=path))
            out += on_path(own, path)
        return out

    def section(self, decision: str, how: Plan) -> Section:
        if isinstance(how, Settled):
            lines, status = self.verdict(decision, how.verdict), how.verdict.status
        elif isinstance(how, Branches):
            lines, status = self.branches(decision, how), "open"
        else:
            lines, status = self.pending(decision, how), "invalid" if how.invalid else "open"
        heading = self.ctx.data.fill("heading", heading=self.heading(decision))
        same = {verdict.status for _, verdict in how.groups} if isinstance(how, Branches) else set()
        section = Section(decision, status, heading, lines, same.pop() if len(same) == 1 else "")
        section.settle()
        return section


def _without_orphan_links(lines: list[Line]) -> list[Line]:
    """Links whose sentence went (said in every branch, so above them): dropped with it."""
    said = {line.group for line in lines if line.style != "link"}
    return [line for line in lines if line.style != "link" or line.group in said]


def _implies(path: tuple, weaker: tuple) -> bool:
    """Whether every customer on ``path`` is on ``weaker`` too."""
    own = dict(path)
    return all(name in own and own[name] <= values for name, values in weaker)


def _rank(sections: list[Section], at: tuple[int, int]) -> tuple:
    s, i = at
    line = sections[s].lines[i]
    voices = [x for x in sections[s].lines if x.rule == line.rule and x.key]
    essential = bool(line.rule) and len(voices) == 1
    side = essential and sections[s].status == "conflict"
    return (not side, not essential, not line.anchored, len(line.path), len(sections[s].lines), s, i)


def dedupe(sections: list[Section], marks: Marks) -> None:
    """Take out the lines that say a sentence already said to the same customers (see the module docstring)."""
    where: dict[str, list[tuple[int, int]]] = {}
    for s, section in enumerate(sections):
        for i, line in enumerate(section.lines):
            if line.key:
                where.setdefault(line.key, []).append((s, i))
    gone: set[tuple[int, int]] = set()
    for places in where.values():
        if len(places) < 2:
            continue
        keep = min(places, key=lambda at: _rank(sections, at))
        kept = sections[keep[0]].lines[keep[1]]
        for at in places:
            if at != keep and _implies(sections[at[0]].lines[at[1]].path, kept.path):
                gone.add(at)
    for s, section in enumerate(sections):
        removed = [section.lines[i] for (t, i) in gone if t == s]
        groups = {x.group for x in removed}
        unmark = {x.anchor for x in removed if x.anchor is not None}
        lines = [x for x in section.lines if x.group not in groups or x.style == "branch"]
        section.lines = _without_empty_branches([_unmarked(x, unmark, marks) for x in lines])


def _unmarked(line: Line, unmark: set[tuple[int, str]], marks: Marks) -> Line:
    """The anchor of a footnote taken out: its mark goes too."""
    for group, label in unmark:
        if line.group == group:
            line = replace(line, ja=marks.without_anchor(line.ja, label))
    return line


def _without_empty_branches(lines: list[Line]) -> list[Line]:
    out: list[Line] = []
    for k, line in enumerate(lines):
        if line.style == "branch" and not any(x.path == line.path for x in lines[k + 1 :] if x.style != "branch"):
            continue
        out.append(line)
    return out


def compose(ctx: Context, plans: dict[str, Plan], *, notes: list[str] | None = None) -> Message:
    """The message of one scenario from a plan per decision (in the book's order)."""
    writer = _Writer(ctx)
    sections = [writer.section(decision, plans[decision]) for decision in ctx.book.decisions if decision in plans]
    dedupe(sections, ctx.page.marks)
    for section in sections:
        section.settle()
        if not any(line.key for line in section.lines):
            said = writer.template("said_above", heading=writer.heading(section.decision))
            section.lines = [x for x in section.lines if x.style != "link"] + said
    return Message(sections, list(dict.fromkeys([*writer.notes, *(notes or [])])), ctx.book.hash)
