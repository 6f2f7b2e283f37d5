"""The rule book as data: frozen records of the parsed tables (:class:`Rule`, :class:`Constraint`,
:class:`InputSpec`, :class:`DecisionSpec`) and the :class:`RuleBook` that holds them with its typed cache.

A rule book is built by :func:`sonet_policy.book.load.load_rulebook`, which reads and validates a folder; the
records here hold what it read and derive nothing from files.

>>> from sonet_policy.book.load import default_rulebook
>>> book = default_rulebook()
>>> book.rule_index["WIFI-3"].decision, book.inputs["days_since_phone_stop"].kind
('wifi', 'integer')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from sonet_policy.book.cache import BookCache, Slot
from sonet_policy.book.compile import CompiledBook
from sonet_policy.book.compile import compiled as compiled_book
from sonet_policy.book.conditions import Condition
from sonet_policy.text import header_key

_HEADER_LOOKUP: Slot[dict[str, str]] = Slot("header_lookup")
_CODE_INFO: Slot[dict[tuple[str, str], dict[str, str]]] = Slot("code_info")


@dataclass(frozen=True)
class Rule:
    """One parsed row of a decision table."""

    rule_id: str
    decision: str
    row: int
    conditions: dict[str, Condition]
    outputs: tuple[tuple[str, str], ...]
    exception_of: tuple[str, ...]
    source: tuple[str, ...]
    note: str = ""

    @property
    def answer(self) -> str:
        """The primary output: the decision's code."""
        return self.outputs[0][1]

    def output(self, name: str) -> str:
        return dict(self.outputs).get(name, "")


@dataclass(frozen=True)
class Constraint:
    """An input combination the page rules out."""

    constraint_id: str
    row: int
    conditions: dict[str, Condition]
    field: str
    message: str
    source: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class InputSpec:
    """One declared input (a row of ``inputs.csv``).

    ``type``: ``category`` (``domain`` lists the values), ``catalogue`` (the values are the first column of the
    CSV ``catalogue`` names; labels are matched by their letters and digits), ``boolean`` (``domain`` is
    false, true) or ``integer`` (whole numbers from ``minimum``; cut into intervals at the rules' bounds).
    ``empty``: what an empty cell means: ``error`` (a missing value), ``null`` (a value of its own, an integer
    input's ``null`` cells) or one value of the domain. ``aliases`` maps a typed spelling (see
    :func:`sonet_policy.text.value_key`) to its value; ``headers`` are other column names of the input.
    """

    name: str
    type: str
    domain: tuple[str, ...]
    required: bool
    minimum: float = 0
    label_ja: str = ""
    description: str = ""
    label_en: str = ""
    empty: str = "error"
    aliases: dict[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()
    order: int = 0
    catalogue: str = ""

    @property
    def kind(self) -> str:
        """How the engine reads it: ``category`` (category and catalogue), ``boolean`` or ``integer``."""
        return "category" if self.type == "catalogue" else self.type


@dataclass(frozen=True)
class DecisionSpec:
    name: str
    hit_policy: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    question_en: str = ""
    question_ja: str = ""


@dataclass
class RuleBook:
    """A validated rule book. ``rules[decision]`` lists parsed rules in table order; ``inputs`` are in their
    declared display order (``inputs.csv`` column ``order``)."""

    folder: Path
    decisions: dict[str, DecisionSpec]
    inputs: dict[str, InputSpec]
    codes: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    rules: dict[str, list[Rule]]
    constraints: list[Constraint]
    clauses: pd.DataFrame
    devices: pd.DataFrame
    hash: str
    catalogues: dict[str, pd.DataFrame] = field(default_factory=dict)
    cache: BookCache = field(default_factory=BookCache, repr=False, compare=False)

    @property
    def models(self) -> tuple[str, ...]:
        """The values of the book's first catalogue input (empty when it has none)."""
        return tuple(self.devices.iloc[:, 0]) if len(self.devices.columns) else ()

    @property
    def input_order(self) -> tuple[str, ...]:
        """The input names in display order."""
        return tuple(self.inputs)

    @cached_property
    def rule_index(self) -> dict[str, Rule]:
        return {r.rule_id: r for rules in self.rules.values() for r in rules}

    def header_lookup(self) -> dict[str, str]:
        """Header key (:func:`sonet_policy.text.header_key`) -> input, for every name a column may carry: the
        input's own name, its labels and its ``header_aliases``."""
        return self.cache.get(_HEADER_LOOKUP, self._header_lookup)

    def _header_lookup(self) -> dict[str, str]:
        lookup = {}
        for name, spec in self.inputs.items():
            for alias in (*spec.headers, spec.label_en, spec.label_ja, name):
                if alias:
                    lookup[header_key(alias)] = name
        return lookup

    def code_info(self, decision: str, code: str) -> dict[str, str]:
        """Labels of one code (Japanese, English, next step); empty strings where the book has none."""
        found = self.cache.get(_CODE_INFO, self._code_info).get((decision, code))
        empty = {"code": code, "label_ja": "", "label_en": "", "next_step_en": "", "next_step_ja": ""}
        return dict(found) if found else empty

    def _code_info(self) -> dict[tuple[str, str], dict[str, str]]:
        """One dict per book: explain asks for labels on every call."""
        c = self.codes
        nxt = c["next_step_en"] if "next_step_en" in c else [""] * len(c)
        nxt_ja = c["next_step_ja"] if "next_step_ja" in c else [""] * len(c)  # optional column
        return {
            (d, k): {"code": k, "label_ja": ja, "label_en": en, "next_step_en": nx, "next_step_ja": nj}
            for d, k, ja, en, nx, nj in zip(
                c["decision"], c["code"], c["label_ja"], c["label_en"], nxt, nxt_ja, strict=True
            )
        }

    def priority(self, decision: str) -> list[str]:
        """The decision's answer codes in the order ``codes.csv`` lists them (PRIORITY: first wins)."""
        rows = self.codes[(self.codes["decision"] == decision) & (self.codes["role"] == "answer")]
        return list(rows["code"])

    def compiled(self) -> CompiledBook:
        """The compiled form (cached on the book): see :func:`sonet_policy.book.compile.compiled`."""
        return compiled_book(self)
