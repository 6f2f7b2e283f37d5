"""Streaming evaluation of a big scenario file: rows per second and peak memory (RSS).

Generates CSV files of N rows (labels as people type them, a few invalid rows, a blank line every so often,
an extra column), then runs ``evaluate_file`` in a fresh child process for each size and reads the child's
peak RSS. Bounded memory shows as the same peak for 0.5 M and 2 M rows; a baseline child that only loads the
rule book shows what the kit costs before any row.

    python benchmarks/bench_stream.py                 # 500,000 and 2,000,000 rows, chunks of 200,000
    python benchmarks/bench_stream.py --rows 10000000 --chunksize 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, resource, sys, time

def peak_kb():
    # VmHWM: this process's own peak RSS (ru_maxrss would carry the parent's peak over fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
from sonet_policy.io import evaluate_file
from sonet_policy.rules import default_rulebook
book = default_rulebook(); book.compiled()
t0 = time.perf_counter()
summary = None
if sys.argv[1] != "-":
    summary = evaluate_file(sys.argv[1], sys.argv[2], chunksize=int(sys.argv[3]), rulebook=book, progress=False)
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(seconds=seconds, cpu=usage.ru_utime + usage.ru_stime, rows=summary.rows if summary else 0,
                      blank=summary.blank_lines if summary else 0,
                      status=summary.status if summary else {},
                      peak_kb=peak_kb())))
"""


def generate(path: Path, rows: int, *, seed: int = 0, chunk: int = 250_000) -> int:
    """Write ``rows`` scenario rows (plus a blank line every 100,000 rows) in chunks; returns blank lines."""
    from sonet_policy.rules import default_rulebook

    rng = np.random.default_rng(seed)
    models = np.array(list(default_rulebook().models) + ["PR-600kl", "ＰＲ－６００ＫＩ", "rv 230 se"], dtype=object)
    blanks = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("エリア,プラン,機器名,利用環境,番号継続,電話機能停止からの日数,顧客ID\n")
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
            frame.to_csv(out, header=False, index=False)
            if (start // chunk) % 2 == 1:
                out.write(",,,,,,\n")
                blanks += 1
    return blanks


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[500_000, 2_000_000])
    parser.add_argument("--chunksize", type=int, default=200_000)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, pandas {pd.__version__}")
    base = run_child("-", "-", "0")
    print(f"baseline (import + load + compile the rule book): peak RSS {base['peak_kb'] / 1024:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            src, dst = Path(tmp) / f"in{rows}.csv", Path(tmp) / f"out{rows}.csv"
            t0 = time.perf_counter()
            blanks = generate(src, rows)
            gen = time.perf_counter() - t0
            result = run_child(str(src), str(dst), str(args.chunksize))
            assert result["rows"] == rows and result["blank"] == blanks, result
            with open(dst, "rb") as handle:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b""))
            assert lines == rows + 1, (lines, rows)  # header + every row
            size = src.stat().st_size / 2**20
            print(
                f"{rows:>11,} rows ({size:,.0f} MB in, {dst.stat().st_size / 2**20:,.0f} MB out, chunks of "
                f"{args.chunksize:,}): {result['seconds']:.1f} s ({result['cpu']:.1f} s CPU, all of the child), "
                f"{rows / result['seconds']:,.0f} rows/s, "
                f"peak RSS {result['peak_kb'] / 1024:,.0f} MB; status {result['status']}; "
                f"{blanks} blank lines skipped; generated in {gen:.1f} s"
            )
            src.unlink()
            dst.unlink()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(this process, which generated the files: peak RSS {own:,.0f} MB)")


if __name__ == "__main__":
    main()
