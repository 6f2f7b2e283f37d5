"""Where the kit's data lives: the ``sonet_policy/data`` shipped inside an installed wheel, else the checkout's
top-level ``data/`` (an editable install or a clone). Never the working directory.

>>> (RULES_DIR / "decisions.csv").is_file(), RULES_DIR.parent == DATA_DIR
(True, True)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent  # the checkout's root when running from one (tests, editable installs)


def data_dir() -> Path:
    """The folder holding ``rules/``, ``source/`` and ``devices.csv``.

    Returns the package's own ``data`` resource when the wheel ships it (an installed kit), else the
    checkout's top-level ``data/``. Raises nothing: a missing folder is reported by whoever reads it.

    >>> data_dir() == DATA_DIR
    True
    """
    shipped = resources.files(__package__ or "sonet_policy") / "data"
    if isinstance(shipped, Path) and shipped.is_dir():
        return shipped.resolve()
    return PROJECT_DIR / "data"


DATA_DIR = data_dir()
RULES_DIR = DATA_DIR / "rules"
SOURCE_DIR = DATA_DIR / "source"
DEVICES_CSV = DATA_DIR / "devices.csv"
CLAUSES_CSV = SOURCE_DIR / "clauses.csv"
PAGE_TXT = SOURCE_DIR / "sonet-hikari-denwa-cancellation.txt"
INSTALLED = DATA_DIR != PROJECT_DIR / "data"  # True in a wheel install: the data is read-only package data
