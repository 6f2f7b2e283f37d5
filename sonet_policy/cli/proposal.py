"""The ``proposal`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sonet_policy.analysis.population import load_population
from sonet_policy.analysis.proposals import PROPOSALS_ENV, create_proposal, proposals_dir, review_proposal
from sonet_policy.paths import RULES_DIR


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("new", "check"), help="new: copy the baseline; check: validate and diff")
    p.add_argument("name", help="proposal name (a folder under --root) or a folder path for check")
    p.add_argument(
        "--root",
        "--proposals-dir",
        dest="root",
        default=None,
        help=f"where proposals live (default: ${PROPOSALS_ENV}, else proposals/ in the current directory)",
    )
    p.add_argument("--population", default=None, help="check: customer CSV to count who changes answer")


def run(args: argparse.Namespace) -> int:
    if args.action == "new":
        try:
            folder = create_proposal(args.name, root=args.root)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except FileExistsError:
            where = Path(args.root or proposals_dir()) / args.name
            print(
                f"error: proposal {args.name!r} already exists at {where}; edit it or choose another name",
                file=sys.stderr,
            )
            return 2
        print(f"proposal {args.name} → {folder} (a copy of {RULES_DIR}); edit its CSVs, then: proposal check")
        return 0
    root = Path(args.root) if args.root else proposals_dir()
    folder = Path(args.name) if Path(args.name).is_dir() else root / args.name
    population = load_population(args.population) if args.population else None
    review = review_proposal(folder, population=population)
    print(review, file=sys.stdout if review.ok else sys.stderr)
    return 0 if review.ok else 2
