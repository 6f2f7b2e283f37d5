"""What the commands print to a terminal: text from files shown, never obeyed."""

from __future__ import annotations

from typing import Any


def printable(text: str) -> str:
    r"""``text`` without terminal control characters (a file name or a cell could hold escape sequences).

    >>> printable("a\x1b[2Jb")
    'a\\x1b[2Jb'
    """
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)


class InertTerminal:
    """A terminal stream that shows control characters as ``\\x1b`` …: text from a file (a rule note, a file
    name, a header) cannot move the cursor, clear the screen or retitle the window."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.terminal = stream  # for the progress bar, whose carriage returns are the kit's own

    def write(self, text: str) -> int:
        self._stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
