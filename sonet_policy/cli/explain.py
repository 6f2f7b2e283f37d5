"""The ``explain`` command: one customer's answers with the rules and the Japanese clauses behind them."""

from __future__ import annotations

import argparse

from sonet_policy.cli.common import given_inputs, input_flags, rulebook_from
from sonet_policy.engine.explain import explain


def add_arguments(p: argparse.ArgumentParser) -> None:
    input_flags(p, help_suffix="(left out: missing; the decisions that read it are not answered)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def run(args: argparse.Namespace) -> int:
    book = rulebook_from(args)
    exp = explain(rulebook=book, **given_inputs(args, book))
    print(exp.to_json(indent=2) if args.format == "json" else str(exp))
    return 2 if exp.error else 0  # 2: a field is missing or invalid (the answered decisions are still printed)
