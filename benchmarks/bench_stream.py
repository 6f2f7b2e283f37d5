"""Streaming evaluation of big scenario files beside the plain pipeline floor, in one run: rows/s, CPU and peak RSS.

Each measurement runs in a fresh child process that imports the kit and compiles the rule book first (not
timed), then times only the streaming; the child reports its wall time, its CPU seconds (user + system, all of
its threads) and its own peak RSS (VmHWM). The machine may be shared: CPU seconds say what the work costs when
wall time is stretched by other processes.

* floor, CSV → CSV: pyarrow's streaming CSV reader (every column text), ``evaluate`` per record batch, pyarrow's
  CSV writer; no encoding detection, no blank-line handling, no formula neutralisation, no atomic rename.
* kit, CSV → CSV: ``evaluate_file`` (what ``evaluate --input big.csv --output out.csv`` runs), with every
  guarantee: whole-file encoding detection, header aliases, blank lines, pass-through columns, formulas
  neutralised, a temporary file fsynced and renamed.
* floor and kit, Parquet → Parquet (the same rows, as a Parquet file of row groups of 100,000 rows). Two
  floors: pyarrow's defaults (text read as strings, every column dictionary-encoded with statistics), and the
  options the kit uses (the six inputs read as dictionaries, dictionary encoding for them and the answers, no
  statistics): the kit is compared with the second, the honest peer. Both hand the writer the inputs as the
  dictionaries they were read as; the kit's file declares them as text (the input file's own type), the floor's
  as dictionaries. The kit joins the batches of consecutive row groups up to its batch size (200,000 rows), the
  floor evaluates each row group's batch (100,000 rows) as pyarrow gives it.
* I/O alone: the same readers and writers without evaluation (CSV: pyarrow's streaming reader and CSV writer;
  Parquet: the tuned options), what no pipeline that evaluates can beat.
* kit, CSV → CSV and Parquet → Parquet with a 3 KB memo column: the peak RSS stays bounded by bytes, not rows.
* the whole command ``python -m sonet_policy evaluate`` once, start-up included.

    python benchmarks/bench_stream.py                  # 2,000,000 rows; memo case 100,000 rows of 3 KB
    python benchmarks/bench_stream.py --rows 500000 --memo-rows 20000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = r"""
import json, resource, sys, time

def peak_kb():
    for line in open("/proc/self/status"):  # this process's own peak RSS
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

def cpu():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime

import pyarrow as pa, pyarrow.csv as pcsv, pyarrow.parquet as pq
import sonet_policy.engine.evaluate as evaluate
from sonet_policy.files.scenarios import evaluate_file
from sonet_policy.book.load import default_rulebook
book = default_rulebook(); book.compiled()
mode, src, dst = sys.argv[1:4]
NAMES = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]
t0, c0, rows = time.perf_counter(), cpu(), 0

def answer(batch):
    frame = batch.select(list(range(6))).rename_columns(NAMES).to_pandas()
    answers = evaluate(frame, rulebook=book)
    out = pa.Table.from_pandas(answers, preserve_index=False)
    return pa.Table.from_batches([batch]).select(list(range(batch.num_columns))), out

if mode == "floor-csv":
    with open(src, "rb") as f:
        header = f.readline().decode().strip().split(",")
    reader = pcsv.open_csv(src, convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())))
    writer = None
    for batch in reader:
        left, right = answer(batch)
        table = pa.Table.from_arrays(left.columns + right.columns, names=left.column_names + right.column_names)
        if writer is None:
            writer = pcsv.CSVWriter(dst, table.schema)
        writer.write_table(table)
        rows += batch.num_rows
    writer.close()
elif mode == "floor-parquet":  # pyarrow's defaults: text read as strings; dictionaries and statistics everywhere
    writer = None
    for batch in pq.ParquetFile(src).iter_batches(batch_size=200_000):
        left, right = answer(batch)
        table = pa.Table.from_arrays(left.columns + right.columns, names=left.column_names + right.column_names)
        if writer is None:
            writer = pq.ParquetWriter(dst, table.schema)
        writer.write_table(table)
        rows += batch.num_rows
    writer.close()
elif mode in ("floor-parquet-tuned", "io-parquet"):
    # the options the kit uses: the six inputs read as dictionaries (evaluate reads their codes), dictionary
    # encoding for them and the answers, none for the identifiers, no statistics; io-parquet: no evaluation
    names = pq.ParquetFile(src).schema_arrow.names
    writer = None
    for batch in pq.ParquetFile(src, read_dictionary=names[:6]).iter_batches(batch_size=200_000):
        if mode == "io-parquet":
            table = pa.Table.from_batches([batch])
        else:
            left, right = answer(batch)
            table = pa.Table.from_arrays(left.columns + right.columns, names=left.column_names + right.column_names)
        if writer is None:
            coded = names[:6] + table.column_names[len(names):]
            writer = pq.ParquetWriter(dst, table.schema, use_dictionary=coded, write_statistics=False)
        writer.write_table(table)
        rows += batch.num_rows
    writer.close()
elif mode == "io-csv":  # pyarrow's streaming reader and CSV writer alone, no evaluation
    with open(src, "rb") as f:
        header = f.readline().decode().strip().split(",")
    reader = pcsv.open_csv(src, convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())))
    writer = None
    for batch in reader:
        if writer is None:
            writer = pcsv.CSVWriter(dst, batch.schema)
        writer.write_batch(batch)
        rows += batch.num_rows
    writer.close()
elif mode == "kit":
    rows = evaluate_file(src, dst, rulebook=book, progress=False).rows
print(json.dumps(dict(seconds=time.perf_counter() - t0, cpu=cpu() - c0, rows=rows, peak_kb=peak_kb())))
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
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"child {args[0]} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def show(label: str, r: dict, floor: dict | None = None) -> str:
    line = (
        f"{label:<44} {r['rows']:>10,} rows  {r['seconds']:6.2f} s wall  {r['cpu']:6.2f} s CPU  "
        f"{r['rows'] / r['seconds']:>11,.0f} rows/s  ({r['rows'] / r['cpu']:>11,.0f} per CPU s)  "
        f"peak RSS {r['peak_kb'] / 1024:5.0f} MB"
    )
    if floor:
        line += f"  | {r['seconds'] / floor['seconds']:.2f}x floor wall, {r['cpu'] / floor['cpu']:.2f}x floor CPU"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--memo-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the fastest is shown")
    args = parser.parse_args()
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    load = os.getloadavg()[0]
    print(
        f"machine: {os.cpu_count()} cores, load {load:.1f}, Python {sys.version.split()[0]}, pandas {pd.__version__}, "
        f"pyarrow {pa.__version__}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        src, out = folder / "big.csv", folder / "out.csv"
        blanks = generate(src, args.rows)
        table = pcsv.read_csv(
            src, convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(HEADER.split(","), pa.string()))
        )
        blank = pa.compute.equal(table.column(0), "")
        table = table.filter(pa.compute.invert(blank))
        parquet = folder / "big.parquet"
        pq.write_table(table, parquet, row_group_size=100_000)
        del table
        print(
            f"input: {args.rows:,} rows, CSV {src.stat().st_size / 2**20:,.0f} MB ({blanks} blank lines), "
            f"Parquet {parquet.stat().st_size / 2**20:,.0f} MB"
        )

        def best(*child_args: str) -> dict:
            runs = [run_child(*child_args) for _ in range(args.repeat)]
            return min(runs, key=lambda r: r["seconds"])

        io_csv = best("io-csv", str(src), str(out))
        floor_csv = best("floor-csv", str(src), str(out))  # blank lines evaluated as invalid rows
        kit_csv = best("kit", str(src), str(out))
        assert kit_csv["rows"] == args.rows, kit_csv
        with open(out, "rb") as handle:
            lines = sum(b.count(b"\r\n") for b in iter(lambda: handle.read(1 << 24), b""))
        assert lines == args.rows + 1, (lines, args.rows)  # header + every row
        io_pq = best("io-parquet", str(parquet), str(folder / "out.parquet"))
        floor_pq = best("floor-parquet", str(parquet), str(folder / "out.parquet"))
        tuned_pq = best("floor-parquet-tuned", str(parquet), str(folder / "out.parquet"))
        kit_pq = best("kit", str(parquet), str(folder / "out.parquet"))
        assert pq.ParquetFile(folder / "out.parquet").metadata.num_rows == args.rows
        print(show("I/O alone CSV→CSV (pyarrow read, write)", io_csv))
        print(show("floor CSV→CSV (pyarrow read, evaluate, write)", floor_csv))
        print(show("kit   CSV→CSV (evaluate_file)", kit_csv, floor_csv))
        print(show("I/O alone Parquet→Parquet (tuned options)", io_pq))
        print(show("floor Parquet→Parquet (pyarrow defaults)", floor_pq))
        print(show("floor Parquet→Parquet (tuned options)", tuned_pq))
        print(show("kit   Parquet→Parquet (evaluate_file)", kit_pq, tuned_pq))
        # the whole command, start-up included: the child reports its own peak RSS (VmHWM; ru_maxrss would carry
        # this parent's peak over fork + exec), wait4 its CPU seconds
        command = (
            "import sys; from sonet_policy.cli.main import main; code = main(sys.argv[1:]); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], file=sys.stderr); "
            "sys.exit(code)"
        )
        argv = [sys.executable, "-c", command, "evaluate", "--input", str(src), "--output", str(out), "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = proc.stderr.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        assert os.waitstatus_to_exitcode(status) == 0, err
        peak_kb = int(err.strip().splitlines()[-1])
        print(
            f"{'command: python -m sonet_policy evaluate (CSV)':<44} {args.rows:>10,} rows  {wall:6.2f} s wall  "
            f"{usage.ru_utime + usage.ru_stime:6.2f} s CPU  {args.rows / wall:>11,.0f} rows/s, start-up included; "
            f"peak RSS {peak_kb / 1024:.0f} MB"
        )
        for path in (src, parquet, out, folder / "out.parquet"):
            path.unlink(missing_ok=True)
        memo_src = folder / "memo.csv"
        generate(memo_src, args.memo_rows, memo=3000, chunk=20_000)
        memo = best("kit", str(memo_src), str(out))
        print(show(f"kit   CSV→CSV, 3 KB memo ({memo_src.stat().st_size / 2**20:,.0f} MB in)", memo))
        memo_pq = folder / "memo.parquet"
        options = pcsv.ConvertOptions(column_types=dict.fromkeys(HEADER.split(",") + ["メモ"], pa.string()))
        with pq.ParquetWriter(memo_pq, pcsv.open_csv(memo_src, convert_options=options).schema) as writer:
            for batch in pcsv.open_csv(memo_src, convert_options=options):  # streamed: this process stays small
                writer.write_table(pa.Table.from_batches([batch]), row_group_size=20_000)
        memo = best("kit", str(memo_pq), str(folder / "out.parquet"))
        print(show(f"kit   Parquet→Parquet, 3 KB memo ({memo_pq.stat().st_size / 2**20:,.0f} MB in)", memo))
    print(
        "goals: CSV→CSV ≥ 1,000,000 rows/s and ≤ 1.1x the floor; Parquet→Parquet ≥ 3,000,000 rows/s; peak RSS < 300 MB"
    )


if __name__ == "__main__":
    main()
