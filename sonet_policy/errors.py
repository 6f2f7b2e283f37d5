"""The kit's named exceptions. Each carries fields as well as a message."""

from __future__ import annotations

import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "value", "problem"]
_SHOWN = 25


def _cut(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RuleBookError(ValueError):
    """A rule book that cannot be loaded. ``problems`` lists every problem at once.

    ``problems`` is a DataFrame with columns file, row, column, value, problem; ``row`` is the line of the
    CSV file as a spreadsheet shows it (the header is line 1), or 0 where the problem is with the whole file.
    """

    def __init__(self, problems: pd.DataFrame | list[dict], *, folder: str = "") -> None:
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


class ScenarioError(ValueError):
    """A scenario that cannot be evaluated, with the field and why."""

    def __init__(self, message: str, *, field: str = "", row: object = None) -> None:
        self.field = field
        self.row = row
        super().__init__(message)
