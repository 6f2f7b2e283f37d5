"""A SYNTHETIC customer base to weigh the rules, and impact counts over any customer base.

The population made here is **synthetic**: invented customers drawn from a seed with the shares of
``data/population_shares.csv``. The shares are assumptions for illustration, not So-net figures; the page
publishes none. Every frame made here carries ``synthetic = True`` in a column and in ``frame.attrs``. Analysts
who have real exports point :func:`load_population` at their own CSV (same columns) instead.

The shares are data (``assumptions()`` returns them as a DataFrame), one row per share:

* ``variable``: an input of ``inputs.csv``, or ``<input>.<column>`` for a catalogue input drawn by a column of
  its catalogue (``device.series``: a series is drawn, then one of its models with equal shares);
* ``given``: empty, or conditions on inputs drawn before it (display order), ``input=a|b`` joined by ``&``.
  A row is drawn from the first group (in file order) whose conditions hold; the value ``*`` means "drawn by
  the next group that holds" (a mixture: 10ギガ customers have the XG-100 with 0.60, the others are drawn by
  area);
* ``value``: a value of the input (a catalogue column's value for ``<input>.<column>``); for an integer input
  ``empty`` or a range ``lo..hi`` of whole numbers drawn uniformly;
* ``share``: the probability within its group; ``note``: why.

An input without a share is drawn uniformly (an integer: empty or not with equal odds where empty is a value,
else whole numbers from its minimum to :data:`UNIFORM_SPAN` above it). Draws are vectorised with a
:class:`numpy.random.Generator`; the same ``n``, ``seed`` and shares give the same frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.files.read import read_scenarios
from sonet_policy.paths import DATA_DIR

SHARES_CSV = DATA_DIR / "population_shares.csv"
SHARE_COLUMNS = ["variable", "given", "value", "share", "note"]
UNIFORM_SPAN = 90


def __getattr__(name: str) -> object:
    if name == "POPULATION_COLUMNS":  # the columns of a synthetic population: customer_id, the inputs, synthetic
        return ["customer_id", *default_rulebook().input_order, "synthetic"]
    raise AttributeError(name)


def assumptions(path: Path | str = SHARES_CSV) -> pd.DataFrame:
    """The shares the synthetic population is drawn with, as a table (variable, given, value, share, note).

    >>> table = assumptions()
    >>> table.groupby(["variable", "given"])["share"].sum().round(6).loc[("area", "")]
    np.float64(1.0)
    """
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in SHARE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    frame["share"] = pd.to_numeric(frame["share"], errors="raise")
    return frame[SHARE_COLUMNS]


def _conditions(given: str) -> list[tuple[str, set[str]]]:
    out = []
    for part in filter(None, (p.strip() for p in given.split("&"))):
        name, _, values = part.partition("=")
        out.append((name.strip(), {v.strip() for v in values.split("|") if v.strip()}))
    return out


def _labels_of(drawn: dict[str, np.ndarray], labels: dict[str, list[str]], name: str) -> np.ndarray:
    return np.asarray(labels[name], dtype=object)[drawn[name]]


def _draw_groups(
    rng: np.random.Generator,
    table: pd.DataFrame,
    n: int,
    drawn: dict[str, np.ndarray],
    labels: dict[str, list[str]],
    choices: list[str],
) -> np.ndarray:
    """Positions in ``choices`` drawn per row from the first group whose ``given`` holds (``*``: the next)."""
    out = np.full(n, -1, dtype=np.int64)
    pending = np.ones(n, dtype=bool)
    groups = list(dict.fromkeys(table["given"]))
    groups.sort(key=lambda g: g == "")  # the unconditional group holds for every row: it comes last
    for given in groups:
        rows = table[table["given"] == given]
        holds = pending.copy()
        for name, values in _conditions(given):
            if name not in drawn:
                raise ValueError(f"population shares: {given!r} names {name}, not drawn before this variable")
            holds &= np.isin(_labels_of(drawn, labels, name), list(values))
        if not holds.any():
            continue
        values = list(rows["value"])
        p = rows["share"].to_numpy(dtype=float)
        unknown = [v for v in values if v != "*" and v not in choices]
        if unknown:
            raise ValueError(
                f"population shares: {', '.join(unknown)} not among the values ({given or 'no condition'})"
            )
        lut = np.array([-2 if v == "*" else choices.index(v) for v in values], dtype=np.int64)
        pick = lut[rng.choice(len(values), size=int(holds.sum()), p=p / p.sum())]
        idx = np.flatnonzero(holds)
        out[idx] = pick
        pending[idx[pick >= 0]] = False
    if pending.any():  # no group holds (or only "*"): uniform
        out[pending] = rng.integers(0, len(choices), size=int(pending.sum()))
    return out


def synthetic_population(
    n: int = 100_000, *, seed: int = 0, rulebook: object = None, shares: pd.DataFrame | None = None
) -> pd.DataFrame:
    """A SYNTHETIC customer base of ``n`` rows drawn from ``seed`` with the shares of
    ``data/population_shares.csv`` (or ``shares``) for the inputs of ``rulebook`` (default: the shipped book).

    Returns columns ``customer_id`` (``S0000001`` …), one per input (categorical for a category or catalogue,
    bool for a boolean, nullable Int64 for an integer: empty where drawn empty) and ``synthetic`` (True);
    ``frame.attrs`` holds ``synthetic``, ``seed`` and ``n``. Raises ValueError for a negative ``n`` or shares
    that name values the book does not have.

    >>> pop = synthetic_population(1000, seed=1)
    >>> len(pop), bool(pop["synthetic"].all()), pop.attrs["synthetic"]
    (1000, True, True)
    >>> bool(((pop["setup"] == "wlan_router_10g") <= (pop["plan"] == "10g")).all())
    True
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, not {n}")
    book = rulebook or default_rulebook()
    table = assumptions() if shares is None else shares
    rng = np.random.default_rng(seed)
    drawn: dict[str, np.ndarray] = {}
    labels: dict[str, list[str]] = {}
    columns: dict[str, object] = {}
    for name, spec in book.inputs.items():
        own = table[table["variable"] == name]
        grouped = table[table["variable"].str.startswith(f"{name}.")]
        if spec.type in ("category", "catalogue"):
            values = list(spec.domain)
            if spec.type == "catalogue" and not grouped.empty:
                column = grouped["variable"].iloc[0].split(".", 1)[1]
                catalogue = book.catalogues[name]
                if column not in catalogue.columns:
                    raise ValueError(f"population shares: the catalogue of {name} has no column {column!r}")
                members = {g: list(frame.iloc[:, 0]) for g, frame in catalogue.groupby(column, sort=False)}
                names = list(members)
                group = _draw_groups(rng, grouped, n, drawn, labels, names)
                offsets = np.cumsum([0] + [len(members[g]) for g in names])[:-1]
                counts = np.array([len(members[g]) for g in names])
                flat = np.array([values.index(m) for g in names for m in members[g]], dtype=np.int64)
                pos = flat[offsets[group] + np.floor(rng.random(n) * counts[group]).astype(np.int64)]
            else:
                pos = _draw_groups(rng, own, n, drawn, labels, values)
            drawn[name], labels[name] = pos, values
            columns[name] = pd.Categorical.from_codes(pos, categories=values)
        elif spec.type == "boolean":
            pos = _draw_groups(rng, own, n, drawn, labels, ["false", "true"])
            drawn[name], labels[name] = pos, ["false", "true"]
            columns[name] = pos == 1
        else:
            choices = [str(v) for v in own["value"]] if not own.empty else []
            if own.empty:
                lo = int(spec.minimum)
                choices = (["empty"] if spec.empty == "null" else []) + [f"{lo}..{lo + UNIFORM_SPAN}"]
                own = pd.DataFrame({"given": "", "value": choices, "share": 1.0})
            pick = _draw_groups(rng, own, n, drawn, labels, choices)
            numbers = np.zeros(n, dtype=np.int64)
            empty = np.zeros(n, dtype=bool)
            for k, choice in enumerate(choices):
                rows = pick == k
                if choice == "empty":
                    empty |= rows
                    continue
                lo, _, hi = choice.partition("..")
                numbers[rows] = rng.integers(int(lo), int(hi or lo) + 1, size=int(rows.sum()))
            drawn[name], labels[name] = pick, choices
            columns[name] = pd.arrays.IntegerArray(numbers, empty)
    ids = "S" + pd.Series(np.arange(1, n + 1), dtype="int64").astype("string").str.zfill(7)
    frame = pd.DataFrame({"customer_id": ids.astype("string").array, **columns, "synthetic": np.ones(n, dtype=bool)})
    frame.attrs.update(
        synthetic=True, seed=seed, n=n, generator="sonet_policy.analysis.population.synthetic_population"
    )
    return frame


def load_population(path: Path | str) -> pd.DataFrame:
    """Read an analyst's own customer CSV with the scenario columns, as people have such files.

    Read by :func:`sonet_policy.files.read.read_scenarios`: UTF-8 with or without BOM or Shift_JIS/CP932, Japanese
    headers (エリア, プラン, 機器名 …), blank lines dropped, extra columns kept, every cell text (``evaluate``
    parses them and reports bad ones per row); the index is the file's line number. Required columns: area,
    plan, device, setup, keep_number; days_since_phone_stop is optional. A ``customer_id`` column is added
    (row numbers from 1) when absent, and ``synthetic`` is False unless the file says otherwise. Raises
    :class:`~sonet_policy.errors.ScenarioFileError` (a :class:`ScenarioError`) naming a missing column.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "c.csv")
    >>> _ = open(p, "w").write("area,plan,device,setup,keep_number\\nwest,sml,RV-230SE,rental_only,no\\n")
    >>> row = load_population(p).iloc[0]
    >>> row["customer_id"], row["device"], bool(row["synthetic"])
    ('1', 'RV-230SE', False)
    """
    frame = read_scenarios(path)
    if "customer_id" not in frame.columns:
        frame.insert(0, "customer_id", [str(i) for i in range(1, len(frame) + 1)])
    for name, spec in default_rulebook().inputs.items():  # an optional input's absent column: every row empty
        if not spec.required and name not in frame.columns:
            frame[name] = ""
    if "synthetic" in frame.columns:
        frame["synthetic"] = frame["synthetic"].str.strip().str.lower().isin(["true", "1", "yes"])
    else:
        frame["synthetic"] = False
    frame.attrs.update(synthetic=bool(frame["synthetic"].all()) and len(frame) > 0, source=str(path))
    return frame


FINDINGS = ("uncovered", "conflict")
MEASURES_CSV = DATA_DIR / "impact_measures.csv"


def impact_measures(path: Path | str = MEASURES_CSV) -> pd.DataFrame:
    """The headline counts of :func:`impact_summary` (``data/impact_measures.csv``): measure, decision, kind
    (``each_code``: one column ``<measure><code>`` per answer code; ``in``: the answer is one of ``codes``;
    ``not_in``: an answer, not a finding, other than ``codes``), codes (``|``-separated), note."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def default_by(rulebook: object = None) -> tuple[str, ...]:
    """The grouping impact tables use by default: the first two category inputs of the book.

    >>> len(default_by())
    2
    """
    book = rulebook or default_rulebook()
    return tuple([n for n, spec in book.inputs.items() if spec.type == "category"][:2])


def _groups(population: pd.DataFrame, answers: pd.DataFrame, by: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """A group id per row (0..k-1) and the k groups' labels (an empty value reads ``empty``)."""
    if len(population) != len(answers):
        raise ValueError(f"answers has {len(answers)} rows, the population {len(population)}: evaluate it first")
    n = len(answers)
    if not by:
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=range(1 if n else 0))
    codes, labels = [], []
    for col in by:
        if col not in population.columns:
            raise KeyError(f"population has no column {col!r} to group by")
        c, uniques = pd.factorize(population[col], sort=True, use_na_sentinel=False)
        codes.append(np.asarray(c, dtype=np.int64))
        labels.append(pd.Series(pd.array(uniques).astype("string")).fillna("empty").to_numpy(dtype=object))
    flat = np.ravel_multi_index(codes, tuple(len(v) for v in labels)) if n else np.zeros(0, dtype=np.int64)
    present, ids = np.unique(flat, return_inverse=True)
    pos = np.unravel_index(present, tuple(len(v) for v in labels))
    groups = pd.DataFrame({col: labels[k][pos[k]] for k, col in enumerate(by)})
    # groups in the order of their labels as text (stable output for notebooks), ids renumbered to match
    order = groups.astype(str).sort_values(by, kind="stable").index.to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[ids.reshape(-1)], groups.iloc[order].reset_index(drop=True)


def _decisions(answers: pd.DataFrame) -> list[str]:
    """The decision columns of an answers frame: those before ``status`` that are not extra outputs."""
    cols = list(answers.columns)
    head = cols[: cols.index("status")] if "status" in cols else cols
    return [c for c in head if not any(c.startswith(f"{d}_") for d in head if d != c)]


def impact(answers: pd.DataFrame, population: pd.DataFrame, *, by: Sequence[str] | None = None) -> pd.DataFrame:
    """Tidy counts: how many customers get each code of each decision, per group of ``by``.

    ``answers`` is ``evaluate(population)`` (same rows, same order). Returns columns ``*by``, ``decision``,
    ``code``, ``customers`` and ``share`` (of the group's customers), sorted by group, decision and code as
    text; rows the evaluation found invalid count under code ``invalid``. Zero counts are left out. ``by=()``
    counts the whole base. Raises ValueError when ``answers`` and ``population`` differ in length, KeyError for
    an unknown ``by`` column.

    >>> from sonet_policy import evaluate
    >>> pop = synthetic_population(200, seed=3)
    >>> table = impact(evaluate(pop), pop, by=("area",))
    >>> int(table[table["decision"] == "wifi"]["customers"].sum())
    200
    """
    by = list(default_by() if by is None else by)
    ids, groups = _groups(population, answers, by)
    sizes = np.bincount(ids, minlength=len(groups))
    invalid = np.asarray(answers["status"] == "invalid")
    parts = []
    for decision in _decisions(answers):
        cat = pd.Categorical(answers[decision])
        names = [*map(str, cat.categories), "invalid"]
        code = np.where(invalid | (cat.codes < 0), len(names) - 1, cat.codes).astype(np.int64)
        counts = np.bincount(ids * len(names) + code, minlength=len(groups) * len(names)).reshape(-1, len(names))
        g, k = np.nonzero(counts)
        part = groups.iloc[g].reset_index(drop=True)
        part["decision"] = decision
        part["code"] = np.asarray(names, dtype=object)[k]
        part["customers"] = counts[g, k]
        part["share"] = counts[g, k] / sizes[g]
        parts.append(part)
    columns = [*by, "decision", "code", "customers", "share"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True).sort_values([*by, "decision", "code"], kind="stable")
    return out[columns].astype({"customers": "int64"}).reset_index(drop=True)


def impact_summary(
    answers: pd.DataFrame,
    population: pd.DataFrame,
    *,
    by: Sequence[str] | None = None,
    measures: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per group of ``by`` (sorted as text; default: :func:`default_by`): customers, the headline
    measures of ``data/impact_measures.csv`` (:func:`impact_measures`; for the shipped book: each device
    action, lose IPv4, lose Wi-Fi), gap, conflict, invalid. Rows with an unanswered decision count only under
    ``invalid``.

    * ``gap``: at least one decision is ``uncovered``; ``conflict``: at least one decision is ``conflict``;
    * ``invalid``: some decision of the scenario cannot be answered (a bad value, or a combination the page
      rules out): status ``invalid`` or ``partial``.

    >>> from sonet_policy import evaluate
    >>> pop = synthetic_population(300, seed=2)
    >>> s = impact_summary(evaluate(pop), pop, by=())
    >>> int(s.loc[0, "customers"])
    300
    """
    by = list(default_by() if by is None else by)
    ids, groups = _groups(population, answers, by)
    valid = ~np.asarray(answers["status"].isin(["invalid", "partial"]))  # every decision answered
    table = impact_measures() if measures is None else measures
    measures: dict[str, np.ndarray] = {"customers": np.ones(len(answers), dtype=bool)}
    for rec in table.to_dict(orient="records"):
        if rec["decision"] not in answers.columns:
            continue
        column = answers[rec["decision"]]
        codes = [c for c in str(rec["codes"]).split("|") if c]
        if rec["kind"] == "each_code":
            cat = pd.Categorical(column)
            for code in sorted(set(map(str, cat.categories)) - set(FINDINGS)):
                measures[f"{rec['measure']}{code}"] = valid & np.asarray(cat == code)
        elif rec["kind"] == "in":
            measures[rec["measure"]] = valid & np.asarray(column.isin(codes))
        else:
            measures[rec["measure"]] = valid & ~np.asarray(column.isin([*codes, *FINDINGS]) | column.isna())
    gap = np.zeros(len(answers), dtype=bool)
    conflict = np.zeros(len(answers), dtype=bool)
    for d in _decisions(answers):
        gap |= np.asarray(answers[d] == "uncovered")
        conflict |= np.asarray(answers[d] == "conflict")
    measures["gap"] = valid & gap
    measures["conflict"] = valid & conflict
    measures["invalid"] = ~valid
    out = groups.copy()
    for name, mask in measures.items():
        out[name] = np.bincount(ids, weights=mask, minlength=len(groups)).astype(np.int64)
    return out
