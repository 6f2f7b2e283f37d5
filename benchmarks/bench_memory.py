"""Peak memory of streaming ``evaluate --input`` on wide rows, beside a reader bounded by rows only.

Issue 9 item 8: 100,000 rows with a 3 KB memo column peaked at 967 MB when chunks were bounded by rows only
(200,000 rows: the whole file in one chunk). That reader is gone from the kit: ``chunk_bytes=None`` today only
lifts the ``--chunk-mb`` budget, and the streaming reader still parses the file in pieces of at most 4 MB cut at
record ends (``sonet_policy.files.read_csv``). So the rows-only peer here is a plain pipeline measured in the same
run: pandas' ``read_csv(chunksize=200_000)``, ``evaluate`` per chunk, ``to_csv`` appended. Each run is a
fresh child process; its peak RSS (VmHWM) is read from /proc, beside wall and CPU seconds. A baseline child that
only loads the rule book shows what the kit costs before any row.

    python benchmarks/bench_memory.py                  # 100,000 rows, 3,000-byte memo
    python benchmarks/bench_memory.py --rows 200000 --memo 5000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, time
def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
import pandas as pd
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.files.stream import evaluate_file
from sonet_policy.book.load import default_rulebook
book = default_rulebook(); book.compiled()
t0, c0 = time.perf_counter(), time.process_time()
rows = 0
if sys.argv[3] == "rows-only":  # the peer: chunks of 200,000 rows, however wide
    for k, chunk in enumerate(pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False, chunksize=200_000)):
        answers = pd.concat([chunk, evaluate(chunk, rulebook=book)], axis=1)
        answers.to_csv(sys.argv[2], mode="a" if k else "w", header=not k, index=False)
        rows += len(chunk)
elif sys.argv[1] != "-":
    budget = None if sys.argv[3] == "none" else int(sys.argv[3])
    summary = evaluate_file(sys.argv[1], sys.argv[2], evaluate=evaluate, rulebook=book, progress=False,
                            chunk_bytes=budget)
    rows = summary.rows
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps(dict(seconds=wall, cpu=cpu, rows=rows, peak_kb=peak_kb())))
"""


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memo", type=int, default=3_000, help="bytes (UTF-8) of the memo column per row")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")
    base = run_child("-", "-", "none")
    print(f"baseline (import + load + compile the rule book): peak RSS {base['peak_kb'] / 1024:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "wide.csv"
        with open(src, "w", encoding="utf-8") as out:
            out.write("area,plan,device,setup,keep_number,days_since_phone_stop,memo\n")
            for i in range(args.rows):
                memo = f"customer {i}: 解約メモ ".ljust(args.memo - 9, "x")  # args.memo bytes in UTF-8
                out.write(f"west,other,RV-230SE,v6plus_router,no,{i % 90},{memo}\n")
        size = src.stat().st_size / 2**20
        print(f"input: {args.rows:,} rows, {size:,.0f} MB ({args.memo:,}-byte memo)")
        for label, budget in (
            ("peer: pandas, 200,000 rows per chunk", "rows-only"),
            ("kit, no --chunk-mb (4 MB piece cap)", "none"),
            ("kit, --chunk-mb 16 (the default)", str(16 << 20)),
        ):
            r = run_child(str(src), str(Path(tmp) / "out.csv"), budget)
            assert r["rows"] == args.rows, r
            peak = r["peak_kb"] / 1024
            print(f"  {label:<38}: peak RSS {peak:,.0f} MB, {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU")


if __name__ == "__main__":
    main()
