"""How typed text is compared: the keys that value spellings and column headers are matched by.

>>> value_key("  ＮＴＴ東日本 ")
'ntt東日本'
>>> header_key(" Keep-Number ")
'keep_number'
"""

from __future__ import annotations

import unicodedata


def value_key(value: object) -> str:
    """A typed value as it is matched against a domain or an alias: NFKC, stripped, lower case."""
    return unicodedata.normalize("NFKC", str(value)).strip().lower()


def header_key(name: object) -> str:
    """A column header as it is matched against an input's names: as :func:`value_key`, with spaces and
    hyphens read as ``_``."""
    return "_".join(value_key(name).replace("-", " ").split())
