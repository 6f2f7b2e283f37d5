"""Stamp the shipped rule book: each rule's, constraint's and invariant's ``cited_hash`` records the clause text it
cites, so a later page revision flags exactly the rules standing on changed text (``stale_citation``).

The kit never writes ``data/rules`` (:func:`sonet_policy.analysis.revision.stamp` refuses it); this maintainers' script
stamps a temporary copy and copies back the tables whose bytes changed. Run it after adding a rule to a shipped
table (``make stamp``), or with ids after a person re-read those rules against the page::

    python scripts/stamp_rules.py              # rows with no hash yet
    python scripts/stamp_rules.py WIFI-3 ...   # re-stamp these rules, constraints or invariants
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from sonet_policy.analysis.proposals import copy_rulebook
from sonet_policy.analysis.revision import stamp
from sonet_policy.paths import RULES_DIR
from sonet_policy.source.clauses import read_clauses


def main(ids: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="sonet-stamp-") as tmp:
        copy = copy_rulebook(RULES_DIR, Path(tmp) / "rules")
        done = stamp(copy, clauses=read_clauses(), ids=ids or None, missing_only=not ids)
        changed = [p.name for p in sorted(copy.glob("*.csv")) if not filecmp.cmp(p, RULES_DIR / p.name, shallow=False)]
        for name in changed:
            shutil.copyfile(copy / name, RULES_DIR / name)
    print(f"stamped {len(done)} rows; rewrote {', '.join(changed) or 'nothing'} in {RULES_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
