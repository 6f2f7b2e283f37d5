"""Coverage: which pairs of input values each decision covers, and how much of them; the clauses no rule
cites; the audit's findings as a table.

Coverage as shares: for each pair of values of two inputs (say area x device), how much of the pair's
scenarios each decision answers, leaves open (gap) or answers twice (conflict), and the audit's findings
behind a pair.

A heat map that colours a pair orange as soon as one corner of it is unanswered overstates: one uncovered
combination of the other inputs makes the whole row orange. Here each pair gets the share of its scenarios
in each state. A scenario is one combination of input values the rules tell apart (every category value,
false/true, and each interval of days that the rules cut, the empty value included: the product of every
input's axis), counted once each. Each decision is answered on its own: a combination a constraint rules out
for a decision (one that reads an input of the constraint) is not a scenario of that decision, and still one of
the decisions the constraint does not block.

Everything is computed with public functions: the scenarios are :func:`scenario_grid` (the compiled axes of
the book), answered by :func:`~sonet_policy.engine.evaluate.evaluate`; findings come from
:func:`~sonet_policy.analysis.audit.audit`. No input is named here: the two axes are parameters, by default the first
two category inputs of the book's ``inputs.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sonet_policy.book.compile import broadcast
from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.evaluate import evaluate

STATES = ("covered", "gap", "conflict")
_STATE_OF_CODE = {"uncovered": "gap", "conflict": "conflict"}  # evaluate's codes for the two findings
_STATUS_RANK = {"ok": 0, "uncovered": 1, "conflict": 2}  # an outcome's state, worst last (as STATES)
FINDING_SORTS = ("kind", "decision", "rules", "scope")


def default_axes(rulebook: RuleBook | None = None) -> tuple[str, str]:
    """The first two category inputs in the order of the book's ``inputs.csv``.

    >>> default_axes()
    ('area', 'plan')
    """
    book = rulebook or default_rulebook()
    names = [name for name, spec in book.inputs.items() if spec.type == "category"]
    if len(names) < 2:
        raise ValueError("the rule book declares fewer than two category inputs: name the axes")
    return names[0], names[1]


def scenario_grid(rulebook: RuleBook | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every combination of input values the rules tell apart (the product of every input's axis:
    ``book.compiled().dense_cells`` rows), one row each, inputs as columns in the order of ``inputs.csv``. Returns
    ``(scenarios, labels)``: ``scenarios`` as :func:`evaluate` reads them (an integer input holds the first value
    of its interval, or None for the empty value; booleans as ``true``/``false``), ``labels`` the same rows with
    each value's name on its axis (``0-31``, ``>=32``, ``empty``).

    >>> scenarios, labels = scenario_grid()
    >>> len(scenarios) == len(labels), list(scenarios.columns) == list(default_rulebook().inputs)
    (True, True)
    """
    book = rulebook or default_rulebook()
    axes = book.compiled().axes
    names = list(book.inputs)
    values: list[list[object]] = []
    labels: list[list[str]] = []
    for name in names:
        axis = axes[name]
        labels.append(list(axis.labels))
        if axis.kind == "integer":
            values.append([None if iv is None else str(int(iv[0])) for iv in axis.intervals])
        else:
            values.append(list(axis.labels))
    index = pd.MultiIndex.from_product([range(len(v)) for v in values], names=names)
    codes = np.array(index.codes)  # (inputs, rows): the position on each axis
    scenarios = pd.DataFrame(
        {n: np.asarray(values[k], dtype=object)[codes[k]] for k, n in enumerate(names)}, dtype=object
    )
    named = pd.DataFrame({n: np.asarray(labels[k], dtype=object)[codes[k]] for k, n in enumerate(names)})
    return scenarios, named


def coverage_shares(
    rulebook: RuleBook | None = None, *, rows: str | None = None, columns: str | None = None
) -> pd.DataFrame:
    """For each (``rows`` value, ``columns`` value) pair and each decision: how many valid scenarios the pair
    holds and the share of them that the decision answers (``covered``), leaves unanswered (``gap``) or answers
    in conflict (``conflict``). ``rows`` and ``columns`` name inputs (default: :func:`default_axes`).

    Columns: ``<rows>``, ``<columns>``, ``decision``, ``scenarios``, ``covered``, ``gap``, ``conflict``
    (counts), ``covered_share``, ``gap_share``, ``conflict_share`` (0..1; NaN when every combination of the
    pair is ruled out) and ``worst`` (conflict if any, else gap if any, else covered; ``n/a`` with no
    scenario: the colour of the old heat map). One row per pair and decision, in axis and book order. Raises
    ValueError for an axis that is not an input, or the same input twice.

    >>> s = coverage_shares(rows="area", columns="device")
    >>> row = s[(s["decision"] == "procedure")].iloc[0]
    >>> float(row["covered_share"]), int(row["gap"])
    (1.0, 0)
    """
    book = rulebook or default_rulebook()
    default_rows, default_columns = default_axes(book)
    rows, columns = rows or default_rows, columns or default_columns
    for axis in (rows, columns):
        if axis not in book.inputs:
            raise ValueError(f"{axis!r} is not an input of the rule book ({', '.join(book.inputs)})")
    if rows == columns:
        raise ValueError(f"the two axes must be different inputs (both are {rows!r})")
    scenarios, labels = scenario_grid(book)
    answers = evaluate(scenarios, rulebook=book)
    axes = book.compiled().axes
    full = pd.MultiIndex.from_product([list(axes[rows].labels), list(axes[columns].labels)], names=[rows, columns])
    parts = []
    for decision in book.decisions:
        valid = answers[decision].notna().to_numpy()  # the decision is answered (partial answers count)
        keys = labels.loc[valid, [rows, columns]].reset_index(drop=True)
        codes = answers.loc[valid, decision].astype(str).reset_index(drop=True)
        state = codes.map(lambda c: _STATE_OF_CODE.get(c, "covered"))
        counts = (
            pd.crosstab([keys[rows], keys[columns]], state)
            .reindex(columns=list(STATES), fill_value=0)
            .reindex(full, fill_value=0)
        )
        counts.columns.name = None
        frame = counts.reset_index()
        frame.insert(2, "decision", decision)
        frame.insert(3, "scenarios", frame[list(STATES)].sum(axis=1))
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    total = out["scenarios"].where(out["scenarios"] > 0)
    for s in STATES:
        out[s] = out[s].astype("int64")
        out[f"{s}_share"] = out[s] / total
    out["scenarios"] = out["scenarios"].astype("int64")
    out["worst"] = np.select(
        [out["scenarios"] == 0, out["conflict"] > 0, out["gap"] > 0], ["n/a", "conflict", "gap"], default="covered"
    )
    return out


def share_label(share: float) -> str:
    """A share as the heat map prints it: a whole percent, rounded down, so that a cell says ``100%`` only when
    every scenario is covered and ``0%`` only when none is (a share strictly between shows 1% to 99%); empty
    for a pair with no scenario (NaN).

    >>> [share_label(v) for v in (1.0, 0.999, 0.974, 0.001, 0.0, float("nan"))]
    ['100%', '99%', '97%', '1%', '0%', '']
    """
    if share != share:  # NaN: every combination ruled out
        return ""
    if share >= 1:
        return "100%"
    if share <= 0:
        return "0%"
    return f"{min(max(int(share * 100), 1), 99)}%"


def share_matrix(shares: pd.DataFrame, decision: str, *, state: str = "covered") -> pd.DataFrame:
    """One decision's share in ``state`` as a matrix: the first axis of ``shares`` down, the second across
    (what a heat map draws).

    >>> m = share_matrix(coverage_shares(rows="area", columns="device"), "procedure")
    >>> m.shape, float(m.min().min())
    ((2, 40), 1.0)
    """
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    rows, columns = shares.columns[0], shares.columns[1]
    part = shares[shares["decision"] == decision]
    if part.empty:
        raise ValueError(f"no decision {decision!r} in these shares ({', '.join(shares['decision'].unique())})")
    order_r = list(dict.fromkeys(part[rows]))
    order_c = list(dict.fromkeys(part[columns]))
    matrix = part.pivot(index=rows, columns=columns, values=f"{state}_share")
    return matrix.reindex(index=order_r, columns=order_c)


def _scope_holds(scope: Mapping[str, object], name: str, value: str) -> bool:
    if name not in scope:
        return True  # an input the scope does not name: any value
    allowed = scope[name]
    if isinstance(allowed, (list, tuple, set, frozenset)):
        return value in {str(v) for v in allowed}
    return str(allowed) == value


def pair_findings(findings: pd.DataFrame, pair: Mapping[str, object], *, decision: str | None = None) -> pd.DataFrame:
    """The findings of :func:`~sonet_policy.analysis.audit.audit` whose scope holds ``pair`` (input -> value, e.g. the
    heat map cell clicked), optionally of one ``decision``. Findings without a scope over inputs (an uncited
    clause) are left out. The rows keep the audit's index (a finding's row number).

    >>> from sonet_policy.analysis.audit import audit
    >>> found = pair_findings(audit(), {"area": "west", "device": "RS-500MI"}, decision="device_action")
    >>> found["kind"].tolist()
    ['gap']
    """
    mask = []
    for rec in findings.itertuples(index=False):
        scope = rec.scope if isinstance(rec.scope, Mapping) else None
        keep = bool(rec.decision) and scope is not None and (decision is None or rec.decision == decision)
        keep = keep and all(_scope_holds(scope, str(k), str(v)) for k, v in pair.items())
        mask.append(keep)
    return findings[np.array(mask, dtype=bool)] if len(findings) else findings


# ------------------------------------------------------------------------ the worst state of each pair


def matrix_inputs(book: RuleBook) -> tuple[str, str]:
    """The two inputs a coverage matrix spans: a category input (rows) and the catalogue (columns), else the
    first two inputs.

    >>> matrix_inputs(default_rulebook())
    ('area', 'device')
    """
    kinds = {n: s.type for n, s in book.inputs.items()}
    cols = next((n for n, t in kinds.items() if t == "catalogue"), None)
    rows = next((n for n, t in kinds.items() if t == "category" and n != cols), None)
    names = [n for n in book.inputs if n not in (rows, cols)]
    rows = rows or names.pop(0)
    cols = cols or names.pop(0)
    return rows, cols


def coverage_matrix(book: RuleBook, decision: str) -> pd.DataFrame:
    """Rows x columns (a category input x the catalogue: see :func:`matrix_inputs`) for one decision:
    ``conflict`` if any valid combination of the other inputs is a conflict, else ``gap`` if any is uncovered,
    else ``covered`` (``n/a``: every combination ruled out).

    >>> m = coverage_matrix(default_rulebook(), "procedure")
    >>> m.shape, set(m.to_numpy().ravel())
    ((2, 40), {'covered'})
    """
    compiled = book.compiled()
    grid = compiled.decisions[decision]
    rows, cols = matrix_inputs(book)
    rank_of_outcome = np.array([_STATUS_RANK[o.status] for o in grid.outcomes], dtype=np.int8)
    rank = np.where(grid.invalid, -1, rank_of_outcome[grid.outcome_id])
    dims = (*grid.inputs, *(n for n in (rows, cols) if n not in grid.inputs))
    full = broadcast(rank, grid.inputs, grid.shape, dims)
    full = np.broadcast_to(full, tuple(len(compiled.axes[n].labels) for n in dims))
    worst = full.max(axis=tuple(k for k, n in enumerate(dims) if n not in (rows, cols))) if len(dims) > 2 else full
    kept = [n for n in dims if n in (rows, cols)]
    if kept != [rows, cols]:
        worst = worst.T
    labels = np.array(["n/a", *STATES], dtype=object)[worst + 1]
    return pd.DataFrame(
        labels,
        index=pd.Index(compiled.axes[rows].labels, name=rows),
        columns=pd.Index(compiled.axes[cols].labels, name=cols),
    )


def coverage_counts(book: RuleBook) -> pd.DataFrame:
    """How many pairs of :func:`coverage_matrix` (area x device in the shipped book) each decision covers,
    leaves a gap in, or answers in conflict.

    >>> coverage_counts(default_rulebook()).loc["procedure", "covered"]
    np.int64(80)
    """
    rows = {d: coverage_matrix(book, d).stack().value_counts() for d in book.decisions}
    frame = pd.DataFrame(rows).T.reindex(columns=list(STATES)).fillna(0).astype("int64")
    frame.index.name = "decision"
    return frame


# ------------------------------------------------------------------------------ clauses and findings


def uncited_clauses(book: RuleBook) -> pd.DataFrame:
    """The page's clauses that no rule and no constraint cites (``normative`` says whether one should be).

    >>> set(uncited_clauses(default_rulebook()).columns) >= {"clause_id", "normative", "text_ja"}
    True
    """
    cited = {cid for rules in book.rules.values() for r in rules for cid in r.source}
    cited |= {cid for c in book.constraints for cid in c.source}
    clauses = book.clauses.reset_index(drop=True) if "clause_id" in book.clauses.columns else book.clauses.reset_index()
    out = clauses[~clauses["clause_id"].isin(sorted(cited))]
    return out[["clause_id", "section", "normative", "text_ja", "text_en"]].reset_index(drop=True)


def finding_text(value: object) -> str:
    """One cell of a finding as text: a scope as ``input=a|b, …``, a list as ``a, b`` (an encoding choice, a
    dict, as its id), nothing for a missing value.

    >>> finding_text({"area": "west", "device": ["RS-500KI", "RS-500MI"]}), finding_text(["DEV-W-1", "DEV-W-1K"])
    ('area=west, device=RS-500KI|RS-500MI', 'DEV-W-1, DEV-W-1K')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={'|'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):  # an encoding choice (a dict) shows as its id
        return ", ".join(str(v.get("choice_id", v)) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def findings_table(findings: pd.DataFrame, *, sort_by: str = "kind") -> pd.DataFrame:
    """The audit's findings as text columns for a table (:func:`finding_text`), sorted by ``sort_by`` (a
    stable sort: ties keep the audit's order). The ``#`` column is the finding's row in the audit. Raises
    ValueError for a ``sort_by`` that is not a column of the findings.

    >>> from sonet_policy.analysis.audit import audit
    >>> findings_table(audit(), sort_by="decision")["decision"].is_monotonic_increasing
    True
    """
    if sort_by not in findings.columns:
        raise ValueError(f"cannot sort findings by {sort_by!r}; choose one of {', '.join(findings.columns)}")
    table = pd.DataFrame({"#": range(len(findings))}, index=findings.index)
    for col in findings.columns:
        table[col] = findings[col].map(finding_text).astype("str") if col != "customers" else findings[col]
    key = "#" if sort_by == "kind" else sort_by
    return table.sort_values(key, kind="stable").reset_index(drop=True)
