"""Merge grid cells into a few readable scopes: products of value lists.

A set of cells over some inputs (for example every ``(area, device, setup)`` combination where two rules of
the ``wifi`` table disagree) is covered by *boxes*: each box is a product of one value list per input, written
as a mapping ``{"area": "west", "device": ["RS-500KI", "RS-500MI"]}``. An input missing from a box means
every value of that input. The boxes returned by :func:`merge_cells` cover exactly the given cells, no more
and no fewer, and never overlap; the audit and the diff describe their findings with them.

The search splits the cells along one input, grouping the values whose slices (the cells with that value)
are identical, and recurses into each distinct slice; it tries every input at each level (memoised) and keeps
the split that yields the fewest boxes, then unions boxes that differ in one input only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache

import numpy as np

Scope = dict[str, object]
_EXHAUSTIVE_LIMIT = 4096  # cells of a (sub)grid up to which every split order is tried


def _labels(axis: object) -> tuple[str, ...]:
    labels = getattr(axis, "labels", axis)
    if isinstance(labels, tuple) and all(type(v) is str for v in labels):
        return labels
    return tuple(str(v) for v in labels)  # type: ignore[union-attr]


def cells_mask(cells: object, labels: Sequence[Sequence[str]]) -> np.ndarray:
    """The boolean mask over the product of ``labels`` for ``cells`` (see :func:`merge_cells` for forms)."""
    shape = tuple(len(v) for v in labels)
    if isinstance(cells, np.ndarray) and cells.dtype == bool:
        if cells.shape == shape:
            return cells.copy()
        if cells.shape == (int(np.prod(shape)),):
            return cells.reshape(shape).copy()
        raise ValueError(f"a boolean mask of cells must have shape {shape}, not {cells.shape}")
    mask = np.zeros(shape, dtype=bool)
    if isinstance(cells, np.ndarray) and cells.dtype.kind in "iu":
        flat = cells.reshape(-1)
        if flat.size and (flat.min() < 0 or flat.max() >= mask.size):
            raise ValueError(f"cell index out of range 0..{mask.size - 1}")
        mask.reshape(-1)[flat] = True
        return mask
    index = [{label: k for k, label in enumerate(v)} for v in labels]
    for cell in cells:  # type: ignore[union-attr]
        values = tuple(cell) if not isinstance(cell, str) else (cell,)
        if len(values) != len(labels):
            raise ValueError(f"cell {cell!r} has {len(values)} values; expected {len(labels)}")
        try:
            pos = tuple(index[k][str(v)] for k, v in enumerate(values))
        except KeyError as exc:
            raise ValueError(f"cell {cell!r}: value {exc.args[0]!r} is not on its axis") from None
        mask[pos] = True
    return mask


def merge_cells(cells: object, axes: Mapping[str, object], inputs: Sequence[str]) -> list[Scope]:
    """Cover ``cells`` exactly with few disjoint boxes; return them as scopes (input -> value or value list).

    ``inputs`` names the dimensions of the cells, in order; ``axes[input]`` is an :class:`~.conditions.Axis`
    or a sequence of labels. ``cells`` is a boolean mask over the product of those axes (shaped or flat), a
    1-d integer array of flat (row-major) cell indices, or an iterable of label tuples, one label per input.

    Each scope maps an input to a label (one value) or a list of labels in axis order; an input whose every
    value is in the box is left out (an empty dict is the whole grid). Boxes are disjoint, together they hold
    exactly the given cells, and they come ordered by their first cell. No cells: an empty list.

    >>> axes = {"area": ["east", "west"], "setup": ["a", "b", "c"]}
    >>> merge_cells([("west", "a"), ("west", "b"), ("east", "a"), ("east", "b")], axes, ["area", "setup"])
    [{'setup': ['a', 'b']}]
    >>> merge_cells([("west", "a"), ("west", "b"), ("east", "c")], axes, ["area", "setup"])
    [{'area': 'east', 'setup': 'c'}, {'area': 'west', 'setup': ['a', 'b']}]
    """
    labels = [_labels(axes[name]) for name in inputs]
    mask = cells_mask(cells, labels)
    count = int(mask.sum())
    if count == 0:
        return []
    if count == 1:  # one cell: one box, no search
        pos = np.unravel_index(int(np.flatnonzero(mask)[0]), mask.shape)
        return [{name: labels[d][int(pos[d])] for d, name in enumerate(inputs) if len(labels[d]) > 1}]
    boxes = _cover(mask.tobytes(), mask.shape, tuple(range(mask.ndim)))
    boxes = _union_neighbours([dict(b) for b in boxes], mask.shape)
    boxes.sort(key=lambda b: tuple(min(b[d]) for d in range(mask.ndim)))
    out: list[Scope] = []
    for box in boxes:
        scope: Scope = {}
        for d, name in enumerate(inputs):
            positions = sorted(box[d])
            if len(positions) == len(labels[d]):
                continue
            values = [labels[d][p] for p in positions]
            scope[name] = values[0] if len(values) == 1 else values
        out.append(scope)
    return out


def scope_mask(scope: Mapping[str, object], axes: Mapping[str, object], inputs: Sequence[str]) -> np.ndarray:
    """The cells of one scope as a boolean mask over the product of ``axes`` of ``inputs`` (inverse of merge).

    >>> scope_mask({"area": "west"}, {"area": ["east", "west"], "setup": ["a", "b"]}, ["area", "setup"]).tolist()
    [[False, False], [True, True]]
    """
    labels = [_labels(axes[name]) for name in inputs]
    unknown = [k for k in scope if k not in inputs]
    if unknown:
        raise ValueError(f"scope names inputs that are not dimensions here: {', '.join(unknown)}")
    mask = np.ones(tuple(len(v) for v in labels), dtype=bool)
    for d, name in enumerate(inputs):
        if name not in scope:
            continue
        wanted = scope[name]
        values = {str(wanted)} if isinstance(wanted, str) else {str(v) for v in wanted}  # type: ignore[union-attr]
        missing = values - set(labels[d])
        if missing:
            raise ValueError(f"{name}: {', '.join(sorted(missing))} not on the axis")
        axis_mask = np.array([label in values for label in labels[d]], dtype=bool)
        view = [1] * len(labels)
        view[d] = len(labels[d])
        mask &= axis_mask.reshape(view)
    return mask


def describe(scope: Mapping[str, object]) -> str:
    """A scope as one line: ``area=west, device=RS-500KI|RS-500MI`` (``any combination`` when empty).

    >>> describe({"area": "west", "device": ["RS-500KI", "RS-500MI"]})
    'area=west, device=RS-500KI|RS-500MI'
    """
    if not scope:
        return "any combination"
    parts = []
    for name, value in scope.items():
        text = value if isinstance(value, str) else "|".join(str(v) for v in value)  # type: ignore[union-attr]
        parts.append(f"{name}={text}")
    return ", ".join(parts)


Box = tuple[tuple[int, frozenset[int]], ...]


@lru_cache(maxsize=65536)
def _cover(data: bytes, shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[Box, ...]:
    """Disjoint boxes covering the true cells of the mask ``data`` (shape ``shape``, original dims ``dims``)."""
    mask = np.frombuffer(data, dtype=bool).reshape(shape)
    if not mask.any():
        return ()
    if mask.all():
        return (tuple((d, frozenset(range(n))) for d, n in zip(dims, shape, strict=True)),)
    if len(dims) == 1:
        return (((dims[0], frozenset(int(i) for i in np.flatnonzero(mask))),),)
    candidates = range(len(dims))
    if mask.size > _EXHAUSTIVE_LIMIT:
        # Large grids: split on the input with the fewest distinct slices only (greedy, still exact).
        candidates = [min(candidates, key=lambda j: _groups(mask, j)[1])]
    best: tuple[Box, ...] | None = None
    for j in candidates:
        groups, _ = _groups(mask, j)
        rest_dims = dims[:j] + dims[j + 1 :]
        rest_shape = shape[:j] + shape[j + 1 :]
        boxes: list[Box] = []
        for positions, sub in groups:
            for sub_box in _cover(sub.tobytes(), rest_shape, rest_dims):
                boxes.append(tuple(sorted(((dims[j], positions), *sub_box))))
        if best is None or len(boxes) < len(best):
            best = tuple(boxes)
    return best or ()


def _groups(mask: np.ndarray, j: int) -> tuple[list[tuple[frozenset[int], np.ndarray]], int]:
    """The non-empty slices of ``mask`` along axis ``j``, values with identical slices grouped."""
    moved = np.moveaxis(mask, j, 0)
    seen: dict[bytes, list[int]] = {}
    slices: dict[bytes, np.ndarray] = {}
    for k in range(moved.shape[0]):
        sub = np.ascontiguousarray(moved[k])
        if not sub.any():
            continue
        key = sub.tobytes()
        seen.setdefault(key, []).append(k)
        slices[key] = sub
    groups = [(frozenset(v), slices[key]) for key, v in seen.items()]
    return groups, len(groups)


def _union_neighbours(boxes: list[dict[int, frozenset[int]]], shape: tuple[int, ...]) -> list[dict]:
    """Union pairs of boxes that differ in one dimension only (still disjoint, same cells)."""
    changed = True
    while changed and len(boxes) > 1:
        changed = False
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                diff = [d for d in range(len(shape)) if boxes[a][d] != boxes[b][d]]
                if len(diff) == 1:
                    d = diff[0]
                    merged = dict(boxes[a])
                    merged[d] = boxes[a][d] | boxes[b][d]
                    boxes[a] = merged
                    del boxes[b]
                    changed = True
                    break
            if changed:
                break
    return boxes


def expand(scopes: Iterable[Mapping[str, object]], axes: Mapping[str, object], inputs: Sequence[str]) -> np.ndarray:
    """How many of ``scopes`` hold each cell (an int array over the product of axes): 1 everywhere they cover
    the cells exactly once.

    >>> axes = {"a": ["x", "y"]}
    >>> expand([{"a": "x"}, {}], axes, ["a"]).tolist()
    [2, 1]
    """
    labels = [_labels(axes[name]) for name in inputs]
    count = np.zeros(tuple(len(v) for v in labels), dtype=np.int64)
    for scope in scopes:
        count += scope_mask(scope, axes, inputs)
    return count
