"""Where the kit's data lives, found from the package's own location (never the working directory)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DATA_DIR = PROJECT_DIR / "data"
RULES_DIR = DATA_DIR / "rules"
SOURCE_DIR = DATA_DIR / "source"
DEVICES_CSV = DATA_DIR / "devices.csv"
CLAUSES_CSV = SOURCE_DIR / "clauses.csv"
PAGE_TXT = SOURCE_DIR / "sonet-hikari-denwa-cancellation.txt"
