"""Several customers in the explorer: a customer file uploaded, every row answered in one grid, one row loaded.

The file is read by the CLI's reader (:func:`sonet_policy.widgets.downloads.read_upload`, which calls
:func:`sonet_policy.files.read.read_scenarios`), with the guarantees of the CLI: one answer row per input row, a
bad row's problem in its own ``error`` cell (its row and field named), a file that cannot be read in one line
naming the file, Japanese headers accepted, formulas neutralised in the downloads.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import ipywidgets as w
import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import ScenarioError
from sonet_policy.widgets.base import _App, error_html
from sonet_policy.widgets.downloads import read_upload

ROW = "row"  # the column of the answers table that names the row a spreadsheet shows (header = row 1)


def read_customers(value: object, *, rulebook: RuleBook | None = None) -> pd.DataFrame:
    """The customers in one uploaded file (the ``value`` of an ``ipywidgets.FileUpload``: CSV, Excel or
    Parquet), as :func:`sonet_policy.widgets.downloads.read_upload` reads it: inputs renamed from their headers
    (Japanese too), every cell text; the index (``row``) is the row a spreadsheet shows (header = 1), for every
    format. ``attrs["uploaded_file"]`` is the file's name.

    Raises :class:`~sonet_policy.errors.ScenarioError` (one line naming the file, no temporary path) when there
    is not exactly one file, its type is not one the kit reads, it cannot be read, or a required column is
    missing.

    >>> text = b"area,plan,device,setup,keep_number\\nwest,other,RV-230SE,v6plus_router,no\\n"
    >>> up = ({"name": "c.csv", "content": text},)
    >>> read_customers(up).index.tolist()
    [2]
    """
    return read_upload(value, rulebook=rulebook)


def customer_answers(frame: pd.DataFrame, *, rulebook: RuleBook | None = None, message: bool = False) -> pd.DataFrame:
    """Every row of ``frame`` answered, one answer row per input row, in order: ``row`` (the frame's index),
    ``status`` and ``error``, the customer's own columns as given (one named like an answer column gets
    ``_input``, as the CLI does), then the other answer columns of :func:`~sonet_policy.engine.evaluate.evaluate`. A bad
    row is not an exception: its ``error`` cell starts with ``row N:`` and names the field. Raises nothing for
    bad rows. With ``message``, a last column ``message_ja`` holds each row's customer message (a mail merge).

    >>> frame = pd.DataFrame({"area": ["west", "north"], "plan": ["other"] * 2, "device": ["RV-230SE"] * 2,
    ...                       "setup": ["v6plus_router"] * 2, "keep_number": ["no"] * 2}, index=[2, 3])
    >>> answers = customer_answers(frame)
    >>> answers["row"].tolist(), answers["error"].str.startswith("row 3: area").tolist()
    ([2, 3], [False, True])
    """
    from sonet_policy.engine.evaluate import evaluate, output_columns
    from sonet_policy.engine.message import with_messages

    book = rulebook or default_rulebook()
    answer_cols = output_columns(book)
    given = frame[[c for c in frame.columns if c in book.inputs]]
    answers = evaluate(given, rulebook=book)
    if message:
        answers = with_messages(answers, rulebook=book)
    own = pd.DataFrame(index=frame.index)
    taken = {ROW, *frame.columns, *answer_cols}
    for col in frame.columns:
        new = col
        if col in answer_cols or col == ROW:
            new, k = f"{col}_input", 2
            while new in taken:
                new, k = f"{col}_input_{k}", k + 1
            taken.add(new)
        own[new] = frame[col].astype(object)
    answers = answers.astype(object)
    errors = answers["error"].fillna("").astype(str)
    rows = pd.Series(frame.index.astype(str), index=frame.index)
    answers["error"] = errors.where(errors == "", "row " + rows + ": " + errors)
    first = answers[["status", "error"]]  # beside the row, so a bad row shows without scrolling sideways
    out = pd.concat([first, own, answers.drop(columns=["status", "error"])], axis=1)
    out.insert(0, ROW, list(frame.index))
    return out.reset_index(drop=True)


def customer_scenario(frame: pd.DataFrame, row: int, *, rulebook: RuleBook | None = None) -> tuple[dict, list[str]]:
    """Row ``row`` (a value of the index) of ``frame`` as keywords for ``ScenarioExplorer.set``: each valid
    field in the explorer's terms (a category's code, a boolean, an integer or None for empty), and a catalogue
    field as written even when invalid (the explorer then shows why). Returns the keywords and, for each field
    the explorer cannot show (missing or invalid), one line ``field: why``. Raises KeyError for an unknown row.

    >>> frame = pd.DataFrame({"エリア": ["西"], "plan": ["other"], "device": ["RV-230SE"],
    ...                       "setup": ["v6plus_router"], "keep_number": ["廃止"]}, index=[2])
    >>> frame = frame.rename(columns={"エリア": "area"})
    >>> customer_scenario(frame, 2)[0]["keep_number"], customer_scenario(frame, 2)[1]
    (False, [])
    """
    from sonet_policy.engine.explain import explain

    book = rulebook or default_rulebook()
    record = frame.loc[row]
    given = {n: record[n] for n in book.inputs if n in frame.columns}
    explanation = explain(rulebook=book, **given)
    reasons = _field_reasons(explanation.error, given)
    scenario: dict[str, object] = {}
    skipped: list[str] = []
    for name, spec in book.inputs.items():
        if name in explanation.resolved:
            value = explanation.resolved[name]
            if spec.type == "boolean":
                scenario[name] = str(value).lower() == "true"  # the boolean axis labels: false, true
            elif spec.type == "integer":
                scenario[name] = None if value == "empty" else int(value)
            else:
                scenario[name] = value
        elif spec.type == "catalogue" and name in given and not _blank(given[name]):
            scenario[name] = str(given[name])  # the explorer's combobox takes any text and says why it is wrong
        elif spec.type == "integer" and spec.empty == "null" and (name not in given or _blank(given[name])):
            scenario[name] = None
        else:
            shown = "missing" if name not in given or _blank(given[name]) else repr(str(given[name]))
            skipped.append(f"{name}: {reasons.get(name) or shown}")
    return scenario, skipped


def _status_counts(answers: pd.DataFrame) -> str:
    """``ok 3, partial 1``: the rows per status, in the order of :data:`~sonet_policy.engine.evaluate.STATUSES`."""
    from sonet_policy.engine.evaluate import STATUSES

    counts = answers["status"].value_counts()
    return ", ".join(f"{s} {int(counts[s])}" for s in STATUSES if counts.get(s, 0))


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or str(value).strip() == ""


def _field_reasons(error: str, given: Mapping[str, object]) -> dict[str, str]:
    """The part of an explanation's error that names each field (``field: …; other: …``)."""
    out: dict[str, str] = {}
    for part in (error or "").split("; "):
        field = part.split(":", 1)[0].strip()
        if field and field not in out:
            out[field] = part.split(":", 1)[1].strip() if ":" in part else part
    return out


class CustomersView(_App):
    """A customer file (CSV, Excel or Parquet) uploaded, every row answered in a grid with CSV and Excel
    downloads; choosing a row loads that customer into ``explorer`` (a :class:`ScenarioExplorer`) with its
    public ``set``, so the cards show that customer.

    >>> from sonet_policy.widgets import ScenarioExplorer
    >>> app = ScenarioExplorer()
    >>> view = CustomersView(app)
    >>> view.load_upload(({"name": "c.csv", "content": "エリア,プラン,機器名,利用環境,番号継続\\n西,other,RV-230SE,"
    ...                    "v6plus_router,廃止\\n東,sml,XX-1,rental_only,継続\\n".encode()},))
    >>> view.summary()
    'CustomersView: c.csv, 2 customer(s): uncovered 1, partial 1'
    >>> view.select(2); app.scenario["area"]
    'west'
    """

    def __init__(self, explorer: object | None = None, *, rulebook: RuleBook | None = None) -> None:
        from sonet_policy.files.extensions import EXTENSIONS
        from sonet_policy.widgets.tables import grid

        self.book = rulebook or getattr(explorer, "book", None) or default_rulebook()
        self.explorer = explorer
        self.upload = w.FileUpload(
            accept=",".join(EXTENSIONS), multiple=False, description="Customers (CSV/Excel/Parquet)"
        )
        self.upload.layout = w.Layout(width="300px")
        self.upload.add_class("sp-customers-upload")
        self.note = w.HTML("<span>Upload a customer file: one answer row per customer.</span>")
        self.note.add_class("sp-upload-note")
        self.picker = w.Dropdown(options=[("—", None)], value=None, description="load row")
        self.picker.layout = w.Layout(width="420px")
        self.picker.add_class("sp-customers-row")
        self.loaded = w.HTML()
        self.loaded.add_class("sp-customers-loaded")
        self.grid = grid(pd.DataFrame(), caption="answers per customer")
        self.downloads = w.HTML()
        self.downloads.add_class("sp-downloads")
        self.frame: pd.DataFrame | None = None
        self.answers: pd.DataFrame | None = None
        self.files: dict[str, bytes] = {}
        self.name = ""
        self.upload.observe(lambda change: self.load_upload(change["new"]), names="value")
        self.picker.observe(lambda change: self.select(change["new"]), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.upload, self.note]),
                self.grid.widget,
                self.downloads,
                w.HBox([self.picker, self.loaded]),
            ]
        )
        self.widget.add_class("sp-customers")

    def load_upload(self, value: object) -> None:
        """Read the uploaded file (``FileUpload.value``) and answer every row. A file that cannot be read is
        one line in the app naming the file (no traceback, no Python class name); the view keeps what it
        showed."""
        if not value:
            return
        try:
            frame = read_customers(value, rulebook=self.book)
        except (ScenarioError, LookupError, OSError) as exc:  # the readers' own one-line messages
            self.note.value = error_html(exc)
            return
        self.load(frame, name=str(frame.attrs.get("uploaded_file") or "customers"))

    def load(self, frame: pd.DataFrame, *, name: str = "customers") -> None:
        """Answer every row of ``frame`` (inputs named as :func:`read_customers` names them) and show them."""
        from sonet_policy.widgets.downloads import download_links

        with_message = customer_answers(frame, rulebook=self.book, message=True)
        answers = with_message.drop(columns=["message_ja"])  # the grid: the message is one click away, per row
        self.frame, self.answers, self.name = frame, answers, name
        self.grid.update(answers, caption=f"{name}: answers per customer")
        links = download_links({"answers": with_message}, stem=f"{Path(name).stem}-evaluated")
        self.files = links.files
        self.downloads.value = links.html
        shown = _status_counts(answers)
        self.note.value = (
            f"<span class='sp-upload-ok'>{html.escape(name)}: {len(answers):,} customer(s) answered ({shown})</span>"
        )
        options: list[tuple[str, object]] = [("—", None)]
        for row, status in zip(answers[ROW], answers["status"], strict=True):
            options.append((f"row {row} ({status})", row))
        self.picker.unobserve_all("value")
        self.picker.options = options
        self.picker.value = None
        self.picker.observe(lambda change: self.select(change["new"]), names="value")
        self.loaded.value = ""

    def select(self, row: object) -> None:
        """Load row ``row`` (the row a spreadsheet shows) into the explorer with its ``set``; fields the
        explorer cannot show (missing or invalid) are listed beside the picker. None does nothing."""
        if row is None or self.frame is None:
            return
        if self.picker.value != row:
            self.picker.value = row  # observed: comes back here with the picker showing the row
            return
        scenario, skipped = customer_scenario(self.frame, row, rulebook=self.book)
        if self.explorer is not None:
            self.explorer.set(**scenario)
        text = f"row {row} loaded into the explorer"
        if self.explorer is None:
            text = f"row {row}: no explorer given"
        if skipped:
            text += "; not loaded (the explorer keeps its value): " + "; ".join(skipped)
        self.loaded.value = f"<span class='sp-customers-note'>{html.escape(text)}</span>"

    def summary(self) -> str:
        if self.answers is None:
            return "CustomersView: no file uploaded yet"
        shown = _status_counts(self.answers)
        return f"CustomersView: {self.name}, {len(self.answers)} customer(s): {shown}"
