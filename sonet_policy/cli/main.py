"""``sonet-policy COMMAND …`` (``--help`` on each): the parser, the exit codes and the one-line errors.

Only the command that runs is imported (:data:`sonet_policy.cli.COMMANDS` names each command's module), so
``--help`` and ``--version`` start without pandas; a command reads its rule book once.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from typing import NoReturn

from sonet_policy.cli import COMMANDS
from sonet_policy.cli.terminal import InertTerminal, printable

DESCRIPTION = "The So-net 光 電話 cancellation page as decision tables: answer, explain, audit, compare, export."
EPILOG = (
    "exit codes: 0 done; 1 a runtime or I/O error; 2 a usage error or bad data (a broken rule book, an "
    "invalid scenario); 3 audit --fail-on found findings of the kinds named. "
    "'python -m sonet_policy COMMAND --help' gives each command's options."
)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def _fail(message: object, code: int) -> int:
    print(printable(str(message)), file=sys.stderr)
    return code


def _chosen(argv: list[str]) -> str | None:
    """The command named on the command line (the first word that is one), if any."""
    return next((a for a in argv if a in COMMANDS), None)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser: every command listed with its summary; only the chosen one's options (and module) loaded."""
    from sonet_policy import __version__

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--rules", default=None)
    rules = pre.parse_known_args(argv)[0].rules  # the input flags come from this book
    parser = _Parser(prog="python -m sonet_policy", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"sonet-policy {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, title="commands", metavar="COMMAND", parser_class=_Parser
    )
    chosen = _chosen(argv)
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.summary, description=cmd.summary)
        if name != chosen:
            continue
        from sonet_policy.cli import common

        common.new_run()  # a folder may have changed since the last command line of this process
        if cmd.rules:
            p.add_argument("--rules", default=rules, help="rule book folder (default: the shipped data/rules)")
        module = importlib.import_module(f"sonet_policy.cli.{cmd.module}")
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 done; 1 a runtime or I/O error (disk full, permission denied); 2 a usage error or bad data (a missing
    column, a broken rule table, a target the kit will not write); 3 findings named by ``audit --fail-on``;
    128 + the signal on SIGHUP (129), SIGINT (130, Ctrl-C) and SIGTERM (143); 141 when the reader of standard
    output goes away. Each error is one line on stderr naming the path.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    streams = sys.stdout, sys.stderr
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and getattr(stream, "isatty", lambda: False)():
            setattr(sys, name, InertTerminal(stream))
    try:
        return _run(args)
    finally:
        sys.stdout, sys.stderr = streams


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; every error a user can cause becomes one line and its exit code (here only)."""
    import pandas as pd

    from sonet_policy.errors import RuleBookError, ScenarioError
    from sonet_policy.files.write import (
        BaselineWriteError,
        Interrupted,
        OutputError,
        TargetError,
        rules_in_use,
        signals_raise,
    )

    try:
        with signals_raise(), rules_in_use(getattr(args, "rules", None)):  # no output inside the book it reads
            return int(args.run(args))
    except RuleBookError as exc:
        return _fail(exc, 2)
    except ScenarioError as exc:  # an unreadable scenario or population file: the message names file and field
        return _fail(f"error: {exc}", 2)
    except (TargetError, BaselineWriteError) as exc:
        return _fail(f"error: {exc}", 2)
    except OutputError as exc:
        return _fail(f"error: {exc}", 1)
    except (FileNotFoundError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return _fail(f"error: {exc}", 2)
    except BrokenPipeError:  # `... --output - | head`: the reader has what it wanted
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except OSError:
            pass
        return 128 + signal.SIGPIPE
    except OSError as exc:  # reading or writing failed: permission denied, an I/O error …
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"error: {where}{exc.strerror or exc}", 1)
    except MemoryError:
        return _fail("error: out of memory; evaluate --input streams: lower --chunk-mb or --chunksize", 1)
    except KeyboardInterrupt:
        return _fail("interrupted (Ctrl-C): stopped; no output file was replaced", 128 + signal.SIGINT)
    except Interrupted as exc:
        return _fail(f"{exc}: stopped; no output file was replaced", 128 + exc.signum)
