"""Answer one scenario without pandas: dictionary lookups into the compiled per-decision grids.

:func:`answer` gives what :func:`~sonet_policy.engine.evaluate.evaluate` gives for a frame of one row, as a dict: the
code of every decision (``None`` where it could not be answered), its other outputs (``<decision>_alternatives``),
``status``, ``error`` (``None`` when every field is fine), ``rules`` (``None`` for an invalid scenario) and
``rulebook_hash``.

How it is fast: per rule book (cached with its compiled form) every input gets a reader, a dict from a typed
value to its axis position or its error message, filled in advance with the domain values, the value aliases
and, for a catalogue input, the common spellings of every model (as printed, lower case, without hyphens,
full width); an integer input reads a whole number with a bisection on the axis cut points. A value the dict
has not seen is read by the same code :func:`evaluate` uses (:func:`~sonet_policy.engine.encode.read_value`: a
column of that one value), and remembered when it is plain text or a number, so every message is worded as
``evaluate`` words it. Per decision the cell is a sum of ``position * stride`` and the answer a list lookup.

>>> answer(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False,
...        days_since_phone_stop=31)["ipv4"]
'pppoe_router'
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.encode import read_value
from sonet_policy.engine.values import INT64_MAX, missing_hint
from sonet_policy.text import header_key

_MEMO_LIMIT = 20_000  # typed values remembered per input (beyond: read each time, never an unbounded cache)
_MEMO_TYPES = (str, int, bool, float, type(None), np.int64, np.float64, np.bool_)
_NOT_GIVEN = object()


def _spellings(label: str) -> list[str]:
    """Common spellings of a catalogue label: as printed, lower case, without hyphens, full width."""
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in label)
    return [label, label.lower(), label.upper(), label.replace("-", ""), label.lower().replace("-", ""), wide]


class _Reader:
    """Reads one input: a typed value -> (axis position or -1, the field's error message or None)."""

    __slots__ = ("compiled", "name", "spec", "breaks", "memo", "absent", "offset", "minimum", "integer")

    def __init__(self, compiled: CompiledBook, name: str) -> None:
        spec = compiled.book.inputs[name]
        axis = compiled.axes[name]
        self.compiled, self.name, self.spec, self.breaks = compiled, name, spec, list(axis.breaks)
        self.integer = spec.type == "integer"
        self.offset = 1 if spec.empty == "null" else 0
        self.minimum = spec.minimum
        self.memo: dict[tuple[type, object], tuple[int, str | None]] = {}
        # An input not given at all reads as evaluate reads an absent column.
        if spec.required:
            self.absent = (-1, f"{name}: missing (the column is absent)")
        else:
            pos, _ = read_value(compiled, name, None)
            self.absent = (pos, None) if pos >= 0 else (-1, f"{name}: missing {missing_hint(spec)}")
        seeds: list[object] = [None, ""]
        if spec.type == "catalogue":
            seeds += [s for label in axis.labels for s in _spellings(label)]
        elif not self.integer:
            seeds += list(axis.labels) + list(spec.aliases)
            seeds += [s.upper() for s in seeds if isinstance(s, str)] + [s.title() for s in seeds if isinstance(s, str)]
        if spec.type == "catalogue":
            seeds += list(spec.aliases)
        if spec.type == "boolean":
            seeds += [True, False, 0, 1]
        for value in dict.fromkeys(seeds):
            self.memo[(type(value), value)] = read_value(compiled, name, value)

    def read(self, value: object) -> tuple[int, str | None]:
        kind = type(value)
        if self.integer and kind is int and self.minimum <= value <= INT64_MAX:
            return self.offset + bisect_right(self.breaks, value) - 1, None
        memo_ok = kind in _MEMO_TYPES and not (kind in (float, np.float64) and math.isnan(value))
        if memo_ok:
            hit = self.memo.get((kind, value))
            if hit is not None:
                return hit
            if kind is str and len(value) > 200:
                memo_ok = False
        result = read_value(self.compiled, self.name, value)  # as evaluate reads it in a one-row object column
        if memo_ok and len(self.memo) < _MEMO_LIMIT:
            self.memo[(kind, value)] = result
        return result


@dataclass
class _DecisionLookup:
    name: str
    inputs: tuple[str, ...]
    strides: tuple[int, ...]
    outcome_id: list[int]
    outcomes: list  # per outcome id: (status, {column: value}, rules text)


@dataclass
class _ConstraintLookup:
    inputs: tuple[str, ...]
    strides: tuple[int, ...]
    ruled_out: list[bool]
    message: str
    blocks: frozenset[str]


@dataclass
class Lookup:
    """What :func:`answer` looks up, built once per compiled book."""

    compiled: CompiledBook
    readers: dict[str, _Reader]
    decisions: list[_DecisionLookup]
    constraints: list[_ConstraintLookup]
    unanswered: dict[str, None]  # every answer column -> None
    hash: str


# One cache entry per copy of this module (a second import of the file, as pytest's doctest collection makes,
# has its own classes: its readers must not receive this copy's values).
_LOOKUP: Slot[Lookup] = Slot("answer_lookup")


def lookup_of(book: RuleBook) -> Lookup:
    """The cached :class:`Lookup` of ``book`` (rebuilt when the book is compiled again).

    Returns the readers of every input and the per-decision tables :func:`answer` reads.

    >>> book = default_rulebook()
    >>> lookup_of(book) is lookup_of(book)
    True
    """
    return book.cache.get(_LOOKUP, lambda: _build_lookup(book))


def _build_lookup(book: RuleBook) -> Lookup:
    compiled = book.compiled()
    readers = {name: _Reader(compiled, name) for name in book.inputs}
    decisions = []
    unanswered: dict[str, None] = {}
    for name, grid in compiled.decisions.items():
        extra = book.decisions[name].outputs[1:]
        unanswered[name] = None
        for out in extra:
            unanswered[f"{name}_{out}"] = None
        outcomes = []
        for o in grid.outcomes:
            cols = {name: o.code}
            for out in extra:
                cols[f"{name}_{out}"] = o.alternatives if out == "alternatives" else ""
            outcomes.append((o.status, cols, " ".join(o.rules)))
        decisions.append(_DecisionLookup(name, grid.inputs, grid.strides, grid.outcome_id.tolist(), outcomes))
    constraints = [
        _ConstraintLookup(c.inputs, c.strides, c.ruled_out.tolist(), c.message, frozenset(c.blocks))
        for c in compiled.constraints
    ]
    return Lookup(compiled, readers, decisions, constraints, unanswered, book.hash)


@dataclass
class Reading:
    """One scenario read against a book: axis positions per input (-1: missing or invalid), the cell of each
    decision (-1: not answered), the error of each bad field, the row's error, and unknown keywords."""

    positions: dict[str, int]
    field_errors: dict[str, str]
    cells: dict[str, int]
    error: str | None
    unknown: list[str]
    given: dict[str, object]


def read_scenario(lk: Lookup, *, scenario: dict[str, object]) -> Reading:
    """Read keyword arguments (inputs by name or by a header the file reader accepts) against ``lk``.

    Returns a :class:`Reading`; never raises for a bad value (it becomes a field error).

    >>> r = read_scenario(lookup_of(default_rulebook()), scenario={"keep_number": "yes", "colour": "red"})
    >>> r.positions["keep_number"], r.unknown
    (1, ['colour'])
    """
    readers = lk.readers
    given: dict[str, object] = {}
    unknown: list[str] = []
    lookup = None
    for key, value in scenario.items():
        if key in readers and key not in given:
            given[key] = value
            continue
        if lookup is None:
            lookup = lk.compiled.book.header_lookup()
        name = lookup.get(header_key(key))
        if name is None or name in given:
            unknown.append(key)
        else:
            given[name] = value
    positions: dict[str, int] = {}
    errors: dict[str, str] = {}
    for name, reader in readers.items():
        value = given.get(name, _NOT_GIVEN)
        pos, err = reader.absent if value is _NOT_GIVEN else reader.read(value)
        positions[name] = pos
        if err is not None:
            errors[name] = err
    messages = list(errors.values())
    blocked: set[str] = set()
    for c in lk.constraints:
        cell = 0
        for name, stride in zip(c.inputs, c.strides, strict=True):
            p = positions[name]
            if p < 0:
                break
            cell += p * stride
        else:
            if c.ruled_out[cell]:
                blocked |= c.blocks
                messages.append(c.message)
    cells: dict[str, int] = {}
    for d in lk.decisions:
        cell = 0
        if d.name in blocked:
            cell = -1
        else:
            for name, stride in zip(d.inputs, d.strides, strict=True):
                p = positions[name]
                if p < 0:
                    cell = -1
                    break
                cell += p * stride
        cells[d.name] = cell
    return Reading(positions, errors, cells, "; ".join(messages) if messages else None, unknown, given)


def answer(*, rulebook: RuleBook | None = None, **scenario: object) -> dict[str, object]:
    """Answer one scenario: what :func:`~sonet_policy.engine.evaluate.evaluate` gives for a frame of that one row.

    Keywords: the book's inputs (``inputs.csv``), by name or by any header the file reader accepts (``days``
    for the day count in the shipped book); any value evaluate reads (aliases, any spelling of a catalogue
    label, ``"yes"``, ``"３１"``). An input left out reads as an absent column (a required one is missing; an
    optional one is empty). A keyword that names no input makes the scenario invalid (as :func:`explain`).

    Returns a dict: per decision its code (``None`` when it cannot be answered), ``<decision>_<output>`` for
    its other outputs, ``status`` (:data:`~sonet_policy.engine.evaluate.STATUSES`), ``error`` (every bad field and
    why; ``None`` when there is none), ``rules`` (the rule ids that decided; ``None`` when invalid) and
    ``rulebook_hash``. Never raises for a bad value.

    >>> a = answer(area="west", plan="other", device="ＲＶ－２３０ＳＥ", setup="v6plus_router", keep_number="yes",
    ...            days=40)
    >>> a["ipv4"], a["procedure"], a["status"]
    ('reapply_v6plus', 'port_out', 'ok')
    >>> a = answer(area="north", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=True)
    >>> a["wifi"], a["procedure"], a["status"], a["error"]
    (None, 'port_out', 'partial', "area: 'north' is not one of east|west")
    """
    lk = lookup_of(rulebook or default_rulebook())
    return _answer_of(lk, read_scenario(lk, scenario=scenario))


def _answer_of(lk: Lookup, r: Reading) -> dict[str, object]:
    out: dict[str, object] = dict(lk.unanswered)
    error = r.error
    if r.unknown:
        extra = "; ".join(f"{k}: not an input of this rule book" for k in r.unknown)
        out.update(status="invalid", error=f"{error}; {extra}" if error else extra, rules=None)
        out["rulebook_hash"] = lk.hash
        return out
    answered = unanswered = conflict = uncovered = False
    rules: list[str] = []
    for d in lk.decisions:
        cell = r.cells[d.name]
        if cell < 0:
            unanswered = True
            continue
        status, cols, text = d.outcomes[d.outcome_id[cell]]
        out.update(cols)
        answered = True
        if status == "conflict":
            conflict = True
        elif status == "uncovered":
            uncovered = True
        if text:
            rules.append(text)
    if not answered:
        status = "invalid"
    elif unanswered:
        status = "partial"
    elif conflict:
        status = "conflict"
    elif uncovered:
        status = "uncovered"
    else:
        status = "ok"
    out["status"] = status
    out["error"] = error
    out["rules"] = None if status == "invalid" else " ".join(rules)
    out["rulebook_hash"] = lk.hash
    return out
