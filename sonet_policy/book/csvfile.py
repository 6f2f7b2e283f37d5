"""One CSV file of a rule book folder, read as text, and the list of problems found while loading.

Every file is read as text and parsed by the book's own grammar: a cell is data and never runs. A file that
cannot be read (missing, a FIFO, a folder, outside the folder, not CSV, a header that names a column twice
or a column with values and no header) is a problem on the list, never an exception, so that the loader
reports every problem at once.

>>> split_cell(" a | b ||c ")
('a', 'b', 'c')
>>> column_name(0), column_name(26)
('A', 'AA')
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

import pandas as pd

#: A decision or input name: it names a file (``<decision>.csv``) and a column.
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Problems(list):
    """The problems found while loading, one dict each (file, row, column, value, problem)."""

    def add(self, file: str, row: int, column: str, value: object, *, problem: str) -> None:
        self.append(dict(file=file, row=row, column=column, value=value, problem=problem))


def split_cell(cell: str) -> tuple[str, ...]:
    """The ``|``-separated parts of a cell, stripped, empty parts dropped."""
    return tuple(p.strip() for p in str(cell).split("|") if p.strip())


def regular_file(path: Path, problems: Problems, name: str) -> bool:
    """Whether ``path`` is a regular file (checked before opening: a FIFO would block, a folder fail)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        problems.add(name, 0, "", "", problem="file is missing")
        return False
    except OSError as exc:
        problems.add(name, 0, "", "", problem=f"cannot read as CSV: {exc.strerror or exc}")
        return False
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a special file"
        problems.add(name, 0, "", "", problem=f"is {what}, not a regular file; not read")
        return False
    return True


def column_name(k: int) -> str:
    """The spreadsheet letter of column ``k`` (0-based): A, B, …, Z, AA."""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(65 + r) + out
    return out


def read_table(path: Path, problems: Problems, *, root: Path | None = None) -> pd.DataFrame | None:
    """The CSV at ``path`` as a frame of stripped text (None, with the problems listed, where it cannot be
    read). ``root``: the rule book folder, which the file must lie in (no symlink or ``..`` out of it)."""
    if root is not None and not path.resolve().is_relative_to(root):
        problems.add(
            path.name,
            0,
            "",
            str(path.resolve()),
            problem="file lies outside the rule book folder (a symlink or '..'); not read",
        )
        return None
    if not regular_file(path, problems, path.name):
        return None
    raw = _read_raw(path, problems)
    if raw is None:
        return None
    header = [str(c).strip() for c in raw.iloc[0]] if len(raw) else []
    frame = raw.iloc[1:].reset_index(drop=True).apply(lambda s: s.str.strip())
    keep = _kept_columns(path.name, header, frame, problems)
    if keep is None:
        return None
    frame = frame.iloc[:, keep]
    frame.columns = [header[k] for k in keep]
    return frame


def _read_raw(path: Path, problems: Problems) -> pd.DataFrame | None:
    """Every line of the file as text, the header line first (None, with a problem, where pandas cannot)."""
    try:
        with warnings.catch_warnings():  # a row longer than the header: an error, never a silent index or cut
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skip_blank_lines=True,
                index_col=False,
                header=None,
            )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        text = str(exc).strip()
        if re.search(r"Expected \d+ fields in line 2,", text):  # the first record is longer than the header
            problems.add(path.name, 0, "", "", problem="a row has more fields than the header")
        else:
            problems.add(path.name, 0, "", "", problem=f"cannot read as CSV: {text}")
        return None
    except pd.errors.ParserWarning:  # pragma: no cover - read without a header row, pandas errs instead
        return None


def _kept_columns(file: str, header: list[str], frame: pd.DataFrame, problems: Problems) -> list[int] | None:
    """The columns to keep (an empty column a spreadsheet saved is dropped); None when the header is broken."""
    keep, bad = [], False
    for k, name in enumerate(header):
        if name == "":
            if frame.iloc[:, k].eq("").all():  # an empty column a spreadsheet saved: nothing in it, dropped
                continue
            problems.add(file, 1, f"column {column_name(k)}", "", problem="the column has values but no header")
            bad = True
        elif name in header[:k]:
            problems.add(file, 1, name, name, problem=f"the header names {name!r} twice")
            bad = True
        keep.append(k)
    return None if bad else keep
