"""Condition cells as expressions: the positions of an input's axis a cell holds on, written in an engine's syntax.

DMN's FEEL (:mod:`sonet_policy.export.dmn`) and ZEN, the language of the JDM engine
(:mod:`sonet_policy.export.jdm`), read an axis the same way and write it differently. Every position of the
axis is the cell for any value; an integer axis is the empty value (null) and spans of whole numbers; a
boolean axis its labels; a category the values inside, or the complement of the values outside when that is
shorter. :meth:`CellSyntax.test` is that reading, once; a syntax says how to write a literal, the complement
of a set, a span and a day cell.

>>> from sonet_policy.book.conditions import integer_axis
>>> class Words(CellSyntax):
...     spans = SpanForms(at_least="{lo} or more", at_most="{hi} or less", single="{lo}", between="{lo} to {hi}")
...     def literal(self, value): return value
...     def complement(self, values): return f"not {values}"
...     def integer(self, name, empty, parts): return ",".join((["empty"] if empty else []) + parts)
>>> axis = integer_axis("days", {32})
>>> Words().held(None, "days", axis, [0, 2]), Words().held(None, "days", axis, [1])
('empty,32 or more', '0 to 31')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.conditions import Axis, day_spans


@dataclass(frozen=True)
class SpanForms:
    """How a syntax writes a span of whole numbers: ``{lo}`` is its first value, ``{hi}`` its last, ``{name}``
    the input's name."""

    at_least: str  # no last value (up to infinity)
    at_most: str  # no first value
    single: str  # one value
    between: str  # first and last value

    def write(self, spans: list[tuple[float, float]], *, name: str) -> list[str]:
        """One text per half-open span ``[lo, hi)``."""
        out = []
        for lo, hi in spans:
            first = None if lo == -math.inf else int(lo)
            last = None if hi == math.inf else int(hi) - 1
            if last is None:
                form = self.at_least
            elif first is None:
                form = self.at_most
            elif first == last:
                form = self.single
            else:
                form = self.between
            out.append(form.format(lo=first, hi=last, name=name))
        return out


class CellSyntax:
    """The reading of an axis that every export shares; a subclass writes it in its engine's syntax."""

    any_value = "-"  # the cell that holds for every value
    separator = ","  # between the values of a set
    spans: SpanForms

    def literal(self, value: str) -> str:
        """A category value as a literal."""
        raise NotImplementedError

    def complement(self, values: str) -> str:
        """The cell that holds everywhere but on ``values`` (literals joined by :attr:`separator`)."""
        raise NotImplementedError

    def integer(self, name: str, empty: bool, parts: list[str]) -> str:
        """A day cell: whether the empty value is in, and the spans written by :attr:`spans`."""
        raise NotImplementedError

    def test(self, compiled: CompiledBook, name: str, positions: tuple[int, ...]) -> str:
        """The cell that holds exactly on ``positions`` of the axis of input ``name``."""
        axis = compiled.axes[name]
        chosen = sorted(set(positions))
        if len(chosen) == len(axis.labels):
            return self.any_value
        return self.held(compiled, name, axis, chosen)

    def held(self, compiled: CompiledBook | None, name: str, axis: Axis, chosen: list[int]) -> str:
        """The cell for ``chosen`` (sorted positions, not every one of the axis)."""
        if axis.kind == "integer":
            empty, spans = day_spans(axis, chosen)
            return self.integer(name, empty, self.spans.write(spans, name=name))
        if axis.kind == "boolean":
            return self.separator.join(axis.labels[p] for p in chosen)
        inside = self.separator.join(self.literal(axis.labels[p]) for p in chosen)
        outside = [self.literal(label) for p, label in enumerate(axis.labels) if p not in chosen]
        negated = self.complement(self.separator.join(outside))
        return negated if len(negated) < len(inside) else inside
