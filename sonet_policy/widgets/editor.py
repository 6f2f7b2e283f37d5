"""The proposal editor: an editable grid for the tables of a proposal, in a notebook.

The workflow it drives (validate the whole book with the edit, write atomically under the proposal's lock,
never the baseline) is :mod:`sonet_policy.analysis.proposals`; this module holds the controls. Which cells
offer fixed choices is read from the book's own data (:func:`column_choices`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import ipywidgets as w
import pandas as pd

from sonet_policy.analysis.diff import diff
from sonet_policy.analysis.proposals import OPTIONAL_FILES, ProposalBusyError, check_table, read_table, save_table
from sonet_policy.book.inputs import INPUT_TYPES
from sonet_policy.book.load import META_FILES, load_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.book.tables import HIT_POLICIES
from sonet_policy.errors import RuleBookError
from sonet_policy.files.write import BaselineWriteError, OutputError, TargetError
from sonet_policy.paths import RULES_DIR
from sonet_policy.widgets.app import WidgetApp

BAD_CELL = "sp-bad-cell"  # the CSS class of a cell a failed check names
QUIET_NOTE = "sp-quiet"  # the CSS class of a row's note while it has nothing to say (hidden)
_CHOICE_LABELS = {"": "(empty)", "-": "- (any)", "null": "null (not given)"}
_EDITOR_CSS = (
    "<style>.sp-bad-cell input, .sp-bad-cell select {background:#ffebee; border:2px solid #c62828}"
    " .sp-row-note {color:#c62828; font-size:90%; grid-column: 1 / -1}"
    " .sp-row-note.sp-quiet {display: none !important} .sp-row-number {color:#616161}</style>"
)


def _subsets(values: list[str], *, most: int = 4) -> list[str]:
    """Every value, then every set of two or more written ``a|b`` (only for domains of at most ``most``)."""
    out = list(values)
    if len(values) <= most:
        for size in range(2, len(values) + 1):
            out += ["|".join(c) for c in combinations(values, size)]
    return out


def column_choices(folder: Path | str, table: str) -> dict[str, list[str]]:
    """The fixed choices of each column of table ``table`` in the rule book at ``folder``, read from its data:
    a condition column of a category or boolean input offers ``-`` (any), each value of the input's domain in
    ``inputs.csv`` and their sets (``a|b``), and ``null`` where the input may be empty; an output column the
    decision's codes in ``codes.csv`` (answers; alternatives and their sets); ``exception_of`` the table's rule
    ids; ``decision``, ``role``, ``hit_policy``, ``type``, ``required`` and a constraint's ``field`` their
    declared values. A column not listed is free text (notes, clause ids, ranges, catalogue models).

    >>> choices = column_choices(RULES_DIR, "decisions")
    >>> choices["hit_policy"][0], "role" in column_choices(RULES_DIR, "codes")
    ('UNIQUE', True)
    """
    folder = Path(folder)

    def read(name: str) -> pd.DataFrame:
        try:
            return read_table(folder / name)
        except (OSError, ValueError, pd.errors.ParserError):
            return pd.DataFrame()

    inputs, codes, decisions = read("inputs.csv"), read("codes.csv"), read("decisions.csv")
    names = [d for d in decisions.get("decision", pd.Series(dtype=str)) if d]
    out: dict[str, list[str]] = {}
    conditions: dict[str, list[str]] = {}
    for rec in inputs.to_dict("records"):
        domain = [v.strip() for v in str(rec.get("domain", "")).split("|") if v.strip()]
        if rec.get("type") in ("category", "boolean") and domain:
            conditions[rec["input"]] = ["-", *_subsets(domain)] + (["null"] if rec.get("empty") == "null" else [])
    if table in names or table == "constraints":
        frame = read(f"{table}.csv")
        for column in frame.columns:
            if column in conditions:
                out[column] = conditions[column]
    if table in names:
        row = decisions[decisions["decision"] == table].iloc[0]
        outputs = [o for o in str(row.get("outputs", "")).split("|") if o]
        mine = codes[codes["decision"] == table] if {"decision", "role", "code"} <= set(codes.columns) else codes
        if outputs and not mine.empty:
            out[outputs[0]] = list(mine.loc[mine["role"] == "answer", "code"])
            alternatives = list(mine.loc[mine["role"] == "alternative", "code"])
            for column in outputs[1:]:
                out[column] = ["", *_subsets(alternatives)]
        out["exception_of"] = ["", *(r for r in read(f"{table}.csv").get("rule_id", []) if r)]
    elif table == "constraints":
        out["field"] = ["", *inputs.get("input", [])]
    elif table == "codes":
        out["decision"] = names
        out["role"] = ["answer", "alternative"]
    elif table == "decisions":
        out["hit_policy"] = list(HIT_POLICIES)
    elif table == "inputs":
        out["type"] = list(INPUT_TYPES)
        out["required"] = ["true", "false"]
        out["empty"] = ["error", "null"]
    return out


class _Row:
    """One row of the editor: its number, a delete button, its cells (one widget per column) and its note (the
    problems of the last check, shown under the row across the grid; hidden when there is none)."""

    def __init__(self, cells: list) -> None:
        self.cells = cells
        self.number = w.HTML()
        self.number.add_class("sp-row-number")
        self.delete = w.Button(description="✕", tooltip="delete this row", layout=w.Layout(width="2.5em"))
        self.note = w.HTML()  # under the row, across the grid; hidden while it has no problem (the editor's CSS)
        self.note.add_class("sp-row-note")
        self.note.add_class(QUIET_NOTE)

    def values(self) -> list[str]:
        return [str(box.value if box.value is not None else "") for box in self.cells]


@dataclass
class _Draft:
    """A table as the editor holds it: columns, rows, the values on disk when read, and the undo stack."""

    columns: list[str]
    rows: list
    saved: list[list[str]]
    undo: list


class ProposalEditor(WidgetApp):
    """An editable grid for the tables of a proposal, in a notebook (ipywidgets).

    Pick a table and edit its cells: a column with fixed choices (the domains ``inputs.csv`` declares, the
    codes of ``codes.csv``, the rule ids …: :func:`column_choices`) is a dropdown, the rest (notes, clause ids,
    ranges, catalogue models) text. Every row shows its number: the row of the CSV file as a spreadsheet shows
    it (the header is row 1), the numbering the problems use. **Check** lists every problem and writes nothing;
    the cells it names are highlighted (CSS class :data:`BAD_CELL`, the problem as the cell's tooltip) and the
    problems are written under the row. **Save**
    (:func:`save_table`) validates first, writes atomically, then shows the new hash and what changes against
    the baseline. **✕** deletes a row, **Undo** takes back the last edit, delete or added row (a stack, per
    table). Switching tables keeps each table's unsaved edits until they are saved or **Discard** drops them.
    The baseline folder can be opened to read, never saved. Messages are escaped HTML (no Output widget).

    ``frame()``, ``set_cell``, ``delete_row``, ``undo``, ``discard``, ``check`` and ``save`` do what the controls
    do, for tests and scripts.
    """

    def __init__(self, folder: Path | str, decision: str = "wifi") -> None:
        self.folder = Path(folder)
        self._muted = False
        names = list(read_table(self.folder / "decisions.csv")["decision"])
        tables = [*names, *(f.removesuffix(".csv") for f in (*META_FILES, *OPTIONAL_FILES))]
        tables = [t for t in tables if (self.folder / f"{t}.csv").is_file()]
        self.drafts: dict[str, _Draft] = {}
        self.choices: dict[str, list[str]] = {}
        self.models: list[str] = self._catalogue()
        inputs = read_table(self.folder / "inputs.csv") if (self.folder / "inputs.csv").is_file() else pd.DataFrame()
        typed = inputs.get("type", pd.Series(dtype=str)) == "catalogue"
        self.catalogue_columns = set(inputs.loc[typed, "input"]) if self.models and typed.any() else set()
        self.table = w.Dropdown(
            options=tables, value=decision if decision in tables else tables[0], description="table"
        )
        self.add_row = w.Button(description="Add row")
        self.undo_button = w.Button(description="Undo", tooltip="take back the last edit, delete or added row")
        self.discard_button = w.Button(description="Discard", tooltip="drop this table's unsaved edits")
        self.check_button = w.Button(description="Check", button_style="info")
        self.save_button = w.Button(description="Save", button_style="warning")
        self.status = w.HTML()
        self.status.add_class("sp-editor-status")
        self.message = w.HTML()
        self.grid = w.GridBox()
        self.grid.add_class("sp-editor-grid")
        self.table.observe(self._switch, names="value")
        self.add_row.on_click(lambda _b: self._append_row())
        self.undo_button.on_click(lambda _b: self.undo())
        self.discard_button.on_click(lambda _b: self.discard())
        self.check_button.on_click(lambda _b: self.check())
        self.save_button.on_click(lambda _b: self.save())
        controls = w.HBox(
            [self.table, self.add_row, self.undo_button, self.discard_button, self.check_button, self.save_button]
        )
        self.widget = w.VBox([w.HTML(_EDITOR_CSS), controls, self.status, self.grid, self.message])
        self._open(self.table.value)

    # -- state ------------------------------------------------------------------------------------------

    @property
    def draft(self) -> _Draft:
        return self.drafts[self.table.value]

    @property
    def columns(self) -> list[str]:
        return self.draft.columns

    @property
    def cells(self) -> list[list]:
        """The current table's cell widgets, row by row (``cells[0]`` is the first data row, row 2)."""
        return [row.cells for row in self.draft.rows]

    def _catalogue(self) -> list[str]:
        try:
            return list(load_rulebook(self.folder).models)
        except Exception:  # a broken book: its catalogue column stays plain text
            return []

    def unsaved(self) -> list[str]:
        """The tables whose edits are not saved (in the dropdown's order)."""
        return [t for t in self.table.options if t in self.drafts and self._dirty(t)]

    def _dirty(self, table: str) -> bool:
        draft = self.drafts[table]
        return [r for r in (row.values() for row in draft.rows) if any(r)] != draft.saved

    def summary(self) -> str:
        """One line for the notebook's plain text: the table, the proposal and the last message."""
        said = html.unescape(re.sub(r"<[^>]+>", " ", self.message.value.split("</p>")[0])).strip()
        said = said.replace(str(self.folder), self.folder.name)  # no machine-specific path in saved outputs
        table = f"{self.table.value}.csv of proposal {self.folder.name!r}"
        unsaved = self.unsaved()
        kept = f" (unsaved changes in {', '.join(unsaved)})" if unsaved else ""
        return f"ProposalEditor: {table}, {len(self.cells)} rows{kept}; {said}"

    # -- reading and switching ------------------------------------------------------------------------

    def _open(self, table: str) -> None:
        self.choices = column_choices(self.folder, table)
        if table not in self.drafts:
            frame = read_table(self.folder / f"{table}.csv")
            columns = list(frame.columns)
            values = [[str(v) for v in row] for row in frame.itertuples(index=False)]
            rows = [self._row(columns, row) for row in values]
            self.drafts[table] = _Draft(columns, rows, [r for r in values if any(r)], [])
            said = f"{len(frame)} rows of {table}.csv from {self.folder}"
        else:
            said = f"{table}.csv with its unsaved edits ({len(self.drafts[table].rows)} rows)"
        self._layout()
        self._say(said)

    def _switch(self, change: dict) -> None:
        old = change["old"]
        self._open(change["new"])
        if old in self.drafts and self._dirty(old):
            self._say(f"unsaved changes in {old}.csv (kept until saved or discarded); now {change['new']}.csv")

    def reload(self) -> None:
        """Re-read the selected table from the folder, dropping its unsaved edits (what **Discard** does)."""
        self.drafts.pop(self.table.value, None)
        self._open(self.table.value)

    def discard(self) -> None:
        """Drop the unsaved edits of the selected table: the grid shows the file again."""
        self.reload()
        self._say(f"unsaved edits of {self.table.value}.csv discarded; {len(self.cells)} rows from the file")

    # -- cells -----------------------------------------------------------------------------------------

    def _row(self, columns: list[str], values: list[str]) -> _Row:
        row = _Row([self._box(c, v) for c, v in zip(columns, values, strict=True)])
        row.delete.on_click(lambda _b, row=row: self.delete_row(self.draft.rows.index(row)))
        for k, box in enumerate(row.cells):
            box.observe(lambda change, row=row, k=k: self._edited(row, k, change), names="value")
        return row

    def _box(self, column: str, value: str):
        layout = w.Layout(width="auto")
        choices = self.choices.get(column)
        if choices is None:
            if column in self.catalogue_columns:
                return w.Combobox(value=value, options=self.models, ensure_option=False, layout=layout)
            return w.Text(value=value, continuous_update=False, layout=layout)
        return w.Dropdown(options=self._options(choices, value), value=value, layout=layout)

    @staticmethod
    def _options(choices: list[str], value: str) -> list[tuple[str, str]]:
        values = list(dict.fromkeys([*choices, *([value] if value not in choices else [])]))
        return [(_CHOICE_LABELS.get(v, v), v) for v in values]

    def _edited(self, row: _Row, k: int, change: dict) -> None:
        if self._muted:
            return
        draft = next((d for d in self.drafts.values() if row in d.rows), None)
        if draft is None:
            return
        draft.undo.append(("edit", row, k, "" if change["old"] is None else change["old"]))
        if draft.columns[k] == draft.columns[0] and "exception_of" in draft.columns:
            self._refresh_references(draft)
        self._show_status()

    def _set(self, box, value: str) -> None:
        """Put ``value`` into ``box``; a dropdown gains it as an option when its choices lack it."""
        if isinstance(box, w.Dropdown) and value not in [v for _, v in box.options]:
            current, muted = box.value, self._muted
            self._muted = True
            box.options = [*box.options, (_CHOICE_LABELS.get(value, value), value)]
            box.value = current
            self._muted = muted
        box.value = value

    def set_cell(self, row: int, column: str, value: str) -> None:
        """Put ``value`` into one cell (``row`` counts data rows from 0: the row numbered ``row + 2``). A
        dropdown takes any value given here (a script's or a test's) as an extra option; Check says if it is bad."""
        self._set(self.cells[row][self.columns.index(column)], value)

    def _refresh_references(self, draft: _Draft) -> None:
        """Keep the ``exception_of`` dropdowns offering the table's current rule ids."""
        if "exception_of" not in draft.columns or not draft.rows:
            return
        k = draft.columns.index("exception_of")
        if not isinstance(draft.rows[0].cells[k], w.Dropdown):
            return
        ids = ["", *(r.cells[0].value for r in draft.rows if r.cells[0].value)]
        muted, self._muted = self._muted, True
        for row in draft.rows:
            box = row.cells[k]
            value = box.value
            box.options = self._options(ids, value)
            box.value = value
        self._muted = muted

    # -- rows ------------------------------------------------------------------------------------------

    def _append_row(self) -> None:
        draft = self.draft
        row = self._row(draft.columns, [""] * len(draft.columns))
        draft.rows.append(row)
        draft.undo.append(("add", row))
        self._layout()

    def delete_row(self, row: int) -> None:
        """Delete data row ``row`` (from 0: the row numbered ``row + 2``); :meth:`undo` puts it back."""
        draft = self.draft
        if not 0 <= row < len(draft.rows):
            raise IndexError(f"{self.table.value}.csv has no row {row + 2} (rows 2 to {len(draft.rows) + 1})")
        removed = draft.rows.pop(row)
        draft.undo.append(("delete", row, removed))
        self._refresh_references(draft)
        self._layout()
        self._say(f"row {row + 2} deleted (not saved yet; Undo puts it back)")

    def undo(self) -> bool:
        """Take back the last edit, deleted row or added row of the selected table; False when nothing is left."""
        draft = self.draft
        if not draft.undo:
            self._say(f"nothing to undo in {self.table.value}.csv")
            return False
        op = draft.undo.pop()
        self._muted = True
        try:
            if op[0] == "edit":
                _, row, k, old = op
                self._set(row.cells[k], old)
                said = f"undid the edit of row {draft.rows.index(row) + 2}, column {draft.columns[k]}"
            elif op[0] == "delete":
                _, index, row = op
                draft.rows.insert(index, row)
                said = f"row {index + 2} restored"
            else:
                draft.rows.remove(op[1])
                said = "the added row removed"
        finally:
            self._muted = False
        self._refresh_references(draft)
        self._layout()
        self._say(said)
        return True

    def _layout(self) -> None:
        draft = self.draft
        header = [w.HTML("<b>row</b>"), w.HTML(""), *(w.HTML(f"<b>{html.escape(c)}</b>") for c in draft.columns)]
        children = header
        for k, row in enumerate(draft.rows):
            row.number.value = f"{k + 2}"
            children += [row.number, row.delete, *row.cells, row.note]
        self.grid.children = children
        self.grid.layout = w.Layout(grid_template_columns=f"auto auto repeat({max(len(draft.columns), 1)}, auto)")
        self._show_status()

    def _show_status(self) -> None:
        unsaved = self.unsaved()
        text = f"unsaved changes in {', '.join(unsaved)}" if unsaved else "no unsaved changes"
        self.status.value = f"<span>{html.escape(text)}</span>"

    def frame(self) -> pd.DataFrame:
        """The grid as a table of text (rows whose every cell is empty are left out)."""
        return self._frame()[0]

    def _frame(self) -> tuple[pd.DataFrame, list[int]]:
        """The grid as a table and, for each of its rows, the row's index in the grid."""
        values = [row.values() for row in self.draft.rows]
        kept = [k for k, v in enumerate(values) if any(v)]
        frame = pd.DataFrame([values[k] for k in kept], columns=self.columns, dtype=object)
        return frame, kept

    # -- checking and saving -------------------------------------------------------------------------

    def _numbered(self, problems: pd.DataFrame, kept: list[int]) -> pd.DataFrame:
        """The problems with the rows of the edited table renumbered as the grid shows them."""
        problems = problems.copy()
        mine = (problems["file"].astype(str) == f"{self.table.value}.csv") & (problems["row"].astype(int) >= 2)
        problems.loc[mine, "row"] = [
            kept[r - 2] + 2 if r - 2 < len(kept) else r for r in problems.loc[mine, "row"].astype(int)
        ]
        return problems

    def _mark(self, problems: pd.DataFrame | None) -> None:
        """Highlight the cells ``problems`` names in the edited table, the problem beside each row."""
        draft = self.draft
        notes: dict[int, list[str]] = {}
        for row in draft.rows:
            for box in row.cells:
                box.remove_class(BAD_CELL)
                box.tooltip = None
            row.note.value = ""
            row.note.add_class(QUIET_NOTE)
        if problems is None:
            return
        for rec in problems.itertuples(index=False):
            index = int(rec.row) - 2
            if str(rec.file) != f"{self.table.value}.csv" or not 0 <= index < len(draft.rows):
                continue
            row = draft.rows[index]
            if rec.column in draft.columns:
                box = row.cells[draft.columns.index(rec.column)]
                box.add_class(BAD_CELL)
                box.tooltip = str(rec.problem)
            notes.setdefault(index, []).append(f"{rec.column}: {rec.problem}" if rec.column else str(rec.problem))
        for index, lines in notes.items():
            note = draft.rows[index].note
            note.value = f"row {index + 2}: " + "<br>".join(html.escape(t) for t in lines)
            note.remove_class(QUIET_NOTE)

    def _problems(self, problems: pd.DataFrame, kept: list[int], head: str) -> pd.DataFrame:
        problems = self._numbered(problems, kept)
        self._mark(problems)
        self._say(f"{len(problems)} problem(s); {head}", problems=problems)
        return problems

    def check(self) -> pd.DataFrame:
        """Show and return every problem the edited table would cause (nothing is written); ``row`` is the row
        number the grid shows. The cells named are highlighted, the problem beside the row."""
        frame, kept = self._frame()
        problems = check_table(self.folder, self.table.value, frame)
        if problems.empty:
            self._mark(None)
            self._say(f"{self.table.value}.csv: no problem (not saved yet)")
            return problems
        return self._problems(problems, kept, "nothing saved")

    def save(self) -> RuleBook | None:
        """Save through :func:`save_table`; show the problems instead when it refuses. Returns the new book."""
        frame, kept = self._frame()
        try:
            book = save_table(self.folder, self.table.value, frame)
        except RuleBookError as exc:
            self._problems(exc.problems, kept, "nothing saved")
            return None
        except (BaselineWriteError, OutputError, TargetError, ProposalBusyError, ValueError) as exc:
            self._say(f"not saved: {exc}")
            return None
        self.reload()  # the grid shows the file as written (empty rows gone, numbering as on disk)
        result = diff(load_rulebook(RULES_DIR), book)
        self._say(f"saved {self.table.value}.csv; rule book hash {book.hash}", result.summary())
        return book

    def _say(self, text: str, table: pd.DataFrame | None = None, *, problems: pd.DataFrame | None = None) -> None:
        body = f"<p>{html.escape(text)}</p>"
        if problems is not None:
            lines = []
            for rec in problems.itertuples(index=False):
                where = str(rec.file) + (f", row {rec.row}" if int(rec.row or 0) else "")
                where += f", column {rec.column}" if rec.column else ""
                value = f" (value {rec.value!s:.80})" if str(rec.value) else ""
                lines.append(f"<li>{html.escape(f'{where}: {rec.problem}{value}')}</li>")
            body += f"<ul class='sp-problems'>{''.join(lines)}</ul>"
        if table is not None:
            body += table.to_html(index=False, escape=True)
        self.message.value = body
        self._show_status()
