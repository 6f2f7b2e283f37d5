"""The ``evaluate`` command: answer every row of a scenario file into an answers file."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from sonet_policy.book.model import RuleBook
from sonet_policy.cli.common import rulebook_from
from sonet_policy.cli.terminal import printable
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.engine.message import with_messages
from sonet_policy.errors import ScenarioFileError
from sonet_policy.files.stream import evaluate_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        required=True,
        help="scenarios, one customer per row: CSV (UTF-8 with or without BOM, or Shift_JIS/CP932), Excel .xlsx or "
        "Parquet, by extension; - for standard input (CSV unless --format). Headers are read as inputs.csv names "
        "them (the input, its labels, its header_aliases)",
    )
    p.add_argument(
        "--output",
        required=True,
        help="answers to write: the input columns plus the answers, as CSV (UTF-8), .xlsx or .parquet by extension; "
        "- for standard output (CSV unless --output-format)",
    )
    p.add_argument("--format", choices=("csv", "xlsx", "parquet"), default=None, help="the input's format")
    p.add_argument("--output-format", choices=("csv", "xlsx", "parquet"), default=None, help="the output's format")
    p.add_argument("--sheet", default=None, help="the Excel sheet to read: its name, or its number from 1 (default 1)")
    p.add_argument("--chunksize", type=int, default=200_000, help="at most this many rows per chunk")
    p.add_argument("--chunk-mb", type=float, default=16, help="at most about this many MB of input per chunk")
    p.add_argument("--encoding", default=None, help="force an encoding (default: detect utf-8-sig/utf-8/cp932)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--bom", action="store_true", help="start the output with a UTF-8 BOM (for Excel)")
    p.add_argument(
        "--raw", action="store_true", help="keep cells starting with = + - @ as they are (no ' for spreadsheets)"
    )
    p.add_argument(
        "--message",
        action="store_true",
        help="add message_ja: each row's customer message in Japanese (the page's sentences), for a mail merge",
    )


def _with_messages(frame: pd.DataFrame, *, rulebook: RuleBook) -> pd.DataFrame:
    return with_messages(evaluate(frame, rulebook=rulebook), rulebook=rulebook)


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    if args.chunksize < 1 or not 0 < args.chunk_mb < 2**20:  # also refuses nan and inf
        print("error: --chunksize must be at least 1, --chunk-mb between 0 and 1048576", file=sys.stderr)
        return 2
    try:
        summary = evaluate_file(
            args.input,
            args.output,
            evaluate=_with_messages if args.message else evaluate,
            chunksize=args.chunksize,
            rulebook=book,
            progress=not args.no_progress,
            encoding=args.encoding,
            bom=args.bom,
            raw=args.raw,
            chunk_bytes=int(args.chunk_mb * 2**20),
            format=args.format,
            output_format=args.output_format,
            sheet=args.sheet,
        )
    except (ScenarioFileError, LookupError) as exc:  # LookupError: an unknown --encoding
        print(printable(f"error: {exc}"), file=sys.stderr)
        return 2
    print(printable(str(summary)), file=sys.stderr)  # headers come from the file: no terminal escapes
    return 0
