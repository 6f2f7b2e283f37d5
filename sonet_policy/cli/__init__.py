"""The command line, on top of the library: each command parses its flags, calls the library and prints.

Nothing in the package imports this folder. :data:`COMMANDS` names every command, its one-line summary and
whether it reads a rule book (then it takes ``--rules``); a command's module (``cli/<name>.py``, with
``add_arguments(parser)`` and ``run(args) -> int``) is imported only when that command runs, so ``--help`` and
``--version`` start without pandas. The exit codes live in one place, :mod:`sonet_policy.cli.main`.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    """A sub-command: the module under ``sonet_policy.cli`` that holds it, its line in ``--help``, and whether it
    reads one rule book (then it takes ``--rules``)."""

    module: str
    summary: str
    rules: bool = True


COMMANDS: dict[str, Command] = {
    "explain": Command("explain", "one customer's answers with the rules and the Japanese clauses behind them"),
    "evaluate": Command("evaluate", "answer every row of a scenario file (streamed in chunks) into an answers file"),
    "build-devices": Command(
        "build_devices", "rebuild the device catalogue (data/devices.csv) from the page's tables", rules=False
    ),
    "audit": Command(
        "audit",
        "list gaps, conflicts, overlaps, dead rules, uncited clauses, inconsistencies across decisions and "
        "stale citations of a rule book",
    ),
    "diff": Command("diff", "compare two rule books: the scenarios whose answers change", rules=False),
    "export-dmn": Command("export_dmn", "write the rule book as DMN 1.3 decision tables (XML)"),
    "export-jdm": Command("export_jdm", "write the rule book as a JDM decision graph (JSON) for GoRules zen-engine"),
    "population": Command("population", "write a synthetic customer base (CSV) for impact counts", rules=False),
    "possible": Command("possible", "what each decision can still answer when only some inputs are known"),
    "message": Command(
        "message", "the customer message in Japanese for the inputs known so far (the page's own sentences)"
    ),
    "proposal": Command(
        "proposal", "start (new) or validate and diff (check) an edited copy of the rule book", rules=False
    ),
    "source": Command("source", "compare a revised page with the book's clauses, or absorb it into a proposal"),
}

# The exit codes, in one place: 0 done; 1 a runtime or I/O error; 2 a usage error or bad data; 3 findings named by
# ``audit --fail-on``; 128 + the signal on SIGHUP, SIGINT and SIGTERM, 141 when standard output's reader goes away.
EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, EXIT_FINDINGS = 0, 1, 2, 3
