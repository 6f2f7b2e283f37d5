"""The ``possible`` command: what each decision can still answer when only some inputs are known."""

from __future__ import annotations

import argparse

from sonet_policy.cli.common import print_for_scenario, scenario_flags
from sonet_policy.engine.possible import possible


def add_arguments(p: argparse.ArgumentParser) -> None:
    scenario_flags(p, help_suffix="(leave out what is not known)")


def run(args: argparse.Namespace) -> int:
    print_for_scenario(possible, args)
    return 0
