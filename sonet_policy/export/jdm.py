"""Export a rule book as a JDM decision graph (GoRules JSON Decision Model) that zen-engine runs as it is.

``python -m sonet_policy export-jdm --output rules.json`` writes one graph; with the ``zen-engine`` package::

    import zen
    decision = zen.ZenEngine().create_decision(open("rules.json", encoding="utf-8").read())
    decision.evaluate({"area": "west", "plan": "other", "device": "RV-230SE", "setup": "v6plus_router",
                       "keep_number": False, "days_since_phone_stop": 31})["result"]["ipv4"]  # 'pppoe_router'

**The graph.** ``request`` (input node) feeds one decision table per decision of the rule book and one table of
the combinations that are invalid; all of them feed the expression node ``answers``, which feeds ``response``
(output node). Node ids and names are readable (``table_ipv4`` / ``ipv4``), every node has a canvas position,
every table column its input name as ``field``, and every table row a ``_description`` naming the rule ids and
the clause ids they cite, so the file opens in the GoRules editor.

**What the decision tables hold.** The same regions as the DMN export (:func:`sonet_policy.export.dmn.dmn_rules`):
exceptions are compiled out (a rule with exceptions appears with the exceptions' cells cut out), rules that agree
are pooled into one row, and where the page contradicts itself (a ``conflict`` region) every disagreeing rule
keeps its own row with its own answer. JDM has only the hit policies ``first`` and ``collect``, and ``first``
would hide exactly those contradictions behind row order, so every decision table is ``collect``:

* where our answer is ``ok``, exactly one row matches (the regions of different outcomes never overlap);
* in a ``conflict`` region two or more rows match, with different answers;
* in an ``uncovered`` region no row matches.

The ``answers`` node turns the collected rows into one key per decision, named as :func:`~sonet_policy.engine.evaluate`
names its columns: ``result["ipv4"]`` is the code, ``"conflict"`` when the matched rows disagree and
``"uncovered"`` when none matched; ``result["ipv4_alternatives"]`` the alternatives (``a|b``; empty unless
``ok``); ``result["rules"]`` the rule ids that decided, decision by decision (a list); ``result["status"]`` is
``ok``, ``uncovered``, ``conflict`` (at least one decision), ``partial`` or ``invalid`` (below);
``result["rulebook_hash"]`` the rule book. A COLLECT decision of the rule book has one row per collected rule; the
``answers`` node joins their codes in the order of ``codes.csv`` (``a|b``) and their alternatives in sorted order,
as the kit does.

**Invalid fields, partial answers.** The ``invalid`` table (hit policy ``collect``) lists every check a
scenario fails, as the kit reads it: a value outside an input's domain (a category value that is not one of the
canonical ones, a device that is not a catalogue model, a boolean that is not ``true``/``false``, a day count
that is not a whole number at or above the minimum, a required input that is null), then each constraint of
``constraints.csv`` (over its own inputs; its message is the kit's ``error``, ``field: message``). Each row
names the decisions it leaves unanswered (those that read the input; those the constraint blocks): their keys
are null, the other decisions are answered, ``result["status"]`` is ``partial`` (``invalid`` when no decision
is answered) and ``result["error"]`` joins the failed checks with ``; ``, as in ``evaluate``. zen-engine leaves
null keys out of the result: read them with ``result.get(...)``.

**Normalise before the engine.** The graph compares canonical values: ``area`` ``"west"``, the catalogue model
(``"PR-600KI"``, not ``ＰＲ－６００ＫＩ``), booleans ``true``/``false``, the day count as a number or null (the
phone has not stopped). The kit's spellings and aliases (``東日本``, ``yes``, full-width labels) are resolved
by :func:`~sonet_policy.engine.evaluate` / :func:`~sonet_policy.engine.explain`, not by the export; other spellings come
out
``invalid``.

**Cell syntax.** Category and boolean columns read their input (``field``) and hold ZEN unary tests: a set is
``"a", "b"`` (or ``not in ["a", "b"]`` when the complement is shorter), a boolean ``true``, any value an empty
cell. A range test on null is an error in ZEN (``Opcode In: Unsupported type``; inside a table the row silently
does not match), and the day count is null until the phone stops, so every day cell is guarded. ZEN's unary mode
misreads ``$ != null and ($ in [0..9] or $ >= 20)`` (a parser error) and ``$ != null and $ in [0..9] or …`` (a
wrong answer), so integer columns have no ``field`` and their cells are standard expressions that name the
input: ``days_since_phone_stop != null and days_since_phone_stop in [0..31]``,
``days_since_phone_stop == null or days_since_phone_stop >= 32``, ``days_since_phone_stop == null``. An input
whose empty cell reads as a value (``inputs.csv`` column ``empty``) reads null as that value in the same way:
``(kit_sent ?? false) == true``; only a value outside its domain is invalid.

>>> graph = to_jdm()
>>> sorted({n["type"] for n in graph["nodes"]})
['decisionTableNode', 'expressionNode', 'inputNode', 'outputNode']
>>> [n["content"]["hitPolicy"] for n in graph["nodes"] if n["name"] == "ipv4"]
['collect']
"""

from __future__ import annotations

import json

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.conditions import Axis, Condition
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.export.dmn import DmnRule, dmn_rules, output_names
from sonet_policy.export.expressions import CellSyntax, SpanForms

CONTENT_TYPE = "application/vnd.gorules.decision"
RESERVED = ("request", "invalid", "answers", "response")  # node names besides the decisions
# Each node's output is only its own (the answers node reads the tables as $nodes.<name>), one evaluation per
# request; the editor writes these settings out in full.
_SINGLE = {"passThrough": False, "inputField": None, "outputPath": None, "executionMode": "single"}


def _literal(value: object) -> str:
    """A ZEN literal: JSON text is valid ZEN for strings, numbers, booleans, null and lists of them."""
    return json.dumps(value, ensure_ascii=False)


def _empty_value(book: RuleBook, name: str) -> object:
    """The value an empty (null) ``name`` reads as when ``inputs.csv`` gives one in its ``empty`` column (a
    boolean as true/false); None when null is missing (``error``) or a value of its own (``null``)."""
    spec = book.inputs[name]
    if spec.type == "integer" or spec.empty in ("error", "null", ""):
        return None
    if spec.type == "boolean":
        return spec.empty == "true"
    return spec.empty


def _expression_column(book: RuleBook, name: str) -> bool:
    """Whether the column's cells are standard expressions naming the input (no ``field``)."""
    return book.inputs[name].type == "integer" or _empty_value(book, name) is not None


class ZenSyntax(CellSyntax):
    """ZEN cells (see the module docstring): unary tests on the column's ``field`` for categories and booleans,
    standard expressions naming the input for day counts and for inputs whose empty cell reads as a value."""

    any_value = ""
    separator = ", "
    spans = SpanForms(
        at_least="{name} >= {lo}", at_most="{name} <= {hi}", single="{name} == {lo}", between="{name} in [{lo}..{hi}]"
    )

    def literal(self, value: str) -> str:
        return _literal(value)

    def complement(self, values: str) -> str:
        return f"not in [{values}]"

    def integer(self, name: str, empty: bool, parts: list[str]) -> str:
        tests = " or ".join(parts)
        if not parts:
            return f"{name} == null"
        if empty:
            return f"{name} == null or {tests}"
        return f"{name} != null and ({tests})" if len(parts) > 1 else f"{name} != null and {tests}"

    def held(self, compiled: CompiledBook | None, name: str, axis: Axis, chosen: list[int]) -> str:
        book = getattr(compiled, "book", None)
        default = _empty_value(book, name) if book is not None else None
        if default is None:
            return super().held(compiled, name, axis, chosen)
        value = f"({name} ?? {_literal(default)})"  # an empty cell reads as a value: an expression on either
        if axis.kind == "boolean":
            return f"{value} == {axis.labels[chosen[0]]}" if len(chosen) == 1 else ""
        return f"{value} in [{', '.join(_literal(axis.labels[p]) for p in chosen)}]"


ZEN = ZenSyntax()


def zen_test(compiled: CompiledBook, name: str, positions: tuple[int, ...]) -> str:
    """The ZEN cell (unary test) that holds exactly on ``positions`` of the input's axis.

    >>> c = default_rulebook().compiled()
    >>> zen_test(c, "days_since_phone_stop", (1,))
    'days_since_phone_stop != null and days_since_phone_stop in [0..31]'
    >>> zen_test(c, "days_since_phone_stop", (0, 2))
    'days_since_phone_stop == null or days_since_phone_stop >= 32'
    >>> zen_test(c, "plan", (1,)), zen_test(c, "area", (0, 1)), zen_test(c, "keep_number", (1,))
    ('"sml"', '', 'true')
    """
    return ZEN.test(compiled, name, positions)


def _column(book: RuleBook, column_id: str, name: str) -> dict:
    """A table column: ``field`` (cells are unary tests on it), except for integer inputs, whose cells are
    standard expressions that name the input (ZEN's unary mode misreads ``$ != null and ($ in … or …)``)."""
    column = {"id": column_id, "name": name, "type": "expression"}
    if not _expression_column(book, name):
        column["field"] = name
    return column


def _domain_test(compiled: CompiledBook, name: str) -> str:
    """A ZEN cell that holds where the value of input ``name`` is outside what the tables can answer."""
    book = compiled.book
    spec = book.inputs[name]
    axis = compiled.axes[name]
    if spec.type == "integer":
        bad = f'type({name}) != "number" or {name} < {int(spec.minimum)} or floor({name}) != {name}'
        return f"{name} == null or {bad}" if spec.required else f"{name} != null and ({bad})"
    if _empty_value(book, name) is not None:  # null reads as a value: only a value outside the domain fails
        domain = ", ".join(_literal(v) for v in ((False, True) if spec.type == "boolean" else axis.labels))
        return f"{name} != null and not({name} in [{domain}])"
    if spec.type == "boolean":
        return "$ != true and $ != false"
    return f"not in [{', '.join(_literal(v) for v in axis.labels)}]"


def _node(node_id: str, name: str, kind: str, x: int, y: int, content: dict | None = None) -> dict:
    node: dict = {"id": node_id, "name": name, "type": kind, "position": {"x": x, "y": y}}
    if content is not None:
        node["content"] = content
    return node


def _invalid_table(book: RuleBook, compiled: CompiledBook) -> dict:
    """The checks a scenario can fail, each a row (hit policy ``collect``: every failed check is listed): an
    input outside its domain, then each constraint of ``constraints.csv``. A row outputs the kit's ``error``
    text (``field: message``), its constraint id, and ``blocks``: the decisions it leaves unanswered (those that
    read the input; those a constraint blocks), as :func:`~sonet_policy.engine.evaluate` answers partially."""
    names = list(book.inputs)
    columns = [_column(book, f"invalid_in_{n}", n) for n in names]
    rows = []
    for k, n in enumerate(names):
        message = f"{n}: not a canonical value (normalise the scenario before the engine)"
        row = {"_id": f"invalid_domain_{k}", "_description": f"the domain of {n}"}
        row.update({f"invalid_in_{m}": _domain_test(compiled, m) if m == n else "" for m in names})
        blocks = [d for d, spec in book.decisions.items() if n in spec.inputs]
        row.update(invalid_out_error=_literal(message), invalid_out_constraint="null")
        row["invalid_out_blocks"] = _literal(blocks)
        rows.append(row)
    for cg in compiled.constraints:
        c = cg.constraint
        row = {
            "_id": f"invalid_{c.constraint_id}",
            "_description": f"{c.constraint_id}; clauses: {', '.join(c.source)}",
        }
        for n in names:
            # a constraint reads its own inputs; it holds only where each of them has a value of its domain
            if n in cg.inputs:
                row[f"invalid_in_{n}"] = zen_test(compiled, n, _positions(c.conditions[n], compiled, n))
            else:
                row[f"invalid_in_{n}"] = ""
        row["invalid_out_error"] = _literal(cg.message)
        row["invalid_out_constraint"] = _literal(c.constraint_id)
        row["invalid_out_blocks"] = _literal(list(cg.blocks))
        rows.append(row)
    outputs = [
        {"id": "invalid_out_error", "name": "error", "field": "error"},
        {"id": "invalid_out_constraint", "name": "constraint", "field": "constraint"},
        {"id": "invalid_out_blocks", "name": "blocks", "field": "blocks"},
    ]
    return {"hitPolicy": "collect", "inputs": columns, "outputs": outputs, "rules": rows, **_SINGLE}


def _positions(cond: Condition, compiled: CompiledBook, name: str) -> tuple[int, ...]:
    mask = cond.mask(compiled.axes[name])
    return tuple(int(i) for i in mask.nonzero()[0])


def _decision_table(book: RuleBook, decision: str, rules: list[DmnRule]) -> dict:
    spec = book.decisions[decision]
    outs = output_names(book, decision)
    columns = [_column(book, f"{decision}_in_{n}", n) for n in spec.inputs]
    outputs = [{"id": f"{decision}_out_{o}", "name": o, "field": o, "type": "expression"} for o in outs]
    outputs.append({"id": f"{decision}_out_rules", "name": "rules", "field": "rules", "type": "expression"})
    rows = []
    for k, rule in enumerate(rules, start=1):
        row = {"_id": f"{decision}_{k}", "_description": rule.description()}
        for n, entry in zip(spec.inputs, rule.entries, strict=True):
            row[f"{decision}_in_{n}"] = entry
        for o, value in zip(outs, rule.outputs, strict=True):
            row[f"{decision}_out_{o}"] = _literal(value)
        row[f"{decision}_out_rules"] = _literal(list(rule.rules))
        rows.append(row)
    return {"hitPolicy": "collect", "inputs": columns, "outputs": outputs, "rules": rows, **_SINGLE}


def _any_of(tests: list[str]) -> str:
    return "(" + " or ".join(tests) + ")" if tests else "false"


def _collect_join(flags: list[tuple[str, str]], sep: str = "|") -> str:
    """ZEN text joining with ``sep`` the values whose flag holds, in the given order (ZEN has no ``join``)."""
    pieces = []
    for k, (value, flag) in enumerate(flags):
        before = _any_of([f for _, f in flags[:k]])
        pieces.append(f'({flag} ? ({before} ? {_literal(sep + value)} : {_literal(value)}) : "")')
    return " + ".join(pieces) if pieces else '""'


def _answer_expressions(book: RuleBook, decision: str, rules: list[DmnRule]) -> list[tuple[str, str]]:
    spec = book.decisions[decision]
    hits = f"$nodes.{decision}"
    outs = output_names(book, decision)
    if spec.hit_policy == "COLLECT":
        order = list(book.priority(decision))
        for rule in rules:
            if rule.outputs[0] not in order:
                order.append(rule.outputs[0])
        code = _collect_join([(c, f"some({hits}, #.{outs[0]} == {_literal(c)})") for c in order])
        exprs = [(decision, f'len({hits}) == 0 ? "uncovered" : {code}')]
        for out, o in zip(spec.outputs[1:], outs[1:], strict=True):
            if out == "alternatives":
                values = sorted({a for r in rules for a in r.outputs[outs.index(o)].split("|") if a})
                flags = [(a, f'some({hits}, contains(split(#.{o}, "|"), {_literal(a)}))') for a in values]
                exprs.append((o, _collect_join(flags)))
            else:
                exprs.append((o, '""'))
    else:
        first = f"{hits}[0].{outs[0]}"
        exprs = [
            (
                decision,
                f'len({hits}) == 0 ? "uncovered" : some({hits}, #.{outs[0]} != {first}) ? "conflict" : {first}',
            )
        ]
        exprs.extend((o, f'len({hits}) == 1 ? {hits}[0].{o} : ""') for o in outs[1:])
    return [(key, f"{_blocked(decision)} ? null : {value}") for key, value in exprs]


def _blocked(decision: str) -> str:
    """ZEN: a failed check (the ``invalid`` table) leaves ``decision`` unanswered."""
    return f"some($nodes.invalid, contains(#.blocks, {_literal(decision)}))"


def to_jdm(rulebook: RuleBook | None = None) -> dict:
    """The rule book as a JDM decision graph (a JSON-ready dict; see the module docstring for its shape).

    Returns ``{"contentType", "nodes", "edges"}``. Raises ``ValueError`` when a decision is named like one of the
    graph's own nodes (:data:`RESERVED`), or a decision or input name is not an identifier (ZEN expressions name
    them).

    >>> [n["id"] for n in to_jdm()["nodes"]][:3]
    ['request', 'table_invalid', 'table_procedure']
    """
    book = rulebook or default_rulebook()
    compiled = book.compiled()
    clash = [d for d in book.decisions if d in RESERVED]
    if clash:
        raise ValueError(f"decision {clash[0]!r} has the name of a node of the JDM graph ({', '.join(RESERVED)})")
    odd = [n for n in (*book.decisions, *book.inputs) if not n.isidentifier()]
    if odd:
        raise ValueError(f"{odd[0]!r} is not an identifier: ZEN expressions of the JDM graph cannot name it")
    regions = {d: dmn_rules(d, rulebook=book, test=zen_test) for d in book.decisions}
    step = 120
    height = step * len(book.decisions)
    nodes = [
        _node("request", "request", "inputNode", 0, height // 2, {"schema": ""}),
        _node("table_invalid", "invalid", "decisionTableNode", 320, 0, _invalid_table(book, compiled)),
    ]
    for k, decision in enumerate(book.decisions, start=1):
        table = _decision_table(book, decision, regions[decision])
        nodes.append(_node(f"table_{decision}", decision, "decisionTableNode", 320, k * step, table))
    checks = _invalid_table(book, compiled)["rules"]
    flags = [
        (json.loads(r["invalid_out_error"]), f"some($nodes.invalid, #.error == {r['invalid_out_error']})")
        for r in checks
    ]
    expressions = [("error", f"len($nodes.invalid) == 0 ? null : {_collect_join(flags, '; ')}")]
    for decision in book.decisions:
        expressions.extend(_answer_expressions(book, decision, regions[decision]))
    codes = ", ".join(f"$.{d}" for d in book.decisions)
    expressions.append(
        (
            "status",
            f'all([{codes}], # == null) ? "invalid" : some([{codes}], # == null) ? "partial" '
            f': "conflict" in [{codes}] ? "conflict" : "uncovered" in [{codes}] ? "uncovered" : "ok"',
        )
    )
    flat = ", ".join(f"({_blocked(d)} ? [] : flatten(map($nodes.{d}, #.rules)))" for d in book.decisions)
    expressions.append(("rules", f'$.status == "invalid" ? null : flatten([{flat}])'))
    expressions.append(("rulebook_hash", _literal(book.hash)))
    answers = {
        "expressions": [{"id": f"answers_{key}", "key": key, "value": value} for key, value in expressions],
        **_SINGLE,
    }
    nodes.append(_node("answers", "answers", "expressionNode", 720, height // 2, answers))
    nodes.append(_node("response", "response", "outputNode", 1040, height // 2, {"schema": ""}))
    edges = [("request", n["id"]) for n in nodes if n["type"] == "decisionTableNode"]
    edges += [(n["id"], "answers") for n in nodes if n["type"] == "decisionTableNode"]
    edges.append(("answers", "response"))
    return {
        "contentType": CONTENT_TYPE,
        "nodes": nodes,
        "edges": [{"id": f"{a}->{b}", "type": "edge", "sourceId": a, "targetId": b} for a, b in edges],
    }


def to_jdm_json(rulebook: RuleBook | None = None, *, indent: int | None = 2) -> str:
    """:func:`to_jdm` as JSON text (UTF-8, Japanese kept as it is), what ``create_decision`` reads.

    >>> '"hitPolicy": "collect"' in to_jdm_json()
    True
    """
    return json.dumps(to_jdm(rulebook), ensure_ascii=False, indent=indent) + "\n"
