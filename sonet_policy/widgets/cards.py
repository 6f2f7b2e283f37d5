"""The answer cards: one explanation as HTML, a card per decision (the answer, the next step, the rules that
fired with the Japanese clauses they cite, the footnotes, why the other rules did not fire), and the five
answers on one line. Every string from a table or the scenario is escaped.

>>> from sonet_policy.engine.explain import explain
>>> exp = explain(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=31)
>>> "data-decision='device_action' data-code='mail_exchange'" in cards_html(exp)
True
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sonet_policy.engine.explain import DecisionAnswer, Explanation, explain

_CSS = """
<style>
.sp-cards{display:flex;flex-wrap:wrap;gap:8px;font-family:sans-serif;font-size:13px}
.sp-card{border:1px solid #ccc;border-radius:6px;padding:8px 10px;width:330px;background:#fff;color:#222}
.sp-card h4{margin:0 0 4px 0;font-size:13px;color:#555}
.sp-code{font-size:16px;font-weight:bold}
.sp-ok{border-left:6px solid #2e7d32}.sp-uncovered{border-left:6px solid #f9a825}
.sp-conflict{border-left:6px solid #c62828}.sp-invalid{border-left:6px solid #6a1b9a}
.sp-clause{color:#333;margin:2px 0 2px 8px}.sp-why{color:#777;font-size:12px}
.sp-footnote{background:#fff8e1;margin:3px 0;padding:2px 4px}
.sp-inconsistent{background:#fdecea;color:#b71c1c;margin:3px 0;padding:2px 4px}
</style>
"""


def cards_html(exp: Explanation) -> str:
    """The answer cards of one explanation as HTML (a line with the scenario above them); an invalid scenario
    is one card saying why."""
    e = html.escape
    if exp.status == "invalid":
        return (
            f"{_CSS}<div class='sp-cards'><div class='sp-card sp-invalid' data-decision='scenario' "
            f"data-code='invalid'><h4>scenario</h4><div class='sp-code'>invalid</div>"
            f"<div>{e(exp.error)}</div></div></div>"
        )
    cards = "".join(_card(d) for d in exp.decisions)
    head = e(exp.scenario_line())
    return (
        f"{_CSS}<div><div class='sp-why'>{head} · status {e(exp.status)} · rule book {e(exp.rulebook_hash)}"
        f"</div><div class='sp-cards'>{cards}</div></div>"
    )


def _card(d: DecisionAnswer) -> str:
    """One decision's card: the answer, its next step, broken invariants, alternatives, footnotes, the rules
    that fired with their clauses, and the other rules folded away. The parts and their order are those of the
    CLI's text (``Explanation.__str__``), so the two read alike: their steps share a shape, not their markup."""
    e = html.escape
    parts = [
        f"<div class='sp-card sp-{e(d.status)}' data-decision='{e(d.decision)}' data-code='{e(d.code)}'>",
        f"<h4>{e(d.decision)} · {e(d.question_ja)} · {e(d.question_en)}</h4>",
        f"<div class='sp-code'>{e(d.code)}</div>",
        f"<div>{e(d.label_ja)}</div><div><i>{e(d.label_en)}</i></div>",
    ]
    if d.next_step_ja and d.status == "ok":
        parts.append(f"<div class='sp-next-ja'>次に: {e(d.next_step_ja)}</div>")
    if d.next_step_en and d.status == "ok":
        parts.append(f"<div class='sp-next-en'><i>Next: {e(d.next_step_en)}</i></div>")
    for inv in d.invariants:
        parts.append(
            f"<div class='sp-inconsistent' data-invariant='{e(str(inv['invariant_id']))}'>"
            f"inconsistent with another answer: {e(str(inv['invariant_id']))} ({e(str(inv['statement']))}; "
            f"clauses {e(', '.join(inv['source']))})</div>"
        )
    for alt in d.alternatives:
        parts.append(f"<div>Or: {e(alt['label_ja'])} <i>({e(alt['label_en'])})</i></div>")
    for c in d.footnotes:
        parts.append(
            f"<div class='sp-footnote' data-clause='{e(c.clause_id)}'>{e(c.text_ja)} "
            f"<i class='sp-why'>({e(c.text_en)})</i></div>"
        )
    for r in d.fired:
        parts.append(f"<div><b>{e(r.rule_id)}</b> <span class='sp-why'>{e(r.state)}</span></div>")
        for c in r.clauses:
            parts.append(f"<div class='sp-clause'>{e(c.clause_id)}: {e(c.text_ja)}</div>")
    others = [r for r in d.rules if r.state not in ("fired", "conflicting")]
    if others:
        items = "".join(f"<li>{e(r.rule_id)} ({e(r.state)}): {e('; '.join(r.reasons))}</li>" for r in others)
        parts.append(
            f"<details><summary class='sp-why'>{len(others)} other rule(s)</summary><ul "
            f"class='sp-why'>{items}</ul></details>"
        )
    parts.append("</div>")
    return "".join(parts)


@dataclass(frozen=True)
class AnswerCards:
    """The explorer's answer view of one explanation: HTML cards in a notebook, the CLI's text as plain text.

    >>> cards = AnswerCards(explain(area="east", plan="10g", device="PR-600KI", setup="wlan_1g", keep_number=True))
    >>> "data-code='keeps_working'" in cards._repr_html_(), repr(cards).startswith("scenario: area")
    (True, True)
    """

    explanation: Explanation

    def _repr_html_(self) -> str:
        return cards_html(self.explanation)

    def __repr__(self) -> str:
        return str(self.explanation)


def answer_cards(**scenario: object) -> AnswerCards:
    """:class:`AnswerCards` of one scenario (keywords as for :func:`~sonet_policy.engine.explain.explain`)."""
    return AnswerCards(explain(**scenario))


_ROW_COLOURS = {"ok": "#e8f5e9", "uncovered": "#fff8e1", "conflict": "#ffebee", "invalid": "#eeeeee"}


def answer_row(explanation: Explanation | None) -> str:
    """The five answers on one line (decision: code, coloured by status), escaped HTML, for above the cards.

    >>> row = answer_row(explain(area="east", plan="10g", device="PR-600KI", setup="wlan_1g", keep_number=True))
    >>> "class='sp-answer-row'" in row, "data-row-decision='device_action' data-row-code='keeps_working'" in row
    (True, True)
    """
    if explanation is None:
        return "<div class='sp-answer-row'>no answer (see below)</div>"
    if explanation.status == "invalid":
        return f"<div class='sp-answer-row'>invalid scenario: {html.escape(explanation.error)}</div>"
    cells = []
    for d in explanation.decisions:
        colour = _ROW_COLOURS.get(d.status, "#eeeeee")
        cells.append(
            f"<span data-row-decision='{html.escape(d.decision, quote=True)}' "
            f"data-row-code='{html.escape(d.code, quote=True)}' title='{html.escape(d.label_ja, quote=True)}' "
            f"style='background:{colour};padding:1px 6px;border-radius:3px;white-space:nowrap'>"
            f"{html.escape(d.decision)}: <b>{html.escape(d.code)}</b></span>"
        )
    return "<div class='sp-answer-row' style='display:flex;flex-wrap:wrap;gap:6px'>" + "".join(cells) + "</div>"
