"""The ``possible`` command."""

from __future__ import annotations

import argparse

from sonet_policy.cli.common import given_inputs, input_flags, rulebook_from
from sonet_policy.engine.possible import possible


def add_arguments(p: argparse.ArgumentParser) -> None:

    input_flags(p, help_suffix="(leave out what is not known)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:

    book = rulebook_from(args)
    result = possible(rulebook=book, **given_inputs(args, book))
    print(result.to_json(indent=2) if args.format == "json" else str(result))
    return 0
