"""The ``audit`` command."""

from __future__ import annotations

import argparse
import json
import sys

from sonet_policy.analysis.audit import KINDS, audit, counts, render_text, rule_usage, to_records
from sonet_policy.cli import EXIT_FINDINGS
from sonet_policy.cli.common import rulebook_from, table_output_flags
from sonet_policy.files.read import read_scenarios
from sonet_policy.files.write_tables import write_tables


def fail_on_kinds(text: str) -> tuple[str, ...]:
    """Parse ``--fail-on``: finding kinds separated by commas, or ``all``; raises ArgumentTypeError otherwise.

    >>> fail_on_kinds("gap, conflict")
    ('gap', 'conflict')
    >>> fail_on_kinds("gaps")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: unknown finding kind 'gaps'; use all or some of: gap, conflict, ...
    """
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    if kinds == ("all",):
        return KINDS
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown finding kind {(unknown or [text])[0]!r}; use all or some of: {', '.join(KINDS)}"
        )
    return kinds


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or json")
    p.add_argument(
        "--fail-on",
        type=fail_on_kinds,
        default=(),
        metavar="KINDS",
        help=f"exit {EXIT_FINDINGS} when findings of these kinds exist, for CI "
        f"(comma-separated: {','.join(KINDS)}, or all); the report is printed either way",
    )
    p.add_argument(
        "--population",
        default=None,
        help="CSV of scenarios (UTF-8 or CP932, Japanese headers read): count the customers in each finding",
    )
    table_output_flags(
        p,
        what="the findings as a table: .csv, .parquet or .xlsx (a sheet of findings, and of rule usage with "
        "--population)",
    )


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    population = read_scenarios(args.population, rulebook=book) if args.population else None
    findings = audit(book, population=population)
    c = counts(findings)
    summary = f"{len(findings)} findings: " + ", ".join(f"{v} {k}" for k, v in c.items())
    if args.output == "-":  # the table is standard output: no report beside it
        pass
    elif args.format == "json":
        print(json.dumps(to_records(findings), ensure_ascii=False, indent=2))
        print(summary, file=sys.stderr)
    else:
        usage = rule_usage(book, population) if population is not None else None
        print(render_text(findings, book=book, usage=usage))
    if args.output:
        tables = {"findings": findings}
        if population is not None:
            tables["rule_usage"] = rule_usage(book, population)
        write_tables(args.output, tables, raw=args.raw)
        print(f"{summary} → {args.output}", file=sys.stderr)
    failing = {k: c[k] for k in args.fail_on if c[k]}
    if failing:
        listed = ", ".join(f"{v} {k}" for k, v in failing.items())
        print(f"audit failed: {listed} (--fail-on {','.join(args.fail_on)})", file=sys.stderr)
        return EXIT_FINDINGS
    return 0
