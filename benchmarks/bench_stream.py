"""Streaming evaluation of big scenario files against the plain pipeline floor, in one run: wall, CPU and peak RSS.

* The whole command against the whole floor script, as processes, start-up included: ``python -m sonet_policy
  evaluate --input F --output G --no-progress`` and ``python benchmarks/floor_stream.py F G`` (pyarrow's reader
  with 16 MB blocks, ``evaluate`` per batch, the answers cast from their dictionaries, pyarrow's CSV writer; no
  encoding detection, header aliases, blank-line handling, formula guard, temporary file or rename), run in turn
  (kit, floor, kit, floor …) on the same file; the ratio is taken pair by pair and its median shown.
* The streaming alone, in a fresh child process that imports the kit and compiles the rule book first (not
  timed): reading and writing alone (no evaluation), the floor's pipeline (the same function as the script), and
  ``evaluate_file`` (what the command runs) with every guarantee; for CSV → CSV and for Parquet → Parquet (the
  same rows in row groups of 100,000; the floor there uses the kit's options: the six inputs read as
  dictionaries, dictionary encoding for them and the answers, no statistics).
* ``evaluate_file`` with a 3 KB memo column: the peak RSS stays bounded by bytes, not rows.

Each child reports its wall time, its CPU seconds (user + system, all of its threads) and its own peak RSS
(VmHWM). The machine may be shared: CPU seconds say what the work costs when wall time is stretched by other
processes, and the paired ratio keeps the comparison fair when the machine's speed drifts.

    python benchmarks/bench_stream.py                  # 2,000,000 rows; memo case 100,000 rows of 3 KB
    python benchmarks/bench_stream.py --rows 500000 --memo-rows 20000 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
FLOOR = HERE / "floor_stream.py"
# what every child runs first and last: the target (a module or a script, with its argv), then its own peak RSS
WRAP = r"""
import runpy, sys
what, target, *sys.argv[1:] = sys.argv[1:]
try:
    if what == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")
finally:
    print("VmHWM", [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1], file=sys.stderr)
"""
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4])
import pyarrow as pa, pyarrow.csv as pcsv, pyarrow.parquet as pq
from floor_stream import INPUTS, stream
from sonet_policy import evaluate
from sonet_policy.files.stream import evaluate_file
from sonet_policy.book.load import default_rulebook

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

book = default_rulebook(); book.compiled()
mode, src, dst = sys.argv[1:4]
t0, c0, rows = time.perf_counter(), cpu(), 0
if mode == "io-csv":  # pyarrow's streaming reader (16 MB blocks) and CSV writer alone, no evaluation
    with open(src, "rb") as f:
        header = f.readline().decode().strip().split(",")
    options = pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()))
    writer = None
    for batch in pcsv.open_csv(src, pcsv.ReadOptions(block_size=16 << 20), convert_options=options):
        writer = writer or pcsv.CSVWriter(dst, batch.schema)
        writer.write_batch(batch)
        rows += batch.num_rows
    writer.close()
elif mode == "floor-csv":
    rows = stream(src, dst)
elif mode in ("floor-parquet", "io-parquet"):  # the kit's options: inputs as dictionaries, no statistics
    names = pq.ParquetFile(src).schema_arrow.names
    writer = None
    for batch in pq.ParquetFile(src, read_dictionary=names[:6]).iter_batches(batch_size=200_000):
        table = pa.Table.from_batches([batch])
        if mode == "floor-parquet":
            frame = batch.select(range(6)).rename_columns(INPUTS).to_pandas()
            answers = pa.Table.from_pandas(evaluate(frame, rulebook=book), preserve_index=False)
            table = pa.Table.from_arrays(table.columns + answers.columns, names=names + answers.column_names)
        if writer is None:
            coded = names[:6] + table.column_names[len(names):]
            writer = pq.ParquetWriter(dst, table.schema, use_dictionary=coded, write_statistics=False)
        writer.write_table(table)
        rows += batch.num_rows
    writer.close()
elif mode == "kit":
    rows = evaluate_file(src, dst, evaluate=evaluate, rulebook=book, progress=False).rows
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps(dict(seconds=time.perf_counter() - t0, cpu=cpu() - c0, rows=rows, peak_kb=int(peak))))
"""
HEADER = "エリア,プラン,機器名,利用環境,番号継続,電話機能停止からの日数,顧客ID"


def generate(path: Path, rows: int, *, seed: int = 0, chunk: int = 250_000, memo: int = 0) -> int:
    """Write ``rows`` scenario rows (plus a blank line every other chunk) in chunks; returns blank lines.
    ``memo``: a last column of that many bytes of text per row (a few starting with ``=``)."""
    from sonet_policy.book.load import default_rulebook

    rng = np.random.default_rng(seed)
    models = np.array(list(default_rulebook().models) + ["PR-600kl", "ＰＲ－６００ＫＩ", "rv 230 se"], dtype=object)
    blanks = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(HEADER + (",メモ" if memo else "") + "\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            frame = pd.DataFrame(
                {
                    "area": rng.choice(["east", "west", "東", "West"], n),
                    "plan": rng.choice(["10g", "sml", "other", "other"], n),
                    "device": rng.choice(models, n),
                    "setup": rng.choice(["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"], n),
                    "keep": rng.choice(["yes", "no", "true", "false", "はい"], n),
                    "days": np.where(rng.random(n) < 0.3, "", rng.integers(0, 90, n).astype(str)),
                    "id": np.char.add("C", np.arange(start, start + n).astype(str)),
                }
            )
            if memo:
                text = ("電話は解約 " * (memo // 16 + 1))[: memo // 3]  # 3 bytes per character
                frame["memo"] = np.where(rng.random(n) < 0.01, "=" + text, text)
            frame.to_csv(out, header=False, index=False)
            if (start // chunk) % 2 == 1:
                out.write("," * (len(frame.columns) - 1) + "\n")
                blanks += 1
    return blanks


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args, str(HERE)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_whole(what: str, target: str, *argv: str) -> dict:
    """One whole process (``python -m`` a module, or a script): wall seconds from start to exit, CPU seconds
    (wait4), its own peak RSS."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAP, what, target, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{target} failed:\n{err}")
    peak = int(err.strip().splitlines()[-1].split()[1])
    return dict(seconds=wall, cpu=usage.ru_utime + usage.ru_stime, peak_kb=peak)


def show(label: str, r: dict, floor: dict | None = None) -> str:
    line = (
        f"{label:<44} {r['rows']:>10,} rows  {r['seconds']:6.2f} s wall  {r['cpu']:6.2f} s CPU  "
        f"{r['rows'] / r['seconds']:>11,.0f} rows/s  peak RSS {r['peak_kb'] / 1024:5.0f} MB"
    )
    if floor:
        line += f"  | {r['seconds'] / floor['seconds']:.2f}x floor wall, {r['cpu'] / floor['cpu']:.2f}x floor CPU"
    return line


def whole_command(src: Path, folder: Path, rows: int, repeat: int) -> None:
    """The command and the floor script in turn, ``repeat`` pairs: medians and the median of the pair ratios."""
    kit_argv = ["evaluate", "--input", str(src), "--output", str(folder / "kit.csv"), "--no-progress"]
    pairs = []
    for _ in range(repeat):
        kit = run_whole("module", "sonet_policy", *kit_argv)
        floor = run_whole("script", str(FLOOR), str(src), str(folder / "floor.csv"))
        pairs.append((kit, floor))
    for label, k in (("command: python -m sonet_policy evaluate", 0), ("floor script: floor_stream.py", 1)):
        runs = [p[k] for p in pairs]
        wall, cpu = (statistics.median(r[key] for r in runs) for key in ("seconds", "cpu"))
        peak = statistics.median(r["peak_kb"] for r in runs) / 1024
        print(f"{label:<44} {rows:>10,} rows  {wall:6.2f} s wall  {cpu:6.2f} s CPU  peak RSS {peak:5.0f} MB (medians)")
    walls = [a["seconds"] / b["seconds"] for a, b in pairs]
    cpus = [a["cpu"] / b["cpu"] for a, b in pairs]
    print(
        f"{'whole command / whole floor script':<44} wall {statistics.median(walls):.2f}x (pairs: "
        f"{', '.join(f'{w:.2f}' for w in walls)}), CPU {statistics.median(cpus):.2f}x"
    )


def streaming_alone(src: Path, folder: Path, rows: int, repeat: int) -> None:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    def best(*child_args: str) -> dict:
        return min((run_child(*child_args) for _ in range(repeat)), key=lambda r: r["seconds"])

    out, parquet = folder / "out.csv", folder / "big.parquet"
    options = pcsv.ConvertOptions(column_types=dict.fromkeys(HEADER.split(","), pa.string()))
    table = pcsv.read_csv(src, convert_options=options)
    pq.write_table(table.filter(pa.compute.not_equal(table.column(0), "")), parquet, row_group_size=100_000)
    del table
    floor_csv = best("floor-csv", str(src), str(out))
    print(show("I/O alone CSV→CSV (pyarrow read, write)", best("io-csv", str(src), str(out))))
    print(show("floor CSV→CSV (floor_stream.py's pipeline)", floor_csv))
    kit_csv = best("kit", str(src), str(out))
    print(show("kit   CSV→CSV (evaluate_file)", kit_csv, floor_csv))
    assert kit_csv["rows"] == rows, kit_csv
    floor_pq = best("floor-parquet", str(parquet), str(folder / "out.parquet"))
    print(show("I/O alone Parquet→Parquet", best("io-parquet", str(parquet), str(folder / "out.parquet"))))
    print(show("floor Parquet→Parquet (the kit's options)", floor_pq))
    kit_pq = best("kit", str(parquet), str(folder / "out.parquet"))
    print(show("kit   Parquet→Parquet (evaluate_file)", kit_pq, floor_pq))
    assert pq.ParquetFile(folder / "out.parquet").metadata.num_rows == rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--memo-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="pairs of whole processes; runs of each child")
    args = parser.parse_args()
    import pyarrow as pa

    print(
        f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, Python {sys.version.split()[0]}, "
        f"pandas {pd.__version__}, pyarrow {pa.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src = folder / "big.csv"
        blanks = generate(src, args.rows)
        print(f"input: {args.rows:,} rows, CSV {src.stat().st_size / 2**20:,.0f} MB ({blanks} blank lines)")
        whole_command(src, folder, args.rows, args.repeat)
        with open(folder / "kit.csv", "rb") as handle:
            lines = sum(b.count(b"\r\n") for b in iter(lambda: handle.read(1 << 24), b""))
        assert lines == args.rows + 1, (lines, args.rows)  # header + every row
        streaming_alone(src, folder, args.rows, args.repeat)
        for path in folder.iterdir():
            path.unlink()
        memo_src = folder / "memo.csv"
        generate(memo_src, args.memo_rows, memo=3000, chunk=20_000)
        runs = [run_child("kit", str(memo_src), str(folder / "out.csv")) for _ in range(args.repeat)]
        memo = min(runs, key=lambda r: r["seconds"])
        print(show(f"kit   CSV→CSV, 3 KB memo ({memo_src.stat().st_size / 2**20:,.0f} MB in)", memo))
    print("goals: the whole command ≤ 1.1x the whole floor script (wall, median of pairs); peak RSS < 300 MB")


if __name__ == "__main__":
    main()
