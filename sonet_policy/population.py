"""A SYNTHETIC customer base to weigh the rules, and impact counts over any customer base.

The population made here is **synthetic**: invented customers drawn from a seed with the shares in
:data:`SHARES`. The shares are assumptions for illustration, not So-net figures; the page publishes none.
Every frame made here carries ``synthetic = True`` in a column and in ``frame.attrs``. Analysts who have real
exports point :func:`load_population` at their own CSV (same columns) instead.

The assumptions, one table (``assumptions()`` returns it as a DataFrame):

========================  =====================  ============================================================
variable                  given                  shares
========================  =====================  ============================================================
area                                             east 0.55, west 0.45
plan                                             other 0.62, sml 0.30, 10g 0.08
setup                     plan=10g               wlan_router_10g 0.40, v6plus_router 0.30, rental_only 0.20,
                                                 wlan_1g 0.10
setup                     plan=sml|other         v6plus_router 0.40, rental_only 0.35, wlan_1g 0.25
                                                 (wlan_router_10g exists only with 10g: the page says so)
device_series             plan=10g               XG-100 0.60; the other 0.40 drawn as below
device_series             area=east / west       by series (PR-600 … RT-200), see :data:`SHARES`; every series
                                                 of the catalogue in both areas, including RS-500 in West at a
                                                 small rate (0.005): the page lists RS-500 for East only, but
                                                 a real customer may own one (a moved device), and the rules
                                                 must answer or report a gap for it
device                    device_series          equal shares of the models of the series (from
                                                 ``data/devices.csv``)
keep_number               —                      true 0.40
days_since_phone_stop     —                      empty (phone not stopped) 0.70; else uniform whole days 0..90
========================  =====================  ============================================================

Draws are independent apart from the stated conditions, vectorised with a :class:`numpy.random.Generator`;
the same ``n`` and ``seed`` give the same frame.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .devices import catalogue as load_catalogue
from .engine import INPUT_ORDER

POPULATION_COLUMNS = ["customer_id", *INPUT_ORDER, "synthetic"]
DAYS_MAX = 90

_EAST_SERIES = {
    "PR-600": 0.14,
    "PR-500": 0.10,
    "PR-400": 0.10,
    "PR-A300": 0.05,
    "PR-S300": 0.05,
    "RS-500": 0.04,
    "PR-200": 0.02,
    "RV-440": 0.06,
    "RV-A340": 0.03,
    "RV-S340": 0.03,
    "RV-230": 0.03,
    "XG-100": 0.04,
    "RX-600": 0.10,
    "RT-500": 0.07,
    "RT-400": 0.06,
    "RT-A300": 0.03,
    "RT-S300": 0.03,
    "RT-200": 0.02,
}
_WEST_SERIES = {**_EAST_SERIES, "PR-600": 0.175, "RS-500": 0.005}

#: The assumptions: (variable, given, value, share, note). The generator reads its shares from here only.
SHARES: tuple[tuple[str, str, str, float, str], ...] = (
    ("area", "", "east", 0.55, "NTT東日本"),
    ("area", "", "west", 0.45, "NTT西日本"),
    ("plan", "", "other", 0.62, "every other So-net 光 plan"),
    ("plan", "", "sml", 0.30, "So-net 光 S/M/L"),
    ("plan", "", "10g", 0.08, "So-net 光 10ギガ"),
    ("setup", "plan=10g", "wlan_router_10g", 0.40, "10ギガ対応無線LANルーター option"),
    ("setup", "plan=10g", "v6plus_router", 0.30, ""),
    ("setup", "plan=10g", "rental_only", 0.20, ""),
    ("setup", "plan=10g", "wlan_1g", 0.10, ""),
    ("setup", "plan=sml|other", "v6plus_router", 0.40, ""),
    ("setup", "plan=sml|other", "rental_only", 0.35, ""),
    ("setup", "plan=sml|other", "wlan_1g", 0.25, "wlan_router_10g exists only with 10g"),
    ("device_series", "plan=10g", "XG-100", 0.60, "the 10 Giga device; the rest of 10g drawn by area"),
    *(("device_series", "area=east", s, p, "") for s, p in _EAST_SERIES.items()),
    *(
        ("device_series", "area=west", s, p, "RS-500 is not in West's table: a small rate of moved devices")
        if s == "RS-500"
        else ("device_series", "area=west", s, p, "")
        for s, p in _WEST_SERIES.items()
    ),
    ("device", "device_series", "each model of the series", 0.0, "equal shares within a series"),
    ("keep_number", "", "true", 0.40, "the number is ported to another carrier"),
    ("keep_number", "", "false", 0.60, ""),
    ("days_since_phone_stop", "", "empty", 0.70, "the phone function has not stopped yet"),
    ("days_since_phone_stop", "", "0..90", 0.30, "uniform whole days"),
)


def assumptions() -> pd.DataFrame:
    """The shares the synthetic population is drawn with, as a table (variable, given, value, share, note).

    >>> table = assumptions()
    >>> table.groupby(["variable", "given"])["share"].sum().round(6).loc[("area", "")]
    np.float64(1.0)
    """
    return pd.DataFrame(list(SHARES), columns=["variable", "given", "value", "share", "note"])


def _shares(variable: str, given: str = "") -> tuple[list[str], np.ndarray]:
    rows = [(v, p) for var, g, v, p, _ in SHARES if var == variable and g == given]
    values = [v for v, _ in rows]
    p = np.array([p for _, p in rows], dtype=float)
    return values, p / p.sum()


def _draw(rng: np.random.Generator, variable: str, given: str, size: int, labels: list[str]) -> np.ndarray:
    """Draw ``size`` values of ``variable`` (given ``given``) as positions in ``labels``."""
    values, p = _shares(variable, given)
    lut = np.array([labels.index(v) for v in values], dtype=np.int64)
    return lut[rng.choice(len(values), size=size, p=p)]


AREAS = ["east", "west"]
PLANS = ["10g", "sml", "other"]
SETUPS = ["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"]


def synthetic_population(n: int = 100_000, *, seed: int = 0) -> pd.DataFrame:
    """A SYNTHETIC customer base of ``n`` rows drawn with the shares of :data:`SHARES` from ``seed``.

    Returns columns ``customer_id`` (``S0000001`` …), area, plan, device, setup (categorical), keep_number
    (bool), days_since_phone_stop (nullable Int64: empty while the phone has not stopped) and ``synthetic``
    (True); ``frame.attrs`` holds ``synthetic``, ``seed`` and ``n``. The same ``n`` and ``seed`` give the same
    frame. Raises ValueError for a negative ``n``.

    >>> pop = synthetic_population(1000, seed=1)
    >>> len(pop), bool(pop["synthetic"].all()), pop.attrs["synthetic"]
    (1000, True, True)
    >>> bool(((pop["setup"] == "wlan_router_10g") <= (pop["plan"] == "10g")).all())
    True
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, not {n}")
    rng = np.random.default_rng(seed)
    area = _draw(rng, "area", "", n, AREAS)
    plan = _draw(rng, "plan", "", n, PLANS)
    is_10g = plan == PLANS.index("10g")
    setup = np.empty(n, dtype=np.int64)
    setup[is_10g] = _draw(rng, "setup", "plan=10g", int(is_10g.sum()), SETUPS)
    setup[~is_10g] = _draw(rng, "setup", "plan=sml|other", int((~is_10g).sum()), SETUPS)

    cat = load_catalogue()
    models = list(cat["model"])
    series_models = {s: list(group["model"]) for s, group in cat.groupby("series", sort=False)}
    names = list(series_models)
    named = {v for var, _, v, _, _ in SHARES if var == "device_series"}
    if named - set(names):  # a share names a series the catalogue does not have
        raise ValueError(f"SHARES name series not in data/devices.csv: {sorted(named - set(names))}")
    series = np.empty(n, dtype=np.int64)
    for k, name in enumerate(AREAS):
        mask = area == k
        series[mask] = _draw(rng, "device_series", f"area={name}", int(mask.sum()), names)
    take_xg = is_10g & (rng.random(n) < _raw_share("device_series", "plan=10g", "XG-100"))
    series[take_xg] = names.index("XG-100")
    offsets = np.cumsum([0] + [len(series_models[s]) for s in names])[:-1]
    counts = np.array([len(series_models[s]) for s in names])
    flat = np.array([models.index(m) for s in names for m in series_models[s]], dtype=np.int64)
    device = flat[offsets[series] + np.floor(rng.random(n) * counts[series]).astype(np.int64)]

    keep = rng.random(n) < _raw_share("keep_number", "", "true")
    stopped = rng.random(n) < _raw_share("days_since_phone_stop", "", "0..90")
    days = rng.integers(0, DAYS_MAX + 1, size=n)
    ids = "S" + pd.Series(np.arange(1, n + 1), dtype="int64").astype("string").str.zfill(7)
    frame = pd.DataFrame(
        {
            "customer_id": ids.astype("string").array,
            "area": pd.Categorical.from_codes(area, categories=AREAS),
            "plan": pd.Categorical.from_codes(plan, categories=PLANS),
            "device": pd.Categorical.from_codes(device, categories=models),
            "setup": pd.Categorical.from_codes(setup, categories=SETUPS),
            "keep_number": keep,
            "days_since_phone_stop": pd.arrays.IntegerArray(days, ~stopped),
            "synthetic": np.ones(n, dtype=bool),
        }
    )
    frame.attrs.update(synthetic=True, seed=seed, n=n, generator="sonet_policy.population.synthetic_population")
    return frame


def _raw_share(variable: str, given: str, value: str) -> float:
    for var, g, v, p, _ in SHARES:
        if (var, g, v) == (variable, given, value):
            return p
    raise KeyError((variable, given, value))


def load_population(path: Path | str) -> pd.DataFrame:
    """Read an analyst's own customer CSV with the scenario columns, as people have such files.

    Read by :func:`sonet_policy.io.read_scenarios`: UTF-8 with or without BOM or Shift_JIS/CP932, Japanese
    headers (エリア, プラン, 機器名 …), blank lines dropped, extra columns kept, every cell text (``evaluate``
    parses them and reports bad ones per row); the index is the file's line number. Required columns: area,
    plan, device, setup, keep_number; days_since_phone_stop is optional. A ``customer_id`` column is added
    (row numbers from 1) when absent, and ``synthetic`` is False unless the file says otherwise. Raises
    :class:`~sonet_policy.io.ScenarioFileError` (a :class:`ScenarioError`) naming a missing column.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = os.path.join(d, "c.csv")
    >>> _ = open(p, "w").write("area,plan,device,setup,keep_number\\nwest,sml,RV-230SE,rental_only,no\\n")
    >>> row = load_population(p).iloc[0]
    >>> row["customer_id"], row["device"], bool(row["synthetic"])
    ('1', 'RV-230SE', False)
    """
    from .io import read_scenarios

    frame = read_scenarios(path)
    if "customer_id" not in frame.columns:
        frame.insert(0, "customer_id", [str(i) for i in range(1, len(frame) + 1)])
    if "days_since_phone_stop" not in frame.columns:
        frame["days_since_phone_stop"] = ""
    if "synthetic" in frame.columns:
        frame["synthetic"] = frame["synthetic"].str.strip().str.lower().isin(["true", "1", "yes"])
    else:
        frame["synthetic"] = False
    frame.attrs.update(synthetic=bool(frame["synthetic"].all()) and len(frame) > 0, source=str(path))
    return frame


DECISION_COLUMNS = ("procedure", "number", "ipv4", "wifi", "device_action")
FINDINGS = ("uncovered", "conflict")


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
    return [d for d in DECISION_COLUMNS if d in answers.columns]


def impact(answers: pd.DataFrame, population: pd.DataFrame, *, by: Sequence[str] = ("area", "plan")) -> pd.DataFrame:
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
    by = list(by)
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
    answers: pd.DataFrame, population: pd.DataFrame, *, by: Sequence[str] = ("area", "plan")
) -> pd.DataFrame:
    """One row per group of ``by`` (sorted as text): customers, each device action, lose IPv4, lose Wi-Fi, gap,
    conflict, invalid.

    * ``device_<code>``: customers whose device_action answer is that code;
    * ``loses_ipv4``: ipv4 is an answer other than ``continues`` (a remedy is needed);
    * ``loses_wifi``: wifi is ``stops``;
    * ``gap``: at least one decision is ``uncovered``; ``conflict``: at least one decision is ``conflict``;
    * ``invalid``: the scenario cannot be evaluated (bad value or a combination the page rules out).

    >>> from sonet_policy import evaluate
    >>> pop = synthetic_population(300, seed=2)
    >>> s = impact_summary(evaluate(pop), pop, by=())
    >>> int(s.loc[0, "customers"])
    300
    """
    by = list(by)
    ids, groups = _groups(population, answers, by)
    valid = np.asarray(answers["status"] != "invalid")
    measures: dict[str, np.ndarray] = {"customers": np.ones(len(answers), dtype=bool)}
    device = pd.Categorical(answers["device_action"])
    for code in sorted(set(map(str, device.categories)) - set(FINDINGS)):
        measures[f"device_{code}"] = valid & np.asarray(device == code)
    ipv4 = answers["ipv4"]
    measures["loses_ipv4"] = valid & ~np.asarray(ipv4.isin(["continues", *FINDINGS]) | ipv4.isna())
    measures["loses_wifi"] = valid & np.asarray(answers["wifi"] == "stops")
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


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; the number of customers is 0 or more")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; the seed is a whole number 0 or more")
    return value


def _population_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=_count, default=100_000, help="number of synthetic customers (default 100000)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed, 0 or more (default 0)")
    p.add_argument(
        "--output", required=True, help="file to write: .csv, .parquet or .xlsx by extension; - for stdout (CSV)"
    )
    p.add_argument("--raw", action="store_true", help="keep cells starting with = + - @ as they are")


def _population_run(args: argparse.Namespace) -> int:
    from .formats import write_tables

    frame = synthetic_population(args.n, seed=args.seed)
    write_tables(args.output, {"customers": frame}, raw=args.raw, lineterminator="\n")
    print(f"{len(frame)} SYNTHETIC customers (seed {args.seed}) → {args.output}", file=sys.stderr)
    return 0


def _register() -> None:
    from .cli import command

    command("population", summary="write a synthetic customer base (CSV) for impact counts", rules=False)(
        (_population_args, _population_run)
    )


_register()
