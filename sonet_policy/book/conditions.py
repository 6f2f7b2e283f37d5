"""The cell grammar of the rule tables, parsed by our own small parser (never ``eval``, never ``query``).

A condition cell is one of:

* ``-``: any value (including an empty day count);
* ``a`` or ``a|b|c``: one value or a set of values of a category or boolean input;
* for the integer input (days): ``[0,31]``, ``(0,31)``, ``[0,31)``, ``(0,31]``, ``>=32``, ``>32``, ``<=31``,
  ``<31``, ``=5`` or ``5``, ``null`` (the value is empty), and unions of these with ``|``:
  ``null|[0,31]``.

A parsed :class:`Condition` turns into a boolean mask over an input's axis (its finite list of values, or for
days the intervals that the rules' bounds cut).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from sonet_policy.errors import ConditionError

ANY = "-"
INF = math.inf

_RANGE = re.compile(r"^([\[(])\s*(-?\d+)\s*,\s*(-?\d+)\s*([\])])$")
_COMPARE = re.compile(r"^(>=|<=|>|<|=)?\s*(-?\d+)$")
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Condition:
    """One parsed cell. ``values`` for category inputs; ``intervals`` (half-open, integers) for integers."""

    input: str
    text: str
    any: bool = False
    values: frozenset[str] = field(default_factory=frozenset)
    intervals: tuple[tuple[float, float], ...] = ()
    include_null: bool = False

    def bounds(self) -> set[float]:
        """The interval bounds this condition uses (for cutting the day axis)."""
        return {b for iv in self.intervals for b in iv if b not in (INF, -INF)}

    def mask(self, axis: Axis) -> np.ndarray:
        """Boolean mask over ``axis.labels``: which axis cells satisfy this condition."""
        if self.any:
            return np.ones(len(axis.labels), dtype=bool)
        if axis.kind == "integer":
            out = np.zeros(len(axis.labels), dtype=bool)
            for i, iv in enumerate(axis.intervals):
                if iv is None:
                    out[i] = self.include_null
                else:
                    lo, hi = iv
                    out[i] = any(a <= lo and hi <= b for a, b in self.intervals)
            return out
        return np.array([label in self.values for label in axis.labels], dtype=bool)

    def describe(self) -> str:
        """The cell as an analyst reads it."""
        if self.any:
            return "any"
        if self.values:
            return " or ".join(sorted(self.values))
        parts = ["empty"] if self.include_null else []
        for lo, hi in self.intervals:
            if hi == INF:
                parts.append(f">= {int(lo)}")
            elif lo == -INF:
                parts.append(f"<= {int(hi) - 1}")
            else:
                parts.append(f"{int(lo)}..{int(hi) - 1}")
        return " or ".join(parts)


@dataclass(frozen=True)
class Axis:
    """The finite values of one input in a compiled rule book.

    Category inputs: ``labels`` are the values. The integer input: ``intervals`` holds ``None`` (empty value)
    then half-open intervals ``(lo, hi)``; ``labels`` are readable names of them (``"0-31"``, ``">=32"``).
    """

    name: str
    kind: str
    labels: tuple[str, ...]
    intervals: tuple[tuple[float, float] | None, ...] = ()
    breaks: tuple[float, ...] = ()


def day_spans(axis: Axis, positions: object) -> tuple[bool, list[tuple[float, float]]]:
    """Positions of an integer axis as (empty value included, maximal half-open spans of the intervals).

    >>> axis = integer_axis("days", {32})
    >>> day_spans(axis, [0, 1, 2])
    (True, [(0, inf)])
    """
    spans: list[list[float]] = []
    empty = False
    for p in sorted(set(positions)):
        if axis.intervals[p] is None:
            empty = True
            continue
        lo, hi = axis.intervals[p]
        if spans and spans[-1][1] == lo:
            spans[-1][1] = hi
        else:
            spans.append([lo, hi])
    return empty, [(lo, hi) for lo, hi in spans]


def integer_axis(name: str, bounds: set[float], *, minimum: float = 0, null: bool = True) -> Axis:
    """Cut the integer domain ``[minimum, inf)`` at every bound a rule uses; with ``null`` (an empty value is
    a value of the input), cell 0 is the empty value."""
    cuts = sorted({minimum} | {b for b in bounds if b > minimum})
    intervals: list[tuple[float, float] | None] = [None] if null else []
    labels = ["empty"] if null else []
    for i, lo in enumerate(cuts):
        hi = cuts[i + 1] if i + 1 < len(cuts) else INF
        intervals.append((lo, hi))
        labels.append(f">={int(lo)}" if hi == INF else (f"{int(lo)}" if hi == lo + 1 else f"{int(lo)}-{int(hi) - 1}"))
    return Axis(name, "integer", tuple(labels), tuple(intervals), tuple(cuts))


def _interval(text: str) -> tuple[float, float]:
    m = _RANGE.match(text)
    if m:
        lo, hi = int(m.group(2)), int(m.group(3))
        lo = lo if m.group(1) == "[" else lo + 1
        hi = hi + 1 if m.group(4) == "]" else hi
        if hi <= lo:
            raise ConditionError(f"range {text!r} is empty")
        return (lo, hi)
    m = _COMPARE.match(text)
    if m:
        op, n = m.group(1) or "=", int(m.group(2))
        return {
            ">=": (n, INF),
            ">": (n + 1, INF),
            "<=": (-INF, n + 1),
            "<": (-INF, n),
            "=": (n, n + 1),
        }[op]
    raise ConditionError(
        f"{text!r} is not an integer condition; write a range like [0,31] or (0,31], a comparison like >=32, "
        "a number, or null"
    )


def parse_cell(text: object, input_name: str, kind: str, domain: tuple[str, ...] | None = None) -> Condition:
    """Parse one condition cell for ``input_name``.

    ``kind`` is ``category``, ``boolean`` or ``integer``; ``domain`` (category and boolean) lists the allowed
    values. Raises :class:`ConditionError` with a message that says what is wrong.

    >>> parse_cell("east|west", "area", "category", ("east", "west")).values == {"east", "west"}
    True
    >>> parse_cell("[0,31]", "days_since_phone_stop", "integer").intervals
    ((0, 32),)
    """
    raw = "" if text is None else str(text)
    cell = raw.strip()
    if cell == "":
        raise ConditionError("empty condition; write '-' for any value")
    if cell == ANY:
        return Condition(input_name, cell, any=True)
    parts = [p.strip() for p in cell.split("|")]
    if any(p == "" for p in parts):
        raise ConditionError(f"{cell!r} has an empty alternative between '|'")
    if kind == "integer":
        intervals: list[tuple[float, float]] = []
        include_null = False
        for p in parts:
            if p.lower() == "null":
                include_null = True
            else:
                intervals.append(_interval(p))
        return Condition(input_name, cell, intervals=tuple(intervals), include_null=include_null)
    values: set[str] = set()
    for p in parts:
        value = p.lower() if kind == "boolean" else p
        if not PLAIN_VALUE.match(value):
            raise ConditionError(f"{p!r} is not a plain value (letters, digits, '_' and '-' only)")
        if domain is not None and value not in domain:
            raise ConditionError(f"{p!r} is not a value of {input_name} ({'|'.join(domain)})")
        values.add(value)
    return Condition(input_name, cell, values=frozenset(values))
