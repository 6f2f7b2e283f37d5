"""The kit's named exceptions, all of them, in one place. Each carries fields as well as a message.

Importing this module imports no pandas (the command line's ``--help`` reads it): a :class:`RuleBookError`
builds its table of problems when it is raised.

>>> str(ScenarioError("device 'X' is not in the catalogue", field="device"))
"device 'X' is not in the catalogue"
>>> RuleBookError([dict(file="a.csv", row=2, column="x", value="?", problem="bad")]).problems.shape
(1, 5)
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "value", "problem"]
_SHOWN = 25


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- the rule book and the page ----


class RuleBookError(ValueError):
    """A rule book that cannot be loaded. ``problems`` lists every problem at once.

    ``problems`` is a DataFrame with columns file, row, column, value, problem; ``row`` is the line of the
    CSV file as a spreadsheet shows it (the header is line 1), or 0 where the problem is with the whole file.
    """

    def __init__(self, problems: pd.DataFrame | list[dict], *, folder: str = "") -> None:
        import pandas as pd

        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        self.problems = frame.reset_index(drop=True)
        self.folder = folder
        lines = [f"rule book {folder or ''} has {len(frame)} problem(s):".replace("  ", " ")]
        for rec in frame.head(_SHOWN).itertuples(index=False):
            where = rec.file + (f", row {rec.row}" if rec.row else "")
            where += f", column {rec.column}" if rec.column else ""
            value = f" (value {_cut(str(rec.value))!r})" if rec.value not in ("", None) else ""
            lines.append(f"  - {where}: {rec.problem}{value}")
        if len(frame) > _SHOWN:
            lines.append(f"  … and {len(frame) - _SHOWN} more (see .problems)")
        super().__init__("\n".join(lines))


class ConditionError(ValueError):
    """A condition cell that the grammar cannot read or whose values are outside the input's domain."""


class PageError(ValueError):
    """A new page the kit cannot turn into a catalogue: lines the splitter or the device notation cannot read."""

    def __init__(self, problems: pd.DataFrame) -> None:
        self.problems = problems
        lines = [f"line {r['line']}: {r['problem']}: {r['text']}" for r in problems.to_dict(orient="records")]
        super().__init__(f"{len(problems)} line(s) of the new page cannot be read:\n  " + "\n  ".join(lines))


# ---------------------------------------------------------------- scenarios and customer files ----


class ScenarioError(ValueError):
    """A scenario that cannot be evaluated, with the field and why."""

    def __init__(self, message: str, *, field: str = "", row: object = None) -> None:
        self.field = field
        self.row = row
        super().__init__(message)


class ScenarioFileError(ScenarioError):
    """A scenario file that cannot be evaluated at all (unreadable, or a required column is missing).

    ``path`` is the file; ``field`` the missing input where that is the problem.
    """

    def __init__(self, message: str, *, path: Path | str = "", field: str = "") -> None:
        self.path = str(path)
        super().__init__(message, field=field)


class UploadError(ScenarioError):
    """An uploaded file that cannot be read as scenarios; the message names the file (and the column)."""


# ---------------------------------------------------------------- writing files ----


class TargetError(ValueError):
    """An output path the kit will not write: empty, a folder, a parent that is a file, a dangling symlink, a
    block device or a socket. ``path`` is the path as given. A usage error (exit code 2)."""

    def __init__(self, message: str, *, path: object = "") -> None:
        self.path = str(path)
        super().__init__(message)


class BaselineWriteError(PermissionError):
    """A write aimed at the baseline (the rule folder, the page or the catalogue), which the kit never modifies."""


class OutputError(OSError):
    """Writing ``path`` failed (the disk is full, permission denied, a read-only file system …). The message is
    one line naming the path and what to do; ``errno`` is the system's error number (exit code 1)."""

    def __init__(self, path: object, code: int | None, reason: str) -> None:
        super().__init__(code, reason)
        self.filename = str(path)
        self.message = f"cannot write {path}: {reason}"

    def __str__(self) -> str:
        return self.message


class ProposalBusyError(TimeoutError):
    """Another process held the proposal's lock for :data:`sonet_policy.analysis.proposals.LOCK_TIMEOUT`
    seconds; nothing was written."""


class Interrupted(BaseException):
    """A termination signal (SIGTERM, SIGHUP) turned into an exception, as Ctrl-C is KeyboardInterrupt: the
    writes in progress clean up. ``signum`` is the signal; the command line exits with ``128 + signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
