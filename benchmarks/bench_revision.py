"""Time the page comparison (``source diff``) on a realistic revision of the shipped page, beside its peers.

Run: ``.venv/bin/python benchmarks/bench_revision.py [--repeat R] [--copies K]``. Prints, best of ``--repeat``:
loading the shipped book (the floor every command pays), splitting the page, aligning its clauses with the
book's, the whole comparison (split, align, stale rules, devices, numbers), and the same on a page made of
``--copies`` copies of the shipped page (the alignment is quadratic in the leftover clauses, so this shows
where it would start to hurt).
"""

from __future__ import annotations

import argparse
import time

from sonet_policy.analysis.revision import compare
from sonet_policy.book.load import load_rulebook
from sonet_policy.source.alignment import align
from sonet_policy.source.clauses import page_text
from sonet_policy.source.revision import apply_edits
from sonet_policy.source.splitter import split_page

EDITS = [
    ("a model added", "PR-200NE |", "PR-200NE PR-300NE |"),
    ("a day bound", "32 日以上経過している場合\n", "30 日以上経過している場合\n"),
    ("a footnote sentence dropped", "回収キットが送付された場合は、回収キットにて機器を返却してください。\n", ""),
]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--copies", type=int, default=4)
    args = parser.parse_args()
    page = apply_edits(page_text(), EDITS)
    book = load_rulebook()
    old = list(book.clauses["text_ja"])
    new = [s.text for s in split_page(page).segments]
    big_old = old * args.copies
    big_new = [f"{t} ({k})" if i % 7 == 0 else t for k in range(args.copies) for i, t in enumerate(new)]
    rows = [
        ("load the shipped book (floor)", best(load_rulebook, args.repeat)),
        ("split the revised page", best(lambda: split_page(page), args.repeat)),
        ("align 119 clauses", best(lambda: align(old, new), args.repeat)),
        ("compare (split + align + report)", best(lambda: compare(page, rulebook=book), args.repeat)),
        (
            f"align {len(big_old)} clauses, 1 in 7 edited",
            best(lambda: align(big_old, big_new), max(1, args.repeat // 2)),
        ),
    ]
    for label, seconds in rows:
        print(f"{label:45s} {seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
