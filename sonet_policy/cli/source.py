"""The ``source`` command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sonet_policy.analysis.proposals import proposals_dir, validate_proposal
from sonet_policy.analysis.revision import compare, review, stamp, update
from sonet_policy.errors import PageError
from sonet_policy.paths import RULES_DIR


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=("diff", "update", "review", "stamp"),
        help="diff NEW.txt: what changed; update NEW.txt --proposal NAME: a proposal on the new page; "
        "review ID… --proposal NAME: a person re-read these rules/clauses; "
        "stamp --proposal NAME: stamp the rules that carry no hash yet",
    )
    p.add_argument("targets", nargs="*", help="the new page (diff, update) or the ids to review")
    p.add_argument("--proposal", default=None, help="proposal name (a folder under --root) or a folder path")
    p.add_argument("--root", default=None, help="where proposals live (default: proposals/)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="diff: text (default) or json")
    p.add_argument("--kind", default=None, help="review: the kind a person read the clauses as (warning, note, rule…)")


def _read_page(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return Path(path).read_text(encoding="cp932")


def run(args: argparse.Namespace) -> int:
    root = Path(args.root) if args.root else proposals_dir()
    if args.action in ("diff", "update") and len(args.targets) != 1:
        print(f"error: source {args.action} takes one page file (NEW.txt)", file=sys.stderr)
        return 2
    if args.action != "diff" and not args.proposal:
        print(f"error: source {args.action} needs --proposal NAME", file=sys.stderr)
        return 2
    if args.action == "diff":
        report = compare(_read_page(args.targets[0]), rulebook=args.rules)
        print(report.to_json(indent=2) if args.format == "json" else str(report))
        return 0
    if args.action == "update":
        try:
            folder, report = update(_read_page(args.targets[0]), args.proposal, base=args.rules or RULES_DIR, root=root)
        except (PageError, ValueError, FileExistsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(str(report))
        print(f"proposal {args.proposal} → {folder}: the new page, clauses.csv, devices.csv and the rules as they were")
        problems = validate_proposal(folder)
        if len(problems):  # e.g. a rule names a model the new page no longer lists: the person edits the rule
            print(f"the proposal does not load yet ({len(problems)} problem(s)); edit its tables:")
            print(problems.to_string(index=False))
        print(f"next: python -m sonet_policy proposal check {args.proposal}")
        return 0
    folder = Path(args.proposal) if Path(args.proposal).is_dir() else root / args.proposal
    if not folder.is_dir():
        print(f"error: no proposal {args.proposal!r} under {root}", file=sys.stderr)
        return 2
    try:
        if args.action == "stamp":
            done = stamp(folder)
            print(f"stamped {len(done)} rules and constraints of {folder}")
            return 0
        if not args.targets:
            print("error: source review takes the rule, constraint or clause ids a person re-read", file=sys.stderr)
            return 2
        done = review(folder, args.targets, kind=args.kind)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"reviewed in {folder}: rules {', '.join(done['rules']) or '-'}; clauses {', '.join(done['clauses']) or '-'}")
    return 0
