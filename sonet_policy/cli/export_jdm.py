"""The ``export-jdm`` command."""

from __future__ import annotations

import argparse
import json
import sys

from sonet_policy.cli.common import rulebook_from
from sonet_policy.export.jdm import to_jdm
from sonet_policy.files.write import write_atomically


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", default="-", help="the .json file to write (default: standard output)")


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    try:
        graph = to_jdm(book)
    except ValueError as exc:  # a name the graph cannot carry: one line, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(graph, ensure_ascii=False, indent=2) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    write_atomically(args.output, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    rows = sum(len(n["content"]["rules"]) for n in graph["nodes"] if n["name"] in book.decisions)
    print(
        f"{len(book.decisions)} decision tables (collect), {rows} rows, 1 table of invalid combinations → "
        f"{args.output}",
        file=sys.stderr,
    )
    return 0
