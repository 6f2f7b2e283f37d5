"""Benchmark: a synthetic book of 12 inputs of 10 values and 5 decisions of 4 inputs each.

One grid over every input would hold 10**12 cells per decision; compiled per decision it holds 5 x 10**4.
Prints load, compile, evaluate of ``--rows`` rows (default 1,000,000; every row valid, random values) with the
lookup floor beside it (the same rows' axis positions -> each decision's cell -> its answer column), and the
audit. Run ``python benchmarks/bench_wide.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from sonet_policy.analysis.audit import audit
from sonet_policy.book.load import load_rulebook
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.paths import RULES_DIR

N_INPUTS, N_VALUES, N_DECISIONS, READS = 12, 10, 5, 4


def build(folder: Path) -> Path:
    """Write the synthetic book into ``folder`` (clauses: the shipped ones; each rule cites pre.1)."""
    folder.mkdir(parents=True)
    shutil.copy(RULES_DIR / "codes.csv", folder / "codes.csv")
    values = "|".join(f"v{k}" for k in range(N_VALUES))
    pd.DataFrame(
        [dict(input=f"i{k}", type="category", domain=values, required="true") for k in range(N_INPUTS)]
    ).to_csv(folder / "inputs.csv", index=False)
    rng = np.random.default_rng(0)
    decisions, codes = [], []
    for d in range(N_DECISIONS):
        reads = [f"i{(d * 2 + j) % N_INPUTS}" for j in range(READS)]
        decisions.append(dict(decision=f"d{d}", hit_policy="UNIQUE", inputs="|".join(reads), outputs=f"d{d}"))
        answers = [f"a{k}" for k in range(4)]
        codes += [dict(decision=f"d{d}", code=c, role="answer", label_ja=c, label_en=c) for c in answers]
        rules = [
            {"rule_id": f"D{d}-0", **{i: "-" for i in reads}, f"d{d}": "a0", "source": "pre.1", "exception_of": ""}
        ]
        for k in range(1, 20):  # exceptions of the default rule on random value sets of one input
            rule = {"rule_id": f"D{d}-{k}", **{i: "-" for i in reads}, f"d{d}": answers[k % 4], "source": "pre.1"}
            rule[reads[k % READS]] = "|".join(sorted(rng.choice([f"v{j}" for j in range(N_VALUES)], 3, replace=False)))
            rule["exception_of"] = f"D{d}-0"
            rules.append(rule)
        pd.DataFrame(rules).fillna("").to_csv(folder / f"d{d}.csv", index=False)
    pd.DataFrame(decisions).to_csv(folder / "decisions.csv", index=False)
    pd.DataFrame(codes).to_csv(folder / "codes.csv", index=False)
    return folder


def timed(fn, runs: int) -> tuple[list[float], object]:
    out, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        out.append(time.perf_counter() - t)
    return out, result


def fmt(times: list[float]) -> str:
    return f"min {min(times) * 1e3:.1f} ms, median {statistics.median(times) * 1e3:.1f} ms ({len(times)} runs)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    folder = build(Path(tempfile.mkdtemp()) / "wide")
    times, book = timed(lambda: load_rulebook(folder), 3)
    print(f"wide book: {N_INPUTS} inputs x {N_VALUES} values, {N_DECISIONS} decisions of {READS} inputs")
    print(f"  load {fmt(times)}")
    times, compiled = timed(lambda: (book.cache.clear(), book.compiled())[1], 3)
    print(
        f"  compile {fmt(times)}; grid sizes: one grid over every input {compiled.dense_cells:.3g} cells per "
        f"decision (not buildable); per decision {compiled.n_cells} cells in all"
    )
    rng = np.random.default_rng(1)
    positions = {f"i{k}": rng.integers(0, N_VALUES, args.rows) for k in range(N_INPUTS)}
    labels = np.array([f"v{k}" for k in range(N_VALUES)], dtype=object)
    frame = pd.DataFrame({name: pd.array(labels[pos], dtype="str") for name, pos in positions.items()})
    evaluate(frame, rulebook=book)
    times, out = timed(lambda: evaluate(frame, rulebook=book), args.runs)
    assert len(out) == args.rows and not out["status"].isin(["partial", "invalid"]).any()
    print(f"  evaluate {args.rows:,} rows (str columns): {fmt(times)}")

    def floor() -> dict:
        data = {}
        for name, grid in compiled.decisions.items():
            cell = np.zeros(args.rows, dtype=np.int64)
            for i, s in zip(grid.inputs, grid.strides, strict=True):
                cell += positions[i] * s
            codes = np.array([o.code for o in grid.outcomes], dtype=object)
            cats, lut = np.unique(codes, return_inverse=True)
            data[name] = pd.Categorical.from_codes(lut.reshape(-1)[grid.outcome_id].take(cell), categories=cats)
        return data

    ftimes, _ = timed(floor, args.runs)
    print(f"  floor (positions -> each decision's cell -> its answer column): {fmt(ftimes)}")
    print(f"  evaluate = {statistics.median(times) / statistics.median(ftimes):.1f} x the floor (medians)")
    times, findings = timed(lambda: audit(book), 3)
    print(f"  audit {fmt(times)}: {len(findings)} findings ({', '.join(sorted(set(findings['kind'])))})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
