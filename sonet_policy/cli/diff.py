"""The ``diff`` command."""

from __future__ import annotations

import argparse
import sys

from sonet_policy.analysis.diff import diff
from sonet_policy.analysis.population import load_population
from sonet_policy.cli.common import table_output_flags
from sonet_policy.files.write_tables import write_tables


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("before", help="rule book folder A (before), e.g. data/rules")
    p.add_argument("after", help="rule book folder B (after), e.g. proposals/my-edit")
    p.add_argument("--population", default=None, help="customer CSV to count who changes answer")
    p.add_argument("--format", choices=("text", "json"), default="text")
    table_output_flags(
        p,
        what="the tables: .csv or .parquet (the changes), .xlsx (a sheet each: changes, summary, and with --population "
        "transitions and counts)",
    )


def run(args: argparse.Namespace) -> int:
    population = load_population(args.population) if args.population else None
    result = diff(args.before, args.after, population=population)
    if args.output:
        tables = {"changes": result.changes, "summary": result.summary()}
        for name in ("transitions", "counts"):
            if getattr(result, name) is not None:
                tables[name] = getattr(result, name)
        write_tables(args.output, tables, raw=args.raw)
        print(f"{len(result.changes)} changed boxes → {args.output}", file=sys.stderr)
        if args.output == "-":
            return 0
    print(result.to_json(indent=2) if args.format == "json" else str(result))
    return 0
