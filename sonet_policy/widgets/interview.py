"""Interview mode: the answer cards from partial knowledge (:func:`sonet_policy.engine.possible.possible`).

A support agent fills in what the customer knows, in any order; every input can be *unknown*
(:data:`UNKNOWN`), which is not the same as empty (for an integer input whose empty cell is a value of its own,
empty says "known: it has not happened yet"). Each decision card shows its answer as soon as it is settled,
otherwise the answers still possible (code, the rule book's Japanese label, English beside) and the unknown
inputs they depend on; the question to ask next comes first. Labels, domains and order come from the rule
book (``inputs.csv``, ``codes.csv``, ``decisions.csv``): nothing here names an input or a code.

>>> from sonet_policy.engine.possible import possible
>>> from sonet_policy.book.load import default_rulebook
>>> book = default_rulebook()
>>> markup = interview_html(possible(area="west"), rulebook=book)
>>> "data-decision='ipv4' data-code='open'" in markup, "class='sp-ask-next-box'" in ask_next_html(
...     possible(area="west"), rulebook=book)
(True, True)
"""

from __future__ import annotations

import html

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.explain import FINDING_LABELS
from sonet_policy.engine.possible import Possibilities


class _Unknown:
    """The value of an input the customer has not told yet (one object, compared by identity)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN = _Unknown()
"""Marks an input as not known yet (``app.set(plan=UNKNOWN)``); distinct from ``None`` (known to be empty)."""

UNKNOWN_LABEL = "不明 / unknown"

_CSS = """<style>
.sp-interview{display:flex;flex-wrap:wrap;gap:8px;font-family:sans-serif;font-size:13px}
.sp-icard{border:1px solid #ccc;border-radius:6px;padding:8px 10px;width:330px;background:#fff;color:#222}
.sp-icard h4{margin:0 0 4px 0;font-size:13px;color:#555}
.sp-settled{border-left:6px solid #2e7d32}.sp-open{border-left:6px solid #1565c0;background:#f5f9ff}
.sp-icard ul{margin:2px 0 2px 0;padding-left:18px}.sp-depends{color:#1565c0;font-size:12px;margin-top:4px}
.sp-ask-next-box{border:2px solid #f9a825;background:#fff8e1;border-radius:6px;padding:6px 10px;
font-family:sans-serif;font-size:14px;color:#222}
.sp-ask-next select,.sp-ask-next input{outline:3px solid #f9a825;background:#fff8e1}
</style>
"""


def input_label(book: RuleBook, name: str) -> str:
    """An input as people read it: its Japanese label, then its name and English label from ``inputs.csv``.

    >>> input_label(default_rulebook(), "area")
    'エリア (area · NTT area)'
    """
    spec = book.inputs[name]
    english = " · ".join(x for x in (name, spec.label_en) if x)
    return f"{spec.label_ja} ({english})" if spec.label_ja else english


def code_labels(book: RuleBook, decision: str, code: str) -> tuple[str, str]:
    """The Japanese and English labels of a decision's code (``codes.csv``; a finding's own labels)."""
    if code in FINDING_LABELS:
        return FINDING_LABELS[code]
    info = book.code_info(decision, code)
    return info["label_ja"], info["label_en"]


def ask_next_html(poss: Possibilities, *, rulebook: RuleBook | None = None, note: str = "") -> str:
    """The "次に聞く / Ask next" box: the input :func:`~sonet_policy.engine.possible.possible` proposes, with its label,
    how many decisions stay open after it on average, and what is still unknown (``note``: a line above it,
    e.g. a typed value that names nothing)."""
    book = rulebook or default_rulebook()
    e = html.escape
    open_now = [d for d in poss.decisions.values() if not d.decided]
    unknown = [n for n in book.input_order if n not in poss.known]
    extra = f"<div class='sp-ask-note' style='color:#c62828'>{e(note)}</div>" if note else ""
    if poss.ask_next is None:
        text = (
            "すべての回答が決まりました / every answer is settled"
            if not open_now
            else "これ以上聞いても決まりません / no question left decides more"
        )
        return f"{_CSS}<div class='sp-ask-next-box' data-ask=''>{extra}<b>{text}</b></div>"
    after = poss.expected_open.get(poss.ask_next)
    total = len(poss.decisions)
    figure = f" · afterwards {after:.1f} of {total} decisions open on average" if after is not None else ""
    return (
        f"{_CSS}<div class='sp-ask-next-box' data-ask='{e(poss.ask_next)}'>{extra}"
        f"<b>次に聞く / Ask next:</b> <span class='sp-ask-label' style='font-size:16px'>"
        f"{e(input_label(book, poss.ask_next))}</span>"
        f"<div class='sp-why' style='color:#555;font-size:12px'>{len(open_now)} of {len(poss.decisions)} "
        f"decisions open now{e(figure)} · still unknown: {e(', '.join(unknown))}</div></div>"
    )


def interview_html(
    poss: Possibilities, *, rulebook: RuleBook | None = None, notes: dict[str, str] | None = None
) -> str:
    """One card per decision: its answer once settled, else every answer still possible (code, Japanese label,
    English beside) and the unknown inputs it depends on. ``data-decision`` / ``data-code`` (``open`` while
    undecided) / ``data-answers`` (``|``-joined) carry the state for tests; every text is escaped. ``notes``:
    per input, why a typed value was not read (shown on the cards of the decisions that read that input)."""
    book = rulebook or default_rulebook()
    e = html.escape
    cards = []
    for name, d in poss.decisions.items():
        spec = book.decisions.get(name)
        question = f"{e(name)} · {e(spec.question_ja)} · {e(spec.question_en)}" if spec else e(name)
        state = "settled" if d.decided else "open"
        code = d.answers[0] if d.decided else "open"
        parts = [
            f"<div class='sp-icard sp-{state}' data-decision='{e(name)}' data-code='{e(code)}' "
            f"data-answers='{e('|'.join(d.answers))}'><h4>{question}</h4>"
        ]
        if d.decided:
            ja, en = code_labels(book, name, code)
            parts.append(
                f"<div>決定 / settled</div><div class='sp-code' style='font-size:16px;font-weight:bold'>{e(code)}"
                f"</div><div>{e(ja)}</div><div><i>{e(en)}</i></div>"
            )
        else:
            items = []
            for answer in d.answers:
                ja, en = code_labels(book, name, answer)
                items.append(f"<li data-answer='{e(answer)}'><code>{e(answer)}</code> {e(ja)} <i>({e(en)})</i></li>")
            parts.append(f"<div>未決定 / open: {len(d.answers)} possible answers</div><ul>{''.join(items)}</ul>")
            depends = ", ".join(input_label(book, n) for n in d.depends_on) or "-"
            parts.append(f"<div class='sp-depends'>depends on / 次の項目で決まります: {e(depends)}</div>")
        reads = book.decisions[name].inputs if name in book.decisions else ()
        for field, note in (notes or {}).items():
            if field in reads:
                parts.append(f"<div class='sp-card-note' style='color:#c62828'>{e(note)}</div>")
        parts.append("</div>")
        cards.append("".join(parts))
    known = ", ".join(f"{k}={v}" for k, v in poss.known.items()) or "nothing yet"
    return (
        f"{_CSS}<div><div class='sp-why' style='color:#777;font-size:12px'>interview · known: {e(known)} · "
        f"rule book {e(poss.rulebook_hash)}</div><div class='sp-interview'>{''.join(cards)}</div></div>"
    )


def interview_row(poss: Possibilities) -> str:
    """The five decisions on one line: the settled code, or ``?`` with how many answers are still possible."""
    cells = []
    for name, d in poss.decisions.items():
        code = d.answers[0] if d.decided else "open"
        shown = html.escape(code) if d.decided else f"? ({len(d.answers)})"
        colour = "#e8f5e9" if d.decided else "#e3f2fd"
        cells.append(
            f"<span data-row-decision='{html.escape(name, quote=True)}' data-row-code='{html.escape(code)}' "
            f"style='background:{colour};padding:1px 6px;border-radius:3px;white-space:nowrap'>"
            f"{html.escape(name)}: <b>{shown}</b></span>"
        )
    return "<div class='sp-answer-row' style='display:flex;flex-wrap:wrap;gap:6px'>" + "".join(cells) + "</div>"
