"""A decision's own grid as the audit reads it: which cells hold a valid combination, a scenario for a cell
(the witness of a finding) and the scope of a rule.

The audit (:mod:`sonet_policy.analysis.audit`) and its stale citations (:mod:`sonet_policy.analysis.stale`)
read findings off these.
"""

from __future__ import annotations

import numpy as np

from sonet_policy.book.compile import CompiledBook


class Projection:
    """A decision's own grid: which of its cells hold a valid combination (not ruled out for every value of the
    other inputs by a constraint that blocks the decision), and the labels of its inputs.

    >>> from sonet_policy.book.load import default_rulebook
    >>> proj = Projection(default_rulebook().compiled(), "wifi")
    >>> proj.inputs == list(proj.grid.inputs), proj.valid.shape == (proj.grid.n_cells,)
    (True, True)
    """

    def __init__(self, compiled: CompiledBook, decision: str) -> None:
        self.compiled = compiled
        self.grid = compiled.decisions[decision]
        self.inputs = list(self.grid.inputs)
        self.valid = ~self.grid.invalid

    def axes(self) -> dict[str, tuple[str, ...]]:
        return {name: self.compiled.axes[name].labels for name in self.inputs}


def witness(compiled: CompiledBook, cell: int, decision: str) -> dict[str, object]:
    """A scenario for one cell of ``decision``'s grid, ready for ``explain(**witness)``: the decision's inputs
    from the cell (an integer: the interval's first value, None for empty), the other inputs from a
    combination no constraint rules out where there is one (first values of their axes).

    >>> from sonet_policy.book.load import default_rulebook
    >>> sorted(witness(default_rulebook().compiled(), 0, "number")) == sorted(default_rulebook().inputs)
    True
    """
    grid = compiled.decisions[decision]
    pos = grid.positions(int(cell))
    others = [n for n in compiled.inputs if n not in pos]
    if others:
        full = compiled.grid_over(compiled.inputs)
        if full.n_cells <= 1 << 22:  # choose the completion that no constraint rules out (small books)
            fixed = tuple(pos[n] if n in pos else slice(None) for n in compiled.inputs)
            ruled = compiled.ruled_out_over(compiled.inputs, compiled.constraints)[fixed]
            free = np.flatnonzero(~ruled.reshape(-1))
            if free.size:
                sub = np.unravel_index(int(free[0]), ruled.shape)
                pos.update({n: int(p) for n, p in zip(others, sub, strict=True)})
        for n in others:
            pos.setdefault(n, 0)
    out: dict[str, object] = {}
    for name in compiled.inputs:
        axis = compiled.axes[name]
        p = pos[name]
        if axis.kind == "integer":
            iv = axis.intervals[p]
            out[name] = None if iv is None else int(iv[0])
        elif axis.kind == "boolean":
            out[name] = axis.labels[p] == "true"
        else:
            out[name] = axis.labels[p]
    return out


def rule_scope(rule: object, compiled: CompiledBook, inputs: tuple[str, ...] | list[str]) -> dict[str, object]:
    """The values of each input in ``inputs`` that ``rule``'s conditions allow, where they do not allow all: one
    label, or a list of labels (a finding's ``scope``). ``rule`` is anything with ``conditions`` (a rule, a
    constraint, an invariant).

    >>> from sonet_policy.book.load import default_rulebook
    >>> book = default_rulebook()
    >>> rule = book.rules["ipv4"][0]
    >>> set(rule_scope(rule, book.compiled(), book.decisions["ipv4"].inputs)) <= set(book.inputs)
    True
    """
    scope: dict[str, object] = {}
    for name in inputs:
        cond = rule.conditions.get(name)
        if cond is None or cond.any:
            continue
        mask = cond.mask(compiled.axes[name])
        labels = [label for label, keep in zip(compiled.axes[name].labels, mask, strict=True) if keep]
        if len(labels) != len(mask):
            scope[name] = labels[0] if len(labels) == 1 else labels
    return scope
