"""``inputs.csv``: each input's declaration (type, domain, required, what an empty cell means, labels, value and
header aliases, display order), the catalogues that ``catalogue`` inputs name, and value aliases.

An input's ``type`` is ``category`` (``domain`` lists the values), ``catalogue`` (``domain`` names a CSV whose
first column holds the values), ``boolean`` or ``integer`` (``domain`` reads ``>=N``). Value aliases are
written ``value: spelling|spelling; value: …``.

>>> problems = Problems()
>>> aliases = parse_aliases("east: 東日本|ひがし", "area", "category", ("east", "west"), 2, problems)
>>> aliases["ひがし"], problems
('east', [])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sonet_policy.book.conditions import PLAIN_VALUE
from sonet_policy.book.csvfile import NAME, Problems, regular_file, split_cell
from sonet_policy.book.model import InputSpec
from sonet_policy.paths import DATA_DIR
from sonet_policy.text import header_key, value_key

FILE = "inputs.csv"
INPUTS_REQUIRED = ("input", "type", "domain", "required")
INPUT_TYPES = ("category", "catalogue", "boolean", "integer")
INPUT_COLUMNS = (
    "input",
    "type",
    "domain",
    "required",
    "empty",
    "label_ja",
    "label_en",
    "question_ja",
    "value_aliases",
    "header_aliases",
    "order",
    "description",
)
#: The words a boolean input reads as true / false when inputs.csv adds none (after NFKC and lower case).
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "はい"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "いいえ"})
_INTEGER_DOMAIN = re.compile(r">=\s*(-?\d{1,15})")


@dataclass
class Catalogues:
    """The catalogues the inputs name, by input, as they are read (None: one that could not be read), and the
    files read. ``devices_path``, when given, replaces the CSV a catalogue input names."""

    folder: Path
    devices_path: Path | None
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    def failed(self) -> bool:
        return any(table is None for table in self.tables.values())


def parse_inputs(frame: pd.DataFrame | None, catalogues: Catalogues, problems: Problems) -> dict[str, InputSpec]:
    """Every declared input, in display order (``order``, then the row); the catalogues they name are read into
    ``catalogues``."""
    if frame is None:
        return {}
    for c in frame.columns:
        if c not in INPUT_COLUMNS:
            problems.add(FILE, 0, c, "", problem=f"unknown column; inputs.csv has {', '.join(INPUT_COLUMNS)}")
    specs: list[tuple[int, int, InputSpec]] = []
    seen: set[str] = set()
    for i, rec in frame.iterrows():
        row = int(i) + 2
        spec = _parse_input(rec, row, seen, catalogues, problems)
        if spec is not None:
            specs.append((spec.order, row, spec))
    specs.sort(key=lambda t: (t[0], t[1]))
    inputs = {spec.name: spec for _, _, spec in specs}
    _check_headers(inputs, problems)
    return inputs


def _parse_input(
    rec: pd.Series, row: int, seen: set[str], catalogues: Catalogues, problems: Problems
) -> InputSpec | None:
    """One row of inputs.csv (None where it declares no usable input; its problems are listed either way)."""
    name, type_ = rec["input"], rec["type"]
    ok = True
    if not NAME.fullmatch(name):
        problems.add(FILE, row, "input", name, problem="an input name is letters, digits and '_'")
        ok = False
    if name in seen:
        problems.add(FILE, row, "input", name, problem="input is declared twice")
        ok = False
    seen.add(name)
    if type_ not in INPUT_TYPES:
        problems.add(FILE, row, "type", type_, problem=f"type must be one of {', '.join(INPUT_TYPES)}")
        return None
    required = rec["required"].lower()
    if required not in ("true", "false"):
        problems.add(FILE, row, "required", rec["required"], problem="required must be true or false")
    found = _domain(rec, name, type_, row, catalogues, problems)
    if found is None:
        return None
    minimum, domain = found
    empty = _empty(rec, type_, required, domain, row, problems)
    order = _order(rec, row, problems)
    aliases = parse_aliases(rec.get("value_aliases", ""), name, type_, domain, row, problems)
    if not ok:
        return None
    return InputSpec(
        name,
        type_,
        domain,
        required == "true",
        minimum,
        rec.get("label_ja", ""),
        rec.get("description", ""),
        rec.get("label_en", ""),
        empty,
        aliases,
        split_cell(rec.get("header_aliases", "")),
        order,
        rec["domain"] if type_ == "catalogue" else "",
    )


def _domain(
    rec: pd.Series, name: str, type_: str, row: int, catalogues: Catalogues, problems: Problems
) -> tuple[float, tuple[str, ...]] | None:
    """The input's minimum (integer inputs) and domain; None when the catalogue it names cannot be read."""
    minimum, domain = 0.0, ()
    if type_ == "integer":
        m = _INTEGER_DOMAIN.fullmatch(rec["domain"])
        if m:
            minimum = float(int(m.group(1)))
        else:
            problems.add(FILE, row, "domain", rec["domain"], problem="integer domain must read >=N")
    elif type_ == "boolean":
        domain = ("false", "true")
        if rec["domain"] and set(split_cell(rec["domain"].lower())) != {"true", "false"}:
            problems.add(FILE, row, "domain", rec["domain"], problem="a boolean's domain is true|false")
    elif type_ == "category":
        domain = split_cell(rec["domain"])
        _check_category(domain, rec["domain"], row, problems)
    else:
        path, table = _catalogue(rec["domain"], catalogues, row, problems)
        catalogues.tables[name] = table
        if table is None:
            return None
        domain = tuple(table.iloc[:, 0])
        catalogues.files.append(path)
    return minimum, domain


def _check_category(domain: tuple[str, ...], cell: str, row: int, problems: Problems) -> None:
    if not domain:
        problems.add(FILE, row, "domain", cell, problem="a category lists its values: a|b|c")
    for k, value in enumerate(domain):
        if not PLAIN_VALUE.match(value):
            problems.add(FILE, row, "domain", value, problem="a domain value is letters, digits, '_' and '-'")
        if value in domain[:k]:
            problems.add(FILE, row, "domain", value, problem="the domain lists this value twice")


def _empty(rec: pd.Series, type_: str, required: str, domain: tuple[str, ...], row: int, problems: Problems) -> str:
    """What an empty cell means: ``error``, ``null`` or a value of the domain (by default: error when the input
    is required, else null)."""
    empty = (rec.get("empty", "") or ("error" if required == "true" else "null")).strip()
    empty = empty.lower() if type_ == "boolean" else empty
    if empty == "null" and type_ != "integer":
        problems.add(FILE, row, "empty", empty, problem="null is for integer inputs; write error or a value")
    elif empty not in ("error", "null") and empty not in domain:
        problems.add(FILE, row, "empty", empty, problem="empty must be error, null or a value of the domain")
    elif empty == "error" and required == "false":
        problems.add(FILE, row, "empty", empty, problem="an optional input says what empty means (null or a value)")
    return empty


def _order(rec: pd.Series, row: int, problems: Problems) -> int:
    """The display order (by default the row)."""
    order_text = rec.get("order", "") or str(row)
    if not re.fullmatch(r"-?\d{1,9}", order_text):
        problems.add(FILE, row, "order", order_text, problem="order is a whole number")
        order_text = str(row)
    return int(order_text)


def _check_headers(inputs: dict[str, InputSpec], problems: Problems) -> None:
    """No column name (an input's name, labels or header aliases) names two inputs."""
    owner: dict[str, str] = {}
    for spec in inputs.values():
        for alias in (*spec.headers, spec.label_en, spec.label_ja, spec.name):
            key = header_key(alias) if alias else ""
            if key and owner.setdefault(key, spec.name) != spec.name:
                problems.add(
                    FILE, 0, "header_aliases", alias, problem=f"names two inputs ({owner[key]} and {spec.name})"
                )


def parse_aliases(
    text: str, name: str, type_: str, domain: tuple[str, ...], row: int, problems: Problems
) -> dict[str, str]:
    """``value: spelling|spelling; value: …`` -> {spelling key: value} (boolean inputs start from the
    default words of :data:`TRUE_WORDS` / :data:`FALSE_WORDS`)."""
    out: dict[str, str] = {}
    if type_ == "boolean":
        out.update({w: "true" for w in TRUE_WORDS} | {w: "false" for w in FALSE_WORDS})
    if not text.strip():
        return out
    if type_ == "integer":
        problems.add(FILE, row, "value_aliases", text, problem="an integer input takes no value aliases")
        return out
    own: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        value, sep, spellings = part.partition(":")
        value = value.strip().lower() if type_ == "boolean" else value.strip()
        if not sep or value not in domain:
            problems.add(
                FILE,
                row,
                "value_aliases",
                part.strip(),
                problem=f"write 'value: spelling|spelling; …' with a value of {name}",
            )
            continue
        for spelling in split_cell(spellings):
            key = value_key(spelling)
            if own.get(key, value) != value:
                problems.add(FILE, row, "value_aliases", spelling, problem=f"the spelling names two values of {name}")
            own[key] = value
    out.update(own)
    return out


def read_catalogue(path: Path) -> pd.DataFrame:
    """A catalogue CSV as text, with columns that hold only true/false read as booleans."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for col in frame.columns[1:]:
        low = frame[col].str.strip().str.lower()
        if len(frame) and low.isin(["true", "false"]).all():
            frame[col] = low.eq("true")
    return frame


def _catalogue(
    spec_domain: str, catalogues: Catalogues, row: int, problems: Problems
) -> tuple[Path | None, pd.DataFrame | None]:
    """The CSV a catalogue input names: ``devices_path`` when given, else the file of that name in the rule
    book folder, else in ``data/``."""
    if catalogues.devices_path is not None:
        path = catalogues.devices_path
    else:
        if not spec_domain or Path(spec_domain).name != spec_domain or not spec_domain.endswith(".csv"):
            problems.add(FILE, row, "domain", spec_domain, problem="a catalogue names a CSV file (x.csv)")
            return None, None
        folder = catalogues.folder
        path = folder / spec_domain if (folder / spec_domain).exists() else DATA_DIR / spec_domain
    if not path.exists():
        problems.add(str(path), 0, "", "", problem="file is missing")
        return None, None
    if not regular_file(path, problems, str(path)):
        return None, None
    try:
        frame = read_catalogue(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.add(str(path), 0, "", "", problem=f"cannot read as CSV: {str(exc).strip()}")
        return None, None
    if frame.empty or not len(frame.columns):
        problems.add(str(path), 0, "", "", problem="the catalogue lists no value")
        return None, None
    return path, frame
