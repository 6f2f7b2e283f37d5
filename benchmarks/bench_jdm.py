"""Benchmark: GoRules zen-engine on the JDM export against the kit, one scenario at a time and in bulk.

Run ``python benchmarks/bench_jdm.py`` (``make bench``); ``--help`` for the sizes. On the same scenarios (the
canonical values of ``bench_evaluate.population``, so zen-engine gets what it compares), in one run, with the
machine and the versions:

* zen-engine per scenario: ``ZenDecision.evaluate`` on each of ``--scenarios`` scenarios, ``--rounds`` times:
  median and 90th percentile in µs, and rows/s one call after another (the peer figure); and
  ``ZenEngine.evaluate_batch`` on the same scenarios, its bulk entry point, which asks the loader for the graph
  and parses it again for every request (so it is slower than one call after another on a loaded decision);
* ours per scenario: ``answer`` (the single-scenario path, no pandas) on every scenario zen-engine gets, and
  ``evaluate`` on a one-row frame and ``explain``, median µs over the first ``--single`` scenarios (``--rounds``
  times);
* ours in bulk: ``evaluate`` on ``--rows`` rows (default 1,000,000) read from CSV text, median of ``--runs``;
* the ratios (zen-engine per scenario over ours per scenario; ours in bulk over zen-engine row by row);
* pyDMNrules on the exported DMN (``bench_evaluate.bench_pydmnrules``, ``--dmn-rows`` rows; 0 skips);
* a check that zen-engine, ``evaluate`` and ``answer`` agree on every timed scenario (not timed).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluate import bench_pydmnrules, fmt, load, machine, population, timed, wait_quiet  # noqa: E402

from sonet_policy.book.load import default_rulebook  # noqa: E402
from sonet_policy.engine.answer import answer  # noqa: E402
from sonet_policy.engine.evaluate import evaluate  # noqa: E402
from sonet_policy.engine.explain import explain  # noqa: E402
from sonet_policy.export.jdm import to_jdm_json  # noqa: E402


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def scenarios_of(canonical: pd.DataFrame, n: int) -> list[dict]:
    """The first ``n`` canonical rows as the JSON-typed dicts an engine receives (None for an empty day count)."""
    out = []
    for rec in canonical.head(n).astype(object).to_dict("records"):
        out.append({k: (None if v is pd.NA else v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def per_call(fn, scenarios: list[dict], rounds: int) -> list[float]:
    """Seconds per call of ``fn(scenario)``, every scenario ``rounds`` times (after one warm-up pass)."""
    for s in scenarios[: min(len(scenarios), 200)]:
        fn(s)
    times = []
    for _ in range(rounds):
        for s in scenarios:
            t = time.perf_counter()
            fn(s)
            times.append(time.perf_counter() - t)
    return times


def micro(times: list[float]) -> str:
    q = statistics.quantiles(times, n=10)
    return f"median {statistics.median(times) * 1e6:,.1f} µs, p90 {q[-1] * 1e6:,.1f} µs ({len(times):,} calls)"


def bench_zen(zen, text: str, scenarios: list[dict], rounds: int) -> tuple[object, float, float, float]:
    """zen-engine one scenario at a time and in bulk: (the loaded decision, median µs, rows/s one after another,
    rows/s in evaluate_batch)."""
    t = time.perf_counter()
    decision = zen.ZenEngine().create_decision(text)
    print(f"JDM export: {len(text) / 1e3:.1f} kB; zen-engine create_decision {(time.perf_counter() - t) * 1e3:.1f} ms")
    theirs = per_call(decision.evaluate, scenarios, rounds)
    zen_rows = len(theirs) / sum(theirs)
    print(f"zen-engine, one scenario (ZenDecision.evaluate, all five decisions): {micro(theirs)}")
    print(f"  one call after another: {zen_rows:,.0f} rows/s")
    engine = zen.ZenEngine({"loader": lambda key: text})
    batch = [{"key": "rules.json", "context": s} for s in scenarios]
    engine.evaluate_batch(batch[:100])
    times, _ = timed(lambda: engine.evaluate_batch(batch), rounds)
    zen_batch = len(batch) / statistics.median(times)
    print(
        f"zen-engine evaluate_batch, {len(batch):,} scenarios (the graph parsed per request): {zen_batch:,.0f} rows/s "
        f"({fmt(times)})"
    )
    return decision, statistics.median(theirs) * 1e6, zen_rows, zen_batch


def bench_ours(book, scenarios: list[dict], frame: pd.DataFrame, args: argparse.Namespace) -> dict[str, float]:
    """Ours one scenario at a time (answer, evaluate on a one-row frame, explain: median µs) and in bulk."""
    mine = per_call(lambda s: answer(rulebook=book, **s), scenarios, args.rounds)
    print(f"ours, one scenario, answer (no pandas, all five decisions): {micro(mine)}")
    print(f"  one call after another: {len(mine) / sum(mine):,.0f} rows/s")
    single = scenarios[: args.single]
    ours_eval = per_call(lambda s: evaluate(pd.DataFrame([s]), rulebook=book), single, args.rounds)
    ours_explain = per_call(lambda s: explain(rulebook=book, **s), single, args.rounds)
    print(f"ours, one scenario, evaluate on a one-row frame: {micro(ours_eval)}")
    print(f"ours, one scenario, explain: {micro(ours_explain)}")
    evaluate(frame, rulebook=book)
    times, out = timed(lambda: evaluate(frame, rulebook=book), args.runs)
    assert len(out) == len(frame)
    rows = len(frame) / statistics.median(times)
    print(f"ours in bulk, evaluate {len(frame):,} rows from CSV text: {fmt(times)} = {rows:,.0f} rows/s")
    medians = {"answer": mine, "evaluate": ours_eval, "explain": ours_explain}
    return {"rows": rows, **{k: statistics.median(v) * 1e6 for k, v in medians.items()}}


def agreement(book, decision, scenarios: list[dict]) -> tuple[int, int]:
    """On how many scenarios zen-engine and evaluate, and zen-engine and answer, give the same five codes."""
    kit = evaluate(pd.DataFrame(scenarios), rulebook=book).astype(object).to_dict("records")
    agree = agree_answer = 0
    for s, ours in zip(scenarios, kit, strict=True):
        result = decision.evaluate(s)["result"]
        agree += all(result.get(d) == (None if pd.isna(ours[d]) else ours[d]) for d in book.decisions)
        single_codes = answer(rulebook=book, **s)
        agree_answer += all(result.get(d) == single_codes[d] for d in book.decisions)
    print(f"check: zen-engine and evaluate give the same five codes on {agree:,} of {len(scenarios):,} scenarios")
    print(f"check: zen-engine and answer give the same five codes on {agree_answer:,} of {len(scenarios):,} scenarios")
    return agree, agree_answer


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="rows for ours in bulk")
    p.add_argument("--runs", type=int, default=5, help="runs of ours in bulk")
    p.add_argument("--scenarios", type=int, default=2_000, help="scenarios through zen-engine")
    p.add_argument("--single", type=int, default=300, help="scenarios for ours one at a time")
    p.add_argument("--rounds", type=int, default=3, help="passes over the scenarios for the per-call figures")
    p.add_argument("--dmn-rows", type=int, default=500, help="rows through pyDMNrules (0: skip)")
    p.add_argument("--quiet-check", action="store_true", help="wait up to a minute for a quiet machine")
    args = p.parse_args(argv)
    try:
        import zen
    except ImportError:
        print("zen-engine is not installed (pip install -e '.[test]'): skipped")
        return 0
    if args.quiet_check:
        wait_quiet()
    print(f"machine: {machine()}")
    print(f"versions: zen-engine {version('zen-engine')}, pyDMNrules {version('pyDMNrules')}")
    print(f"before: {load()}")
    book = default_rulebook()
    frame, _, canonical = population(args.rows)
    scenarios = scenarios_of(canonical, args.scenarios)
    decision, zen_us, zen_rows, zen_batch = bench_zen(zen, to_jdm_json(book), scenarios, args.rounds)
    ours = bench_ours(book, scenarios, frame, args)
    print("ratios (medians):")
    print(
        f"  one scenario: zen-engine {zen_us:,.1f} µs; evaluate on one row {ours['evaluate']:,.1f} µs = "
        f"{zen_us / ours['evaluate']:.2f} x zen-engine's speed; explain {ours['explain']:,.1f} µs = "
        f"{zen_us / ours['explain']:.2f} x"
    )
    print(f"  one scenario: answer {ours['answer']:,.1f} µs = {zen_us / ours['answer']:.1f} x zen-engine's speed")
    print(
        f"  in bulk: ours {ours['rows']:,.0f} rows/s = {ours['rows'] / zen_rows:,.0f} x zen-engine row by row "
        f"({ours['rows'] * zen_us / 1e6:,.0f} x at its median call), "
        f"{ours['rows'] / zen_batch:,.0f} x zen-engine evaluate_batch"
    )
    agree, agree_answer = agreement(book, decision, scenarios)
    if args.dmn_rows:
        bench_pydmnrules(canonical, args.dmn_rows, ours["rows"])
    print(f"after: {load()}")
    return 0 if agree == agree_answer == len(scenarios) else 1


if __name__ == "__main__":
    sys.exit(main())
