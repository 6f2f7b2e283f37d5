"""Peak memory of streaming ``evaluate --input`` on wide rows: chunks bounded by rows only vs by bytes too.

Issue 9 item 8: 100,000 rows with a 3 KB memo column peaked at 967 MB when chunks were bounded by rows only
(200,000 rows: the whole file in one chunk). Each run is a fresh child process; its peak RSS (VmHWM) is read
from /proc. The peer is the same kit with ``chunk_bytes=None`` (rows only, as before); a baseline child that
only loads the rule book shows what the kit costs before any row.

    python benchmarks/bench_memory.py                  # 100,000 rows, 3,000-byte memo
    python benchmarks/bench_memory.py --rows 200000 --memo 5000
"""

from __future__ import annotations

import argparse
import json
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
from sonet_policy.io import evaluate_file
from sonet_policy.rules import default_rulebook
book = default_rulebook(); book.compiled()
budget = None if sys.argv[3] == "none" else int(sys.argv[3])
t0 = time.perf_counter()
rows = 0
if sys.argv[1] != "-":
    rows = evaluate_file(sys.argv[1], sys.argv[2], rulebook=book, progress=False, chunk_bytes=budget).rows
print(json.dumps(dict(seconds=time.perf_counter() - t0, rows=rows, peak_kb=peak_kb())))
"""


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--memo", type=int, default=3_000, help="bytes (UTF-8) of the memo column per row")
    args = parser.parse_args()
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
            ("rows only (200,000 rows per chunk; before)", "none"),
            ("16 MB per chunk (now)", str(16 << 20)),
        ):
            r = run_child(str(src), str(Path(tmp) / "out.csv"), budget)
            assert r["rows"] == args.rows, r
            print(f"  {label:<44}: peak RSS {r['peak_kb'] / 1024:,.0f} MB, {r['seconds']:.1f} s")


if __name__ == "__main__":
    main()
