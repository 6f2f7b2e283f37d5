"""Take tables out of the screens and bring customer files in: downloads (CSV, Excel) and uploads.

* :func:`csv_bytes`: one table as CSV for Excel (UTF-8 with a BOM, CRLF line ends).
* :func:`excel_bytes`: one or several tables as an Excel workbook, one sheet per table (openpyxl).
* :func:`download_html` / :func:`download_links`: the bytes as ``data:`` links. The file travels inside the
  page, so a click saves it with no request to any server: it works the same in JupyterLab and in Voilà.
  Shown in an ``ipywidgets.HTML`` (as :func:`download_links` does), the links live in the widget and never
  bloat a saved notebook.
* :func:`read_upload`: what an ``ipywidgets.FileUpload`` holds (CSV, Excel or Parquet bytes) as a scenario frame,
  read by the CLI's reader (:func:`sonet_policy.files.read.read_scenarios`).

Files that people open in a spreadsheet get their formulas neutralised by the CLI's rule
(:mod:`sonet_policy.files.guard`): a text cell (or header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is prefixed with a single quote (OWASP's advice on CSV injection), unless it is a plain number
such as ``-5``; so a rule's note or a customer's memo is shown, never run.
"""

from __future__ import annotations

import base64
import codecs
import html
import io
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioError, UploadError
from sonet_policy.files.extensions import format_of
from sonet_policy.files.guard import neutralise, neutralise_frame
from sonet_policy.files.read import read_scenarios
from sonet_policy.widgets.app import WidgetApp
from sonet_policy.widgets.tables import cell_text

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FIXED_TIME = datetime(2000, 1, 1)  # workbook properties: the same tables give the same document properties


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` ready for a spreadsheet: mappings and lists as text (as the grids show them), and
    every text cell and header that Excel would run as a formula prefixed with a single quote (plain numbers such
    as ``-5`` stay numbers: :func:`sonet_policy.files.guard.neutralise`).

    >>> spreadsheet_safe(pd.DataFrame({"=note": ["=1+1", "-x", "-5"], "n": [-1, 2, 3]})).to_dict("list")
    {"'=note": ["'=1+1", "'-x", '-5'], 'n': [-1, 2, 3]}
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"a download is made of pandas DataFrames, not {type(frame).__name__}")
    out = frame.copy()
    out.columns = [neutralise(c if isinstance(c, str) else cell_text(c)) for c in out.columns]
    for k in range(len(out.columns)):
        series = out.iloc[:, k]
        if series.dtype == object or isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            out.isetitem(k, series.map(lambda v: v if isinstance(v, str) else cell_text(v)).astype(object))
    return neutralise_frame(out)


def csv_bytes(frame: pd.DataFrame, *, index: bool = False, bom: bool = True) -> bytes:
    """``frame`` as CSV bytes: UTF-8 with a BOM (``bom``; Excel then shows Japanese text right), CRLF line
    ends, formulas neutralised (:func:`spreadsheet_safe`). Raises TypeError for anything but a DataFrame.

    >>> data = csv_bytes(pd.DataFrame({"label_ja": ["ご利用の電話番号は廃止されます。"], "note": ["=cmd"]}))
    >>> data[:3] == codecs.BOM_UTF8, data.decode("utf-8-sig").splitlines()
    (True, ['label_ja,note', "ご利用の電話番号は廃止されます。,'=cmd"])
    """
    safe = spreadsheet_safe(frame)
    text = safe.to_csv(index=index, lineterminator="\r\n")
    return (codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8")


def sheet_names(names: Sequence[str]) -> list[str]:
    """Excel sheet names for ``names``: forbidden characters replaced, at most 31 characters, unique.

    >>> sheet_names(["answers", "findings: gap/conflict", "x" * 40, "answers"])
    ['answers', 'findings_ gap_conflict', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', 'answers (2)']
    """
    out: list[str] = []
    for name in names:
        base = _SHEET_FORBIDDEN.sub("_", str(name)).strip("'") or "table"
        candidate, k = base[:31], 1
        while candidate.lower() in {o.lower() for o in out}:
            k += 1
            suffix = f" ({k})"
            candidate = base[: 31 - len(suffix)] + suffix
        out.append(candidate)
    return out


def excel_bytes(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, *, index: bool = False) -> bytes:
    """One or several tables as an Excel workbook (``.xlsx``), one sheet per table named by its key (a single
    DataFrame: one sheet "table"). Formulas are neutralised (:func:`spreadsheet_safe`). Raises TypeError when a
    table is not a DataFrame, ValueError when there is none.

    >>> data = excel_bytes({"answers": pd.DataFrame({"code": ["kept"], "n": [3]})})
    >>> pd.read_excel(io.BytesIO(data), sheet_name=None)["answers"].to_dict("records")
    [{'code': 'kept', 'n': 3}]
    """
    from openpyxl import Workbook

    if isinstance(tables, pd.DataFrame):
        tables = {"table": tables}
    if not tables:
        raise ValueError("an Excel workbook needs at least one table")
    frames = [spreadsheet_safe(t) for t in tables.values()]  # TypeError names a non-frame before any work
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in zip(sheet_names(list(tables)), frames, strict=True):
            frame.to_excel(writer, sheet_name=name, index=index)
            sheet = writer.sheets[name]
            for cells in sheet.iter_rows():
                for cell in cells:
                    if cell.data_type == "f":  # openpyxl reads any text starting with "=" as a formula
                        cell.data_type = "s"
        book: Workbook = writer.book
        book.properties.created = book.properties.modified = _FIXED_TIME
        book.properties.creator = "sonet-policy"
    return buffer.getvalue()


def safe_filename(name: str, *, suffix: str) -> str:
    """A file name for a download: letters, digits, Japanese, ``-_.``; the given ``suffix``.

    >>> safe_filename("findings: west/east", suffix=".csv")
    'findings_west_east.csv'
    """
    text = unicodedata.normalize("NFKC", str(name))
    stem = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._") or "table"
    if stem.lower().endswith(suffix.lower()):
        stem = stem[: -len(suffix)]
    return stem[:100] + suffix


def download_html(data: bytes, filename: str, *, mime: str = CSV_MIME, label: str | None = None) -> str:
    """An ``<a download>`` link carrying ``data`` in a ``data:`` URI (no server involved); the file name and
    label are escaped.

    >>> download_html(b"a,b\\r\\n", "answers.csv")  # doctest: +ELLIPSIS
    "<a class='sp-download' download='answers.csv' href='data:text/csv;base64,YSxiDQo=' ...>answers.csv (5 B)</a>"
    """
    encoded = base64.b64encode(data).decode("ascii")
    text = label if label is not None else f"{filename} ({_size(len(data))})"
    return (
        f"<a class='sp-download' download='{html.escape(filename, quote=True)}' "
        f"href='data:{mime};base64,{encoded}' target='_blank' rel='noopener'>{html.escape(text)}</a>"
    )


def _size(n: int) -> str:
    """A byte count for people: B, KB or MB."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


class Downloads(WidgetApp):
    """Download links for a set of tables: one CSV per table and one Excel workbook with all of them.

    ``files`` maps each file name to its bytes; ``html`` is the links; ``widget`` an ``ipywidgets.HTML``
    holding them (what a notebook displays); plain text lists the files.

    >>> d = download_links({"answers": pd.DataFrame({"code": ["kept"]})}, stem="scenario")
    >>> sorted(d.files), d.summary().splitlines()[0]
    (['scenario-answers.csv', 'scenario.xlsx'], 'Downloads: scenario-answers.csv, scenario.xlsx')
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], *, stem: str, excel: bool = True) -> None:
        if not tables:
            raise ValueError("nothing to download: no table given")
        self.files: dict[str, bytes] = {}
        links = []
        for name, frame in tables.items():
            filename = safe_filename(f"{stem}-{name}", suffix=".csv")
            self.files[filename] = csv_bytes(frame)
            links.append(download_html(self.files[filename], filename, mime=CSV_MIME))
        if excel:
            filename = safe_filename(stem, suffix=".xlsx")
            self.files[filename] = excel_bytes(dict(tables))
            links.append(download_html(self.files[filename], filename, mime=XLSX_MIME))
        self.html = "<div class='sp-downloads'>Download: " + " · ".join(links) + "</div>"
        self._widget: Any = None

    @property
    def widget(self) -> Any:
        if self._widget is None:
            import ipywidgets as w

            self._widget = w.HTML(self.html)
            self._widget.add_class("sp-downloads")
        return self._widget

    def summary(self) -> str:
        return "Downloads: " + ", ".join(self.files)


def download_links(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame, *, stem: str = "table", excel: bool = True
) -> Downloads:
    """Links that save ``tables`` as CSV (one file per table) and as one Excel workbook (``excel``), named
    ``<stem>-<table>.csv`` and ``<stem>.xlsx``. Works in JupyterLab and Voilà (the files are in the links).
    Raises TypeError when a table is not a DataFrame, ValueError when none is given.

    >>> d = download_links(pd.DataFrame({"n": [1]}), stem="counts", excel=False)
    >>> list(d.files), d.files["counts-table.csv"].decode("utf-8-sig")
    (['counts-table.csv'], 'n\\r\\n1\\r\\n')
    """
    if isinstance(tables, pd.DataFrame):
        tables = {"table": tables}
    return Downloads(dict(tables), stem=stem, excel=excel)


# --------------------------------------------------------------------------------------------- uploads


def _uploaded_files(value: object) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of each file in a FileUpload value (ipywidgets 8: a tuple of dicts; 7: a dict)."""
    if isinstance(value, Mapping) and "content" in value:
        items: list[Any] = [value]
    elif isinstance(value, Mapping):  # ipywidgets 7: {name: {"content": ..., "metadata": {...}}}
        items = [{"name": k, **v} for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise UploadError(f"not a file upload: {type(value).__name__}")
    files = []
    for item in items:
        if not isinstance(item, Mapping) or "content" not in item:
            raise UploadError("not a file upload: an entry has no content")
        name = str(item.get("name") or (item.get("metadata") or {}).get("name") or "upload")
        files.append((Path(name).name or "upload", bytes(item["content"])))
    return files


def read_upload(value: object, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """The scenarios in one uploaded file (the ``value`` of an ``ipywidgets.FileUpload``, or one
    ``{"name", "content"}`` dict), ready for :func:`~sonet_policy.engine.evaluate.evaluate`.

    A CSV (any Japanese encoding), an Excel workbook (``.xlsx``, first sheet) or a Parquet file is read by the
    CLI's reader, :func:`sonet_policy.files.read.read_scenarios`: headers mapped onto the inputs (Japanese too),
    every cell text, blank rows dropped, extra columns kept, and the index (``row``) is the row a spreadsheet
    shows (a CSV's header is line 1; a workbook's rows as Excel numbers them). ``attrs["uploaded_file"]`` is the
    file's name. Raises :class:`UploadError` naming the file when there is not exactly one file, when its type is
    not one the kit reads, or when it cannot be read (a required column missing, a value beyond the header …),
    with the CLI's message.

    >>> up = ({"name": "顧客.csv", "content": memoryview("エリア,プラン,機器名,利用環境,番号継続\\n西,other,"
    ...        "RV-230SE,v6plus_router,no\\n".encode("cp932"))},)
    >>> frame = read_upload(up)
    >>> list(frame.columns), frame.index.tolist()
    (['area', 'plan', 'device', 'setup', 'keep_number'], [2])
    """
    files = _uploaded_files(value)
    if len(files) != 1:
        names = ", ".join(n for n, _ in files) or "none"
        raise UploadError(f"choose exactly one customer file (got {len(files)}: {names})")
    name, data = files[0]
    try:
        format_of(name)
    except ScenarioError:  # its message speaks of the CLI's --format: say it for the screen
        suffix = Path(name).suffix or "a file without extension"
        hint = " (an .xls workbook: save it as .xlsx in Excel)" if suffix.lower() == ".xls" else ""
        raise UploadError(
            f"{name}: the kit reads CSV, Excel (.xlsx, .xlsm) and Parquet customer files, not {suffix}{hint}"
        ) from None
    try:
        frame = read_scenarios(data, name=name, rulebook=rulebook)
    except ScenarioError as exc:
        raise UploadError(str(exc), field=exc.field) from None
    frame.attrs["uploaded_file"] = name
    return frame
