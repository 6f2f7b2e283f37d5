"""Export a rule book as DMN 1.3 XML, so that other engines (pyDMNrules, Camunda, Drools, …) can run it.

``python -m sonet_policy export-dmn --output rules.dmn`` writes one ``<decision>`` with one ``<decisionTable>``
per decision; inputs carry a ``typeRef`` (``string``, ``boolean``, ``number``) and, for category inputs, their
domain as ``inputValues``; each output carries a ``typeRef`` and answer outputs list their codes as
``outputValues`` (the order of ``codes.csv``, which is what DMN's PRIORITY reads). Condition cells are written
in FEEL: a set as ``"a","b"`` (or ``not("a","b")`` when the complement is shorter), a day range as
``[0..31]``, ``>=32``, the empty day count as ``null``, any value as ``-``.

**How exceptions are exported.** Our UNIQUE tables carry declared exceptions (``exception_of``: the exception
wins where both match, Catala-style default logic), and rules that agree on the answer pool their alternatives.
DMN has neither. Reordering the rules under FIRST would make a DMN engine reproduce our answers, but would also
hide every contradiction of the page behind row order, which is exactly what this kit refuses to do. So the
exporter writes what the compiled grid decides (:mod:`sonet_policy.book.compile`), region by region, and keeps the hit
policy:

* for each outcome of a decision (a set of deciding rules), the cells where it holds are cut into as few
  rectangles (one FEEL test per input) as the grid allows; an ``ok`` region becomes DMN rules that give our
  answer and pooled alternatives. A rule with exceptions therefore appears with the exceptions' cells cut out
  (``V4-SML-1`` becomes "sml and not PR-600KI/MI/PR-500KI/MI" plus "sml, those four, and not wlan_1g"). These
  regions never overlap, so the table is a correct UNIQUE table wherever our answer is ``ok``;
* a ``conflict`` region is exported as one DMN rule per disagreeing rule, each with that rule's own answer:
  the rules overlap there, which breaks DMN's UNIQUE exactly where the page contradicts itself. A strict DMN
  engine reports the violation; pyDMNrules takes the first matching rule silently (the gap this kit closes);
* an ``uncovered`` region gets no rule (a DMN engine finds no match);
* COLLECT outcomes are exported like conflicts (one DMN rule per collected rule).

Every DMN rule has ``label`` = the rule ids it stands for, and a ``<description>`` that lists them with the
clause ids they cite (and the exceptions cut out). DMN 1.3's own per-rule annotation column
(``<annotation name=…>`` + ``<annotationEntry>``) is not used: pyDMNrules 1.4.5 fails on it with a KeyError
(``XMLdecisions[-1]['annotation']``), and ``<description>`` is what Camunda writes for rule annotations.
Constraints (combinations the page rules out) are not part of any decision and are not exported.

>>> xml = to_dmn()
>>> xml.count("<decisionTable"), 'hitPolicy="UNIQUE"' in xml
(5, True)
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sonet_policy.book.compile import CompiledBook, Outcome
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.export.expressions import CellSyntax, SpanForms
from sonet_policy.files.write import write_atomically

DMN_NS = "https://www.omg.org/spec/DMN/20191111/MODEL/"
TYPE_REFS = {"category": "string", "catalogue": "string", "boolean": "boolean", "integer": "number"}


@dataclass(frozen=True)
class DmnRule:
    """One exported DMN rule: a FEEL test per input, the outputs, and what it stands for."""

    decision: str
    label: str
    entries: tuple[str, ...]  # FEEL unary test per input of the decision, in the decision's input order
    outputs: tuple[str, ...]  # output values (plain text; quoted when written)
    rules: tuple[str, ...]  # our rule ids
    sources: tuple[str, ...]  # clause ids the rules cite
    kind: str  # "ok", "conflict" or "collect"
    cut_out: tuple[str, ...] = ()  # exceptions whose cells this rule leaves out
    part: tuple[int, int] = (1, 1)

    def description(self) -> str:
        """The rule ids and clause ids it stands for, the exceptions cut out, whether it is one side of a conflict
        and which part of its region it covers (a DMN rule's ``<description>``, a JDM row's ``_description``)."""
        parts = [f"rules: {', '.join(self.rules)}", f"clauses: {', '.join(self.sources)}"]
        if self.cut_out:
            parts.append(f"exceptions cut out: {', '.join(self.cut_out)}")
        if self.kind == "conflict":
            parts.append("CONFLICT: overlaps a rule with another answer (the page contradicts itself here)")
        if self.part[1] > 1:
            parts.append(f"part {self.part[0]} of {self.part[1]}")
        return "; ".join(parts)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class FeelSyntax(CellSyntax):
    """FEEL unary tests: ``"a","b"`` or ``not("a","b")``, ``[0..31]``, ``>=32``, ``null``, ``-`` for any value."""

    spans = SpanForms(at_least=">={lo}", at_most="<={hi}", single="{lo}", between="[{lo}..{hi}]")

    def literal(self, value: str) -> str:
        return _quote(value)

    def complement(self, values: str) -> str:
        return f"not({values})"

    def integer(self, name: str, empty: bool, parts: list[str]) -> str:
        return ",".join((["null"] if empty else []) + parts)


FEEL = FeelSyntax()


def feel_test(compiled: CompiledBook, name: str, positions: tuple[int, ...]) -> str:
    """The FEEL unary test that holds exactly on ``positions`` of the input's axis.

    >>> c = default_rulebook().compiled()
    >>> feel_test(c, "days_since_phone_stop", (1,)), feel_test(c, "area", (0, 1)), feel_test(c, "plan", (1,))
    ('[0..31]', '-', '"sml"')
    """
    return FEEL.test(compiled, name, positions)


CellTest = Callable[[CompiledBook, str, tuple[int, ...]], str]


def _rectangles(mask: np.ndarray) -> list[tuple[tuple[int, ...], ...]]:
    """Cut a boolean grid into disjoint products of index sets that cover exactly its true cells.

    Values of the first axis whose sub-grids are equal share one set; the sub-grids are cut recursively.
    """
    if mask.ndim == 1:
        idx = tuple(int(i) for i in np.flatnonzero(mask))
        return [(idx,)] if idx else []
    groups: dict[bytes, tuple[np.ndarray, list[int]]] = {}
    for i in range(mask.shape[0]):
        sub = mask[i]
        if sub.any():
            groups.setdefault(sub.tobytes(), (sub, []))[1].append(i)
    out: list[tuple[tuple[int, ...], ...]] = []
    for sub, idx in groups.values():
        out.extend((tuple(idx), *rest) for rest in _rectangles(sub))
    return out


def _cover(mask: np.ndarray, compiled: CompiledBook, inputs: tuple[str, ...], test=feel_test) -> list[tuple[str, ...]]:
    """Tests per input (FEEL unless ``test`` says otherwise) for the fewest (then shortest) rectangles covering
    ``mask``."""
    best: list[tuple[str, ...]] | None = None
    best_key: tuple[int, int] | None = None
    for order in itertools.permutations(range(mask.ndim)):
        rects = _rectangles(np.transpose(mask, order))
        tests = []
        for rect in rects:
            by_axis = {order[k]: rect[k] for k in range(mask.ndim)}
            tests.append(tuple(test(compiled, inputs[a], by_axis[a]) for a in range(mask.ndim)))
        key = (len(tests), sum(len(t) for row in tests for t in row))
        if best_key is None or key < best_key:
            best, best_key = tests, key
    return best or []


def _sources(book: RuleBook, ids: tuple[str, ...]) -> tuple[str, ...]:
    """The clause ids the rules cite, each once, in citation order."""
    return tuple(dict.fromkeys(cid for rid in ids for cid in book.rule_index[rid].source))


def output_names(book: RuleBook, decision: str) -> list[str]:
    """The DMN output names of a decision: the decision itself, then ``<decision>_<output>`` (as evaluate)."""
    spec = book.decisions[decision]
    return [decision, *(f"{decision}_{out}" for out in spec.outputs[1:])]


def _outcome_outputs(book: RuleBook, decision: str, outcome: Outcome) -> tuple[str, ...]:
    extra = book.decisions[decision].outputs[1:]
    return (outcome.code, *(outcome.alternatives if out == "alternatives" else "" for out in extra))


def dmn_rules(decision: str, *, rulebook: RuleBook | None = None, test: CellTest = feel_test) -> list[DmnRule]:
    """The DMN rules exported for one decision (see the module docstring for how they are cut).

    ``test(compiled, input, axis positions)`` writes each condition cell (default: FEEL, :func:`feel_test`);
    the JDM export (:mod:`sonet_policy.export.jdm`) passes its own to get the same regions in ZEN syntax.

    >>> [(r.label, r.entries) for r in dmn_rules("number")]
    [('NUM-1', ('false',)), ('NUM-2', ('true',))]
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    spec = book.decisions[decision]
    grid = compiled.decisions[decision]
    inputs = grid.inputs  # the decision's own grid: its inputs only
    sub = grid.outcome_id.reshape(grid.shape)
    matches = grid.matches.reshape((len(grid.rules), *grid.shape))
    position = {r.rule_id: i for i, r in enumerate(grid.rules)}
    ranked = sorted(
        range(len(grid.outcomes)),
        key=lambda k: (min((position[r] for r in grid.outcomes[k].rules), default=len(position)), k),
    )
    out: list[DmnRule] = []
    for k in ranked:
        outcome = grid.outcomes[k]
        region = sub == k
        if outcome.status == "uncovered" or not region.any():
            continue
        if outcome.status == "ok" and spec.hit_policy != "COLLECT":
            pieces = [(outcome.rules, _outcome_outputs(book, decision, outcome), "ok")]
        else:
            kind = "conflict" if outcome.status == "conflict" else "collect"
            pieces = []
            for rid in outcome.rules:
                rule = grid.rules[position[rid]]
                outs = tuple(rule.output(o) for o in spec.outputs)
                pieces.append(((rid,), outs, kind))
        for ids, outs, kind in pieces:
            own = [position[r] for r in ids]
            # Exceptions cut out: rules that match inside these rules' region and override them.
            cut = []
            for i in own:
                cells = matches[i]
                for j, other in enumerate(grid.rules):
                    if grid.rules[i].rule_id in other.exception_of:
                        if (matches[j] & cells).any() and other.rule_id not in cut:
                            cut.append(other.rule_id)
            tests = _cover(region, compiled, inputs, test)
            label = "+".join(ids)
            for n, entries in enumerate(tests, start=1):
                out.append(
                    DmnRule(decision, label, entries, outs, ids, _sources(book, ids), kind, tuple(cut), (n, len(tests)))
                )
    return out


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{DMN_NS}}}{tag}", {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = _sub(parent, tag, **attrs)
    _sub(el, "text", text)
    return el


def to_dmn(rulebook: RuleBook | None = None, *, input_values: bool = True) -> str:
    """The rule book as DMN 1.3 XML text (namespace :data:`DMN_NS`).

    ``input_values=False`` leaves out the category domains (``inputValues``): engines then skip the check
    that an input is in its domain (pyDMNrules runs about twice as fast without it; answers for valid inputs
    are the same).
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    ET.register_namespace("", DMN_NS)
    root = ET.Element(
        f"{{{DMN_NS}}}definitions",
        {"id": "sonet_policy", "name": "sonet-policy", "namespace": f"urn:sonet-policy:{book.hash}"},
    )
    _sub(
        root,
        "description",
        "So-net 光 電話 cancellation (解約) as decision tables, exported by sonet_policy from rule book "
        f"{book.hash}. Rules with declared exceptions are exported with the exceptions' cells cut out; "
        "overlapping rules with different answers mark contradictions of the page (UNIQUE is broken there).",
    )
    for name in book.inputs:
        spec = book.inputs[name]
        data = _sub(root, "inputData", id=f"input_{name}", name=name, label=spec.label_ja or None)
        if spec.description:
            _sub(data, "description", spec.description)
        _sub(data, "variable", id=f"input_{name}_variable", name=name, typeRef=TYPE_REFS[spec.type])
    for name, spec in book.decisions.items():
        decision = _sub(root, "decision", id=f"decision_{name}", name=name, label=spec.question_ja or None)
        if spec.question_en:
            _sub(decision, "question", spec.question_en)
        _sub(decision, "variable", id=f"decision_{name}_variable", name=name)
        for i in spec.inputs:
            req = _sub(decision, "informationRequirement", id=f"decision_{name}_requires_{i}")
            _sub(req, "requiredInput", href=f"#input_{i}")
        table = _sub(decision, "decisionTable", id=f"table_{name}", hitPolicy=spec.hit_policy)
        for i in spec.inputs:
            ispec = book.inputs[i]
            el = _sub(table, "input", id=f"table_{name}_input_{i}", label=i)
            _text(el, "inputExpression", i, id=f"table_{name}_input_{i}_expression", typeRef=TYPE_REFS[ispec.type])
            if ispec.kind == "category" and input_values:
                labels = compiled.axes[i].labels
                _text(el, "inputValues", ",".join(_quote(v) for v in labels), id=f"table_{name}_input_{i}_values")
        for k, out in enumerate(output_names(book, name)):
            el = _sub(table, "output", id=f"table_{name}_output_{out}", name=out, typeRef="string")
            if k == 0:
                codes = book.priority(name)
                _text(el, "outputValues", ",".join(_quote(c) for c in codes), id=f"table_{name}_output_{out}_values")
        for n, rule in enumerate(dmn_rules(name, rulebook=book), start=1):
            el = _sub(table, "rule", id=f"table_{name}_rule_{n}", label=rule.label)
            _sub(el, "description", rule.description())
            for k, entry in enumerate(rule.entries):
                _text(el, "inputEntry", entry, id=f"table_{name}_rule_{n}_in_{k}")
            for k, value in enumerate(rule.outputs):
                _text(el, "outputEntry", _quote(value), id=f"table_{name}_rule_{n}_out_{k}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def export_dmn(path: Path | str, *, rulebook: RuleBook | None = None, input_values: bool = True) -> Path:
    """Write :func:`to_dmn` to ``path`` through :func:`sonet_policy.files.write.write_atomically` (atomic; ``-`` is
    standard output; never the baseline); returns the path."""
    text = to_dmn(rulebook, input_values=input_values)
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return Path(path)
