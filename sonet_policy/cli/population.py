"""The ``population`` command."""

from __future__ import annotations

import argparse
import sys

from sonet_policy.analysis.population import synthetic_population
from sonet_policy.files.write_tables import write_tables


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; the number of customers is 0 or more")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; the seed is a whole number 0 or more")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=_count, default=100_000, help="number of synthetic customers (default 100000)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed, 0 or more (default 0)")
    p.add_argument(
        "--output", required=True, help="file to write: .csv, .parquet or .xlsx by extension; - for stdout (CSV)"
    )
    p.add_argument("--raw", action="store_true", help="keep cells starting with = + - @ as they are")


def run(args: argparse.Namespace) -> int:
    frame = synthetic_population(args.n, seed=args.seed)
    write_tables(args.output, {"customers": frame}, raw=args.raw, lineterminator="\n")
    print(f"{len(frame)} SYNTHETIC customers (seed {args.seed}) → {args.output}", file=sys.stderr)
    return 0
