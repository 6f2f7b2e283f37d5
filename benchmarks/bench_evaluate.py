"""Benchmark: evaluate a million customers against its floor, beside the previous landing; explain; load+compile.

Run ``python benchmarks/bench_evaluate.py`` (``make bench``); ``--help`` for the sizes. Prints, with the machine:

* load and compile time of the shipped rule book (fresh load each time);
* ``evaluate`` on ``--rows`` rows (default 1,000,000) read from CSV text as ``pd.read_csv(dtype=str)`` gives
  them (pandas 3: pyarrow-backed ``str``), all five decisions, the device in mixed spellings; the same rows as
  ``object``, ``category`` and Arrow dictionary columns (what Parquet gives); ``answer`` on one scenario and
  ``evaluate`` on a one-row frame (µs): min / median of the timed runs after three warm-up calls;
* the floor: the lookup alone on already-encoded integer codes (the axis position of every input per row ->
  cell -> every answer column as categorical codes), and evaluate as a multiple of it (medians);
* the same figures for the previous landing (git commit :data:`PREVIOUS`, the flat layout before the house),
  measured in the same run: each tree in its own process (``PYTHONPATH`` set to it; the previous one extracted
  with ``git archive``), the two taking turns ``--rounds`` times so that a busy machine weighs on both alike.
  Without the commit (a shallow clone), that column is skipped;
* where this tree's evaluate spends its time (cProfile, by function), its peak memory;
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
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

PREVIOUS = "879bd82"  # the previous landing: the flat layout, before the engine's one plain path
CHECKOUT = Path(__file__).resolve().parents[1]
KINDS = {
    "text": "str columns (pyarrow) as read_csv(dtype=str) gives them",
    "object": "object columns (read_csv dtype=object)",
    "category": "categorical columns (read_csv dtype='category')",
    "arrow_dict": "Arrow dictionary columns (as Parquet gives them)",
}


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
    ``dtype=object``; and the canonical values behind them. Uses the public API only (both trees have it)."""
    from sonet_policy import load_rulebook

    book = load_rulebook()
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


def frames_of(text: pd.DataFrame, as_object: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The same rows in every column kind of :data:`KINDS`."""
    import pyarrow as pa

    def arrow_dict(column: pd.Series) -> pd.Series:
        chunks = [c.dictionary_encode() for c in pa.chunked_array(column.array._pa_array).chunks]  # one per batch
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(chunks)), index=column.index)

    category, arrow = text.astype("category"), text.apply(arrow_dict)
    return {"text": text, "object": as_object, "category": category, "arrow_dict": arrow}


# ---- what each tree's process measures (public API only, so that the previous landing runs it too)


def measure_evaluate(frame: pd.DataFrame, runs: int, evaluate=None) -> dict[str, object]:
    """Wall times of ``runs`` calls after three warm-up calls (the first, cold, kept on its own), CPU per call."""
    if evaluate is None:
        from sonet_policy import evaluate

    t = time.perf_counter()
    evaluate(frame)
    cold = time.perf_counter() - t
    evaluate(frame)
    evaluate(frame)
    cpu = time.process_time()
    times, out = timed(lambda: evaluate(frame), runs)
    assert len(out) == len(frame)
    return {"times": times, "cpu": (time.process_time() - cpu) / runs, "cold": cold}


def measure_one(canonical: pd.DataFrame, n: int) -> dict[str, list[float]]:
    """Seconds per call of ``answer`` (``n`` scenarios, twice) and of ``evaluate`` on a one-row frame."""
    from sonet_policy import answer, evaluate

    scenarios = []
    for rec in canonical.head(n).astype(object).to_dict("records"):
        scenarios.append({k: (None if v is pd.NA else v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    for s in scenarios[:200]:
        answer(**s)
    out: dict[str, list[float]] = {"answer": [], "evaluate_one_row": []}
    for _ in range(2):
        for s in scenarios:
            t = time.perf_counter()
            answer(**s)
            out["answer"].append(time.perf_counter() - t)
    for s in scenarios[: max(n // 10, 20)]:
        frame = pd.DataFrame([s])
        t = time.perf_counter()
        evaluate(frame)
        out["evaluate_one_row"].append(time.perf_counter() - t)
    return out


def floor_inputs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The integer codes evaluate works from: each row's axis position per input (computed once, not timed)."""
    from sonet_policy.book.load import default_rulebook
    from sonet_policy.engine.encode import encode

    compiled = default_rulebook().compiled()
    enc = encode(frame, compiled)
    return {n: np.where(enc.positions(n) >= 0, enc.positions(n), 0).astype(np.intp) for n in compiled.inputs}


def floor(positions: dict[str, np.ndarray]) -> pd.DataFrame:
    """The lookup alone: axis positions -> each decision group's cell -> every answer column (categorical),
    status and rules, as evaluate builds them (every row valid: no error handling)."""
    from sonet_policy.book.load import default_rulebook
    from sonet_policy.engine.tables import STATUSES, answer_tables

    compiled = default_rulebook().compiled()
    tables = answer_tables(compiled)
    n = len(next(iter(positions.values())))
    data = {}
    key = np.zeros(n, dtype=np.int64)
    for g in tables.groups:
        grid = compiled.decisions[g.names[0]]
        cell = np.zeros(n, dtype=np.int64)
        for name, s in zip(grid.inputs, grid.strides, strict=True):
            cell += positions[name] * s
        for col, (dtype, lut) in g.columns.items():
            data[col] = pd.Categorical.from_codes(lut.take(cell), dtype=dtype, validate=False)
        key += g.combo_key.take(cell)
    data["status"] = pd.Categorical.from_codes(tables.status.take(key), categories=list(STATUSES), validate=False)
    data["rules"] = pd.Categorical.from_codes(tables.rules[1].take(key), dtype=tables.rules[0], validate=False)
    return pd.DataFrame(data, copy=False)


def measure_floor(frame: pd.DataFrame, runs: int) -> list[float]:
    positions = floor_inputs(frame)
    for _ in range(3):  # warm-up, as evaluate's
        floor(positions)
    return timed(lambda: floor(positions), runs)[0]


def measure(rows: int, runs: int, this_tree: bool) -> dict[str, object]:
    """Everything one tree's process measures (printed as one JSON line by ``--measure``); for this tree also
    the floor and the plain path alone (``evaluate_frame``, without the quicker way of a large frame)."""
    import sonet_policy

    text, as_object, canonical = population(rows)
    frames = frames_of(text, as_object)
    out: dict[str, object] = {"package": sonet_policy.__file__}
    out["evaluate"] = {kind: measure_evaluate(frame, runs) for kind, frame in frames.items()}
    out["one"] = measure_one(canonical, 2_000)
    if this_tree:
        from sonet_policy.engine.frame import evaluate_frame

        out["plain"] = {kind: measure_evaluate(frame, runs, evaluate_frame) for kind, frame in frames.items()}
        out["floor"] = measure_floor(text, runs)
    return out


# ---- the two trees side by side


def previous_tree(folder: Path) -> Path | None:
    """The previous landing's package and data extracted into ``folder`` (None, with a line said, when this
    checkout has no such commit or no git)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(CHECKOUT), "archive", "--format=tar", PREVIOUS, "sonet_policy", "data"],
            capture_output=True,
            check=False,
        )
    except OSError as exc:
        print(f"previous landing: git is not available ({exc}): its column is skipped")
        return None
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        print(f"previous landing: commit {PREVIOUS} is not in this checkout ({why[0]}): its column is skipped")
        return None
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_tree(root: Path, args: argparse.Namespace, this_tree: bool) -> dict[str, object]:
    """:func:`measure` in a process that imports ``sonet_policy`` from ``root``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", "--rows", str(args.rows)]
    cmd += ["--runs", str(args.runs)] + (["--this-tree"] if this_tree else [])
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root, check=False)
    if done.returncode != 0:
        raise SystemExit(f"measuring {root} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["package"]).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"the process for {root} imported {result['package']}")
    return result


def side_by_side(args: argparse.Namespace) -> None:
    """Each tree measured ``--rounds`` times, taking turns; the medians of every run printed side by side."""
    with tempfile.TemporaryDirectory(prefix="sonet-previous-") as tmp:
        trees = {"this tree": CHECKOUT}
        previous = previous_tree(Path(tmp))
        if previous is not None:
            trees = {f"previous landing ({PREVIOUS})": previous, **trees}
        runs: dict[str, list[dict]] = {label: [] for label in trees}
        for r in range(args.rounds):
            for label in list(trees)[:: 1 if r % 2 == 0 else -1]:
                runs[label].append(run_tree(trees[label], args, this_tree=label == "this tree"))
    ours = runs["this tree"]
    floor_ms = statistics.median([t for run in ours for t in run["floor"]]) * 1e3
    columns = {label: [run["evaluate"] for run in tree_runs] for label, tree_runs in runs.items()}
    columns["this tree, plain path only"] = [run["plain"] for run in ours]
    print(f"evaluate {args.rows:,} rows, median of {args.runs} runs x {args.rounds} rounds per tree (same run):")
    print(f"  {'columns':<12}" + "".join(f"{label:>38}" for label in columns))
    for kind in KINDS:
        cells = []
        for measured in columns.values():
            median = statistics.median([t for m in measured for t in m[kind]["times"]]) * 1e3
            cpu = statistics.median([m[kind]["cpu"] for m in measured]) * 1e3
            cells.append(f"{median:7.1f} ms = {median / floor_ms:4.1f}x floor (CPU {cpu:5.1f})")
        print(f"  {kind:<12}" + "".join(f"{c:>38}" for c in cells))
    print(f"  {'floor':<12}{floor_ms:>7.1f} ms (the lookup alone on encoded integer codes, measured with this tree)")
    for what, label in (("answer", "answer, one scenario"), ("evaluate_one_row", "evaluate, a one-row frame")):
        medians = [statistics.median([t for run in runs[tree] for t in run["one"][what]]) for tree in trees]
        print(f"  {label:<28}" + "".join(f"{m * 1e6:>19,.1f} µs" for m in medians))
    for kind, what in KINDS.items():
        print(f"  {kind}: {what}")


def profile(frame: pd.DataFrame) -> None:
    """cProfile one call of this tree's evaluate: where the time goes, by phase and by function."""
    from sonet_policy import evaluate

    prof = cProfile.Profile()
    prof.enable()
    evaluate(frame)
    prof.disable()
    stats = pstats.Stats(prof)
    total = stats.total_tt
    cumulative = {fn: ct for (_file, _line, fn), (_cc, _nc, _tt, ct, _callers) in stats.stats.items()}
    print(f"  where this tree's evaluate spends its time (cProfile, one call on text columns: {total * 1e3:.0f} ms):")
    phases = [
        ("_read_fields", "read the columns (Arrow text hashed two at a time: the helper thread not profiled)"),
        ("_factorize_text", "  of which: Arrow text looked up in its leading values, in this thread"),
        ("read_field", "  of which: each distinct value read (axis position or message)"),
        ("_answer_by_class", "answer per combination of classes, then copy to every row"),
        ("answer_fields", "  of which: the plain path over the combinations"),
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


def peak_memory(frame: pd.DataFrame) -> None:
    from sonet_policy import evaluate

    tracemalloc.start()
    out = evaluate(frame)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = out.memory_usage(deep=False).sum() / 1e6
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  peak memory of one evaluate call on text columns (tracemalloc, numpy + Python allocations): "
        f"{peak / 1e6:.0f} MB; the answer frame itself: {size:.0f} MB; process peak RSS so far {rss:.0f} MB"
    )


def bench_load(runs: int) -> None:
    from sonet_policy.book.load import load_rulebook

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
    from sonet_policy import explain
    from sonet_policy.widgets.cards import cards_html

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
    p.add_argument("--rounds", type=int, default=2, help="turns each tree takes (each in a process of its own)")
    p.add_argument("--dmn-rows", type=int, default=2_000, help="rows through pyDMNrules (0: skip)")
    p.add_argument("--quiet-check", action="store_true", help="wait up to a minute for a quiet machine")
    p.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # one tree's process
    p.add_argument("--this-tree", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.rows, args.runs, args.this_tree)))
        return 0
    sys.path.insert(0, str(CHECKOUT))  # the rest of this process measures this checkout too
    if args.quiet_check:
        wait_quiet()
    print(f"machine: {machine()}")
    print(f"before: {load()}")
    bench_load(args.runs)
    side_by_side(args)
    text, _, canonical = population(args.rows)
    peak_memory(text)
    profile(text)
    if args.dmn_rows:
        from sonet_policy import evaluate

        times, _ = timed(lambda: evaluate(text), args.runs)
        bench_pydmnrules(canonical, args.dmn_rows, args.rows / statistics.median(times))
    bench_explain(50)
    print(f"after: {load()}; process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
