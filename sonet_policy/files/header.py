"""What the header of a customer file says: which column names which input, which columns pass through.

Japanese and loosely typed column names are mapped onto the inputs by the names ``inputs.csv`` gives them (the
input, its labels, its ``header_aliases``); a required input that no column names, a name written twice or two
columns naming one input is :class:`ScenarioFileError` before any row is read, whatever the format.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioFileError


@dataclass
class ScenarioFileInfo:
    """What the reader found: the encoding (or the sheet, or Parquet), how each header maps to an input, the
    extra columns."""

    path: str
    encoding: str
    columns: list[str]  # as in the file
    renamed: dict[str, str]  # file header -> input name, where they differ
    extra: list[str]  # columns that are not inputs: passed through to the output
    missing_optional: list[str] = field(default_factory=list)


def cut(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for a message.

    >>> cut("x" * 50, 5)
    'xxxx…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    return "_".join(text.replace("-", " ").split())


def header_map(columns: list[str], *, rulebook: RuleBook | None = None) -> dict[str, str]:
    """The input each column names (columns that name none are left out).

    >>> header_map(["エリア", " Plan ", "機器名", "keep-number", "memo"])
    {'エリア': 'area', ' Plan ': 'plan', '機器名': 'device', 'keep-number': 'keep_number'}
    """
    book = rulebook or default_rulebook()
    lookup = book.header_lookup()  # the names inputs.csv gives each input (name, labels, header_aliases)
    return {c: lookup[_key(c)] for c in columns if _key(c) in lookup and lookup[_key(c)] in book.inputs}


def header_info(
    where: str,
    columns: list[str],
    *,
    rulebook: RuleBook,
    encoding: str,
    raw: list[str] | None = None,
    hint: str = "",
    path: str | None = None,
) -> ScenarioFileInfo:
    """Check the header ``columns`` of a scenario source named ``where`` (a file, a sheet, a Parquet schema):
    no name twice (``raw``: the names as written, before a reader renamed empty ones), no input named by two
    columns, every required input present (``hint`` is added to that message). Returns the
    :class:`ScenarioFileInfo` of the file ``path`` (default ``where``); raises :class:`ScenarioFileError`
    naming ``where`` and the columns.

    >>> header_info("s.csv", ["エリア", "memo", "memo"], rulebook=default_rulebook(), encoding="utf-8")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: s.csv: columns 2 and 3 are both named 'memo'; rename or remove one
    """
    path = where if path is None else path
    _refuse_duplicates(where, raw if raw is not None else columns, path)
    mapping = header_map(columns, rulebook=rulebook)
    named: dict[str, list[str]] = {}
    for col, name in mapping.items():
        named.setdefault(name, []).append(col)
    for name, cols in named.items():
        if len(cols) > 1:
            raise ScenarioFileError(
                f"{where}: columns {', '.join(repr(cut(c)) for c in cols)} all name the input {name!r}; keep one",
                path=path,
                field=name,
            )
    required = [n for n, spec in rulebook.inputs.items() if spec.required]
    missing = [n for n in required if n not in named]
    if missing:
        labels = {n: rulebook.inputs[n].label_ja for n in missing}
        wanted = ", ".join(f"{n!r} ({labels[n]})" if labels[n] else repr(n) for n in missing)
        raise ScenarioFileError(
            f"{where}: required column {wanted} is missing; it has "
            f"{', '.join(repr(cut(c)) for c in columns[:20]) or 'none'}{hint}",
            path=path,
            field=missing[0],
        )
    return ScenarioFileInfo(
        path=path,
        encoding=encoding,
        columns=columns,
        renamed={c: n for c, n in mapping.items() if c != n},
        extra=[c for c in columns if c not in mapping],
        missing_optional=[n for n in rulebook.inputs if n not in named and n not in required],
    )


def _refuse_duplicates(where: str, names: list[str], path: str) -> None:
    seen: dict[str, int] = {}
    for k, name in enumerate(names):
        if name.strip() and name in seen:  # a reader would rename the second one and the input would be lost
            raise ScenarioFileError(
                f"{where}: columns {seen[name] + 1} and {k + 1} are both named {cut(name)!r}; rename or remove one",
                path=path,
                field=name,
            )
        seen[name] = k
