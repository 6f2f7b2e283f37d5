"""Cross-decision invariants: what the page says about the answers of two decisions at once.

Each decision table is checked alone by the audit; the page's statements also cross tables (a router whose
function NTT stops remotely cannot keep carrying Wi-Fi). ``invariants.csv`` in the rule book folder holds
those statements as data, one per row, in the grammar of the rule tables (no expression is ever evaluated):

* ``invariant_id``; optional condition columns named after inputs (cell grammar: ``-``, ``a|b``, day ranges);
* ``when_<decision>``: codes (``a|b``; ``-`` or empty: any) the decision must answer for the row to apply. A
  ``conflict`` applies when one of its deciding rules answers such a code (the tables say it, among others);
* ``then_decision`` with ``then_in`` (codes it must answer) or ``then_not_in`` (codes it must not answer);
* ``source`` (clause ids, ``|``-separated; at least one), ``note`` and, optional, ``cited_hash`` (the stamp of
  the cited text, as in the rule tables: ``python -m sonet_policy source stamp``).

:func:`violations` checks every invariant on any frame of scenarios, vectorised: each row is looked up in a
table of every combination of the inputs, built once per book by the public :func:`evaluate`.
:func:`findings` checks each one over *every* combination of the inputs its decisions, its own
conditions and the constraints read (built from :func:`axes`: the declared domains, the catalogue and the day
cut points), so it is exact; violations come back as audit findings of kind ``inconsistency``.

Only :func:`axes` and :func:`positions` read the engine's compiled form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sonet_policy.book.cache import Slot
from sonet_policy.book.conditions import Axis, Condition, parse_cell
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.book.scope import describe, merge_cells
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.errors import ConditionError, RuleBookError

FILE = "invariants.csv"
FIXED = ("invariant_id", "then_decision", "then_in", "then_not_in", "source", "note", "cited_hash")
WHEN = "when_"
FINDING_CODES = ("uncovered", "conflict")


_INVARIANTS: Slot[list[Invariant]] = Slot("invariants")
_DOMAIN: Slot[tuple] = Slot("invariant_domain")


@dataclass(frozen=True)
class Invariant:
    """One parsed row of ``invariants.csv``."""

    invariant_id: str
    row: int
    conditions: dict[str, Condition]
    when: dict[str, frozenset[str]]
    then_decision: str
    then_in: frozenset[str]
    then_not_in: frozenset[str]
    source: tuple[str, ...]
    note: str = ""

    @property
    def decisions(self) -> tuple[str, ...]:
        """The decisions the invariant reads: the ``when`` ones, then the ``then`` one."""
        return (*self.when, self.then_decision)

    def statement(self) -> str:
        """The invariant as one line: ``where device_action is none and setup is wlan_1g: ipv4 is not continues``."""
        parts = [f"{name} is {cond.describe()}" for name, cond in self.conditions.items() if not cond.any]
        parts += [f"{d} answers {' or '.join(sorted(codes))}" for d, codes in self.when.items()]
        then = (
            f"{self.then_decision} is {' or '.join(sorted(self.then_in))}"
            if self.then_in
            else f"{self.then_decision} is not {' or '.join(sorted(self.then_not_in))}"
        )
        return (f"where {' and '.join(parts)}: " if parts else "everywhere: ") + then


def axes(book: RuleBook) -> dict[str, Axis]:
    """The finite axis of every input (category values, the catalogue, false/true, the day intervals): the one
    place this module reads the compiled grid.

    >>> from sonet_policy import default_rulebook
    >>> axes(default_rulebook())["days_since_phone_stop"].labels
    ('empty', '0-31', '>=32')
    """
    return book.compiled().axes


def positions(frame: pd.DataFrame, *, rulebook: RuleBook) -> dict[str, np.ndarray]:
    """Per input, each row's position on its axis (-1 where that field is missing or invalid): how a frame of
    raw scenarios (any device spelling, yes/no) meets the condition columns. The one other place that reads the
    engine. A combination a constraint rules out keeps its positions: the decisions it blocks come back
    unanswered from :func:`evaluate`, and an invariant reading one of them does not apply.

    >>> from sonet_policy import default_rulebook
    >>> row = pd.DataFrame([dict(area="west", plan="sml", device="pr600ki", setup="wlan_1g", keep_number="no")])
    >>> int(positions(row, rulebook=default_rulebook())["device"][0])
    0
    """
    from sonet_policy.engine.encode import encode

    enc = encode(frame, rulebook.compiled())
    return {name: enc.positions(name) for name in rulebook.inputs}


def domain_of(book: RuleBook, name: str) -> tuple[str, ...] | None:
    """The values a condition cell on input ``name`` may name: its declared domain, the catalogue's models for
    a ``catalogue`` domain, None for an integer input (ranges are checked by the parser).

    >>> from sonet_policy import default_rulebook
    >>> len(domain_of(default_rulebook(), "device")) == len(default_rulebook().models)
    True
    """
    spec = book.inputs[name]
    if spec.type == "integer":
        return None
    return book.models if spec.domain == ("catalogue",) else spec.domain


def load_invariants(book: RuleBook) -> list[Invariant]:
    """The invariants of ``book`` (``invariants.csv`` in its folder; none when the file is absent), cached on the
    book. Raises RuleBookError naming file, row, column and value for every problem at once.

    >>> from sonet_policy import default_rulebook
    >>> [i.invariant_id for i in load_invariants(default_rulebook())][:2]
    ['INV-ROUTER-WIFI', 'INV-ROUTER-IPV4']
    """
    return book.cache.get(_INVARIANTS, lambda: _load(book))


def _load(book: RuleBook) -> list[Invariant]:
    path = book.folder / FILE
    found: list[Invariant] = []
    if path.is_file():
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frame.columns = [str(c).strip() for c in frame.columns]
        found = _parse(frame, book)
    return found


def _codes(book: RuleBook, decision: str) -> set[str]:
    c = book.codes
    return set(c.loc[c["decision"] == decision, "code"]) | set(FINDING_CODES)


def _parse(frame: pd.DataFrame, book: RuleBook) -> list[Invariant]:
    problems: list[dict] = []

    def add(row: int, column: str, value: object, problem: str) -> None:
        problems.append(dict(file=FILE, row=row, column=column, value=value, problem=problem))

    for col in ("invariant_id", "then_decision", "source"):
        if col not in frame.columns:
            add(0, col, "", "required column is missing")
    for col in frame.columns:
        if col in FIXED or col in book.inputs:
            continue
        if not (col.startswith(WHEN) and col[len(WHEN) :] in book.decisions):
            add(0, col, "", "unknown column: an input, when_<decision>, or one of " + ", ".join(FIXED))
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    clause_ids = set(book.clauses.index)
    out: list[Invariant] = []
    seen: set[str] = set()
    for i, rec in enumerate(frame.to_dict(orient="records")):
        row = i + 2
        iid = rec["invariant_id"].strip()
        if not iid:
            add(row, "invariant_id", "", "invariant_id is empty")
        elif iid in seen:
            add(row, "invariant_id", iid, "duplicate invariant id")
        seen.add(iid)
        conditions: dict[str, Condition] = {}
        for name, spec in book.inputs.items():
            if name not in frame.columns:
                continue
            cell = rec[name].strip() or "-"
            try:
                conditions[name] = parse_cell(cell, name, spec.type, domain_of(book, name))
            except ConditionError as exc:
                add(row, name, cell, str(exc))
        when: dict[str, frozenset[str]] = {}
        for col in frame.columns:
            if not col.startswith(WHEN) or col in FIXED:
                continue
            decision, cell = col[len(WHEN) :], rec[col].strip()
            if cell in ("", "-"):
                continue
            codes = frozenset(p.strip() for p in cell.split("|"))
            for code in sorted(codes - _codes(book, decision)):
                add(row, col, code, f"not a code of {decision} (codes.csv)")
            when[decision] = codes
        then = rec["then_decision"].strip()
        sets = {}
        for col in ("then_in", "then_not_in"):
            cell = rec[col].strip() if col in frame.columns else ""
            sets[col] = frozenset(p.strip() for p in cell.split("|") if p.strip())
        if then not in book.decisions:
            add(row, "then_decision", then, "unknown decision")
        else:
            for col, codes in sets.items():
                for code in sorted(codes - _codes(book, then)):
                    add(row, col, code, f"not a code of {then} (codes.csv)")
        if bool(sets["then_in"]) == bool(sets["then_not_in"]):
            add(row, "then_in", "", "write exactly one of then_in and then_not_in")
        if then in when:
            add(row, "then_decision", then, "the then decision is also a when decision")
        source = tuple(p.strip() for p in rec["source"].split("|") if p.strip())
        if not source:
            add(row, "source", "", "every invariant cites at least one clause")
        for cid in source:
            if cid not in clause_ids:
                add(row, "source", cid, "unknown clause id (data/source/clauses.csv)")
        stamp = rec.get("cited_hash", "").strip()
        if stamp and not re.fullmatch(r"[0-9a-f]{12}", stamp):
            add(row, "cited_hash", stamp, "cited_hash is empty or 12 hex digits (source stamp)")
        out.append(
            Invariant(
                iid, row, conditions, when, then, sets["then_in"], sets["then_not_in"], source, rec.get("note", "")
            )
        )
    if problems:
        raise RuleBookError(problems, folder=str(book.folder))
    return out


def _rule_answers(book: RuleBook, rules: pd.Series, decision: str) -> tuple[np.ndarray, list[str]]:
    """Per row, the answers of ``decision``'s deciding rules (``rules`` is evaluate's column) and the rule ids,
    computed once per distinct rules text: (codes per row into the list of distinct texts, filtered ids)."""
    cat = rules.astype("category")
    index = book.rule_index
    texts = [
        " ".join(rid for rid in str(text).split() if rid in index and index[rid].decision == decision)
        for text in cat.cat.categories
    ]
    per_cat, filtered = pd.factorize(pd.Series(texts, dtype=object))
    lut = np.append(np.asarray(per_cat, dtype=np.int64), len(filtered))  # code -1 (no rules text) reads ""
    return lut[np.asarray(cat.cat.codes)], [*filtered, ""]


def _is_in(column: pd.Series, wanted: frozenset[str] | set[str]) -> np.ndarray:
    """``column`` (evaluate's categorical answers) holds one of ``wanted``: one test per category, then a
    lookup per row (a missing answer is in nothing)."""
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    lut = np.array([str(c) in wanted for c in cat.cat.categories] + [False], dtype=bool)
    return lut[np.asarray(cat.cat.codes)]


def _holds(codes: pd.Series, rules: pd.Series, book: RuleBook, decision: str, wanted: frozenset[str]) -> np.ndarray:
    """``decision`` answers one of ``wanted``; a conflict counts when one of its deciding rules does."""
    hit = _is_in(codes, wanted)
    conflict = _is_in(codes, {"conflict"})
    if conflict.any() and "conflict" not in wanted:
        row_cat, filtered = _rule_answers(book, rules, decision)
        index = book.rule_index
        per_cat = np.array([any(index[r].answer in wanted for r in t.split()) for t in filtered])
        hit |= conflict & per_cat[row_cat]
    return hit


def violations(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """Which rows of ``frame`` (scenarios, as for :func:`evaluate`) break which invariant: a boolean DataFrame,
    one column per invariant id, on the frame's index. Invalid rows break none. Raises RuleBookError when
    ``invariants.csv`` does not load.

    >>> row = pd.DataFrame([dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)])
    >>> bool(violations(row)["INV-ROUTER-IPV4"].iloc[0])
    True
    """
    return applies_and_violations(frame, rulebook=rulebook)[1]


def applies_and_violations(frame: pd.DataFrame, *, rulebook: RuleBook | None = None) -> tuple[pd.DataFrame, ...]:
    """As :func:`violations`, and first where each invariant applies (its conditions and ``when`` part hold):
    ``(applies, broken)``, two boolean DataFrames with one column per invariant id.

    >>> row = pd.DataFrame([dict(area="east", plan="sml", device="PR-400NE", setup="wlan_1g", keep_number=False)])
    >>> applies, broken = applies_and_violations(row)
    >>> bool(applies["INV-ROUTER-IPV4"].iloc[0]), bool(broken["INV-ROUTER-IPV4"].iloc[0])
    (True, False)
    """
    book = rulebook or default_rulebook()
    ids = [i.invariant_id for i in load_invariants(book)]
    if not ids:  # nothing to check (and no domain to enumerate)
        empty = pd.DataFrame(index=frame.index, columns=[], dtype=bool)
        return empty, empty.copy()
    names, shape, applies, broken = _domain_table(book)
    pos = positions(frame, rulebook=book)
    valid = np.ones(len(frame), dtype=bool)
    for name in names:
        valid &= pos[name] >= 0
    cell = np.ravel_multi_index(tuple(np.where(valid, pos[name], 0) for name in names), shape)
    out = []
    for table in (applies, broken):
        rows = table[cell] & valid[:, None]  # an invalid row (a bad value, a ruled-out combination) breaks none
        out.append(pd.DataFrame(rows, index=frame.index, columns=ids, dtype=bool))
    return out[0], out[1]


def _domain_table(book: RuleBook) -> tuple[list[str], tuple[int, ...], np.ndarray, np.ndarray]:
    """Every combination of the inputs the invariants involve (their decisions' inputs, their conditions and
    the constraints'; each decision is answered over its own inputs, so the others cannot change the answers
    they read), checked once per book through :func:`evaluate` (cached): per combination (row-major over
    those inputs in :func:`axes` order) whether each invariant applies and whether it is broken. Any frame is
    checked by looking its rows up here."""
    names, shape, _, _, _, applies, broken = _domain(book)
    return names, shape, applies, broken


def _domain(book: RuleBook) -> tuple:
    """The whole domain once per book (cached): input names, shape, the scenario frame, axis positions, the
    answers of :func:`evaluate`, and the applies / broken matrices (rows x invariants)."""
    return book.cache.get(_DOMAIN, lambda: _build_domain(book))


def _build_domain(book: RuleBook) -> tuple:
    grid = axes(book)
    invariants = load_invariants(book)
    wanted = {name for inv in invariants for name in _involved_inputs(book, inv)}
    names = [name for name in grid if name in wanted]
    frame, pos = _grid_frame(book, names)
    answers = evaluate(frame, rulebook=book)
    applies, broken = _check(book, load_invariants(book), frame, answers, pos, with_applies=True)
    shape = tuple(len(grid[name].labels) for name in names)
    return (names, shape, frame, pos, answers, applies.to_numpy(), broken.to_numpy())


def _check(
    book: RuleBook,
    invariants: list[Invariant],
    frame: pd.DataFrame,
    answers: pd.DataFrame,
    pos: dict[str, np.ndarray],
    *,
    with_applies: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    grid = axes(book)
    out: dict[str, np.ndarray] = {}
    applies: dict[str, np.ndarray] = {}
    for inv in invariants:
        mask = np.ones(len(frame), dtype=bool)
        for d in inv.decisions:  # a decision left unanswered (a field it reads invalid, ruled out) says nothing
            mask &= answers[d].notna().to_numpy()
        for name, cond in inv.conditions.items():
            if cond.any:
                continue
            allowed = np.append(cond.mask(grid[name]), False)  # position -1 reads the last entry
            mask &= allowed[pos[name]]
        for decision, codes in inv.when.items():
            mask &= _holds(answers[decision], answers["rules"], book, decision, codes)
        then = answers[inv.then_decision]
        broken = ~_is_in(then, inv.then_in) if inv.then_in else _is_in(then, inv.then_not_in)
        out[inv.invariant_id] = mask & broken
        applies[inv.invariant_id] = mask
    ids = [i.invariant_id for i in invariants]
    broken_frame = pd.DataFrame(out, index=frame.index, columns=ids, dtype=bool)
    if with_applies:
        return pd.DataFrame(applies, index=frame.index, columns=ids, dtype=bool), broken_frame
    return broken_frame


def _scenario_values(axis: Axis) -> list[object]:
    """One scenario value per axis cell: the label, a bool, or a day interval's first day (None: empty)."""
    if axis.kind == "integer":
        return [None if iv is None else int(iv[0]) for iv in axis.intervals]
    if axis.kind == "boolean":
        return [label == "true" for label in axis.labels]
    return list(axis.labels)


def _involved_inputs(book: RuleBook, invariant: Invariant) -> list[str]:
    """The inputs an invariant's check enumerates: those its decisions read, its own conditions, and those any
    constraint reads (so that validity is exact), in the rule book's input order."""
    wanted = {name for d in invariant.decisions for name in book.decisions[d].inputs}
    wanted |= {name for name, cond in invariant.conditions.items() if not cond.any}
    wanted |= {name for c in book.constraints for name, cond in c.conditions.items() if not cond.any}
    return [name for name in axes(book) if name in wanted]


def _grid_frame(book: RuleBook, inputs: list[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Every combination of ``inputs`` (other inputs at their first value) as scenarios, with each row's axis
    positions: the frame :func:`findings` evaluates."""
    grid = axes(book)
    shape = [len(grid[name].labels) if name in inputs else 1 for name in grid]
    pos_arrays = np.indices(shape).reshape(len(shape), -1)
    data, pos = {}, {}
    for k, (name, axis) in enumerate(grid.items()):
        values = np.array(_scenario_values(axis), dtype=object)
        data[name] = values[pos_arrays[k]]
        pos[name] = pos_arrays[k]
    return pd.DataFrame(data), pos


def findings(book: RuleBook) -> list[dict]:
    """Every violation of every invariant over the whole domain, as audit findings of kind ``inconsistency``:
    one per invariant, combination of deciding rules and box of the enumerated grid (``scope`` over the
    inputs involved). ``rules`` lists the deciding rules of the ``when`` decisions, then of the ``then``
    decision; ``clauses`` the invariant's own, then those rules'.

    >>> from sonet_policy import default_rulebook
    >>> sorted({f["invariant"] for f in findings(default_rulebook())})
    ['INV-ROUTER-IPV4']
    """
    out: list[dict] = []
    if not load_invariants(book):
        return out
    index = book.rule_index
    _, _, frame, pos, answers, _, broken_all = _domain(book)
    rules_of: dict[str, tuple[np.ndarray, list[str]]] = {}
    for k, inv in enumerate(load_invariants(book)):
        # every combination of the inputs involved: the domain's rows, projected (the decisions involved, the
        # invariant and the constraints read no other input, so rows that differ elsewhere agree)
        inputs = _involved_inputs(book, inv)
        broken = broken_all[:, k]
        if not broken.any():
            continue
        for d in inv.decisions:
            if d not in rules_of:
                rules_of[d] = _rule_answers(book, answers["rules"], d)
        per_decision = [rules_of[d] for d in inv.decisions]
        key = np.zeros(len(frame), dtype=np.int64)
        for codes, filtered in per_decision:
            key = key * (len(filtered) + 1) + codes
        grid = axes(book)
        labels = {name: grid[name].labels for name in inputs}
        for group in pd.unique(key[broken]):
            rows = broken & (key == group)
            first = int(np.flatnonzero(rows)[0])
            rules = [rid for codes, filtered in per_decision for rid in filtered[codes[first]].split()]
            clauses = list(dict.fromkeys([*inv.source, *(c for rid in rules for c in index[rid].source)]))
            shaped = np.zeros([len(labels[n]) for n in inputs], dtype=bool)
            shaped[tuple(pos[n][rows] for n in inputs)] = True
            for scope in merge_cells(shaped, labels, inputs):
                where = describe(scope)
                said = "; ".join(
                    f"{d} {answers[d].iloc[first]} ({filtered[codes[first]] or 'no rule'})"
                    for d, (codes, filtered) in zip(inv.decisions, per_decision, strict=True)
                )
                message = (
                    f"Invariant {inv.invariant_id} ({inv.statement()}) does not hold on {where}: {said}. "
                    f"{inv.note} Clauses: {_clause_text(book, clauses)}."
                )
                in_box = rows.copy()
                for name, wanted in scope.items():
                    values = {wanted} if isinstance(wanted, str) else set(wanted)
                    ok = np.array([lab in values for lab in labels[name]])
                    in_box &= ok[pos[name]]
                w = int(np.flatnonzero(in_box)[0])
                out.append(
                    dict(
                        kind="inconsistency",
                        decision=inv.then_decision,
                        scope=scope,
                        rules=rules,
                        clauses=clauses,
                        message=message,
                        witness={name: _plain(frame[name].iloc[w]) for name in frame.columns},
                        invariant=inv.invariant_id,
                        _cells=None,
                        _order=(k, w),
                    )
                )
    return out


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _clause_text(book: RuleBook, cids: list[str]) -> str:
    texts = book.clauses["text_ja"]
    return "; ".join(f"{cid} 「{texts[cid]}」" if cid in texts.index else cid for cid in cids)


def explain_violations(
    scenario: dict[str, object], *, rulebook: RuleBook, axis_positions: dict[str, int] | None = None
) -> dict[str, list[dict[str, object]]]:
    """For one scenario, per decision the invariants it breaks (each on the decisions it reads): what
    ``explain`` shows on the answers involved. Empty when none is broken or the scenario is invalid.
    ``axis_positions`` (optional): each input's position on its axis when the caller has encoded the scenario.

    >>> from sonet_policy import default_rulebook
    >>> out = explain_violations(dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g",
    ...                               keep_number=False), rulebook=default_rulebook())
    >>> sorted(out), out["ipv4"][0]["invariant_id"]
    (['device_action', 'ipv4'], 'INV-ROUTER-IPV4')
    """
    book = rulebook
    invariants = load_invariants(book)
    if not invariants:
        return {}
    if axis_positions is not None:  # the caller encoded the scenario already (explain): a table lookup
        names, shape, _, table = _domain_table(book)
        if any(axis_positions.get(n, -1) < 0 for n in names):
            return {}
        row = table[int(np.ravel_multi_index(tuple(axis_positions[n] for n in names), shape))]
        broken = dict(zip((i.invariant_id for i in invariants), row.tolist(), strict=True))
    else:
        frame = pd.DataFrame([scenario], dtype=object)
        broken = violations(frame, rulebook=book).iloc[0]
    out: dict[str, list[dict[str, object]]] = {}
    for inv in invariants:
        if not broken[inv.invariant_id]:
            continue
        info = dict(
            invariant_id=inv.invariant_id,
            statement=inv.statement(),
            note=inv.note,
            source=list(inv.source),
            decisions=list(inv.decisions),
        )
        for d in inv.decisions:
            out.setdefault(d, []).append(info)
    return out


def clause_scope_problems(book: RuleBook, *, section_scope: pd.DataFrame) -> list[str]:
    """Rules that cite a clause of a section outside that section's scope (``section_scope``: columns
    ``section`` and ``applies_to``, a cell ``input=condition`` such as a table that holds in one area only): a
    rule citing it must restrict that input to within the condition. One message per offending citation.

    >>> from sonet_policy import default_rulebook
    >>> scope = pd.DataFrame([dict(section="devices.east", applies_to="area=east")])
    >>> clause_scope_problems(default_rulebook(), section_scope=scope)
    []
    """
    grid = axes(book)
    section_of = dict(zip(book.clauses["clause_id"], book.clauses["section"], strict=True))
    limits: dict[str, tuple[str, np.ndarray]] = {}
    for rec in section_scope.itertuples(index=False):
        name, _, cell = str(rec.applies_to).partition("=")
        spec = book.inputs[name.strip()]
        cond = parse_cell(cell.strip(), name.strip(), spec.type, domain_of(book, name.strip()))
        limits[str(rec.section)] = (name.strip(), cond.mask(grid[name.strip()]))
    out = []
    for rules in book.rules.values():
        for r in rules:
            for cid in r.source:
                limit = limits.get(section_of.get(cid, ""))
                if limit is None:
                    continue
                name, allowed = limit
                cond = r.conditions.get(name)
                held = np.ones(len(allowed), dtype=bool) if cond is None else cond.mask(grid[name])
                if (held & ~allowed).any():
                    out.append(
                        f"{r.rule_id} ({r.decision}) cites {cid} of section {section_of[cid]}, which holds only where "
                        f"{name} is within its scope, but the rule's {name} condition is "
                        f"{'any' if cond is None else cond.describe()}"
                    )
    return out


def rows_in_finding(population: pd.DataFrame, *, finding: dict, rulebook: RuleBook) -> np.ndarray:
    """Which rows of ``population`` are behind one ``inconsistency`` finding: they break its invariant and
    fall inside its scope. A boolean array in row order.

    >>> from sonet_policy import default_rulebook
    >>> pop = pd.DataFrame([dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False),
    ...                     dict(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)])
    >>> f = dict(invariant="INV-ROUTER-IPV4", scope={"area": "west", "plan": "sml"})
    >>> rows_in_finding(pop, finding=f, rulebook=default_rulebook()).tolist()
    [True, False]
    """
    broken = violations(population, rulebook=rulebook)
    iid = str(finding.get("invariant") or "")
    if iid not in broken.columns:
        return np.zeros(len(population), dtype=bool)
    inside = broken[iid].to_numpy().copy()
    pos = positions(population, rulebook=rulebook)
    grid = axes(rulebook)
    for name, wanted in dict(finding.get("scope") or {}).items():
        values = {wanted} if isinstance(wanted, str) else {str(v) for v in wanted}
        allowed = np.append(np.array([lab in values for lab in grid[name].labels]), False)
        inside &= allowed[pos[name]]
    return inside
