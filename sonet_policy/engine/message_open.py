"""Plans from partial knowledge: for each decision, read off its compiled grid at the known inputs.

Over the cells that agree with the known inputs and that no constraint blocking the decision rules out, the
decision has one or several verdicts (its deciding rules). One: the section is settled, even with inputs
unknown. Several: the section branches on an unknown input when each of its values leaves one verdict, the
values fall into at most ``max_branches`` groups and ``message_texts.csv`` can name each group (``branch.<input>``
with the models, ``branch.<input>.<value>``, and ``branch_else`` for the largest group); the input asked next
(``possible``'s ``ask_next``) is tried first. Otherwise the section asks for the input: ``possible``'s choice when
the decision depends on it, else the first input it depends on. No valid cell: the known values are ruled out,
and the section names the constraint's field to correct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sonet_policy.book.cache import Slot
from sonet_policy.book.compile import CompiledBook, ConstraintGrid, broadcast
from sonet_policy.engine.message_compose import Branches, Pending, Plan, Settled, Verdict
from sonet_policy.engine.message_lines import Context

MAX_BRANCHES = 3
_VIEWS: Slot[dict[str, _View]] = Slot("message_views")
_FAMILY = re.compile(r"^(.*\d)([A-Za-z]+)$")


@dataclass(frozen=True)
class _View:
    """A decision over its inputs and the other inputs its blocking constraints read: the verdict of each cell
    (an index into ``verdicts``) and whether the cell is valid."""

    dims: tuple[str, ...]
    ids: np.ndarray
    valid: np.ndarray
    verdicts: tuple[Verdict, ...]
    blocking: tuple[ConstraintGrid, ...]


def _build_view(compiled: CompiledBook, decision: str) -> _View:
    grid = compiled.decisions[decision]
    blocking = [c for c in compiled.constraints if decision in c.blocks]
    extra = tuple(n for n in compiled.inputs if n not in grid.inputs and any(n in c.inputs for c in blocking))
    dims = (*grid.inputs, *extra)
    shape = tuple(len(compiled.axes[n].labels) for n in dims)
    verdicts = tuple(Verdict(o.status, o.rules) for o in grid.outcomes)
    ids = np.broadcast_to(broadcast(grid.outcome_id, grid.inputs, grid.shape, dims), shape)
    valid = ~np.broadcast_to(compiled.ruled_out_over(dims, blocking), shape)
    return _View(dims, ids, valid, verdicts, tuple(blocking))


def _view(compiled: CompiledBook, decision: str) -> _View:
    views = compiled.book.cache.get(_VIEWS, dict)
    if decision not in views:
        views[decision] = _build_view(compiled, decision)
    return views[decision]


def _varies(ids: np.ndarray, valid: np.ndarray, axis: int) -> bool:
    hi = np.where(valid, ids, -1).max(axis=axis)
    lo = np.where(valid, ids, np.iinfo(np.int64).max).min(axis=axis)
    return bool(((hi > lo) & (hi >= 0)).any())


def _groups(ids: np.ndarray, valid: np.ndarray, axis: int) -> dict[int, list[int]] | None:
    """Verdict -> the positions on ``axis`` that leave exactly it (None when some position leaves several)."""
    out: dict[int, list[int]] = {}
    for pos in range(ids.shape[axis]):
        sub_ids, sub_valid = np.take(ids, pos, axis=axis), np.take(valid, pos, axis=axis)
        found = np.unique(sub_ids[sub_valid])
        if len(found) > 1:
            return None
        if len(found) == 1:
            out.setdefault(int(found[0]), []).append(pos)
    return out


def models_text(ctx: Context, models: list[str]) -> str:
    """Models as the page lists them: one family's suffixes joined (「PR-600KI / MI」), families by ``list_sep``.

    >>> from sonet_policy.book.rules import default_rulebook
    >>> from sonet_policy.engine.message import context
    >>> models_text(context(default_rulebook()), ["PR-600KI", "PR-600MI", "XG-100NE"]).split("XG")[0][:15]
    'PR-600KI / MI、'
    """
    data = ctx.data
    families: list[tuple[str, list[str]]] = []
    for model in models:
        m = _FAMILY.match(model)
        stem, suffix = (m.group(1), m.group(2)) if m else (model, "")
        if families and families[-1][0] == stem and suffix:
            families[-1][1].append(suffix)
        else:
            families.append((stem, [suffix]))
    words = [stem + data.fill("model_sep").join(suffixes) for stem, suffixes in families]
    return data.fill("list_sep").join(words)


def _heads(ctx: Context, compiled: CompiledBook, name: str, groups: list[list[int]]) -> list[str] | None:
    """The branch line of each group (the last is "every other value" when it holds several), or None when the
    data cannot name one."""
    labels = compiled.axes[name].labels
    data, spec = ctx.data, ctx.book.inputs[name]
    heads = []
    for k, positions in enumerate(groups):
        values = [labels[p] for p in positions]
        if k == len(groups) - 1 and len(positions) > 1 and data.has("branch_else"):
            heads.append(data.fill("branch_else"))
        elif spec.type == "catalogue" and data.has(f"branch.{name}"):
            heads.append(data.fill(f"branch.{name}", values=models_text(ctx, values)))
        elif all(data.has(f"branch.{name}.{v}") for v in values):
            heads.append(data.fill("list_sep").join(data.fill(f"branch.{name}.{v}") for v in values))
        else:
            return None
    return heads


def _branches(ctx: Context, compiled: CompiledBook, view: _View, name: str, cut: tuple, most: int) -> Branches | None:
    ids, valid, free = cut
    found = _groups(ids, valid, free.index(name))
    if found is None or not 2 <= len(found) <= most:
        return None
    ordered = sorted(found.items(), key=lambda item: item[1][0])
    largest = max(ordered, key=lambda item: (len(item[1]), item[1][0]))
    if len(largest[1]) > 1:  # said last, as "every other value"
        ordered.remove(largest)
        ordered.append(largest)
    heads = _heads(ctx, compiled, name, [positions for _, positions in ordered])
    if heads is None:
        return None
    labels = compiled.axes[name].labels
    groups = tuple((tuple(labels[p] for p in positions), view.verdicts[v]) for v, positions in ordered)
    return Branches(name, groups, tuple(heads))


def _ruled_out_by(view: _View, fixed: dict[str, int]) -> ConstraintGrid:
    """The blocking constraint that rules the known values out (the first, when several do)."""
    for c in view.blocking:
        if all(n in fixed for n in c.inputs) and c.ruled_out[c.cell_of(fixed)]:
            return c
    return view.blocking[0]


def plan_decision(
    ctx: Context, compiled: CompiledBook, decision: str, fixed: dict[str, int], *, prefer: str | None, most: int
) -> Plan:
    """The plan of ``decision`` given the axis positions of the known inputs (see the module docstring)."""
    view = _view(compiled, decision)
    index = tuple(fixed.get(n, slice(None)) for n in view.dims)
    ids, valid = np.asarray(view.ids[index]), np.asarray(view.valid[index])
    free = [n for n in view.dims if n not in fixed]
    if not valid.any():
        c = _ruled_out_by(view, fixed)
        return Pending(c.constraint.field, invalid=True, error=c.message)
    present = np.unique(ids[valid])
    if len(present) == 1:
        return Settled(view.verdicts[int(present[0])])
    depends = [n for k, n in enumerate(free) if _varies(ids, valid, k)]
    order = sorted(depends, key=lambda n: (n != prefer, ctx.book.input_order.index(n)))
    for name in order:
        found = _branches(ctx, compiled, view, name, (ids, valid, free), most)
        if found is not None:
            return found
    return Pending(order[0])
