"""What several commands share: the rule book a command reads (loaded once per run) and one flag per input."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from sonet_policy.book.load import default_rulebook, load_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import RuleBookError

_BOOKS: dict[str, RuleBook] = {}  # the --rules folder of this run -> its book, so a command loads it once


def new_run() -> None:
    """Forget the books of the previous command line (a folder may have changed since)."""
    _BOOKS.clear()


def book_of(rules: str | None) -> RuleBook:
    """The rule book in ``rules`` (default: the shipped one), loaded once per process and folder."""
    if not rules:
        return default_rulebook()
    if rules not in _BOOKS:
        _BOOKS[rules] = load_rulebook(rules)
    return _BOOKS[rules]


def rulebook_from(args: argparse.Namespace) -> RuleBook:
    """The rule book named by ``--rules`` (default: the shipped one)."""
    return book_of(getattr(args, "rules", None))


def _flags_of(name: str, headers: tuple[str, ...]) -> list[str]:
    """``--kit-sent`` for ``kit_sent``, plus ``--days`` for an ASCII header alias ``days``.

    >>> _flags_of("days_since_phone_stop", ("days", "日数"))
    ['--days-since-phone-stop', '--days']
    """
    out = [f"--{name.replace('_', '-')}"]
    for h in headers:
        if h.isascii() and h.replace("_", "").replace("-", "").isalnum():
            flag = f"--{h.replace('_', '-')}"
            if flag not in out:
                out.append(flag)
    return out


def input_flags(p: argparse.ArgumentParser, *, help_suffix: str = "") -> None:
    """One option per input of the rule book the command reads (``inputs.csv``): ``--<input>`` with ``-`` for ``_``.

    The book is the default of the parser's ``--rules`` (the command line's, read before the flags are built). A
    book that does not load gives the shipped book's flags; the command then reports the broken book.
    """
    try:
        book = book_of(p.get_default("rules"))
    except RuleBookError:
        book = default_rulebook()
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


def table_output_flags(p: argparse.ArgumentParser, *, what: str) -> None:
    """``--output`` (also write ``what``) and ``--raw`` (keep formula-like cells as they are)."""
    p.add_argument("--output", default=None, help=f"also write {what}; - for standard output")
    p.add_argument("--raw", action="store_true", help="with --output: keep cells starting with = + - @ as they are")


def scenario_flags(p: argparse.ArgumentParser, *, help_suffix: str) -> None:
    """The flags of a command about one scenario: one per input, and ``--format text|json``."""
    input_flags(p, help_suffix=help_suffix)
    p.add_argument("--format", choices=("text", "json"), default="text")


def print_for_scenario(function: Callable[..., Any], args: argparse.Namespace) -> Any:
    """Call ``function(rulebook=…, **the inputs given)`` and print its result as ``--format`` asks; returns it."""
    book = rulebook_from(args)
    result = function(rulebook=book, **given_inputs(args, book))
    print(result.to_json(indent=2) if args.format == "json" else str(result))
    return result


def given_inputs(args: argparse.Namespace, book: RuleBook) -> dict[str, object]:
    """The inputs given on the command line (those left out are not in the dict)."""
    out = {}
    for key, value in vars(args).items():
        if key.startswith("input__") and value is not None and key[len("input__") :] in book.inputs:
            out[key[len("input__") :]] = value
    return out
