"""Scenarios side by side: one answer row per scenario, the answers that differ highlighted, and the rules (with
the page's Japanese clauses) behind the differing answers.

Keyword names are the rule book's inputs (or their header aliases), never the package's:
``compare(base, days_since_phone_stop=[31, 32])`` varies the day count of ``base``.

>>> from sonet_policy.book.load import default_rulebook
>>> base = {"area": "west", "plan": "other", "device": "RV-230SE", "setup": "v6plus_router", "keep_number": False}
>>> c = compare(base, days=[31, 32])
>>> c.differing, [e.codes["ipv4"] for e in c.explanations]
(['ipv4'], ['pppoe_router', 'reapply_v6plus'])
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ipywidgets as w
import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.explain import Explanation, explain
from sonet_policy.text import header_key
from sonet_policy.widgets.base import _App, error_html, show_html
from sonet_policy.widgets.interview import UNKNOWN, input_label


def _input_name(book: RuleBook, key: str) -> str:
    name = key if key in book.inputs else book.header_lookup().get(header_key(key))
    if name is None:
        raise ValueError(f"{key}: not an input of this rule book ({', '.join(book.inputs)})")
    return name


def _shown(value: object) -> str:
    return "empty" if value is None else str(value)


@dataclass(frozen=True)
class ScenarioComparison:
    """Scenarios that differ in the ``varied`` inputs, each with its explanation. ``table()`` is the answer
    rows side by side (a DataFrame: one row per decision, one column per scenario); ``differing`` lists the
    decisions whose answers are not all the same. HTML in a notebook, plain text otherwise."""

    scenarios: list[dict[str, object]]
    explanations: list[Explanation]
    varied: list[str]
    book: RuleBook

    @property
    def labels(self) -> list[str]:
        """One column title per scenario: the varied inputs' values."""
        return [", ".join(f"{n}={_shown(s[n])}" for n in self.varied) for s in self.scenarios]

    @property
    def differing(self) -> list[str]:
        """The decisions whose answer is not the same in every scenario, in the book's order."""
        rows = self.table()
        return [d for d in rows.index if rows.loc[d].nunique() > 1]

    def table(self) -> pd.DataFrame:
        """Codes side by side: index the decisions, columns the scenarios (``labels``)."""
        codes = {label: e.codes for label, e in zip(self.labels, self.explanations, strict=True)}
        frame = pd.DataFrame(codes, index=list(self.book.decisions), dtype=object).fillna("invalid")
        frame.index.name = "decision"
        return frame

    def _rules(self, decision: str) -> list[str]:
        """Per scenario, the rules that decided ``decision`` with the Japanese clauses they encode."""
        e = html.escape
        out = []
        for label, exp in zip(self.labels, self.explanations, strict=True):
            d = next((x for x in exp.decisions if x.decision == decision), None)
            if d is None:
                out.append(f"<li><b>{e(label)}</b>: {e(exp.error)}</li>")
                continue
            fired = "".join(
                f"<div><b>{e(r.rule_id)}</b> "
                + "".join(f"<div class='sp-clause'>{e(c.clause_id)}: {e(c.text_ja)}</div>" for c in r.clauses)
                + "</div>"
                for r in d.fired
            )
            out.append(
                f"<li data-compare-rules='{e(decision)}'><b>{e(label)}</b>: <code>{e(d.code)}</code> "
                f"{e(d.label_ja)} <i>({e(d.label_en)})</i>{fired or ' <i>(no rule decides)</i>'}</li>"
            )
        return out

    def _repr_html_(self) -> str:
        e = html.escape
        frame = self.table()
        differing = set(self.differing)
        head = "".join(f"<th>{e(label)}</th>" for label in frame.columns)
        rows = []
        for decision, codes in frame.iterrows():
            diff = decision in differing
            style = " style='background:#fff3cd;font-weight:bold'" if diff else ""
            cells = "".join(f"<td data-compare-code='{e(str(c))}'>{e(str(c))}</td>" for c in codes)
            rows.append(
                f"<tr data-compare-decision='{e(str(decision))}' data-differs='{str(diff).lower()}'{style}>"
                f"<td>{e(str(decision))}</td>{cells}</tr>"
            )
        varied = ", ".join(input_label(self.book, n) for n in self.varied)
        base = {k: v for k, v in self.scenarios[0].items() if k not in self.varied}
        parts = [
            f"<div class='sp-compare'><div style='color:#555;font-size:12px'>varying {e(varied)} · the rest: "
            f"{e(', '.join(f'{k}={_shown(v)}' for k, v in base.items()))}</div>",
            f"<table class='sp-compare-table'><thead><tr><th>decision</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>",
        ]
        if differing:
            for decision in frame.index:
                if decision in differing:
                    parts.append(
                        f"<div class='sp-compare-why'><b>{e(str(decision))}</b> differs (違い):<ul>"
                        f"{''.join(self._rules(str(decision)))}</ul></div>"
                    )
        else:
            parts.append("<div class='sp-compare-why'>every answer is the same (違いなし)</div>")
        return "".join(parts) + "</div>"

    def __repr__(self) -> str:
        frame = self.table()
        lines = [f"compare {', '.join(self.varied)}: differing {', '.join(self.differing) or 'none of the answers'}"]
        lines += frame.to_string().splitlines()
        return "\n".join(lines)


def compare(
    base: Mapping[str, object] | None = None, *, rulebook: RuleBook | None = None, **vary: Sequence[object]
) -> ScenarioComparison:
    """Explain ``base`` once per combination of the values given for the varied inputs (each keyword an input
    of the book, by name or header alias, with a list of values; ``None`` is empty). Returns a
    :class:`ScenarioComparison`; raises :class:`ValueError` naming a keyword that is no input or a varied
    input without values. Unknown inputs in ``base`` are left out (their decisions read as missing).

    >>> compare({"keep_number": True}, keep_number=[True, False]).differing[:2]
    ['procedure', 'number']
    """
    book = rulebook or default_rulebook()
    start = {_input_name(book, k): v for k, v in (base or {}).items() if v is not UNKNOWN}
    varied: dict[str, list[object]] = {}
    for key, values in vary.items():
        name = _input_name(book, key)
        values = [values] if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) else list(values)
        if not values:
            raise ValueError(f"{key}: give at least one value to compare")
        varied[name] = values
    if not varied:
        raise ValueError("name at least one input to vary, e.g. compare(base, <input>=[value, value])")
    scenarios = [{**start, **dict(zip(varied, combo, strict=True))} for combo in itertools.product(*varied.values())]
    explanations = [explain(rulebook=book, **s) for s in scenarios]
    return ScenarioComparison(scenarios, explanations, list(varied), book)


def parse_values(text: str) -> list[object]:
    """Values typed in the compare box, comma-separated; ``empty`` (or nothing between commas) is None.

    >>> parse_values("31, 32, empty")
    ['31', '32', None]
    """
    return [None if v.strip().lower() in ("", "empty") else v.strip() for v in text.split(",")]


class CompareView(_App):
    """The explorer's scenario beside copies that differ in one input (the dashboard's compare tab): a dropdown
    of the book's inputs, a box of comma-separated values, and the comparison, recomputed on every change."""

    def __init__(self, explorer, *, vary: str | None = None, values: str = "") -> None:
        self.explorer = explorer
        self.book: RuleBook = explorer.book
        order = list(self.book.input_order)
        integer = [n for n in order if self.book.inputs[n].type == "integer"]
        first = _input_name(self.book, vary) if vary else (integer[0] if integer else order[0])
        self.vary = w.Dropdown(
            options=[(input_label(self.book, n), n) for n in order], value=first, description="vary 比べる"
        )
        self.vary.add_class("sp-compare-vary")
        self.values = w.Text(value=values, description="values 値", placeholder="comma-separated, e.g. 1, 2")
        self.values.add_class("sp-compare-values")
        self.out = w.Output()
        self.out.add_class("sp-compare-out")
        self.comparison: ScenarioComparison | None = None
        self.update()
        for control in (self.vary, self.values):
            control.observe(lambda _change: self.update(), names="value")
        explorer.listeners.append(self.update)
        self.widget = w.VBox([w.HBox([self.vary, self.values]), self.out])
        self.widget.add_class("sp-compare-view")

    def update(self) -> None:
        """Recompute the comparison (an error shows in the app as one line)."""
        try:
            values = parse_values(self.values.value) if self.values.value.strip() else []
            if not values:
                self.comparison = None
                show_html(self.out, "<div class='sp-compare'>type two or more values to compare</div>")
                return
            self.comparison = compare(self.explorer.known, rulebook=self.book, **{self.vary.value: values})
            show_html(self.out, self.comparison._repr_html_())
        except ValueError as exc:  # a value or an input the book does not have: one line, no class name
            self.comparison = None
            show_html(self.out, f"<div class='sp-compare-error' style='color:#c62828'>{html.escape(str(exc))}</div>")
        except Exception as exc:  # shown to the analyst, not swallowed
            self.comparison = None
            show_html(self.out, error_html(exc))

    def summary(self) -> str:
        return "CompareView: " + (repr(self.comparison) if self.comparison is not None else "nothing to compare")
