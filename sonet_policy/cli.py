"""Command line: ``python -m sonet_policy explain|evaluate|build-devices …`` (``--help`` on each).

Other commands (audit, diff, export-dmn, export-jdm) register themselves in :data:`COMMANDS` from their own
modules, each with a one-line summary and whether it reads a rule book (then it takes ``--rules``):
:data:`COMMAND_INFO`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

import pandas as pd

from .errors import RuleBookError, ScenarioError
from .files import BaselineWriteError, Interrupted, OutputError, TargetError, signals_raise, write_atomically
from .rules import RuleBook, default_rulebook, load_rulebook

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}
COMMAND_INFO: dict[str, tuple[str, bool]] = {}  # name -> (one-line summary for --help, takes --rules)
DESCRIPTION = "The So-net 光 電話 cancellation page as decision tables: answer, explain, audit, compare, export."
EPILOG = (
    "exit codes: 0 done; 1 a runtime or I/O error; 2 a usage error or bad data (a broken rule book, an "
    "invalid scenario); 3 audit --fail-on found findings of the kinds named. "
    "'python -m sonet_policy COMMAND --help' gives each command's options."
)


def command(name: str, *, summary: str | None = None, rules: bool = True):
    """Register ``(add_arguments, run)`` for a sub-command: ``summary`` is its line in ``--help`` (default: the
    first line of ``run``'s docstring), ``rules`` whether it takes ``--rules`` (it reads one rule book).

    Returns a decorator that records the pair and returns it unchanged.

    >>> pair = command("hello", summary="say hello", rules=False)((lambda p: None, lambda args: 0))
    >>> COMMAND_INFO.pop("hello"), COMMANDS.pop("hello") is pair
    (('say hello', False), True)
    """

    def wrap(pair):
        COMMANDS[name] = pair
        text = summary if summary is not None else (pair[1].__doc__ or "").strip().split("\n")[0]
        COMMAND_INFO[name] = (text, rules)
        return pair

    return wrap


def rulebook_from(args: argparse.Namespace) -> RuleBook:
    """The rule book named by ``--rules`` (default: the shipped one)."""
    return load_rulebook(args.rules) if getattr(args, "rules", None) else default_rulebook()


_FLAG_BOOK: dict[str, object] = {}  # the --rules folder of this command line (read before the flags are built)


def _flag_book() -> RuleBook:
    rules = _FLAG_BOOK.get("rules")
    if rules:
        try:
            return load_rulebook(rules)
        except RuleBookError:  # reported when the command runs
            pass
    return default_rulebook()


def _flags_of(name: str, headers: tuple[str, ...]) -> list[str]:
    """``--kit-sent`` for ``kit_sent``, plus ``--days`` for an ASCII header alias ``days``."""
    out = [f"--{name.replace('_', '-')}"]
    for h in headers:
        if h.isascii() and h.replace("_", "").replace("-", "").isalnum():
            flag = f"--{h.replace('_', '-')}"
            if flag not in out:
                out.append(flag)
    return out


def input_flags(p: argparse.ArgumentParser, *, help_suffix: str = "") -> None:
    """One option per input of the rule book (``inputs.csv``): ``--<input>`` with ``-`` for ``_``."""
    book = _flag_book()
    taken = {"--rules", "--format", "--help"}
    for name, spec in book.inputs.items():
        flags = [f for f in _flags_of(name, spec.headers) if f not in taken]
        taken.update(flags)
        if spec.type == "boolean":
            what = "yes/no"
        elif spec.type == "integer":
            what = f"a whole number >= {int(spec.minimum)}" + (" (empty: none)" if spec.empty == "null" else "")
        elif spec.type == "catalogue":
            what = f"a value of {spec.catalogue}, any spelling"
        else:
            what = "|".join(spec.domain)
        label = " / ".join(filter(None, [spec.label_ja, spec.label_en]))
        p.add_argument(
            *flags, dest=f"input__{name}", metavar="VALUE", default=None, help=f"{label}: {what} {help_suffix}".strip()
        )


def given_inputs(args: argparse.Namespace, book: RuleBook) -> dict[str, object]:
    """The inputs given on the command line (those left out are not in the dict)."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith("input__") and value is not None and key[len("input__") :] in book.inputs:
            out[key[len("input__") :]] = value
    return out


def _explain_args(p: argparse.ArgumentParser) -> None:
    input_flags(p, help_suffix="(left out: missing; the decisions that read it are not answered)")
    p.add_argument("--format", choices=("text", "json"), default="text")


def _explain_run(args: argparse.Namespace) -> int:
    from .explain import explain

    book = rulebook_from(args)
    exp = explain(rulebook=book, **given_inputs(args, book))
    print(exp.to_json(indent=2) if args.format == "json" else str(exp))
    return 2 if exp.error else 0  # 2: a field is missing or invalid (the answered decisions are still printed)


command("explain", summary="one customer's answers with the rules and the Japanese clauses behind them")(
    (_explain_args, _explain_run)
)


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--input",
        required=True,
        help="scenarios, one customer per row: CSV (UTF-8 with or without BOM, or Shift_JIS/CP932), Excel .xlsx or "
        "Parquet, by extension; - for standard input (CSV unless --format). Headers are read as inputs.csv names "
        "them (the input, its labels, its header_aliases)",
    )
    p.add_argument(
        "--output",
        required=True,
        help="answers to write: the input columns plus the answers, as CSV (UTF-8), .xlsx or .parquet by extension; "
        "- for standard output (CSV unless --output-format)",
    )
    p.add_argument("--format", choices=("csv", "xlsx", "parquet"), default=None, help="the input's format")
    p.add_argument("--output-format", choices=("csv", "xlsx", "parquet"), default=None, help="the output's format")
    p.add_argument("--sheet", default=None, help="the Excel sheet to read: its name, or its number from 1 (default 1)")
    p.add_argument("--chunksize", type=int, default=200_000, help="at most this many rows per chunk")
    p.add_argument("--chunk-mb", type=float, default=16, help="at most about this many MB of input per chunk")
    p.add_argument("--encoding", default=None, help="force an encoding (default: detect utf-8-sig/utf-8/cp932)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--bom", action="store_true", help="start the output with a UTF-8 BOM (for Excel)")
    p.add_argument(
        "--raw", action="store_true", help="keep cells starting with = + - @ as they are (no ' for spreadsheets)"
    )


def _evaluate_run(args: argparse.Namespace) -> int:
    from .io import ScenarioFileError, evaluate_file

    book = rulebook_from(args)
    if args.chunksize < 1 or not 0 < args.chunk_mb < 2**20:  # also refuses nan and inf
        print("error: --chunksize must be at least 1, --chunk-mb between 0 and 1048576", file=sys.stderr)
        return 2
    try:
        summary = evaluate_file(
            args.input,
            args.output,
            chunksize=args.chunksize,
            rulebook=book,
            progress=not args.no_progress,
            encoding=args.encoding,
            bom=args.bom,
            raw=args.raw,
            chunk_bytes=int(args.chunk_mb * 2**20),
            format=args.format,
            output_format=args.output_format,
            sheet=args.sheet,
        )
    except (ScenarioFileError, LookupError) as exc:  # LookupError: an unknown --encoding
        return _fail(f"error: {exc}", 2)
    print(_printable(str(summary)), file=sys.stderr)  # headers come from the file: no terminal escapes
    return 0


command("evaluate", summary="answer every row of a scenario file (streamed in chunks) into an answers file")(
    (_evaluate_args, _evaluate_run)
)


def _devices_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output", default=None, help="where to write (default: data/devices.csv, the one baseline file it writes)"
    )


def _devices_run(args: argparse.Namespace) -> int:
    from .devices import build_catalogue
    from .paths import DEVICES_CSV, INSTALLED

    if INSTALLED and not args.output:  # the shipped catalogue is package data: rebuild it in a checkout
        print("error: an installed kit does not rewrite its own data; give --output FILE", file=sys.stderr)
        return 2
    frame = build_catalogue()
    target = args.output or DEVICES_CSV
    # rebuilding the catalogue is this command's job: the one write of the baseline the kit makes
    write_atomically(target, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"), allow=DEVICES_CSV)
    print(f"{len(frame)} models → {target}")
    return 0


command("build-devices", summary="rebuild the device catalogue (data/devices.csv) from the page's tables", rules=False)(
    (_devices_args, _devices_run)
)


def _load_plugins() -> None:
    """Import the modules that register more commands (absent ones are skipped)."""
    import importlib

    for module in ("audit", "diff", "dmn", "jdm", "population", "possible", "proposals", "revision"):
        try:
            importlib.import_module(f"sonet_policy.{module}")
        except ImportError as exc:
            if exc.name != f"sonet_policy.{module}":
                raise


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (and exit code 2)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (--help lists the options)\n")


def _printable(text: str) -> str:
    """``text`` without terminal control characters (a file name or a cell could hold escape sequences)."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


class _InertTerminal:
    """A terminal stream that shows control characters as ``\\x1b`` …: text from a file (a rule note, a file
    name, a header) cannot move the cursor, clear the screen or retitle the window."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self.terminal = stream  # for the progress bar, whose carriage returns are the kit's own

    def write(self, text: str) -> int:
        self._stream.write(_printable(text))
        return len(text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _fail(message: object, code: int) -> int:
    print(_printable(str(message)), file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 done; 1 a runtime or I/O error (disk full, permission denied); 2 a usage error or bad data (a missing
    column, a broken rule table, a target the kit will not write); 3 findings named by ``audit --fail-on``;
    128 + the signal on SIGHUP (129), SIGINT (130, Ctrl-C) and SIGTERM (143); 141 when the reader of standard
    output goes away. Each error is one line on stderr naming the path.
    """
    from . import __version__
    from .files import rules_in_use

    _load_plugins()
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--rules", default=None)
    _FLAG_BOOK["rules"] = pre.parse_known_args(argv)[0].rules  # the input flags come from this book
    parser = _Parser(prog="python -m sonet_policy", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"sonet-policy {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, title="commands", metavar="COMMAND", parser_class=_Parser
    )
    for name, (add_args, _run) in COMMANDS.items():
        summary, takes_rules = COMMAND_INFO.get(name, ("", True))
        p = sub.add_parser(name, help=summary, description=summary)
        if takes_rules:
            p.add_argument("--rules", default=None, help="rule book folder (default: the shipped data/rules)")
        add_args(p)
    args = parser.parse_args(argv)
    streams = sys.stdout, sys.stderr
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and getattr(stream, "isatty", lambda: False)():
            setattr(sys, name, _InertTerminal(stream))
    try:
        with signals_raise(), rules_in_use(getattr(args, "rules", None)):  # no output inside the book it reads
            return COMMANDS[args.command][1](args)
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
    finally:
        sys.stdout, sys.stderr = streams
