"""The ``message`` command: the customer message for the inputs known so far, in Japanese."""

from __future__ import annotations

import argparse

from sonet_policy.cli.common import given_inputs, input_flags, rulebook_from
from sonet_policy.engine.message import message_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    input_flags(p, help_suffix="(left out: unknown; the message branches on it or asks for it)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    result = message_of(rulebook=book, **given_inputs(args, book))
    print(result.to_json(indent=2) if args.format == "json" else str(result))
    return 2 if any(s.status == "invalid" for s in result.sections) else 0  # 2: a field to correct
