"""Mutation check: small random changes to a copy of the shipped rule book are caught by the audit or by the
scenario cases (tests/cases/scenarios.csv).

Each mutant changes one thing: drops a rule, changes an answer code, widens or narrows a condition set, drops
an ``exception_of``, or moves a day bound by one. A mutant is

* *caught by the audit* when its findings (kind, decision, scope, rules, clauses) differ from the baseline's;
* *caught by the cases* when a scenario case's expected answer (non-empty cells only) no longer holds;
* *equivalent* when no answer changes anywhere: every combination of the domain (every day value on both sides
  of every bound of either book) evaluates to the same codes, alternatives and status as the baseline. Those
  cannot be caught by any test of answers and are left out of the share (their count is printed);
* *rejected* when the loader refuses it (a RuleBookError: also caught, counted apart).

The share caught is printed (``pytest -s tests/test_mutation.py``) and asserted to be high.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import evaluate, load_rulebook
from sonet_policy.analysis.audit import audit
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import RuleBookError
from sonet_policy.paths import RULES_DIR

CASES = Path(__file__).parents[1] / "cases" / "scenarios.csv"
INPUTS = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]
ANSWERS = ["procedure", "number", "ipv4", "ipv4_alternatives", "wifi", "wifi_alternatives", "device_action", "status"]
N_MUTANTS = 120
SEED = 20261124
MIN_SHARE = 0.85
OPERATORS = ("drop_rule", "change_answer", "widen", "narrow", "drop_exception", "move_day_bound")

pytestmark = pytest.mark.skipif(not CASES.exists(), reason="tests/cases/scenarios.csv is not there yet")


@dataclass
class Mutant:
    operator: str
    table: str
    rule_id: str
    what: str


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _split(cell: str) -> list[str]:
    return [p for p in cell.split("|") if p]


def _sites(book: RuleBook, operator: str) -> list[tuple[str, int, str]]:
    """Where ``operator`` applies: (table, row, input or "") for every rule of every table."""
    sites = []
    for table, rules in book.rules.items():
        frame = book.tables[table]
        for i in range(len(rules)):
            if operator in ("drop_rule", "change_answer"):
                sites.append((table, i, ""))
            elif operator == "drop_exception":
                if frame.loc[i, "exception_of"]:
                    sites.append((table, i, ""))
            else:
                for name in book.decisions[table].inputs:
                    cell = frame.loc[i, name]
                    is_days = book.inputs[name].type == "integer"
                    if operator == "move_day_bound" and is_days and re.search(r"\d", cell):
                        sites.append((table, i, name))
                    elif operator == "widen" and (cell != "-"):
                        sites.append((table, i, name))
                    elif operator == "narrow" and (cell == "-" or len(_split(cell)) > 1):
                        sites.append((table, i, name))
    return sites


def mutate(book: RuleBook, folder: Path, rng: random.Random) -> Mutant | None:
    """Write a copy of the shipped book with one random change into ``folder``: pick an operator, then a place
    where it applies. None if the pick changes nothing."""
    operator = rng.choice(OPERATORS)
    table, i, name = rng.choice(_sites(book, operator))
    shutil.copytree(RULES_DIR, folder)
    path = folder / f"{table}.csv"
    frame = _read(path)
    rid = frame.loc[i, "rule_id"]
    cell = frame.loc[i, name] if name else ""
    if operator == "drop_rule":
        frame = frame.drop(index=i).reset_index(drop=True)
        frame["exception_of"] = frame["exception_of"].map(lambda c: "|".join(t for t in _split(c) if t != rid))
        what = "dropped"
    elif operator == "change_answer":
        new = rng.choice([c for c in book.priority(table) if c != frame.loc[i, table]])
        what = f"{table}: {frame.loc[i, table]} -> {new}"
        frame.loc[i, table] = new
    elif operator == "drop_exception":
        what = f"exception_of {frame.loc[i, 'exception_of']} dropped"
        frame.loc[i, "exception_of"] = ""
    elif book.inputs[name].type == "integer":
        if operator == "move_day_bound":
            pieces = re.split(r"(\d+)", cell)
            k = rng.choice([j for j, p in enumerate(pieces) if p.isdigit()])
            pieces[k] = str(max(0, int(pieces[k]) + rng.choice((-1, 1))))
            new = "".join(pieces)
        elif operator == "widen":
            new = "-"
        else:  # narrow: the empty day count, or every counted day, no longer matches
            new = rng.choice([">=0", "null"]) if cell == "-" else "|".join(_split(cell)[1:])
        what = f"{name}: {cell} -> {new}"
        frame.loc[i, name] = new
    else:
        domain = list(book.models) if name == "device" else list(book.inputs[name].domain)
        values = domain if cell == "-" else _split(cell)
        if operator == "widen":
            values = values + [rng.choice([v for v in domain if v not in values])]
        else:
            drop = rng.choice(values)
            values = [v for v in values if v != drop]
        new = "-" if set(values) == set(domain) else "|".join(values)
        what = f"{name}: {cell} -> {new}"
        frame.loc[i, name] = new
    if cell and new == cell:
        return None
    frame.to_csv(path, index=False, lineterminator="\n")
    return Mutant(operator, table, rid, what)


def findings_key(book: RuleBook) -> set[tuple]:
    found = audit(book)
    return {
        (f.kind, f.decision, json.dumps(f.scope, sort_keys=True), tuple(f.rules), tuple(f.clauses))
        for f in found.itertuples(index=False)
    }


def domain_frame(books: list[RuleBook]) -> pd.DataFrame:
    """Every combination of the domain, with day values on both sides of every bound of every book."""
    base = books[0]
    days = {"", "0", "1000"}
    for book in books:
        for b in book.compiled().axes["days_since_phone_stop"].breaks:
            days |= {str(int(b)), str(max(0, int(b) - 1))}
    values = {
        "area": list(base.inputs["area"].domain),
        "plan": list(base.inputs["plan"].domain),
        "device": list(base.models),
        "setup": list(base.inputs["setup"].domain),
        "keep_number": ["false", "true"],
        "days_since_phone_stop": sorted(days, key=lambda d: -1 if d == "" else int(d)),
    }
    return pd.DataFrame(list(itertools.product(*values.values())), columns=list(values))


def answers(book: RuleBook, frame: pd.DataFrame) -> pd.DataFrame:
    return evaluate(frame, rulebook=book)[ANSWERS].astype(str)


_BASELINE_ANSWERS: dict[tuple[str, ...], pd.DataFrame] = {}


def baseline_answers(book: RuleBook, frame: pd.DataFrame) -> pd.DataFrame:
    key = tuple(frame["days_since_phone_stop"].unique())
    if key not in _BASELINE_ANSWERS:
        _BASELINE_ANSWERS[key] = answers(book, frame)
    return _BASELINE_ANSWERS[key]


def cases_fail(book: RuleBook, cases: pd.DataFrame) -> bool:
    got = evaluate(cases[INPUTS], rulebook=book)
    for col in [c for c in ANSWERS if c in cases.columns]:
        want = cases[col]
        have = got[col].astype(object).where(got[col].notna(), "").astype(str)
        checked = want != ""
        if (have[checked] != want[checked]).any():
            return True
    return False


@pytest.mark.slow
def test_mutants_are_caught_by_the_audit_or_the_cases(tmp_path: Path) -> None:
    baseline = load_rulebook(RULES_DIR)
    base_findings = findings_key(baseline)
    cases = _read(CASES)
    assert not cases_fail(baseline, cases), "the baseline passes its own cases"
    rng = random.Random(SEED)
    results = []
    seen: set[tuple[str, str, str, str]] = set()
    attempt = 0
    while len(results) < N_MUTANTS and attempt < 20 * N_MUTANTS:
        attempt += 1
        folder = tmp_path / f"m{attempt}"
        mutant = mutate(baseline, folder, rng)
        key = (mutant.operator, mutant.table, mutant.rule_id, mutant.what) if mutant else None
        if mutant is None or key in seen:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        seen.add(key)
        try:
            book = load_rulebook(folder)
        except RuleBookError:
            results.append((mutant, "rejected", False, False))
            continue
        frame = domain_frame([baseline, book])
        equivalent = answers(book, frame).equals(baseline_answers(baseline, frame))
        by_audit = findings_key(book) != base_findings
        by_cases = cases_fail(book, cases)
        results.append((mutant, "equivalent" if equivalent else "live", by_audit, by_cases))
        shutil.rmtree(folder)
    live = [r for r in results if r[1] == "live"]
    caught = [r for r in live if r[2] or r[3]]
    survived = [r for r in live if not (r[2] or r[3])]
    equivalent = [r for r in results if r[1] == "equivalent"]
    share = len(caught) / len(live)
    by_operator = Counter(r[0].operator for r in results)
    print()
    print(f"mutants: {len(results)} (seed {SEED}); per operator: {dict(sorted(by_operator.items()))}")
    print(f"rejected by the loader: {sum(r[1] == 'rejected' for r in results)}")
    print(
        f"equivalent (no answer changes anywhere): {len(equivalent)}, "
        f"of which the audit still flags {sum(r[2] for r in equivalent)}"
    )
    print(
        f"live: {len(live)}; caught {len(caught)} = {share:.1%} "
        f"(audit {sum(r[2] for r in live)}, cases {sum(r[3] for r in live)}, "
        f"audit only {sum(r[2] and not r[3] for r in live)}, cases only {sum(r[3] and not r[2] for r in live)})"
    )
    for m, *_ in survived:
        print(f"survived: {m.operator} {m.table} {m.rule_id}: {m.what}")
    assert len(results) == N_MUTANTS, "enough distinct mutants"
    assert len(live) >= N_MUTANTS // 2, "most mutants change an answer somewhere"
    assert share >= MIN_SHARE, [f"{m.operator} {m.rule_id}: {m.what}" for m, *_ in survived]


# --- cross-table mutants: an answer changed in one table only, caught by the invariants (invariants.csv) ---------

# (table, rule, new answer, the invariant that must catch it): changes that leave the table itself consistent
CROSS_TABLE = [
    ("wifi", "WIFI-1", "continues", "INV-ROUTER-WIFI"),
    ("wifi", "WIFI-2", "stops", "INV-KEEPS-WIFI"),
    ("wifi", "WIFI-3W", "stops", "INV-KEEPS-WIFI"),
    ("device_action", "DEV-E-1X", "none", "INV-ROUTER-WIFI"),
    ("device_action", "DEV-E-2", "keeps_working", "INV-KEEPS-WIFI"),
    ("device_action", "DEV-E-3", "keeps_working", "INV-KEEPS-WIFI"),
    ("device_action", "DEV-W-2", "keeps_working", "INV-KEEPS-WIFI"),
    ("ipv4", "V4-SML-1", "continues", "INV-ROUTER-IPV4"),
    ("number", "NUM-1", "kept", "INV-DESK-NUMBER"),
    ("number", "NUM-2", "abolished", "INV-PORT-NUMBER"),
    ("procedure", "PROC-1", "support_desk", "INV-DESK-NUMBER"),
    ("procedure", "PROC-2", "port_out", "INV-PORT-NUMBER"),
]


def _with_answer(folder: Path, table: str, rule_id: str, code: str) -> RuleBook:
    shutil.copytree(RULES_DIR, folder)
    frame = _read(folder / f"{table}.csv")
    frame.loc[frame["rule_id"] == rule_id, table] = code
    frame.to_csv(folder / f"{table}.csv", index=False, lineterminator="\n")
    return load_rulebook(folder)


def _inconsistencies(book: RuleBook) -> set[tuple[str, str]]:
    found = audit(book)
    inc = found[found["kind"] == "inconsistency"]
    return {(f.invariant, json.dumps(f.scope, sort_keys=True)) for f in inc.itertuples(index=False)}


def _single_table(book: RuleBook) -> set[tuple]:
    return {k for k in findings_key(book) if k[0] != "inconsistency"}


@pytest.mark.slow
def test_cross_table_mutants_are_caught_by_the_invariants(tmp_path: Path) -> None:
    baseline = load_rulebook(RULES_DIR)
    base_inc, base_single = _inconsistencies(baseline), _single_table(baseline)
    only_invariants = []
    for k, (table, rule_id, code, invariant) in enumerate(CROSS_TABLE):
        book = _with_answer(tmp_path / f"x{k}", table, rule_id, code)
        new = _inconsistencies(book) - base_inc
        assert invariant in {iid for iid, _ in new}, f"{rule_id} -> {code} is not caught by {invariant}"
        if _single_table(book) == base_single:
            only_invariants.append(f"{rule_id} -> {code}")
    print(f"\ncross-table mutants: {len(CROSS_TABLE)}, all caught; unseen by the single-table kinds: {only_invariants}")
    assert only_invariants, "some cross-table mutants are visible only to the invariants"


@pytest.mark.slow
def test_every_answer_an_invariant_forbids_is_caught_where_the_rule_decides(tmp_path: Path) -> None:
    """Systematic: for every invariant and every rule of the decision it constrains, the mutant that gives
    that rule a forbidden answer breaks the invariant, wherever the rule alone decides a combination the
    invariant applies to."""
    from sonet_policy.book.invariants import load_invariants
    from sonet_policy.engine.invariants import applies_and_violations

    baseline = load_rulebook(RULES_DIR)
    frame = domain_frame([baseline])
    applies, _ = applies_and_violations(frame, rulebook=baseline)
    base = evaluate(frame, rulebook=baseline)
    rules_text = base["rules"].astype(object).fillna("").astype(str)  # invalid rows have no rules
    tried = caught = 0
    for inv in load_invariants(baseline):
        codes = baseline.priority(inv.then_decision)
        forbidden = [c for c in codes if (c not in inv.then_in if inv.then_in else c in inv.then_not_in)]
        for rule in baseline.rules[inv.then_decision]:
            own = {r.rule_id for r in baseline.rules[inv.then_decision]}
            decides = rules_text.map(lambda text, rid=rule.rule_id, own=own: own.intersection(text.split()) == {rid})
            region = applies[inv.invariant_id] & decides & (base[inv.then_decision].astype(str) == rule.answer)
            for code in forbidden:
                if code == rule.answer or not region.any():
                    continue
                tried += 1
                book = _with_answer(tmp_path / f"s{tried}", inv.then_decision, rule.rule_id, code)
                broken = applies_and_violations(frame, rulebook=book)[1][inv.invariant_id]
                assert broken[region].any(), f"{inv.invariant_id}: {rule.rule_id} -> {code} not caught"
                caught += 1
    print(f"\nforbidden-answer mutants: {tried}, caught {caught}")
    assert tried >= 8
