"""The ``export-dmn`` command."""

from __future__ import annotations

import argparse
import sys

from sonet_policy.cli.common import rulebook_from
from sonet_policy.export.dmn import dmn_rules, export_dmn, to_dmn


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default="-", help="the .dmn file to write (default: standard output)")
    p.add_argument(
        "--no-input-values", action="store_true", help="leave out the category domains (inputValues) of the inputs"
    )


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    if args.output == "-":
        sys.stdout.write(to_dmn(book, input_values=not args.no_input_values))
        return 0
    path = export_dmn(args.output, rulebook=book, input_values=not args.no_input_values)
    n = sum(len(dmn_rules(d, rulebook=book)) for d in book.decisions)
    print(f"{len(book.decisions)} decision tables, {n} DMN rules → {path}", file=sys.stderr)
    return 0
