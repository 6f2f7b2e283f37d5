"""The ``build-devices`` command: rebuild the device catalogue from the page's tables."""

from __future__ import annotations

import argparse
import sys

import sonet_policy.paths as paths
from sonet_policy.files.write import write_atomically
from sonet_policy.source.catalogue import build_catalogue


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output", default=None, help="where to write (default: data/devices.csv, the one baseline file it writes)"
    )


def run(args: argparse.Namespace) -> int:
    if paths.INSTALLED and not args.output:  # the shipped catalogue is package data: rebuild it in a checkout
        print("error: an installed kit does not rewrite its own data; give --output FILE", file=sys.stderr)
        return 2
    frame = build_catalogue()
    target = args.output or paths.DEVICES_CSV
    # rebuilding the catalogue is this command's job: the one write of the baseline the kit makes
    write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"), allow=paths.DEVICES_CSV)
    print(f"{len(frame)} models → {target}")
    return 0
