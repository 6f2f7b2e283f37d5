"""The customer message: for one explained scenario, the Japanese text a support agent can paste into an email
or read out, with English beside it for review.

Every Japanese line is text of the rule book, never of this module: the decision's heading
(``decisions.csv`` ``question_ja``), the answer (``codes.csv`` ``label_ja``), its next step (``codes.csv``
``next_step_ja`` where the book has that column and a value; with ``clauses=True`` also the page's clauses
that the deciding rules cite), the alternatives the page offers, and the footnotes (※) that apply. A decision
the page does not answer for this scenario (uncovered, or in conflict) is left out of the Japanese text and
named in the review notes: the message never says what the page does not.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.explain import DecisionAnswer, Explanation


@dataclass(frozen=True)
class MessageLine:
    """One line of the message: its Japanese text, the English beside it, and where the text comes from
    (``kind``: heading, answer, next_step, clause, alternative, footnote; ``source``: file and key)."""

    decision: str
    kind: str
    ja: str
    en: str
    source: str


@dataclass
class CustomerMessage:
    """The message for one scenario. ``ja`` is the text to paste; ``en`` the same lines in English;
    ``notes`` what the reviewer should know (decisions left out, and why). Displays as HTML (the Japanese
    in a text box with a copy button, the English beside); plain text is the Japanese then the notes."""

    lines: list[MessageLine]
    notes: list[str] = field(default_factory=list)
    scenario: str = ""

    @property
    def ja(self) -> str:
        return "\n".join(_decorate(line, line.ja) for line in self.lines)

    @property
    def en(self) -> str:
        return "\n".join(_decorate(line, line.en) for line in self.lines)

    def __str__(self) -> str:
        notes = "".join(f"\n# {n}" for n in self.notes)
        return f"{self.ja}{notes}" if self.lines else notes.lstrip("\n")

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return render_html(self)


def _decorate(line: MessageLine, text: str) -> str:
    if line.kind == "heading":
        return f"【{text}】"
    if line.kind == "alternative":
        return f"・{text}"
    return text


def _next_steps_ja(book: RuleBook) -> dict[tuple[str, str], str]:
    """``(decision, code) -> next_step_ja`` where the book's codes.csv has that column and a value."""
    codes = book.codes
    if "next_step_ja" not in codes.columns:
        return {}
    out = {}
    for decision, code, text in zip(codes["decision"], codes["code"], codes["next_step_ja"], strict=True):
        if isinstance(text, str) and text.strip():
            out[(str(decision), str(code))] = text.strip()
    return out


def _decision_lines(
    d: DecisionAnswer, book: RuleBook, next_ja: dict[tuple[str, str], str], *, clauses: bool, seen: set[str]
) -> list[MessageLine]:
    lines = [MessageLine(d.decision, "heading", d.question_ja, d.question_en, f"decisions.csv {d.decision}")]

    def add(kind: str, ja: str, en: str, source: str) -> None:
        if ja and ja not in seen:
            seen.add(ja)
            lines.append(MessageLine(d.decision, kind, ja, en, source))

    add("answer", d.label_ja, d.label_en, f"codes.csv {d.decision}/{d.code} label_ja")
    step = next_ja.get((d.decision, d.code), "")
    if step:
        add("next_step", step, d.next_step_en, f"codes.csv {d.decision}/{d.code} next_step_ja")
    if clauses:
        for rule in d.fired:
            for c in rule.clauses:
                if not c.footnote:
                    add("clause", c.text_ja, c.text_en, f"clauses.csv {c.clause_id}")
    for alt in d.alternatives:
        add("alternative", alt["label_ja"], alt["label_en"], f"codes.csv {d.decision}/{alt['code']} label_ja")
    for c in d.footnotes:
        add("footnote", c.text_ja, c.text_en, f"clauses.csv {c.clause_id}")
    return lines


def customer_message(
    explanation: Explanation, *, rulebook: RuleBook | None = None, clauses: bool = False
) -> CustomerMessage:
    """Compose the customer message for ``explanation`` (a result of :func:`sonet_policy.engine.explain`).

    Per decision, in the book's order: its heading, the answer, the next step (``next_step_ja`` of
    codes.csv where the book has it), with ``clauses`` the page's clauses the deciding rules cite, the
    alternatives, the footnotes that apply; a sentence already given is not repeated. A decision left
    unanswered (a partial answer: a field it reads is missing or invalid) is left out with a note saying why;
    an invalid scenario (no decision answered) gives an empty message whose notes say why. Raises ValueError
    when ``rulebook`` is not the book that made the explanation.

    >>> from sonet_policy import explain
    >>> e = explain(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False,
    ...             days=31)
    >>> m = customer_message(e)
    >>> m.ja.splitlines()[:2]
    ['【解約方法】', 'So-net サポートデスクで解約を受け付けております。']
    >>> m.en.splitlines()[1]
    'Cancel through the support desk'
    """
    book = rulebook or default_rulebook()
    if explanation.rulebook_hash != book.hash:
        raise ValueError(
            f"the explanation comes from rule book {explanation.rulebook_hash}, not {book.hash}: pass its rulebook="
        )
    scenario = ", ".join(f"{k}={v}" for k, v in explanation.resolved.items())
    if explanation.status == "invalid":
        return CustomerMessage([], [f"invalid scenario, no message: {explanation.error}"], scenario)
    next_ja = _next_steps_ja(book)
    lines: list[MessageLine] = []
    notes: list[str] = []
    seen: set[str] = set()
    no_step: list[str] = []
    for d in explanation.decisions:
        if d.status != "ok":
            rules = ", ".join(r.rule_id for r in d.fired)
            if d.status == "invalid":  # a partial answer: a field this decision reads is missing or invalid
                why = f"not answered ({d.label_en})"
            elif d.status == "uncovered":
                why = "the page gives no answer"
            else:
                why = f"the page's rules disagree ({rules})"
            notes.append(f"{d.decision} left out of the message: {why} for this scenario")
            continue
        lines.extend(_decision_lines(d, book, next_ja, clauses=clauses, seen=seen))
        if (d.decision, d.code) not in next_ja:
            no_step.append(f"{d.decision}/{d.code}")
    if no_step:
        notes.append(f"no next_step_ja in the rule book for {', '.join(no_step)}: the answer stands alone")
    return CustomerMessage(lines, notes, scenario)


_CSS = """
<style>
.sp-message{display:flex;gap:12px;flex-wrap:wrap;font-family:sans-serif;font-size:13px}
.sp-message textarea{width:460px;height:260px;font-size:13px}
.sp-message .sp-en{width:460px;color:#333;white-space:pre-wrap}
.sp-message .sp-notes{color:#8a6d00}
</style>
"""


def render_html(message: CustomerMessage) -> str:
    """The Japanese text in a read-only text box with a copy button (the browser's clipboard; no kernel or
    server involved), the English beside it, the review notes below. Every text is escaped."""
    e = html.escape
    ja = message.ja
    copy = (
        "var t=this.parentNode.querySelector('textarea');t.select();"
        "if(navigator.clipboard){navigator.clipboard.writeText(t.value)}else{document.execCommand('copy')}"
    )
    notes = "".join(f"<div class='sp-notes'>{e(n)}</div>" for n in message.notes)
    return (
        f"{_CSS}<div class='sp-message'><div><textarea class='sp-message-ja' readonly>{e(ja)}</textarea><br>"
        f"<button class='sp-copy' onclick=\"{copy}\">Copy the Japanese text</button></div>"
        f"<div class='sp-en'>{e(message.en)}</div></div>{notes}"
    )
