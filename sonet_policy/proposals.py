"""Safe edits: a proposal is a named copy of the baseline rule book that analysts edit, validate and diff.

Workflow (``python -m sonet_policy proposal new|check NAME`` does the same on the command line):

1. :func:`create_proposal` copies the baseline (``data/rules``) to ``proposals/<name>/``;
2. edit the CSVs in a spreadsheet, or save an edited table with :func:`save_table` (under a lock file beside
   the proposal, validates the whole book with the edit first, then writes atomically: a temporary file,
   then a rename);
3. :func:`validate_proposal` lists every problem as a table (empty when the book loads);
4. :func:`review_proposal` validates, audits and diffs it against the baseline in one call
   (:func:`sonet_policy.diff.diff` alone compares any two books).

The kit never writes the baseline: every write in this module goes through :mod:`sonet_policy.files`, which
refuses the rule folder, the page and the catalogue however the path is spelled.
Each loaded book carries ``RuleBook.hash`` (a content hash of its tables, the catalogue and the clauses);
every ``evaluate`` output row records it as ``rulebook_hash``.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .display import WidgetApp
from .errors import PROBLEM_COLUMNS, RuleBookError
from .files import BaselineWriteError, OutputError, TargetError, _kind, refuse_protected, write_atomically
from .paths import RULES_DIR
from .rules import META_FILES, RuleBook, load_rulebook

PROPOSALS_ENV = "SONET_POLICY_PROPOSALS"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")  # fullmatch: no trailing newline
_TABLE = re.compile(r"[A-Za-z0-9_]+")
OPTIONAL_FILES = ("constraints.csv",)
LOCK_TIMEOUT = 60.0  # seconds a save waits for another save of the same proposal


def proposals_dir() -> Path:
    """Where proposals are written: the folder named by ``$SONET_POLICY_PROPOSALS``, else ``proposals/`` in the
    current directory (never beside the installed package). Returns an absolute path; raises nothing.

    >>> proposals_dir().is_absolute()
    True
    """
    return Path(os.environ.get(PROPOSALS_ENV) or Path.cwd() / "proposals").expanduser().absolute()


def __getattr__(name: str) -> Path:
    if name == "PROPOSALS_DIR":  # read when asked, so it follows the current directory and the environment
        return proposals_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ProposalBusyError(TimeoutError):
    """Another process held the proposal's lock for :data:`LOCK_TIMEOUT` seconds; nothing was written."""


def refuse_baseline(target: Path | str) -> Path:
    """Return ``target`` resolved, or raise :class:`BaselineWriteError` when it lies in the baseline (the rule
    folder, the page or the catalogue: :func:`sonet_policy.files.refuse_protected`). A proposal folder that is
    the command's ``--rules`` is not refused as a target itself: saving into it is deliberate.

    >>> refuse_baseline(RULES_DIR / "wifi.csv")
    Traceback (most recent call last):
    ...
    sonet_policy.files.BaselineWriteError: refusing to write ... it is in the baseline rule book ...
    """
    return refuse_protected(target, allow=target if Path(target).is_dir() else None)


@contextmanager
def proposal_lock(folder: Path | str) -> Iterator[None]:
    """Hold the lock of the proposal ``folder`` (the file ``.<name>.lock`` beside it; ``filelock``): two
    processes saving into one proposal take turns. Raises :class:`ProposalBusyError` after
    :data:`LOCK_TIMEOUT` seconds.

    >>> import tempfile
    >>> with proposal_lock(Path(tempfile.mkdtemp()) / "p"):
    ...     pass
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    lock = FileLock(folder.parent / f".{folder.name}.lock", timeout=LOCK_TIMEOUT)
    try:
        with lock:
            yield
    except Timeout as exc:
        raise ProposalBusyError(
            f"{folder}: another save into this proposal has held {lock.lock_file} for {LOCK_TIMEOUT:.0f} s; nothing "
            "was written; try again (or remove the lock file if no process is saving)"
        ) from exc


def read_table(path: Path | str) -> pd.DataFrame:
    """Read one rule-book CSV as text (no type guessing, empty cells stay empty)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def write_table(path: Path | str, frame: pd.DataFrame) -> None:
    """Write one rule-book CSV atomically (temporary file, then rename); never into the baseline. Cells are
    written as they are (a rule table is read back by the kit: ``-`` means any, ``>=32`` a bound). Saving into
    a proposal is deliberate even while it is the command's ``--rules`` (``allow=`` its folder)."""
    folder = Path(path).parent
    path = refuse_protected(path, allow=folder)
    text = frame.astype(object).where(frame.notna(), "").astype(str)
    write_atomically(path, lambda tmp: text.to_csv(tmp, index=False, lineterminator="\n"), allow=folder)


def copy_rulebook(src: Path | str, dst: Path | str) -> Path:
    """Copy the CSV files (and README.md) of rule book ``src`` into the new (or empty) folder ``dst``; returns
    ``dst`` resolved.

    Only regular files directly in ``src`` are copied (symlinks are not followed). The copy is made in a
    temporary folder beside ``dst`` and renamed to ``dst`` when complete: a half-copied book never appears, and
    of two processes creating one ``dst`` only one succeeds. Raises FileExistsError when ``dst`` holds files,
    :class:`BaselineWriteError` when ``dst`` is in the baseline.
    """
    src = Path(src).resolve()
    dst = refuse_baseline(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"rule book folder {src} does not exist")
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise FileExistsError(f"{dst} already exists and is not empty")
    if not dst.exists():
        _kind(dst)  # TargetError when a folder on the way is a file
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        tmp.chmod(0o777 & ~mask)
        for path in sorted([*src.glob("*.csv"), *src.glob("README.md")]):
            if path.is_symlink() or not path.is_file():
                continue
            shutil.copyfile(path, tmp / path.name)
        try:
            os.rename(tmp, dst)  # replaces an empty folder; fails on one with files (another process was first)
        except OSError as exc:
            if dst.exists():
                raise FileExistsError(f"{dst} already exists and is not empty") from exc
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def create_proposal(name: str, *, base: Path | str = RULES_DIR, root: Path | str | None = None) -> Path:
    """Copy the rule book ``base`` (default: the baseline) to ``root/name`` and return that folder; ``root``
    defaults to :func:`proposals_dir`.

    ``name`` is letters, digits, ``_``, ``.``, ``-`` (no path separators, at most 64 characters, nothing after
    them, not even a newline). Raises ValueError for a bad name, FileExistsError when the proposal exists,
    :class:`BaselineWriteError` when ``root`` is in the baseline.

    >>> import tempfile
    >>> folder = create_proposal("west-exchange", root=tempfile.mkdtemp())
    >>> folder.name, (folder / "wifi.csv").exists()
    ('west-exchange', True)
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"proposal name {name!r}: use letters, digits, '_', '.', '-' (up to 64)")
    return copy_rulebook(base, Path(root if root is not None else proposals_dir()) / name)


def validate_proposal(path: Path | str) -> pd.DataFrame:
    """Every problem of the rule book in ``path`` as a table (file, row, column, value, problem); empty if fine.

    Never raises for a broken book: the table says what is wrong (a missing folder is one problem row).

    >>> validate_proposal(RULES_DIR).empty
    True
    """
    try:
        load_rulebook(path)
    except RuleBookError as exc:
        return exc.problems
    return pd.DataFrame(columns=PROBLEM_COLUMNS)


def _table_file(book_folder: Path, decision: str) -> str:
    if not isinstance(decision, str) or not _TABLE.fullmatch(decision):
        raise ValueError(f"{decision!r} is not a table name (letters, digits and '_' only)")
    file = f"{decision}.csv"
    known = {f"{d}.csv" for d in read_table(book_folder / "decisions.csv")["decision"]} | set(META_FILES)
    known |= set(OPTIONAL_FILES)
    if file not in known:
        raise ValueError(f"{file} is not a table of this rule book ({', '.join(sorted(known))})")
    return file


def save_table(path: Path | str, decision: str, frame: pd.DataFrame) -> RuleBook:
    """Validate ``frame`` as table ``decision`` of the proposal at ``path``, then write it atomically.

    ``decision`` is a decision name (``wifi``) or a metadata table (``codes``, ``constraints`` …). Under the
    proposal's lock (:func:`proposal_lock`: two saves into one proposal take turns), the whole edited book
    is first loaded from a temporary copy of the folder with the new table; only if it loads is the table
    written (temporary file, then rename). Returns the reloaded book (its ``hash`` identifies the new
    content). Raises :class:`RuleBookError` (``.problems`` lists every problem; nothing is written),
    :class:`BaselineWriteError` when ``path`` is the baseline, :class:`ProposalBusyError` when another save
    holds the lock too long.

    >>> import tempfile
    >>> folder = create_proposal("p", root=tempfile.mkdtemp())
    >>> table = read_table(folder / "wifi.csv")
    >>> table.loc[table["rule_id"] == "WIFI-3", "wifi"] = "stops"
    >>> save_table(folder, "wifi", table).hash != load_rulebook().hash
    True
    """
    folder = refuse_baseline(path)
    with proposal_lock(folder):
        file = _table_file(folder, decision)
        problems = check_table(folder, decision, frame)
        if not problems.empty:
            raise RuleBookError(problems, folder=str(folder))
        write_table(folder / file, frame)
        return load_rulebook(folder)


def check_table(path: Path | str, decision: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The problems the rule book at ``path`` would have with ``frame`` as table ``decision`` (empty: none).

    Works on a temporary copy of the folder; ``path`` itself is only read (it may be the baseline).

    >>> problems = check_table(RULES_DIR, "wifi", read_table(RULES_DIR / "wifi.csv").assign(wifi="sometimes"))
    >>> sorted(set(problems["column"])), len(problems)
    (['wifi'], 6)
    """
    folder = Path(path).resolve()
    file = _table_file(folder, decision)
    with tempfile.TemporaryDirectory(prefix="sonet-proposal-") as tmp:
        trial = copy_rulebook(folder, Path(tmp) / "book")
        write_table(trial / file, frame)
        return validate_proposal(trial)


@dataclass
class Review:
    """A proposal checked against its base: ``problems`` (empty when it loads); when it loads, ``findings``
    (its audit), ``findings_change`` (per kind: base, proposal, change) and ``diff`` (a DiffResult)."""

    folder: Path
    problems: pd.DataFrame
    findings: pd.DataFrame | None = None
    findings_change: pd.DataFrame | None = None
    diff: object | None = None

    @property
    def ok(self) -> bool:
        return self.problems.empty

    def __str__(self) -> str:
        if not self.ok:
            return str(RuleBookError(self.problems, folder=str(self.folder)))
        lines = [f"proposal {self.folder}: loads, hash {self.diff.book_b.hash}", "audit findings (base → proposal):"]
        lines.append(self.findings_change.to_string(index=False))
        for kind in ("stale_citation", "uncited_clause"):  # what a new page leaves for a person to review
            rows = self.findings[self.findings["kind"] == kind]
            lines += [f"{kind}: {len(rows)}"] + [f"  {m}" for m in rows["message"]] if len(rows) else []
        lines += ["", str(self.diff)]
        return "\n".join(lines)


def review_proposal(
    path: Path | str, *, base: Path | str = RULES_DIR, population: pd.DataFrame | None = None
) -> Review:
    """Validate the proposal at ``path``, and if it loads, audit it and diff it against ``base``.

    Never raises for a broken proposal (see ``Review.problems``). With a ``population`` the diff counts the
    customers who change answer and the audit counts customers per finding.

    >>> import tempfile
    >>> review = review_proposal(create_proposal("same", root=tempfile.mkdtemp()))
    >>> review.ok, review.diff.cells.empty, review.findings_change["change"].abs().sum()
    (True, True, np.int64(0))
    """
    from .audit import KINDS, audit
    from .diff import diff

    folder = Path(path)
    problems = validate_proposal(folder)
    if not problems.empty:
        return Review(folder, problems)
    before, after = load_rulebook(base), load_rulebook(folder)
    found_before, found_after = audit(before), audit(after, population=population)
    change = pd.DataFrame({"kind": list(KINDS)})
    change["base"] = change["kind"].map(found_before["kind"].value_counts()).fillna(0).astype("int64")
    change["proposal"] = change["kind"].map(found_after["kind"].value_counts()).fillna(0).astype("int64")
    change["change"] = change["proposal"] - change["base"]
    return Review(folder, problems, found_after, change, diff(before, after, population=population))


# ---------------------------------------------------------------- notebook editor ----


class ProposalEditor(WidgetApp):
    """An editable grid for one table of a proposal, in a notebook (ipywidgets; imported when built).

    Pick a table, edit its cells (each a text box), then **Check** (lists every problem, writes nothing) or
    **Save** (:func:`save_table`: validates first, writes atomically, then shows the new hash and what changes
    against the baseline). The baseline folder can be opened to read, never saved. Messages are escaped HTML
    (no Output widget). ``frame()`` returns the grid as a DataFrame; ``set_cell`` / ``check`` / ``save`` do
    what the controls do, for tests and scripts.
    """

    def __init__(self, folder: Path | str, decision: str = "wifi") -> None:
        import ipywidgets as w

        self.folder = Path(folder)
        self._w = w
        names = list(read_table(self.folder / "decisions.csv")["decision"])
        tables = [*names, *(f.removesuffix(".csv") for f in (*META_FILES, *OPTIONAL_FILES))]
        tables = [t for t in tables if (self.folder / f"{t}.csv").is_file()]
        self.table = w.Dropdown(
            options=tables, value=decision if decision in tables else tables[0], description="table"
        )
        self.add_row = w.Button(description="Add row")
        self.check_button = w.Button(description="Check", button_style="info")
        self.save_button = w.Button(description="Save", button_style="warning")
        self.message = w.HTML()
        self.grid = w.GridBox()
        self.cells: list[list] = []
        self.columns: list[str] = []
        self.table.observe(lambda change: self.reload(), names="value")
        self.add_row.on_click(lambda _b: self._append_row())
        self.check_button.on_click(lambda _b: self.check())
        self.save_button.on_click(lambda _b: self.save())
        controls = w.HBox([self.table, self.add_row, self.check_button, self.save_button])
        self.widget = w.VBox([controls, self.grid, self.message])
        self.reload()

    def summary(self) -> str:
        """One line for the notebook's plain text: the table, the proposal and the last message."""
        said = html.unescape(re.sub(r"<[^>]+>", " ", self.message.value.split("</p>")[0])).strip()
        said = said.replace(str(self.folder), self.folder.name)  # no machine-specific path in saved outputs
        table = f"{self.table.value}.csv of proposal {self.folder.name!r}"
        return f"ProposalEditor: {table}, {len(self.cells)} rows; {said}"

    def reload(self) -> None:
        """(Re)read the selected table from the folder into the grid."""
        frame = read_table(self.folder / f"{self.table.value}.csv")
        self.columns = list(frame.columns)
        self.cells = [[self._box(v) for v in row] for row in frame.itertuples(index=False)]
        self._layout()
        self._say(f"{len(frame)} rows of {self.table.value}.csv from {self.folder}")

    def _box(self, value: str):
        return self._w.Text(value=str(value), layout=self._w.Layout(width="auto"))

    def _append_row(self) -> None:
        self.cells.append([self._box("") for _ in self.columns])
        self._layout()

    def _layout(self) -> None:
        w = self._w
        header = [w.HTML(f"<b>{html.escape(c)}</b>") for c in self.columns]
        self.grid.children = [*header, *(box for row in self.cells for box in row)]
        self.grid.layout = w.Layout(grid_template_columns=f"repeat({max(len(self.columns), 1)}, auto)")

    def frame(self) -> pd.DataFrame:
        """The grid as a table of text (rows whose every cell is empty are left out)."""
        rows = [[box.value for box in row] for row in self.cells]
        frame = pd.DataFrame(rows, columns=self.columns, dtype=object)
        return frame[frame.ne("").any(axis=1)].reset_index(drop=True) if len(frame) else frame

    def set_cell(self, row: int, column: str, value: str) -> None:
        """Type ``value`` into one cell (``row`` counts data rows from 0)."""
        self.cells[row][self.columns.index(column)].value = value

    def check(self) -> pd.DataFrame:
        """Show and return every problem the edited table would cause (nothing is written)."""
        problems = check_table(self.folder, self.table.value, self.frame())
        if problems.empty:
            self._say(f"{self.table.value}.csv: no problem (not saved yet)")
        else:
            self._say(f"{len(problems)} problem(s); nothing saved", problems)
        return problems

    def save(self) -> RuleBook | None:
        """Save through :func:`save_table`; show the problems instead when it refuses. Returns the new book."""
        try:
            book = save_table(self.folder, self.table.value, self.frame())
        except (BaselineWriteError, OutputError, TargetError, ProposalBusyError, ValueError) as exc:
            if isinstance(exc, RuleBookError):
                self._say(f"{len(exc.problems)} problem(s); nothing saved", exc.problems)
            else:
                self._say(f"not saved: {exc}")
            return None
        except RuleBookError as exc:
            self._say(f"{len(exc.problems)} problem(s); nothing saved", exc.problems)
            return None
        from .diff import diff

        result = diff(load_rulebook(RULES_DIR), book)
        self._say(f"saved {self.table.value}.csv; rule book hash {book.hash}", result.summary())
        return book

    def _say(self, text: str, table: pd.DataFrame | None = None) -> None:
        body = f"<p>{html.escape(text)}</p>"
        if table is not None:
            body += table.to_html(index=False, escape=True)
        self.message.value = body


# ---------------------------------------------------------------- command line ----


def _proposal_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("new", "check"), help="new: copy the baseline; check: validate and diff")
    p.add_argument("name", help="proposal name (a folder under --root) or a folder path for check")
    p.add_argument(
        "--root",
        "--proposals-dir",
        dest="root",
        default=None,
        help=f"where proposals live (default: ${PROPOSALS_ENV}, else proposals/ in the current directory)",
    )
    p.add_argument("--population", default=None, help="check: customer CSV to count who changes answer")


def _proposal_run(args: argparse.Namespace) -> int:
    if args.action == "new":
        try:
            folder = create_proposal(args.name, root=args.root)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except FileExistsError:
            where = Path(args.root or proposals_dir()) / args.name
            print(
                f"error: proposal {args.name!r} already exists at {where}; edit it or choose another name",
                file=sys.stderr,
            )
            return 2
        print(f"proposal {args.name} → {folder} (a copy of {RULES_DIR}); edit its CSVs, then: proposal check")
        return 0
    root = Path(args.root) if args.root else proposals_dir()
    folder = Path(args.name) if Path(args.name).is_dir() else root / args.name
    from .population import load_population

    population = load_population(args.population) if args.population else None
    review = review_proposal(folder, population=population)
    print(review, file=sys.stdout if review.ok else sys.stderr)
    return 0 if review.ok else 2


def _register() -> None:
    from .cli import command

    command(
        "proposal", summary="start (new) or validate and diff (check) an edited copy of the rule book", rules=False
    )((_proposal_args, _proposal_run))


_register()
