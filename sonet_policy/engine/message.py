"""The customer message: the kit's answer in the customer's language, built from the page as the page puts it.

Each decision gets a section (``decisions.csv`` order, its ``question_ja`` as heading): the sentences of the
clauses its deciding rules cite, in the page's order (:mod:`~sonet_policy.engine.message_lines`); a conflict's
sentences of both sides, with a note for the agent; a template for what the page does not answer; while an
input is unknown, branches on it or its question (:mod:`~sonet_policy.engine.message_open`); for an invalid
input, the field to correct. No sentence is said twice (:mod:`~sonet_policy.engine.message_compose`). Every
Japanese word comes from the page or from a data file of the book (:mod:`~sonet_policy.engine.message_data`):
nothing here writes Japanese.

* :func:`message` (``sonet_policy.message``): the message for the inputs known so far, as a dict (what
  ``message --format json`` prints); :func:`message_of` gives the :class:`Message` itself.
* :func:`message_column`: the Japanese message of every row of an evaluated frame, composed once per distinct
  combination of answers.

>>> m = message(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False,
...             days_since_phone_stop=31)
>>> [s["status"] for s in m["sections"]]
['ok', 'ok', 'ok', 'ok', 'ok']
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.invariants import load_invariants
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.invariants import violations
from sonet_policy.engine.message_compose import Message, Pending, Plan, Section, Settled, Verdict, compose
from sonet_policy.engine.message_data import message_data
from sonet_policy.engine.message_lines import Context, Line
from sonet_policy.engine.message_open import MAX_BRANCHES, plan_decision
from sonet_policy.engine.message_page import page_of
from sonet_policy.engine.possible import Possibilities, possible
from sonet_policy.errors import ScenarioError
from sonet_policy.text import header_key

__all__ = ["Line", "Message", "Section", "context", "message", "message_column", "message_of", "with_messages"]


def context(book: RuleBook) -> Context:
    """What a message of ``book`` is written from (read once per book)."""
    data = message_data(book)
    return Context(book, data, page_of(book, data))


def _names(book: RuleBook, known: dict[str, object]) -> dict[str, object]:
    """``known`` keyed by input names (a header alias such as ``days`` read as its input)."""
    lookup = book.header_lookup()
    out = {}
    for key, value in known.items():
        name = key if key in book.inputs else lookup.get(header_key(key))
        if name is None:
            raise ScenarioError(f"{key}: not an input of this rule book ({', '.join(book.inputs)})", field=key)
        out[name] = value
    return out


def _readable(book: RuleBook, known: dict[str, object]) -> tuple[dict[str, object], dict[str, str], Possibilities]:
    """The known inputs possible() can read, the others with why, and what is possible from the readable ones."""
    known, bad = dict(known), {}
    while True:
        try:
            return known, bad, possible(rulebook=book, **known)
        except ScenarioError as exc:
            if exc.field not in known:
                raise
            bad[exc.field] = str(exc)
            known.pop(exc.field)


def _scenario_value(compiled: CompiledBook, name: str, pos: int) -> object:
    axis = compiled.axes[name]
    if axis.kind == "integer":
        interval = axis.intervals[pos]
        return None if interval is None else int(interval[0])
    return axis.labels[pos]


def _invariant_notes(ctx: Context, fixed: dict[str, int], plans: dict[str, Plan]) -> list[str]:
    """A note per invariant the answers break, where each decision it reads is settled (the same whatever the
    unknown inputs are) and each input its own condition reads is known."""
    book = ctx.book
    compiled = book.compiled()
    row = {n: _scenario_value(compiled, n, fixed.get(n, 0)) for n in book.inputs}
    notes = []
    broken = None
    for inv in load_invariants(book):
        involved = {n for n, cond in inv.conditions.items() if not cond.any}
        if not involved <= set(fixed) or not all(isinstance(plans[d], Settled) for d in inv.decisions):
            continue
        broken = violations(pd.DataFrame([row]), rulebook=book) if broken is None else broken
        if not bool(broken[inv.invariant_id].iloc[0]):
            continue
        heading = book.decisions[inv.then_decision].question_ja
        other = ctx.data.fill("list_sep").join(book.decisions[d].question_ja for d in inv.when)
        clauses = ", ".join(inv.source)
        notes.append(
            ctx.data.fill(
                "note.inconsistent", heading=heading, other=other, invariant=inv.invariant_id, clauses=clauses
            )
        )
    return notes


def message_of(*, rulebook: RuleBook | None = None, max_branches: int = MAX_BRANCHES, **known: object) -> Message:
    """The :class:`Message` for the inputs ``known`` (any spelling the file reader accepts; an input left out is
    unknown, one given empty is known to be empty). A value that names nothing makes the sections that read it
    ask to correct it. Raises :class:`~sonet_policy.errors.ScenarioError` for a keyword that is no input."""
    book = rulebook or default_rulebook()
    ctx = context(book)
    readable, bad, poss = _readable(book, _names(book, known))
    compiled = book.compiled()
    fixed = {n: compiled.axes[n].labels.index(label) for n, label in poss.known.items()}
    plans: dict[str, Plan] = {}
    for decision, spec in book.decisions.items():
        wrong = [n for n in spec.inputs if n in bad]
        if wrong:
            plans[decision] = Pending(wrong[0], invalid=True, error=bad[wrong[0]])
        else:
            plans[decision] = plan_decision(ctx, compiled, decision, fixed, prefer=poss.ask_next, most=max_branches)
    return compose(ctx, plans, notes=_invariant_notes(ctx, fixed, plans))


def message(*, rulebook: RuleBook | None = None, **known: object) -> dict:
    """The customer message for the inputs known so far, as a dict: ``ja`` (the text to send), ``sections``
    (per decision: ``decision``, ``status``, ``ja``, ``lines`` with each line's ``ja`` and ``source``: a clause
    id, or the data file and key of a template), ``notes`` (for the agent) and ``rulebook_hash``. An input left
    out is unknown. Raises :class:`~sonet_policy.errors.ScenarioError` for a keyword that is no input.

    >>> m = message(area="east", plan="sml", setup="wlan_1g", keep_number=True)
    >>> [s["status"] for s in m["sections"]]
    ['ok', 'ok', 'open', 'open', 'open']
    """
    return message_of(rulebook=rulebook, **known).to_dict()


# ------------------------------------------------------------------ a whole evaluated frame ----

_FIELD = re.compile(r"(?:^|; )([A-Za-z][A-Za-z0-9_]*): ")


def _error_fields(error: str) -> dict[str, str]:
    """The fields an ``error`` cell names, each with its part of the text."""
    marks = list(_FIELD.finditer(error or ""))
    out = {}
    for k, m in enumerate(marks):
        end = marks[k + 1].start() if k + 1 < len(marks) else len(error)
        out.setdefault(m.group(1), error[m.end() : end])
    return out


def _row_plans(book: RuleBook, row: dict[str, str]) -> dict[str, Plan]:
    """The plans of one row of :func:`~sonet_policy.engine.evaluate.evaluate`'s output."""
    index = book.rule_index
    by_decision: dict[str, list[str]] = {}
    for rid in row["rules"].split():
        if rid in index:
            by_decision.setdefault(index[rid].decision, []).append(rid)
    fields = _error_fields(row["error"])
    plans: dict[str, Plan] = {}
    for decision, spec in book.decisions.items():
        code, rules = row[decision], tuple(by_decision.get(decision, ()))
        if code:
            status = code if code in ("uncovered", "conflict") else "ok"
            plans[decision] = Settled(Verdict(status, rules if status != "uncovered" else ()))
            continue
        named = [n for n in spec.inputs if n in fields] or list(spec.inputs[:1])
        why = fields.get(named[0], row["error"])
        plans[decision] = Pending(named[0], invalid=not why.startswith("missing"), error=why)
    return plans


def message_column(answers: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.Series:
    """The Japanese message (``ja``) of every row of ``answers`` (the output of
    :func:`~sonet_policy.engine.evaluate.evaluate`), on its index, named ``message_ja``: composed once per
    distinct combination of the decisions' answers, the deciding rules and the error.

    >>> from sonet_policy.engine.evaluate import evaluate
    >>> rows = pd.DataFrame([dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router",
    ...                           keep_number=False, days_since_phone_stop=31)] * 3)
    >>> column = message_column(evaluate(rows))
    >>> column.nunique(), column.iloc[0] == message_of(**rows.iloc[0].to_dict()).ja
    (1, True)
    """
    book = rulebook or default_rulebook()
    ctx = context(book)
    columns = [*book.decisions, "rules", "error"]
    keys = answers[columns].astype(object).where(answers[columns].notna(), "").astype(str)
    group = keys.groupby(columns, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(group).first()
    texts = np.empty(len(first), dtype=object)
    for g, at in first.items():
        texts[int(g)] = compose(ctx, _row_plans(book, keys.iloc[int(at)].to_dict())).ja
    return pd.Series(texts[group] if len(group) else [], index=answers.index, name="message_ja", dtype=object)


def with_messages(answers: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """``answers`` (the output of :func:`~sonet_policy.engine.evaluate.evaluate`) with a ``message_ja`` column:
    each row's customer message (:func:`message_column`), as a categorical (a customer base has few distinct
    messages), for a mail merge (``evaluate --message``).

    >>> from sonet_policy.engine.evaluate import evaluate
    >>> rows = pd.DataFrame([dict(area="east", plan="other", device="PR-600KI", setup="wlan_1g",
    ...                           keep_number=True, days_since_phone_stop=None)] * 2)
    >>> out = with_messages(evaluate(rows))
    >>> out["message_ja"].nunique(), out["message_ja"].iloc[0].startswith("【解約方法】")
    (1, True)
    """
    return answers.assign(message_ja=pd.Categorical(message_column(answers, rulebook=rulebook)))
