"""Pair the clauses of two versions of the page, text by text.

:func:`align` pairs old and new clause texts in four steps:

1. **Same text, in order.** Texts are compared by a key: NFKC (full-width and half-width agree), whitespace
   dropped except a single space between two ASCII letters or digits (``So-net 光 電話`` equals
   ``So-net光電話``; ``PR-400NE PR-A300NE`` stays two models). A text that occurs more than once (「【注意】」,
   the repeated procedure section, the footnotes both device tables share) is read together with the last
   once-only text before it, so copies pair with the copy in the same place. :class:`difflib.SequenceMatcher`
   over the two key sequences pairs the longest runs of equal clauses in order.
2. **Same text, elsewhere.** Clauses left over with the same key (first in context, then the bare text) are
   paired in page order (a line that moved, a section swapped with another).
3. **Similar text.** Every leftover old clause is scored against every leftover new one with difflib's
   ``ratio`` on the keys; pairs at or above :data:`THRESHOLD` (0.6) are taken greedily, best first, ties
   broken by the nearer relative position on the page. These are ``edited``.
4. What is left is ``removed`` (old) or ``added`` (new).

None of the steps looks at order to decide *whether* two clauses pair, only to break ties, so two swapped
sections pair every clause. Order is judged after pairing: the pairs on a longest increasing run of old
positions (taken in new order) stay in place; the others are ``moved`` (an edited pair off that run is
``edited`` with ``moved`` true). An unchanged clause may sit on a new line (lines added above it).

Where it can be fooled: two similar clauses that are both edited can swap partners (greedy best-first, e.g.
the two copies of the procedure section edited differently); a repeated text whose context also changed is
paired with the first leftover copy in page order; a sentence rewritten beyond 60 % similarity is ``removed``
+ ``added`` (and a short clause changes its ratio fast: 「【注意】」 → 「【ご注意】」 is 0.89, but two words swapped in
a ten-character heading may fall below); a sentence split in two is one ``edited`` and one ``added``.
"""

from __future__ import annotations

import bisect
import difflib

from sonet_policy.source.clauses import text_key

THRESHOLD = 0.6
STATUSES = ("unchanged", "moved", "edited", "added", "removed")


def similarity(a: str, b: str) -> float:
    """difflib's ratio of the two texts' keys (1.0: the same text up to NFKC and whitespace).

    >>> round(similarity("32 日以上経過", "30 日以上経過"), 2)
    0.86
    """
    return difflib.SequenceMatcher(None, text_key(a), text_key(b), autojunk=False).ratio()


def align(old_texts: list[str], new_texts: list[str], *, threshold: float = THRESHOLD) -> list[tuple]:
    """Pair old and new clause texts (see the module docstring).

    Returns ``(status, old_index, new_index, similarity, moved)`` tuples: paired clauses in new-page order,
    then each removed clause (``new_index`` None); added clauses have ``old_index`` None.

    >>> [s for s, *_ in align(["A。", "B。", "C。"], ["C。", "A。", "B。"])]
    ['moved', 'unchanged', 'unchanged']
    >>> [s for s, *_ in align(["電話は 32 日"], ["電話は 30 日", "新しい文。"])]
    ['edited', 'added']
    """
    old_keys = [text_key(t) for t in old_texts]
    new_keys = [text_key(t) for t in new_texts]
    pair = _same_text(old_keys, new_keys)
    exact = set(pair)
    ratios = _similar_text(old_keys, new_keys, pair, threshold)
    return _statuses(len(old_keys), len(new_keys), pair, exact, ratios)


def _same_text(old_keys: list[str], new_keys: list[str]) -> dict[int, int]:
    """Steps 1 and 2: {new index: old index} of the clauses whose texts are the same, in order first, then
    elsewhere (in context first, then the bare text)."""
    old_ctx, new_ctx = _in_context(old_keys, new_keys)
    pair: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, old_ctx, new_ctx, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pair[block.b + k] = block.a + k
    for olds, news in ((old_ctx, new_ctx), (old_keys, new_keys)):
        used_old = set(pair.values())
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(olds):
            if i not in used_old:
                by_key.setdefault(key, []).append(i)
        for j, key in enumerate(news):
            if j not in pair and by_key.get(key):
                pair[j] = by_key[key].pop(0)
    return pair


def _in_context(old_keys: list[str], new_keys: list[str]) -> tuple[list[str], list[str]]:
    """Keys that tell repeated texts apart: a text found once on each page stands for itself; a repeated one
    (「【注意】」, the footnotes both device tables share) is read with the last once-only text before it, so the
    West table's ※2 pairs with the West ※2 even when the two tables change places."""
    once = {k for k in set(old_keys) if old_keys.count(k) == 1 and new_keys.count(k) == 1}

    def contextual(keys: list[str]) -> list[str]:
        out, anchor = [], ""
        for key in keys:
            if key in once:
                anchor = key
                out.append(key)
            else:
                out.append(f"{anchor}\x01{key}")
        return out

    return contextual(old_keys), contextual(new_keys)


def _similar_text(old_keys: list[str], new_keys: list[str], pair: dict[int, int], threshold: float) -> dict[int, float]:
    """Step 3: pair the leftover clauses whose texts are similar (greedy, best first; ties to the nearer
    relative position), adding them to ``pair``. Returns {new index: ratio} of the pairs made."""
    used_old = set(pair.values())
    left_old = [i for i in range(len(old_keys)) if i not in used_old]
    left_new = [j for j in range(len(new_keys)) if j not in pair]
    scored = []
    n_old, n_new = max(len(old_keys), 1), max(len(new_keys), 1)
    for i in left_old:
        for j in left_new:
            m = difflib.SequenceMatcher(None, old_keys[i], new_keys[j], autojunk=False)
            if m.real_quick_ratio() < threshold or m.quick_ratio() < threshold:
                continue
            ratio = m.ratio()
            if ratio >= threshold:
                scored.append((-ratio, abs(i / n_old - j / n_new), i, j, ratio))
    ratios: dict[int, float] = {}
    taken_old: set[int] = set()
    for _neg, _dist, i, j, ratio in sorted(scored):
        if i in taken_old or j in pair:
            continue
        pair[j], ratios[j] = i, ratio
        taken_old.add(i)
    return ratios


def _statuses(n_old: int, n_new: int, pair: dict[int, int], exact: set[int], ratios: dict[int, float]) -> list[tuple]:
    """Step 4 and the order: each new clause's status (pairs off a longest increasing run of old positions
    are moved), then the removed old clauses."""
    order = sorted(pair)
    in_place = {order[k] for k in _longest_increasing([pair[j] for j in order])}
    out: list[tuple] = []
    for j in range(n_new):
        if j not in pair:
            out.append(("added", None, j, 0.0, False))
        elif j in exact:
            out.append(("unchanged" if j in in_place else "moved", pair[j], j, 1.0, j not in in_place))
        else:
            out.append(("edited", pair[j], j, round(ratios[j], 3), j not in in_place))
    paired_old = set(pair.values())
    out.extend(("removed", i, None, 0.0, False) for i in range(n_old) if i not in paired_old)
    return out


def _longest_increasing(values: list[int]) -> set[int]:
    """Indices (into ``values``) of one longest strictly increasing subsequence."""
    tails: list[int] = []
    tail_at: list[int] = []
    parent = [-1] * len(values)
    for i, v in enumerate(values):
        k = bisect.bisect_left(tails, v)
        if k == len(tails):
            tails.append(v)
            tail_at.append(i)
        else:
            tails[k] = v
            tail_at[k] = i
        parent[i] = tail_at[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_at[-1] if tail_at else -1
    while i >= 0:
        keep.add(i)
        i = parent[i]
    return keep
