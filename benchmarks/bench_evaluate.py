"""Benchmark: evaluate a million customers, against its own floor and against pyDMNrules; explain; load+compile.

Run ``python benchmarks/bench_evaluate.py`` (``make bench``); ``--help`` for the sizes. Prints, with the machine:

* load and compile time of the shipped rule book (fresh load each time);
* ``evaluate`` on ``--rows`` rows (default 1,000,000) read from CSV text as ``pd.read_csv(dtype=str)`` gives
  them (pandas 3: pyarrow-backed ``str``), all five decisions, the device in mixed spellings: min / median /
  max of ``--runs`` runs after three warm-up calls (the first, cold, shown on its own), peak memory
  (tracemalloc, one separate run) and process peak RSS; the same with ``object`` and ``category`` columns;
* the floor: the lookup alone on already-encoded integer codes (the axis position of every input per row ->
  cell -> every answer column as categorical codes), and evaluate as a multiple of it: in wall time (medians)
  and in CPU time (every thread's, per call: evaluate works in two threads on a large frame, the floor in one);
* where evaluate's time goes (cProfile, by function);
* pyDMNrules ``decidePandas`` on the exported DMN for a sample (``--dmn-rows``, default 2,000): rows per
  second, and our throughput as a multiple of theirs;
* ``explain`` for one scenario: median of 50 calls (and with the HTML rendering the explorer shows).

Timings are wall-clock (``time.perf_counter``). The machine may be shared: the load average is printed before
and after, and ``--quiet-check`` waits (up to a minute) for the 1-minute load average to drop below the core count.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd

from sonet_policy.book.load import default_rulebook, load_rulebook
from sonet_policy.engine.evaluate import _tables, evaluate
from sonet_policy.engine.explain import explain
from sonet_policy.widgets.cards import cards_html


def machine() -> str:
    cpu = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), cpu)
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}; Python {platform.python_version()}, "
        f"pandas {pd.__version__}, numpy {np.__version__}"
    )


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min)"


def timed(fn, runs: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def fmt(times: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    return (
        f"min {min(times) * unit:.1f} {suffix}, median {statistics.median(times) * unit:.1f} {suffix}, "
        f"max {max(times) * unit:.1f} {suffix} ({len(times)} runs)"
    )


def population(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``n`` customers as CSV text read back with read_csv: ``dtype=str`` (pandas 3: pyarrow strings) and
    ``dtype=object``; and the canonical values behind them."""
    book = default_rulebook()
    rng = np.random.default_rng(seed)
    models = np.array(book.models)
    which = rng.integers(0, len(models), n)
    model = models[which]
    # Four spellings of every model: as printed, lower case, no hyphen, full width (ＰＲ－６００ＫＩ).
    spellings = [
        [m, m.lower(), m.replace("-", ""), "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in m)]
        for m in models
    ]
    device = np.array([s for four in spellings for s in four])[which * 4 + rng.integers(0, 4, n)]
    area = rng.choice(np.array(["east", "west"]), n)
    area_text = np.where(rng.random(n) < 0.1, np.where(area == "east", "東日本", "西日本"), area)
    keep = rng.random(n) < 0.5
    keep_text = np.where(rng.random(n) < 0.5, np.where(keep, "yes", "no"), np.where(keep, "true", "false"))
    days = rng.choice(np.array([-1, 0, 5, 31, 32, 60, 400]), n)
    days_text = np.where(days < 0, "", days.astype(str))
    canonical = pd.DataFrame(
        {
            "area": area,
            "plan": rng.choice(np.array(["10g", "sml", "other"]), n),
            "device": model,
            "setup": rng.choice(np.array(["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"]), n),
            "keep_number": keep,
            "days_since_phone_stop": pd.array(np.where(days < 0, pd.NA, days), dtype="Int64"),
        }
    )
    text = canonical.assign(area=area_text, device=device, keep_number=keep_text, days_since_phone_stop=days_text)
    buf = io.StringIO()
    text.to_csv(buf, index=False)
    buf.seek(0)
    as_str = pd.read_csv(buf, dtype=str, keep_default_na=False)
    buf.seek(0)
    return as_str, pd.read_csv(buf, dtype=object, keep_default_na=False), canonical


def floor_inputs(frame: pd.DataFrame):
    """The integer codes evaluate works from: each row's axis position per input (computed once, not timed)."""
    from sonet_policy.engine.encode import encode

    compiled = default_rulebook().compiled()
    enc = encode(frame, compiled)
    return {n: np.where(enc.positions(n) >= 0, enc.positions(n), 0).astype(np.intp) for n in compiled.inputs}, None


def floor(positions: dict[str, np.ndarray], ok: object = None) -> pd.DataFrame:
    """The lookup alone: axis positions -> each decision group's cell -> every answer column (categorical),
    status and rules, as evaluate builds them (every row valid: no error handling)."""
    compiled = default_rulebook().compiled()
    tables = _tables(compiled)
    n = len(next(iter(positions.values())))
    data = {}
    key = np.zeros(n, dtype=np.int64)
    for g in tables.groups:
        grid = compiled.decisions[g.names[0]]
        cell = np.ones(n, dtype=np.int64)  # the tables' entry 0 is an unanswered row: cells start at 1
        for name, s in zip(grid.inputs, grid.strides, strict=True):
            cell += positions[name] * s
        for col, (dtype, lut) in g.columns.items():
            data[col] = pd.Categorical.from_codes(lut.take(cell), dtype=dtype, validate=False)
        key += g.combo_key.take(cell)
    data["status"] = pd.Categorical.from_codes(
        tables.status.take(key), categories=["ok", "uncovered", "conflict", "partial", "invalid"], validate=False
    )
    data["rules"] = pd.Categorical.from_codes(tables.rules[1].take(key), dtype=tables.rules[0], validate=False)
    return pd.DataFrame(data, copy=False)


def bench_load(runs: int) -> None:
    def fresh():
        return load_rulebook().compiled()

    fresh()
    times, compiled = timed(fresh, runs)
    sizes = ", ".join(f"{name} {grid.n_cells}" for name, grid in compiled.decisions.items())
    print(
        f"load + compile the shipped rule book: {fmt(times)}\n"
        f"  grid sizes: before (one dense grid over every input, shared by all decisions) {compiled.dense_cells} "
        f"cells x {len(compiled.decisions)} decisions = {compiled.dense_cells * len(compiled.decisions)} rule-mask "
        f"cells; after (each decision over its own inputs) {compiled.n_cells} cells ({sizes})"
    )
    times, _ = timed(lambda: load_rulebook(), runs)
    print(f"  of which load and validate: {fmt(times)}")


def bench_evaluate(frame: pd.DataFrame, runs: int, label: str) -> tuple[list[float], float]:
    """Wall times of ``runs`` calls, and the CPU seconds per call (all threads of the process). The first call
    (cold: the book's answer tables, the per-key tables, the allocators' first pages) is shown on its own; two
    more warm the allocators before the timed runs (the floor gets the same three)."""
    t = time.perf_counter()
    evaluate(frame)
    cold = time.perf_counter() - t
    evaluate(frame)
    evaluate(frame)
    cpu = time.process_time()
    times, out = timed(lambda: evaluate(frame), runs)
    cpu = (time.process_time() - cpu) / runs
    assert len(out) == len(frame)
    print(
        f"evaluate {len(frame):,} rows, {label}: {fmt(times)}; CPU {cpu * 1e3:.1f} ms per run "
        f"(the first call: {cold * 1e3:.1f} ms)"
    )
    return times, cpu


def peak_memory(frame: pd.DataFrame) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    out = evaluate(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = out.memory_usage(deep=False).sum() / 1e6
    print(
        f"  peak memory of one evaluate call (tracemalloc, numpy + Python allocations): {peak / 1e6:.0f} MB; "
        f"the answer frame itself: {size:.0f} MB; process peak RSS so far {rss_before:.0f} MB"
    )


def profile(frame: pd.DataFrame) -> None:
    """cProfile one call in one thread (so the profiler sees the factorising: the columns are hashed whole, not a
    block at a time in the kept pool's threads as a timed call hashes them)."""
    import sonet_policy.engine.encode as scenario

    saved = scenario._PARALLEL_ROWS
    scenario._PARALLEL_ROWS = 1 << 62
    prof = cProfile.Profile()
    try:
        prof.enable()
        evaluate(frame)
        prof.disable()
    finally:
        scenario._PARALLEL_ROWS = saved
    stats = pstats.Stats(prof)
    total = stats.total_tt
    cumulative = {fn: ct for (_file, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()}
    print(f"  where the time goes (cProfile, one call, factorising in one thread: {total * 1e3:.0f} ms):")
    phases = [
        ("_factorize", "factorise the 6 columns (Arrow: each row looked up in the leading rows' values)"),
        ("_encode_catalogue", "catalogue input: normalise the distinct labels, catalogue lookup"),
        ("encode_fields", "encode the fields (factorise + per-field tables)"),
        ("_whole_space", "the tables per key of the space of every input (kept per set of values)"),
        ("keys", "each row's key in that space (per input a lookup of its code's term, summed)"),
        ("rows", "each row's key, then every answer column read per key (status, rules, error too)"),
        ("_error_counts", "which errors some row has"),
        ("from_codes", "build the categorical columns"),
    ]
    for fn, what in phases:
        ct = sum(v for k, v in cumulative.items() if k == fn)
        print(f"    {ct * 1e3:7.1f} ms  {ct / total:5.1%}  {what} [{fn}]")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
    print("    by own time:")
    for (file, line, fn), (_cc, _nc, tt, _ct, _callers) in rows:
        where = f"{os.path.basename(file)}:{line}({fn})" if line else fn
        print(f"    {tt * 1e3:7.1f} ms  {tt / total:5.1%}  {where}")


def bench_pydmnrules(canonical: pd.DataFrame, n: int, ours_rows_per_s: float) -> None:
    try:
        import pyDMNrules
    except ImportError:
        print("pyDMNrules is not installed: skipped")
        return
    from sonet_policy.export.dmn import to_dmn

    t = time.perf_counter()
    dmn = pyDMNrules.DMN()
    status = dmn.useXML(to_dmn(input_values=False))
    assert status == {}, status
    print(f"pyDMNrules: loaded the exported DMN (no inputValues) in {time.perf_counter() - t:.2f} s")
    sample = canonical.sample(n, random_state=1).reset_index(drop=True)
    sample = sample.astype({"days_since_phone_stop": "float64"})  # NaN for empty: decidePandas maps it to None
    t = time.perf_counter()
    status, results, _ = dmn.decidePandas(sample)
    took = time.perf_counter() - t
    theirs = n / took
    errors = int((status != "no errors").sum())
    print(
        f"pyDMNrules decidePandas, {n:,} rows, all five decisions: {took:.1f} s = {theirs:,.1f} rows/s "
        f"({errors} rows with an error: no rule matched in some table)"
    )
    print(f"  ours: {ours_rows_per_s:,.0f} rows/s = {ours_rows_per_s / theirs:,.0f} x pyDMNrules")
    small = sample.head(max(n // 10, 50))
    dmn2 = pyDMNrules.DMN()
    assert dmn2.useXML(to_dmn()) == {}
    t = time.perf_counter()
    dmn2.decidePandas(small)
    took2 = time.perf_counter() - t
    print(f"  with the default export (inputValues checked): {len(small) / took2:,.1f} rows/s on {len(small)} rows")


def bench_explain(runs: int) -> None:
    scenario = dict(
        area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days_since_phone_stop=31
    )
    explain(**scenario)
    times, _ = timed(lambda: explain(**scenario), runs)
    print(f"explain one scenario: {fmt(times)}")
    times, _ = timed(lambda: cards_html(explain(**scenario)), runs)
    print(f"explain + HTML card: {fmt(times)}")


def wait_quiet(limit: float = 60.0) -> None:
    cores = len(os.sched_getaffinity(0))
    start = time.time()
    while os.getloadavg()[0] > cores and time.time() - start < limit:
        time.sleep(5)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--dmn-rows", type=int, default=2_000, help="rows through pyDMNrules (0: skip)")
    p.add_argument("--quiet-check", action="store_true", help="wait up to a minute for a quiet machine")
    args = p.parse_args(argv)
    if args.quiet_check:
        wait_quiet()
    print(f"machine: {machine()}")
    print(f"before: {load()}")
    bench_load(args.runs)
    frame, as_object, canonical = population(args.rows)
    print(
        f"input: {args.rows:,} rows from CSV text, dtypes {sorted({str(d) for d in frame.dtypes})}, "
        f"{frame['device'].nunique()} distinct device spellings"
    )
    times, cpu_str = bench_evaluate(frame, args.runs, "str columns (pyarrow) as read_csv gives them")
    peak_memory(frame)
    otimes, cpu_obj = bench_evaluate(as_object, args.runs, "object columns (read_csv dtype=object)")
    # Dictionary-encoded columns (what read_csv gives with dtype="category", or Parquet/Arrow dictionaries) are read
    # from their codes as they come: no row is hashed again.
    as_category = frame.astype("category")
    ctimes, cpu_cat = bench_evaluate(as_category, args.runs, "categorical columns (read_csv dtype='category')")
    positions, ok = floor_inputs(frame)
    for _ in range(3):  # warm-up, as evaluate's
        floor(positions, ok)
    cpu = time.process_time()
    ftimes, _ = timed(lambda: floor(positions, ok), args.runs)
    cpu = (time.process_time() - cpu) / args.runs
    print(
        f"floor (lookup alone on encoded integer codes, {len(positions)} inputs -> 10 categorical columns): "
        f"{fmt(ftimes)}; CPU {cpu * 1e3:.1f} ms per run"
    )
    floor_wall = statistics.median(ftimes)
    print(
        f"  evaluate = {statistics.median(times) / floor_wall:.1f} x the floor (medians; str columns), "
        f"{statistics.median(ctimes) / floor_wall:.1f} x on categorical columns, "
        f"{statistics.median(otimes) / floor_wall:.1f} x on object columns"
    )
    # A large frame is hashed and answered in two threads (pyarrow and numpy's take release the GIL): the wall
    # ratio is lower than the work done, which the CPU ratio (CPU seconds of every thread, per call) shows.
    print(
        f"  in CPU time: evaluate = {cpu_str / cpu:.1f} x the floor's CPU (str columns), {cpu_cat / cpu:.1f} x "
        f"(categorical), {cpu_obj / cpu:.1f} x (object)"
    )
    profile(frame)
    if args.dmn_rows:
        bench_pydmnrules(canonical, args.dmn_rows, args.rows / statistics.median(times))
    bench_explain(50)
    print(f"after: {load()}; process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
