"""Safe edits: a proposal is a named copy of the baseline rule book that analysts edit, validate and diff.

Workflow (``python -m sonet_policy proposal new|check NAME`` does the same on the command line):

1. :func:`create_proposal` copies the baseline (``data/rules``) to ``proposals/<name>/``;
2. edit the CSVs in a spreadsheet, or save an edited table with :func:`save_table` (under a lock file beside
   the proposal, validates the whole book with the edit first, then writes atomically: a temporary file,
   then a rename; in a notebook, :class:`sonet_policy.widgets.editor.ProposalEditor` edits a table in a grid
   and saves through it);
3. :func:`validate_proposal` lists every problem as a table (empty when the book loads);
4. :func:`review_proposal` validates, audits and diffs it against the baseline in one call
   (:func:`sonet_policy.analysis.diff.diff` alone compares any two books).

The kit never writes the baseline: every write in this module goes through :mod:`sonet_policy.files.write`, which
refuses the rule folder, the page and the catalogue however the path is spelled.
Each loaded book carries ``RuleBook.hash`` (a content hash of its tables, the catalogue and the clauses);
every ``evaluate`` output row records it as ``rulebook_hash``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from sonet_policy.analysis.audit import KINDS, audit
from sonet_policy.analysis.diff import DiffResult, diff
from sonet_policy.book.load import META_FILES, load_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.errors import PROBLEM_COLUMNS, ProposalBusyError, RuleBookError
from sonet_policy.files.write import (
    _kind,
    refuse_protected,
    write_atomically,
)
from sonet_policy.paths import RULES_DIR

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


def refuse_baseline(target: Path | str) -> Path:
    """Return ``target`` resolved, or raise :class:`BaselineWriteError` when it lies in the baseline (the rule
    folder, the page or the catalogue: :func:`sonet_policy.files.write.refuse_protected`). A proposal folder that is
    the command's ``--rules`` is not refused as a target itself: saving into it is deliberate.

    >>> refuse_baseline(RULES_DIR / "wifi.csv")
    Traceback (most recent call last):
    ...
    sonet_policy.errors.BaselineWriteError: refusing to write ... it is in the baseline rule book ...
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
    diff: DiffResult | None = None

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
