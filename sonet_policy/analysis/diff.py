"""Compare two rule books: which scenarios change answer, which rules are involved, how many customers move.

Both books are compiled; each decision is compared over the inputs either book reads for it, on their
*common refinement*: every category input takes the union of both books' values, and an integer input is cut
at the union of both books' bounds. A cell whose value
one book does not know (a device missing from its catalogue) is ``absent`` in that book and answers
``invalid`` there, as ``evaluate`` does: against an answer of the other book it is a change, against
``invalid`` it is not. For each decision, a cell changes when its status, code or alternatives differ.
Changed cells with the same before/after answer and rules are merged into boxes (a scope per input, written
in the cell grammar of the rule tables: ``-`` for any, ``a|b``, ``[0,31]``, ``>=32``, ``null``).

A what-if is a changed *copy* of the baseline (never an edit of it): :mod:`sonet_policy.analysis.whatif` writes one
into a new folder.

>>> import tempfile
>>> from sonet_policy.book.load import load_rulebook
>>> from sonet_policy.paths import RULES_DIR
>>> from sonet_policy.analysis.whatif import set_cell
>>> dst = set_cell(RULES_DIR, tempfile.mkdtemp() + "/p", "wifi.csv", "WIFI-3", "wifi", "stops")
>>> result = diff(load_rulebook(), load_rulebook(dst))
>>> result.changes[["decision", "device", "setup", "before_code", "after_code"]].values.tolist()
[['wifi', 'XG-100NE', 'wlan_router_10g', 'continues', 'stops']]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.conditions import INF, Axis, day_spans, integer_axis
from sonet_policy.book.load import load_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.book.scope import merge_cells
from sonet_policy.engine.evaluate import evaluate

SIDE_COLUMNS = ("status", "code", "alternatives", "rules")


def change_columns(inputs: tuple[str, ...] | list[str]) -> list[str]:
    """The columns of :attr:`DiffResult.changes` for books with ``inputs``."""
    return [
        "decision",
        *inputs,
        "scope",
        "cells",
        *(f"before_{c}" for c in SIDE_COLUMNS),
        *(f"after_{c}" for c in SIDE_COLUMNS),
    ]


@dataclass
class DiffResult:
    """What changes from ``book_a`` (before) to ``book_b`` (after).

    * ``changes``: one row per merged box of changed cells: decision, a scope per input (cell grammar; ``-``
      for an input neither book's decision reads),
      ``scope`` (the inputs that are not ``-``, as text), ``cells`` (grid cells in the box), before/after
      status, code, alternatives and rules. A box may span combinations that both books rule out (invalid
      in both, so no customer has them): ``cells`` counts only the changed cells, which keeps scopes short.
    * ``cells``: the same, one row per changed cell of the decision's common grid (axis labels per input it
      reads, ``-`` for the others; ``cell`` indexes the grid over ``inputs_of[decision]``).
    * ``axis_notes``: values one book has and the other lacks (those cells are ``absent`` there).
    * ``shift``: with a population, per decision: customers, changed, share_changed (else None).
    * ``transitions``: with a population, per decision the before → after codes of the customers who change.
    * ``counts``: with a population, per decision and code: customers before, after and the difference.
    * ``answers_before`` / ``answers_after``: with a population, ``evaluate`` of it under each book (row
      aligned with the population), for any further breakdown (by area, plan …).
    """

    book_a: RuleBook
    book_b: RuleBook
    axes: dict[str, Axis]
    cells: pd.DataFrame
    changes: pd.DataFrame
    axis_notes: list[str] = field(default_factory=list)
    shift: pd.DataFrame | None = None
    transitions: pd.DataFrame | None = None
    counts: pd.DataFrame | None = None
    answers_before: pd.DataFrame | None = field(default=None, repr=False)
    answers_after: pd.DataFrame | None = field(default=None, repr=False)
    inputs_of: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def changed_decisions(self) -> list[str]:
        """The decisions with at least one changed cell."""
        return sorted(set(self.cells["decision"]))

    def summary(self) -> pd.DataFrame:
        """Per decision: changed cells, merged boxes and (with a population) customers who change answer."""
        names = list(dict.fromkeys([*self.book_a.decisions, *self.book_b.decisions]))
        out = pd.DataFrame({"decision": names})
        out["changed_cells"] = out["decision"].map(self.cells["decision"].value_counts()).fillna(0).astype("int64")
        out["boxes"] = out["decision"].map(self.changes["decision"].value_counts()).fillna(0).astype("int64")
        if self.shift is not None:
            out = out.merge(self.shift, on="decision", how="left")
        return out

    def to_dict(self) -> dict:
        """A JSON-ready dict: hashes, axis notes, summary, changes (and population shift)."""
        out = {
            "before": {"folder": str(self.book_a.folder), "hash": self.book_a.hash},
            "after": {"folder": str(self.book_b.folder), "hash": self.book_b.hash},
            "axis_notes": self.axis_notes,
            "summary": self.summary().to_dict(orient="records"),
            "changes": self.changes.to_dict(orient="records"),
        }
        if self.transitions is not None:
            out["transitions"] = self.transitions.to_dict(orient="records")
        if self.counts is not None:
            out["counts"] = self.counts.to_dict(orient="records")
        return out

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, default=_json_default, **kwargs)

    def __str__(self) -> str:
        lines = [
            f"before: {self.book_a.folder} (hash {self.book_a.hash})",
            f"after:  {self.book_b.folder} (hash {self.book_b.hash})",
        ]
        lines += [f"note: {n}" for n in self.axis_notes]
        if self.cells.empty:
            lines.append("no scenario changes answer")
        lines.append(self.summary().to_string(index=False))
        if not self.changes.empty:
            cols = [
                "decision",
                "scope",
                "cells",
                "before_code",
                "after_code",
                "before_rules",
                "after_rules",
            ]
            lines.append("")
            lines.append(self.changes[cols].to_string(index=False))
        if self.transitions is not None and not self.transitions.empty:
            lines.append("")
            lines.append("customers who change answer (before → after):")
            lines.append(self.transitions.to_string(index=False))
        return "\n".join(lines)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return str(value)


def common_axes(a: CompiledBook, b: CompiledBook) -> tuple[dict[str, Axis], list[str]]:
    """The common refinement of two books' axes (every input of either), and notes on values only one has.

    >>> from sonet_policy.book.load import default_rulebook
    >>> c = default_rulebook().compiled()
    >>> axes, notes = common_axes(c, c)
    >>> all(axes[n].labels == c.axes[n].labels for n in c.inputs), notes
    (True, [])
    """
    axes: dict[str, Axis] = {}
    notes: list[str] = []
    for name in dict.fromkeys([*a.inputs, *b.inputs]):
        if name not in a.axes or name not in b.axes:
            axes[name] = a.axes.get(name) or b.axes[name]
            notes.append(f"input {name} only in the {'after' if name not in a.axes else 'before'} book")
            continue
        xa, xb = a.axes[name], b.axes[name]
        if xa.kind == "integer" or xb.kind == "integer":
            minimum = min(xa.breaks[0] if xa.breaks else 0, xb.breaks[0] if xb.breaks else 0)
            null = any(iv is None for iv in (*xa.intervals, *xb.intervals))
            axes[name] = integer_axis(name, set(xa.breaks) | set(xb.breaks), minimum=minimum, null=null)
            if xa.breaks != xb.breaks:
                notes.append(
                    f"{name}: cut at {_cuts(xa)} before and {_cuts(xb)} after; compared on {_cuts(axes[name])}"
                )
            continue
        labels = list(dict.fromkeys([*xa.labels, *xb.labels]))
        axes[name] = Axis(name, xa.kind, tuple(labels))
        only_a = [v for v in xa.labels if v not in xb.labels]
        only_b = [v for v in xb.labels if v not in xa.labels]
        if only_a:
            notes.append(f"{name}: {'|'.join(only_a)} only in the before book (absent after)")
        if only_b:
            notes.append(f"{name}: {'|'.join(only_b)} only in the after book (absent before)")
    return axes, notes


def _cuts(axis: Axis) -> str:
    return ",".join(str(int(c)) for c in axis.breaks)


def _positions(common: Axis, own: Axis) -> np.ndarray:
    """For each value of the common axis, the position on ``own`` (-1 where ``own`` lacks it)."""
    if common.kind == "integer":
        out = np.zeros(len(common.intervals), dtype=np.int64)
        cuts = np.asarray(own.breaks, dtype=float)
        offset = 1 if own.intervals and own.intervals[0] is None else 0
        for i, iv in enumerate(common.intervals):
            if iv is None:
                out[i] = 0 if offset else -1
            elif len(cuts) == 0 or iv[0] < cuts[0]:
                out[i] = -1
            else:
                out[i] = offset + int(np.searchsorted(cuts, iv[0], side="right")) - 1
        return out
    index = {v: i for i, v in enumerate(own.labels)}
    return np.array([index.get(v, -1) for v in common.labels], dtype=np.int64)


def cells_of(compiled: CompiledBook, axes: dict[str, Axis], decision: str, inputs: tuple[str, ...]) -> np.ndarray:
    """For each cell of the grid over ``inputs`` (C order, axes ``axes``), the cell of ``decision``'s grid in
    ``compiled``, or -1 where a value is one the book lacks (or the book lacks the decision)."""
    shape = tuple(len(axes[n].labels) for n in inputs)
    grid = compiled.decisions.get(decision)
    if grid is None:
        return np.full(int(np.prod(shape)), -1, dtype=np.int64)
    cell = np.zeros(shape, dtype=np.int64)
    ok = np.ones(shape, dtype=bool)
    strides = dict(zip(grid.inputs, grid.strides, strict=True))
    for k, name in enumerate(inputs):
        if name not in strides:
            continue  # the book's decision does not read it: same answer for every value
        pos = _positions(axes[name], compiled.axes[name])
        view = [1] * len(shape)
        view[k] = len(pos)
        cell = cell + (np.where(pos < 0, 0, pos) * strides[name]).reshape(view)
        ok = ok & (pos >= 0).reshape(view)
    return np.where(ok, cell, -1).reshape(-1)


def _side(compiled: CompiledBook, decision: str, cell: np.ndarray) -> dict[str, np.ndarray]:
    """Status, code, alternatives and rules per common cell for one book and decision."""
    n = len(cell)
    out = {k: np.full(n, "", dtype=object) for k in SIDE_COLUMNS}
    out["status"][:] = "absent"  # a value (or the decision) this book does not have: evaluate says invalid
    out["code"][:] = "invalid"
    grid = compiled.decisions.get(decision)
    if grid is None:
        return out
    present = cell >= 0
    safe = np.where(present, cell, 0)
    oid = grid.outcome_id[safe]
    for key, values in (
        ("status", [o.status for o in grid.outcomes]),
        ("code", [o.code for o in grid.outcomes]),
        ("alternatives", [o.alternatives for o in grid.outcomes]),
        ("rules", [" ".join(o.rules) for o in grid.outcomes]),
    ):
        out[key] = np.where(present, np.asarray(values, dtype=object)[oid], out[key])
    invalid = present & grid.invalid[safe]
    out["status"][invalid] = "invalid"
    out["code"][invalid] = "invalid"
    out["alternatives"][invalid] = ""
    out["rules"][invalid] = ""
    return out


def _unanswerable(compiled: CompiledBook, decision: str, cell: np.ndarray) -> np.ndarray:
    """Common cells the book answers ``invalid``: a value it lacks, or a combination its constraints rule out."""
    grid = compiled.decisions.get(decision)
    if grid is None:
        return np.ones(len(cell), dtype=bool)
    return (cell < 0) | grid.invalid[np.where(cell >= 0, cell, 0)]


def _render(name: str, axis: Axis, positions: list[int]) -> str:
    """A set of axis positions in the cell grammar (``-`` when it is the whole axis)."""
    if len(positions) == len(axis.labels):
        return "-"
    if axis.kind != "integer":
        return "|".join(axis.labels[p] for p in sorted(positions))
    empty, spans = day_spans(axis, positions)
    parts = ["null"] if empty else []
    for lo, hi in spans:
        parts.append(f">={int(lo)}" if hi == INF else (f"{int(lo)}" if hi == lo + 1 else f"[{int(lo)},{int(hi) - 1}]"))
    return "|".join(parts)


def _boxes(
    cells: np.ndarray, dont_care: np.ndarray, axes: dict[str, Axis], inputs: tuple[str, ...]
) -> list[tuple[list[frozenset[int]], int]]:
    """Disjoint boxes (a set of axis positions per input) holding every one of ``cells``, and the number of
    ``cells`` in each. Cells in ``dont_care`` (invalid in both books: no customer has them) may join a box,
    which keeps scopes short; boxes holding none of ``cells`` are dropped. The boxes come from
    :func:`sonet_policy.book.scope.merge_cells` (exact, few boxes)."""
    shape = tuple(len(axes[n].labels) for n in inputs)
    real = np.zeros(int(np.prod(shape)), dtype=bool)
    real[cells] = True
    wanted = real | dont_care
    boxes = []
    for scope in merge_cells(wanted, axes, list(inputs)):
        box = []
        for name in inputs:
            labels = axes[name].labels
            if name not in scope:
                box.append(frozenset(range(len(labels))))
            else:
                value = scope[name]
                values = {value} if isinstance(value, str) else set(value)
                box.append(frozenset(k for k, label in enumerate(labels) if label in values))
        boxes.append(box)
    grid, allowed = real.reshape(shape), wanted.reshape(shape)
    out = []
    for box in boxes:
        count = int(grid[np.ix_(*[sorted(s) for s in box])].sum())
        if not count:
            continue
        # Widen an input to "any" where that only adds don't-care cells (shorter scope, same changed cells).
        for d in range(len(shape)):
            wider = [*box[:d], frozenset(range(shape[d])), *box[d + 1 :]]
            index = np.ix_(*[sorted(s) for s in wider])
            if allowed[index].all() and int(grid[index].sum()) == count:
                box = wider
        out.append((box, count))
    return out


def _merge(
    cells: pd.DataFrame,
    dont_care: dict[str, np.ndarray],
    axes: dict[str, Axis],
    inputs_of: dict[str, tuple[str, ...]],
    all_inputs: list[str],
) -> pd.DataFrame:
    columns = change_columns(all_inputs)
    if cells.empty:
        return pd.DataFrame(columns=columns)
    keys = ["decision", *(f"before_{c}" for c in SIDE_COLUMNS), *(f"after_{c}" for c in SIDE_COLUMNS)]
    rows = []
    for key, group in cells.groupby(keys, sort=False):
        decision = key[0]
        inputs = inputs_of[decision]
        for box, count in _boxes(group["cell"].to_numpy(), dont_care[decision], axes, inputs):
            rec = dict(zip(keys, key, strict=True))
            scope = {n: "-" for n in all_inputs}
            scope.update({n: _render(n, axes[n], sorted(box[k])) for k, n in enumerate(inputs)})
            rec.update(scope)
            rec["scope"] = ", ".join(f"{n}={v}" for n, v in scope.items() if v != "-") or "any"
            rec["cells"] = count
            rows.append(rec)
    out = pd.DataFrame(rows)[columns]
    return out.sort_values(["decision", *all_inputs], kind="stable").reset_index(drop=True)


def _population_shift(result: DiffResult, population: pd.DataFrame) -> None:
    book_a, book_b = result.book_a, result.book_b
    before, after = evaluate(population, rulebook=book_a), evaluate(population, rulebook=book_b)
    names = list(dict.fromkeys([*book_a.decisions, *book_b.decisions]))
    n = len(population)
    shift, moves, counts = [], [], []
    for name in names:
        (b, a), vocab = _answers_in_common(before, after, name, alternatives=True)
        changed = b != a
        share = float(changed.mean()) if n else 0.0
        shift.append(dict(decision=name, customers=n, changed=int(changed.sum()), share_changed=share))
        if changed.any():
            pairs, k = np.unique(b[changed] * len(vocab) + a[changed], return_counts=True)
            moves.append(
                pd.DataFrame(
                    {
                        "decision": name,
                        "before": vocab[pairs // len(vocab)],
                        "after": vocab[pairs % len(vocab)],
                        "customers": k,
                    }
                )
            )
        (cb, ca), codes = _answers_in_common(before, after, name, alternatives=False)
        nb, na = np.bincount(cb, minlength=len(codes)), np.bincount(ca, minlength=len(codes))
        keep = (nb > 0) | (na > 0)
        order = np.argsort(codes[keep].astype(str), kind="stable")
        counts.append(
            pd.DataFrame(
                {"decision": name, "code": codes[keep][order], "before": nb[keep][order], "after": na[keep][order]}
            )
        )
    cols = ["decision", "before", "after", "customers"]
    trans = pd.concat(moves, ignore_index=True)[cols] if moves else pd.DataFrame(columns=cols)
    trans = trans.sort_values(["decision", "customers"], ascending=[True, False], kind="stable")
    table = pd.concat(counts, ignore_index=True)
    table["change"] = table["after"] - table["before"]
    result.shift, result.transitions = pd.DataFrame(shift), trans.reset_index(drop=True)
    result.counts = table.astype({"before": "int64", "after": "int64", "change": "int64"})
    result.answers_before, result.answers_after = before, after


def _answers_in_common(
    before: pd.DataFrame, after: pd.DataFrame, decision: str, *, alternatives: bool
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Both sides' answers of one decision as ids into one shared vocabulary of answer texts."""
    (ib, tb), (ia, ta) = (_answer_ids(x, decision, alternatives=alternatives) for x in (before, after))
    vocab = np.asarray(list(dict.fromkeys([*tb, *ta])), dtype=object)
    index = {t: k for k, t in enumerate(vocab)}
    lut_b = np.array([index[t] for t in tb], dtype=np.int64)
    lut_a = np.array([index[t] for t in ta], dtype=np.int64)
    return (lut_b[ib], lut_a[ia]), vocab


def _answer_ids(answers: pd.DataFrame, decision: str, *, alternatives: bool = True) -> tuple[np.ndarray, list[str]]:
    """Per row an id into a list of answer texts: ``code [alternatives]``, ``invalid`` or ``absent``.

    Built per distinct (code, alternatives) pair, then gathered: a million rows cost a few array operations.
    """
    n = len(answers)
    if decision not in answers.columns:
        return np.zeros(n, dtype=np.int64), ["absent"]
    parts = [pd.Categorical(answers[decision])]
    alt_col = f"{decision}_alternatives"
    if alternatives and alt_col in answers.columns:
        parts.append(pd.Categorical(answers[alt_col]))
    codes = [np.where(p.codes < 0, len(p.categories), p.codes) for p in parts]
    names = [[*map(str, p.categories), ""] for p in parts]
    shape = tuple(len(v) for v in names)
    flat = np.ravel_multi_index(codes, shape) if n else np.zeros(0, dtype=np.int64)
    invalid = np.asarray(answers["status"] == "invalid")
    flat = np.where(invalid, int(np.prod(shape)), flat)  # one more id: invalid
    present, inverse = np.unique(flat, return_inverse=True)
    texts = []
    for f in present.tolist():
        if f == int(np.prod(shape)):
            texts.append("invalid")
            continue
        pos = np.unravel_index(f, shape)
        code = names[0][pos[0]]
        alt = names[1][pos[1]] if len(parts) > 1 else ""
        texts.append(f"{code} [{alt}]" if alt else code)
    return inverse.reshape(-1).astype(np.int64), texts


def diff(
    book_a: RuleBook | Path | str,
    book_b: RuleBook | Path | str,
    *,
    population: pd.DataFrame | None = None,
) -> DiffResult:
    """The scenarios whose answer changes from ``book_a`` (before) to ``book_b`` (after), per decision.

    Books may be :class:`RuleBook` objects or folders. With a ``population`` (customer rows, e.g.
    :func:`sonet_policy.analysis.population.synthetic_population`), both books evaluate it and the result counts the
    customers whose answer (code and alternatives, or invalid) changes. Raises :class:`RuleBookError` if a
    folder does not load. See the module example.
    """
    book_a = book_a if isinstance(book_a, RuleBook) else load_rulebook(book_a)
    book_b = book_b if isinstance(book_b, RuleBook) else load_rulebook(book_b)
    ca, cb = book_a.compiled(), book_b.compiled()
    axes, notes = common_axes(ca, cb)
    all_inputs = list(axes)
    names = list(dict.fromkeys([*book_a.decisions, *book_b.decisions]))
    for name in names:
        if name not in book_a.decisions:
            notes.append(f"decision {name} only in the after book")
        elif name not in book_b.decisions:
            notes.append(f"decision {name} only in the before book")
    parts = []
    inputs_of: dict[str, tuple[str, ...]] = {}
    dont_care: dict[str, np.ndarray] = {}
    for name in names:
        read = set(book_a.decisions[name].inputs if name in book_a.decisions else ())
        read |= set(book_b.decisions[name].inputs if name in book_b.decisions else ())
        inputs = tuple(n for n in all_inputs if n in read)
        inputs_of[name] = inputs
        shape = tuple(len(axes[n].labels) for n in inputs)
        cell_a, cell_b = cells_of(ca, axes, name, inputs), cells_of(cb, axes, name, inputs)
        dont_care[name] = _unanswerable(ca, name, cell_a) & _unanswerable(cb, name, cell_b)
        sa, sb = _side(ca, name, cell_a), _side(cb, name, cell_b)
        # A value a book lacks is answered "invalid" by evaluate, like a combination the page rules out:
        # absent vs invalid is no change of answer (the table still shows which).
        changed = np.where(sa["status"] == "absent", "invalid", sa["status"]) != np.where(
            sb["status"] == "absent", "invalid", sb["status"]
        )
        for key in ("code", "alternatives"):
            changed |= sa[key] != sb[key]
        if not changed.any():
            continue
        index = np.flatnonzero(changed)
        pos = np.unravel_index(index, shape)
        frame = pd.DataFrame({"decision": name, "cell": index})
        for n in all_inputs:
            frame[n] = "-"
        for k, n in enumerate(inputs):
            frame[n] = np.asarray(axes[n].labels, dtype=object)[pos[k]]
        for key in SIDE_COLUMNS:
            frame[f"before_{key}"] = sa[key][changed]
        for key in SIDE_COLUMNS:
            frame[f"after_{key}"] = sb[key][changed]
        parts.append(frame)
    cell_cols = ["decision", "cell", *all_inputs, *(f"before_{c}" for c in SIDE_COLUMNS)]
    cell_cols += [f"after_{c}" for c in SIDE_COLUMNS]
    cells = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cell_cols)
    changes = _merge(cells, dont_care, axes, inputs_of, all_inputs)
    result = DiffResult(book_a, book_b, axes, cells[cell_cols], changes, notes, inputs_of=inputs_of)
    if population is not None:
        _population_shift(result, population)
    return result
