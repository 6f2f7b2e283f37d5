"""Which format a file is: ``csv``, ``xlsx`` or ``parquet``, from its extension or a ``--format`` flag.

``.csv``/``.txt``, ``.xlsx``/``.xlsm``, ``.parquet``/``.pq``; ``-`` (standard input or output) and a name without
extension are CSV unless a format is given. Any other extension is a one-line error (exit 2), never an attempt
to read it as CSV.
"""

from __future__ import annotations

import os
from pathlib import Path

from sonet_policy.errors import ScenarioFileError, TargetError

FORMATS = ("csv", "xlsx", "parquet")
EXTENSIONS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".parquet": "parquet", ".pq": "parquet"}
STDIN = "-"


def format_of(path: Path | str, *, format: str | None = None, output: bool = False) -> str:
    """``csv``, ``xlsx`` or ``parquet``: ``format`` when given, else from the extension of ``path`` (``-``, a
    name without extension, an existing FIFO or device: CSV). Raises :class:`ScenarioFileError` (an input) or
    :class:`~sonet_policy.files.write.TargetError` (an output) naming the path for an extension the kit does not
    read or write.

    >>> format_of("customers.XLSX"), format_of("-"), format_of("x.dat", format="parquet")
    ('xlsx', 'csv', 'parquet')
    >>> format_of("customers.xls")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.ScenarioFileError: customers.xls: the kit reads .csv, .txt, .xlsx, .xlsm, ...
    """
    error = TargetError if output else ScenarioFileError
    if format is not None:
        if format not in FORMATS:
            raise error(f"unknown format {format!r}; use one of {', '.join(FORMATS)}", path=path)
        return format
    text = os.fspath(path)
    suffix = Path(text).suffix.lower()
    if text == STDIN or not suffix:  # standard input or output, /dev/null, a name without extension
        return "csv"
    if os.path.exists(text) and not os.path.isfile(text):  # a FIFO, a device, a folder: checked where it is opened
        return "csv"
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    verb, flag = ("writes", "--output-format") if output else ("reads", "--format")
    message = (
        f"{text}: the kit {verb} {', '.join(EXTENSIONS)} files (or CSV without extension), not {suffix}; "
        f"rename it, or give {flag} {'|'.join(FORMATS)}"
    )
    if suffix == ".xls":
        message += " (an .xls workbook: save it as .xlsx in Excel)"
    raise error(message, path=path)
