"""The ``explain`` command: one customer's answers with the rules and the Japanese clauses behind them."""

from __future__ import annotations

import argparse

from sonet_policy.cli.common import print_for_scenario, scenario_flags
from sonet_policy.engine.explain import explain


def add_arguments(p: argparse.ArgumentParser) -> None:
    scenario_flags(p, help_suffix="(left out: missing; the decisions that read it are not answered)")


def run(args: argparse.Namespace) -> int:
    exp = print_for_scenario(explain, args)
    return 2 if exp.error else 0  # 2: a field is missing or invalid (the answered decisions are still printed)
