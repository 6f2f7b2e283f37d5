"""A new version of the page: what changed, which rules now stand on changed text, and a proposal that carries it.

``python -m sonet_policy source diff NEW.txt`` splits the new page (:func:`sonet_policy.source.splitter.split_page`,
the same split that gives the shipped clause table) and aligns its clauses with the book's clauses:

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
a ten-character heading may fall below); a sentence split in two is one ``edited`` and one ``added``; a
clause that moves into another section keeps its old id and section. Table rows are the exception: a row
paired with a row of *another* table (a device row moved whole from the East table to the West one) gets a
fresh row id in its new table and its old id is left behind as removed, so the catalogue files its models under
the new area and the rules citing the old row are stale. Models moved between rows by editing the rows show as
removed from one row and added to the other.

The report also lists every rule, constraint and invariant citing an ``edited`` or ``removed`` clause (stale rules), the
models added to or removed from each device row (expanded from the compact notation, as the catalogue is), rows
whose answer text changed, and numbers that changed inside cited clauses with the condition cells of the
citing rules that use that number or its neighbour (「32 日以上」 is ``>=32``, its complement ``[0,31]``).

``python -m sonet_policy source update NEW.txt --proposal NAME`` writes a proposal: a copy of the rule book
whose rules are stamped (``cited_hash``) with the text they were reviewed against, the new page, the new clause
table (old ids kept for unchanged, moved and edited clauses; new ids for added ones; removed clauses kept,
empty, so the rules citing them still load and show as stale) and the rebuilt catalogue. ``source review``
re-stamps rules and marks clauses reviewed once a person has read them; ``source stamp`` stamps rules that
carry no hash yet.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sonet_policy.book.rules import RuleBook, load_rulebook
from sonet_policy.paths import PAGE_TXT, RULES_DIR
from sonet_policy.source.catalogue import SECTION_SCOPE_CSV, build_catalogue, device_tables, expand_notation
from sonet_policy.source.citations import stale_text_citations, stamp_texts, text_citations
from sonet_policy.source.clauses import CLAUSE_COLUMNS, NORMATIVE_KINDS, cited_hash, text_key
from sonet_policy.source.splitter import split_page

THRESHOLD = 0.6
STATUSES = ("unchanged", "moved", "edited", "added", "removed")
CLAUSE_REPORT_COLUMNS = [
    "status",
    "old_id",
    "new_id",
    "old_text",
    "new_text",
    "similarity",
    "moved",
    "old_line",
    "new_line",
    "section",
]
REVISION_COLUMNS = ["reviewed", "revision", "previous_text_ja"]


def similarity(a: str, b: str) -> float:
    """difflib's ratio of the two texts' keys (1.0: the same text up to NFKC and whitespace).

    >>> round(similarity("32 日以上経過", "30 日以上経過"), 2)
    0.86
    """
    return difflib.SequenceMatcher(None, text_key(a), text_key(b), autojunk=False).ratio()


# ---------------------------------------------------------------- alignment ----


def _longest_increasing(values: list[int]) -> set[int]:
    """Indices (into ``values``) of one longest strictly increasing subsequence."""
    import bisect

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
    old_ctx, new_ctx = _in_context(old_keys, new_keys)
    pair: dict[int, int] = {}  # new index -> old index
    exact: set[int] = set()
    matcher = difflib.SequenceMatcher(None, old_ctx, new_ctx, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            pair[block.b + k] = block.a + k
            exact.add(block.b + k)
    for olds, news in ((old_ctx, new_ctx), (old_keys, new_keys)):  # same text elsewhere: in context first
        used_old = set(pair.values())
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(olds):
            if i not in used_old:
                by_key.setdefault(key, []).append(i)
        for j, key in enumerate(news):
            if j not in pair and by_key.get(key):
                pair[j] = by_key[key].pop(0)
                exact.add(j)
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
    order = sorted(pair)
    in_place = {order[k] for k in _longest_increasing([pair[j] for j in order])}
    out: list[tuple] = []
    for j in range(len(new_keys)):
        if j not in pair:
            out.append(("added", None, j, 0.0, False))
        elif j in exact:
            out.append(("unchanged" if j in in_place else "moved", pair[j], j, 1.0, j not in in_place))
        else:
            out.append(("edited", pair[j], j, round(ratios[j], 3), j not in in_place))
    paired_old = set(pair.values())
    out.extend(("removed", i, None, 0.0, False) for i in range(len(old_keys)) if i not in paired_old)
    return out


# ---------------------------------------------------------------- the report ----


@dataclass
class RevisionReport:
    """What a new page changes against a rule book's clauses.

    * ``clauses``: one row per clause (:data:`CLAUSE_REPORT_COLUMNS`): status, ids, texts, similarity (edited),
      ``moved``, lines and section; new-page order, removed clauses last;
    * ``stale_rules``: every rule, constraint and invariant citing an edited or removed clause (``rule_id``,
      ``table``: its file, ``row``: its row there, the header being row 1), with old and new text;
    * ``devices``: models added to or removed from a device row (change, the scope value of its table, model, row);
    * ``device_answers``: device rows whose answer text changed (row, area, old_answer, new_answer);
    * ``numbers``: numbers that changed inside cited clauses, with the rule cells that use them;
    * ``problems``: lines of the new page that could not be parsed (line, text, problem);
    * ``new_clauses``: the new page's clause table (ids kept, new ids for added clauses; see :func:`update`).
    """

    clauses: pd.DataFrame
    stale_rules: list[dict]
    devices: pd.DataFrame
    device_answers: pd.DataFrame
    numbers: list[dict]
    problems: pd.DataFrame
    new_clauses: pd.DataFrame
    new_catalogue: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Clauses per status, every status present."""
        vc = self.clauses["status"].value_counts()
        return {s: int(vc.get(s, 0)) for s in STATUSES}

    @property
    def changed(self) -> pd.DataFrame:
        """The clauses that are not unchanged."""
        return self.clauses[self.clauses["status"] != "unchanged"].reset_index(drop=True)

    def to_dict(self) -> dict:
        """JSON-ready: ``counts``, ``clauses`` (every clause, unchanged ones too), ``stale_rules``, ``devices``,
        ``device_answers``, ``numbers``, ``problems``."""
        clauses = [
            {k: (None if pd.isna(v) else v) for k, v in rec.items()}
            for rec in self.clauses.astype(object).to_dict(orient="records")
        ]
        return dict(
            counts=self.counts(),
            clauses=clauses,
            stale_rules=self.stale_rules,
            devices=self.devices.to_dict(orient="records"),
            device_answers=self.device_answers.to_dict(orient="records"),
            numbers=self.numbers,
            problems=self.problems.to_dict(orient="records"),
        )

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def __str__(self) -> str:
        c = self.counts()
        lines = ["page revision: " + ", ".join(f"{v} {k}" for k, v in c.items())]
        for rec in self.changed.to_dict(orient="records"):
            ids = rec["old_id"] or ""
            if rec["status"] == "added":
                ids = f"new {rec['new_id']}"
            where = " → ".join("-" if pd.isna(x) else str(x) for x in (rec["old_line"], rec["new_line"]))
            where = f"line {where}"
            head = f"  [{rec['status']}{' + moved' if rec['status'] == 'edited' and rec['moved'] else ''}] {ids}"
            if rec["status"] == "edited":
                head += f" (similarity {rec['similarity']:.2f})"
            lines.append(f"{head}, {where}")
            if rec["status"] in ("edited", "removed"):
                lines.append(f"      old: {rec['old_text']}")
            if rec["status"] in ("edited", "added"):
                lines.append(f"      new: {rec['new_text']}")
        lines.append(f"stale rules (cite an edited or removed clause): {len(self.stale_rules)}")
        for s in self.stale_rules:
            where = f"{s['table']} row {s['row']}"
            lines.append(f"  {s['rule_id']} ({where}): {', '.join(c['clause_id'] for c in s['clauses'])}")
        lines.append(f"device changes: {len(self.devices)}")
        for rec in self.devices.to_dict(orient="records"):
            scope = rec[self.devices.columns[1]]
            lines.append(f"  {rec['change']}: {rec['model']} ({scope}, row {rec['row']})")
        for rec in self.device_answers.to_dict(orient="records"):
            scope = rec[self.device_answers.columns[1]]
            lines.append(f"  answer of row {rec['row']} ({scope}): {rec['old_answer']} → {rec['new_answer']}")
        lines.append(f"numbers changed in cited clauses: {len(self.numbers)}")
        for n in self.numbers:
            cells = "; ".join(f"{u['rule_id']}.{u['column']} = {u['cell']}" for u in n["cells"]) or "no rule cell"
            lines.append(f"  {n['clause_id']}: {n['old']} → {n['new']} (used in {cells})")
        if len(self.problems):
            lines.append(f"lines the splitter could not parse: {len(self.problems)}")
            for rec in self.problems.to_dict(orient="records"):
                lines.append(f"  line {rec['line']}: {rec['problem']}: {rec['text']}")
        return "\n".join(lines)


def _relocate_rows(
    book: RuleBook, old: pd.DataFrame, segs: list, pairs: list[tuple], new_ids: list, taken: set[str]
) -> dict[int, str]:
    """Table rows paired with a row of *another* table (a device row moved from the East table to the West
    one) get a fresh id in their new table, so the catalogue files their models under the new area; the old id
    stays behind as removed. Returns {new index: id of the destination table's header}. Needs the old page to
    split into the old clauses (else nothing is relocated)."""
    before = book_page_segments(book)
    if [text_key(x.text) for x in before] != [text_key(t) for t in old["text_ja"]]:
        return {}
    old_ids = list(old["clause_id"])
    old_header = {seg.table: old_ids[k] for k, seg in enumerate(before) if seg.table and not seg.row}
    new_header = {seg.table: new_ids[j] for j, seg in enumerate(segs) if seg.table and not seg.row}
    out: dict[int, str] = {}
    for _status, i, j, _ratio, _moved in pairs:
        if i is None or j is None or not (before[i].row and segs[j].row):
            continue
        source, target = old_header.get(before[i].table), new_header.get(segs[j].table)
        if source is None or target is None or source == target:
            continue
        mates = [
            new_ids[k] for k, seg in enumerate(segs) if seg.table == segs[j].table and seg.row and k != j and new_ids[k]
        ]
        new_ids[j] = _new_id(mates[-1] if mates else target, taken)
        taken.add(new_ids[j])
        out[j] = target
    return out


def _new_id(prev: str | None, taken: set[str], *, stem_hint: str | None = None) -> str:
    """A fresh clause id next to ``prev``: the same stem and the next free number (``dev.e.r4`` → ``dev.e.r5``,
    ``net.ov6.16`` → ``net.ov6.17``)."""
    base = stem_hint or prev or "new"
    m = re.match(r"^(.*?)(\d+)[a-z]?$", base)
    stem = m.group(1) if m else base + "."
    numbers = [int(x.group(1)) for t in taken if (x := re.fullmatch(re.escape(stem) + r"(\d+)[a-z]?", t))]
    k = max(numbers, default=0) + 1
    while f"{stem}{k}" in taken:
        k += 1
    return f"{stem}{k}"


def table_scopes(path: Path | str = SECTION_SCOPE_CSV) -> tuple[str, dict[str, str]]:
    """The sections whose table rows are device rows, from ``data/source/section_scope.csv`` (``applies_to``
    ``input=value``, :func:`sonet_policy.source.catalogue.device_tables`): the input those tables are scoped by, and per
    section its value (the device tables of each area). Nothing of the page is named here: the file says which
    sections and which input.

    >>> name, scopes = table_scopes()
    >>> name, sorted(set(scopes.values()))
    ('area', ['east', 'west'])
    """
    name, tables = device_tables(path)
    return name, {t.section: t.value for t in tables}


def _device_rows(table: pd.DataFrame, rows: set[str], scopes: dict[str, str]) -> tuple[pd.DataFrame, list[dict]]:
    """Per device-table row: its models (expanded as the catalogue expands them) and its scope value (the
    section's ``applies_to`` value); a row whose model cell is not in the notation is a problem (line, text,
    problem), left out."""
    problems, out = [], []
    for cid in table.index:
        scope = scopes.get(str(table.at[cid, "section"])) if cid in rows else None
        if scope is None:
            continue
        text = table.at[cid, "text_ja"]
        try:
            models = expand_notation(text.split("|")[0])
        except ValueError as exc:
            problems.append(dict(line=table.at[cid, "line"], text=text, problem=f"device row {cid}: {exc}"))
            continue
        answer = " | ".join(p.strip() for p in text.split("|")[1:])
        out.extend(dict(row=cid, scope=scope, model=m, answer=answer) for m in models)
    return pd.DataFrame(out, columns=["row", "scope", "model", "answer"]), problems


def _integer_inputs(book: RuleBook) -> set[str]:
    return {name for name, spec in book.inputs.items() if spec.type == "integer"}


def _citations(book: RuleBook) -> list[tuple[str, str, int, tuple[str, ...], dict[str, str]]]:
    """(id, table file, row in that file (the header is row 1), cited clause ids, raw condition cells) for every
    rule, constraint and invariant of the book."""
    from sonet_policy.book.invariants import FILE as INVARIANTS_CSV
    from sonet_policy.book.invariants import load_invariants

    out = []
    for name, rules in book.rules.items():
        table = book.tables[name].reset_index(drop=True)
        rows = {rid: k + 2 for k, rid in reversed(list(enumerate(table["rule_id"])))}
        frame = table.set_index("rule_id", drop=False)
        for r in rules:
            row = frame.loc[r.rule_id]
            row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
            cells = {c: str(row[c]) for c in book.decisions[name].inputs if c in row.index}
            out.append((r.rule_id, f"{name}.csv", rows.get(r.rule_id, 0), r.source, cells))
    for file, id_col, items in (
        ("constraints.csv", "constraint_id", [(c.constraint_id, c.source) for c in book.constraints]),
        (INVARIANTS_CSV, "invariant_id", [(i.invariant_id, i.source) for i in load_invariants(book)]),
    ):
        path = book.folder / file
        raw = _read_text_table(path) if path.is_file() else None
        for rid, source in items:
            cells, row = {}, 0
            if raw is not None:
                at = raw.index[raw[id_col] == rid]
                if len(at):
                    row = int(at[0]) + 2
                    cells = {k: str(raw.at[at[0], k]) for k in book.inputs if k in raw.columns}
            out.append((rid, file, row, source, cells))
    return out


def _read_text_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _numbers(text: str) -> list[int]:
    """The numbers of a text that stand alone (``32 日``, ``※1``), not those inside a model name (``PR-300NE``)."""
    return [int(x) for x in re.findall(r"(?<![A-Za-z0-9-])\d+(?![A-Za-z0-9])", text_key(text))]


def _number_changes(old: str, new: str) -> list[tuple[int | None, int | None]]:
    a, b = _numbers(old), _numbers(new)
    out: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            out.append((olds[k] if k < len(olds) else None, news[k] if k < len(news) else None))
    return out


def _cells_using(number: int, cells: dict[str, str], integer_inputs: set[str]) -> list[tuple[str, str, str]]:
    """(column, cell, match) for each integer condition cell holding ``number`` (exact) or ``number ± 1``
    (adjacent: 「32 日以上経過していない」 is ``[0,31]``)."""
    out = []
    for column, cell in cells.items():
        if column not in integer_inputs:
            continue
        found = {int(x) for x in re.findall(r"\d+", cell)}
        if number in found:
            out.append((column, cell, "exact"))
        elif found & {number - 1, number + 1}:
            out.append((column, cell, "adjacent"))
    return out


def compare(new_page: str, *, rulebook: RuleBook | str | Path | None = None) -> RevisionReport:
    """Compare the text of a new page with the clauses of ``rulebook`` (a RuleBook, a folder, or None for the
    shipped book). Never raises on page text: lines it cannot parse are in ``report.problems``.

    >>> from sonet_policy.source.clauses import page_text
    >>> report = compare(page_text().replace("PR-200NE |", "PR-200NE PR-300NE |", 1))
    >>> report.counts()["edited"], report.devices.values.tolist()
    (1, [['added', 'east', 'PR-300NE', 'dev.e.r2']])
    """
    book = rulebook if isinstance(rulebook, RuleBook) else load_rulebook(rulebook or RULES_DIR)
    old = book.clauses
    if "revision" in old.columns:  # a proposal's table keeps removed clauses as empty rows
        old = old[old["revision"] != "removed"]
    split = split_page(new_page)
    segs = split.segments
    pairs = align(list(old["text_ja"]), [seg.text for seg in segs])
    old_ids, old_texts, old_lines = list(old["clause_id"]), list(old["text_ja"]), list(old["line"])
    taken = set(book.clauses["clause_id"])
    rows: list[dict] = []
    new_ids: list[str | None] = [None] * len(segs)
    for _status, i, j, _ratio, _moved in pairs:
        if j is not None and i is not None:
            new_ids[j] = old_ids[i]
    for status, _i, j, _ratio, _moved in pairs:
        if status == "added":
            seg = segs[j]
            hint = None
            if seg.row:  # a new table row takes the id stem of the table's other rows
                mates = [new_ids[k] for k, s in enumerate(segs) if s.table == seg.table and s.row and new_ids[k]]
                hint = mates[-1] if mates else None
            prev = next((new_ids[k] for k in range(j - 1, -1, -1) if new_ids[k]), None)
            new_ids[j] = _new_id(prev, taken, stem_hint=hint)
            taken.add(new_ids[j])
    relocated = _relocate_rows(book, old, segs, pairs, new_ids, taken)
    section_of = dict(zip(old["clause_id"], old["section"], strict=True))
    for status, i, j, ratio, moved in pairs:
        oid = old_ids[i] if i is not None else None
        nid = new_ids[j] if j is not None else None
        if status == "added":
            prev = next((new_ids[k] for k in range(j - 1, -1, -1) if new_ids[k] in section_of), None)
            section = section_of.get(prev, "")
        elif j in relocated:
            status, moved, section = "moved", True, section_of.get(relocated[j], section_of[oid])
        else:
            section = section_of[oid]
        if nid is not None and nid not in section_of:
            section_of[nid] = section
        rows.append(
            dict(
                status=status,
                old_id=oid,
                new_id=nid,
                old_text=old_texts[i] if i is not None else None,
                new_text=segs[j].text if j is not None else None,
                similarity=ratio if status == "edited" else (1.0 if status in ("unchanged", "moved") else None),
                moved=bool(moved),
                old_line=old_lines[i] if i is not None else None,
                new_line=segs[j].line if j is not None else None,
                section=section,
            )
        )
    report = pd.DataFrame(rows, columns=CLAUSE_REPORT_COLUMNS)
    new_table = _new_clause_table(old, report)
    if "revision" in book.clauses.columns:  # removed by an earlier revision: kept, so its citations still load
        earlier = book.clauses[book.clauses["revision"] == "removed"].reset_index(drop=True)
        earlier = earlier.assign(normative=earlier["normative"].map({True: "true", False: "false"}))
        new_table = pd.concat([new_table, earlier[new_table.columns]], ignore_index=True)

    relocated_rows = report["status"].eq("moved") & report["old_id"].ne(report["new_id"])
    changed = report[report["status"].isin(("edited", "removed")) | relocated_rows].set_index("old_id")
    stale, numbers = [], []
    integer_inputs = _integer_inputs(book)
    citations = _citations(book)
    citations += [(c.row_id, c.table, c.row, c.source, {}) for c in text_citations(book.folder)]  # citations.csv
    for rid, file, row, source, _cells in citations:
        hits = [cid for cid in source if cid in changed.index]
        if not hits:
            continue
        stale.append(
            dict(
                rule_id=rid,
                table=file,
                row=row,
                clauses=[
                    dict(
                        clause_id=cid,
                        status=changed.at[cid, "status"],
                        old_text=_none(changed.at[cid, "old_text"]),
                        new_text=_none(changed.at[cid, "new_text"]),
                    )
                    for cid in hits
                ],
            )
        )
    cited = {cid for _rid, _f, _row, source, _c in citations for cid in source}
    for cid, rec in changed[changed["status"] == "edited"].iterrows():
        if cid not in cited:
            continue
        for before, after in _number_changes(rec["old_text"], rec["new_text"]):
            uses = []
            for rid, file, _row, source, cells in citations:
                if cid not in source:
                    continue
                for number in (n for n in (before, after) if n is not None):
                    for column, cell, match in _cells_using(number, cells, integer_inputs):
                        use = dict(rule_id=rid, table=file, column=column, cell=cell, match=match)
                        if use not in uses:
                            uses.append(use)
            numbers.append(dict(clause_id=cid, old=before, new=after, cells=uses))

    old_rows = set(old.index[_table_rows(book_page_segments(book), old)])
    new_rows = {new_ids[k] for k, s in enumerate(segs) if s.row}
    scope_name, scopes = table_scopes()
    before_dev, _ = _device_rows(old, old_rows, scopes)
    after_dev, dev_problems = _device_rows(new_table.set_index("clause_id", drop=False), new_rows, scopes)
    b = set(map(tuple, before_dev[["scope", "model", "row"]].values.tolist()))
    a = set(map(tuple, after_dev[["scope", "model", "row"]].values.tolist()))
    devices = pd.DataFrame(
        [dict(change="removed", scope=x[0], model=x[1], row=x[2]) for x in sorted(b - a)]
        + [dict(change="added", scope=x[0], model=x[1], row=x[2]) for x in sorted(a - b)],
        columns=["change", "scope", "model", "row"],
    ).rename(columns={"scope": scope_name})
    answers_b = before_dev.drop_duplicates("row").set_index("row")
    answers_a = after_dev.drop_duplicates("row").set_index("row")
    answer_rows = []
    for row in answers_b.index.intersection(answers_a.index):
        if text_key(answers_b.at[row, "answer"]) != text_key(answers_a.at[row, "answer"]):
            answer_rows.append(
                dict(
                    row=row,
                    scope=answers_a.at[row, "scope"],
                    old_answer=answers_b.at[row, "answer"],
                    new_answer=answers_a.at[row, "answer"],
                )
            )
    problems = pd.DataFrame(split.problems + dev_problems, columns=["line", "text", "problem"])
    bad_rows = {p["text"] for p in dev_problems}
    good = new_table[~new_table["text_ja"].isin(bad_rows)]
    catalogue = build_catalogue(good[good["clause_id"].isin(new_rows)])
    return RevisionReport(
        clauses=report,
        stale_rules=stale,
        devices=devices,
        device_answers=pd.DataFrame(answer_rows, columns=["row", "scope", "old_answer", "new_answer"]).rename(
            columns={"scope": scope_name}
        ),
        numbers=numbers,
        problems=problems,
        new_clauses=new_table,
        new_catalogue=catalogue,
    )


def _none(value: object) -> object:
    return None if pd.isna(value) else value


def book_page_segments(book: RuleBook) -> list:
    """The segments of the page the book's clauses were split from (the book's own page, else the shipped)."""
    own = book.folder / PAGE_TXT.name
    return split_page((own if own.is_file() else PAGE_TXT).read_text(encoding="utf-8")).segments


def _table_rows(segments: list, table: pd.DataFrame) -> list[bool]:
    """Which clauses of ``table`` are table rows, judged by pairing them with the page's segments by text."""
    rows = {text_key(s.text) for s in segments if s.row}
    return [text_key(t) in rows for t in table["text_ja"]]


def _new_clause_table(old: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """The clause table of the new page: old metadata for paired clauses, new rows for added ones, removed
    clauses kept with empty text (rules citing them still load and show as stale)."""
    meta = old.set_index("clause_id", drop=False)
    reviewed_col = "reviewed" in meta.columns
    records: list[dict] = []
    removed_after: dict[str | None, list[dict]] = {}
    old_order = list(meta["clause_id"])
    paired = {r["old_id"]: r["new_id"] for r in report.to_dict(orient="records") if r["old_id"] and r["new_id"]}

    def keep_removed(old_id: str) -> None:
        """Keep a clause gone from the page as an empty row after the clause it followed, so rules citing it load."""
        k = old_order.index(old_id)
        after = next((paired[o] for o in reversed(old_order[:k]) if o in paired), None)
        m = meta.loc[old_id]
        removed_after.setdefault(after, []).append(
            dict(
                clause_id=old_id,
                section=m["section"],
                kind="removed",
                normative="false",
                line="",
                text_ja="",
                text_en=m["text_en"],
                reviewed="false",
                revision="removed",
                previous_text_ja=m["text_ja"],
            )
        )

    for rec in report.to_dict(orient="records"):
        status = rec["status"]
        if status == "removed":
            keep_removed(rec["old_id"])
            continue
        if status == "added":
            records.append(
                dict(
                    clause_id=rec["new_id"],
                    section=rec["section"],
                    kind="rule",
                    normative="true",
                    line=rec["new_line"],
                    text_ja=rec["new_text"],
                    text_en="",
                    reviewed="false",
                    revision="added",
                    previous_text_ja="",
                )
            )
            continue
        m = meta.loc[rec["old_id"]]
        was_reviewed = str(m["reviewed"]).lower() != "false" if reviewed_col else True
        if rec["new_id"] != rec["old_id"]:  # a table row moved to another table: new id there, old id removed
            keep_removed(rec["old_id"])
            status = "moved"
            was_reviewed = False
        records.append(
            dict(
                clause_id=rec["new_id"],
                section=rec["section"],
                kind=m["kind"],
                normative="true" if m["normative"] else "false",
                line=rec["new_line"],
                text_ja=rec["new_text"],
                text_en=m["text_en"],
                reviewed="false" if status == "edited" else ("true" if was_reviewed else "false"),
                revision=status,
                previous_text_ja=rec["old_text"] if status == "edited" else "",
            )
        )
    ordered: list[dict] = list(removed_after.get(None, []))
    for r in records:
        ordered.append(r)
        ordered.extend(removed_after.get(r["clause_id"], []))
    return pd.DataFrame(ordered, columns=[*CLAUSE_COLUMNS, *REVISION_COLUMNS])


# ---------------------------------------------------------------- revised pages for tests and notebooks ----


def apply_edits(text: str, edits: list[tuple[str, str, str]]) -> str:
    """Apply named edits ``(name, old, new)`` to a page text, in order; each ``old`` must occur exactly once.

    Raises ValueError naming the edit whose ``old`` text is missing or ambiguous (so a documented edit cannot
    silently do nothing).

    >>> apply_edits("A 32 日。B。", [("day bound", "32 日", "30 日")])
    'A 30 日。B。'
    >>> apply_edits("A。A。", [("twice", "A。", "C。")])
    Traceback (most recent call last):
    ...
    ValueError: edit 'twice': the text to replace occurs 2 times (it must occur once): 'A。'
    """
    for name, old, new in edits:
        found = text.count(old)
        if found != 1:
            raise ValueError(f"edit {name!r}: the text to replace occurs {found} times (it must occur once): {old!r}")
        text = text.replace(old, new, 1)
    return text


# ---------------------------------------------------------------- proposals on a new page ----


class PageError(ValueError):
    """A new page the kit cannot turn into a catalogue: lines the splitter or the device notation cannot read."""

    def __init__(self, problems: pd.DataFrame) -> None:
        self.problems = problems
        lines = [f"line {r['line']}: {r['problem']}: {r['text']}" for r in problems.to_dict(orient="records")]
        super().__init__(f"{len(problems)} line(s) of the new page cannot be read:\n  " + "\n  ".join(lines))


def _rule_tables(folder: Path) -> list[tuple[str, str]]:
    """(file, id column) of every table of ``folder`` whose rows cite clauses: the decision tables, then
    ``constraints.csv`` and ``invariants.csv`` where the folder has them."""
    from sonet_policy.analysis.proposals import read_table
    from sonet_policy.book.invariants import FILE as INVARIANTS_CSV

    files = [(f"{d}.csv", "rule_id") for d in read_table(folder / "decisions.csv")["decision"]]
    optional = [("constraints.csv", "constraint_id"), (INVARIANTS_CSV, "invariant_id")]
    return files + [(file, id_col) for file, id_col in optional if (folder / file).is_file()]


def stamp(
    folder: Path | str,
    *,
    clauses: pd.DataFrame | None = None,
    ids: list[str] | None = None,
    missing_only: bool = True,
) -> list[str]:
    """Record in each rule's (constraint's, invariant's) ``cited_hash`` the hash of the clause texts it cites.

    ``clauses`` is the clause table the rules were reviewed against (default: the folder's own, else the
    shipped one); ``ids`` limits the stamp to those rule/constraint/invariant ids; ``missing_only`` stamps only
    rows with no hash yet. Writes through :func:`sonet_policy.analysis.proposals.write_table` (never the baseline:
    raises
    BaselineWriteError there). Returns the ids stamped.

    >>> import tempfile
    >>> from sonet_policy.analysis.proposals import create_proposal
    >>> folder = create_proposal("stamped", root=tempfile.mkdtemp())
    >>> stamp(folder)  # the shipped book is stamped already
    []
    """
    from sonet_policy.analysis.proposals import read_table, refuse_baseline, write_table
    from sonet_policy.source.clauses import book_sources, read_clauses

    folder = refuse_baseline(folder)
    table = clauses if clauses is not None else read_clauses(book_sources(folder)[1])
    texts = dict(zip(table["clause_id"], table["text_ja"], strict=True))
    done: list[str] = []
    for file, id_col in _rule_tables(folder):
        frame = read_table(folder / file)
        if "cited_hash" not in frame.columns:
            frame["cited_hash"] = ""
        changed = False
        for k, rec in frame.iterrows():
            if ids is not None and rec[id_col] not in ids:
                continue
            if missing_only and rec["cited_hash"]:
                continue
            cited = [c.strip() for c in str(rec["source"]).split("|") if c.strip()]
            value = cited_hash([texts.get(c, "") for c in cited])
            if value != rec["cited_hash"]:
                frame.at[k, "cited_hash"] = value
                changed = True
            done.append(rec[id_col])
        if changed:
            write_table(folder / file, frame)
    done += stamp_texts(folder, texts, write=write_table, ids=ids, missing_only=missing_only)  # citations.csv
    return done


def review(folder: Path | str, ids: list[str], *, kind: str | None = None) -> dict[str, list[str]]:
    """A person has re-read these rules, constraints or clauses of the proposal in ``folder``: rules and
    constraints are re-stamped against the current clause texts (their ``stale_citation`` goes away); clauses
    are marked ``reviewed``. A new clause stays normative unless ``kind`` gives the kind the person read it as
    (``warning``, ``note``, ``heading`` …: ``normative`` follows, true only for rule and exception).

    Returns ``{"rules": [...], "clauses": [...]}``; raises ValueError for an id that is none of these.

    >>> import tempfile
    >>> from sonet_policy.analysis.proposals import create_proposal
    >>> review(create_proposal("reviewed", root=tempfile.mkdtemp()), ["WIFI-1"])
    {'rules': ['WIFI-1'], 'clauses': []}
    """
    from sonet_policy.analysis.proposals import refuse_baseline, write_table
    from sonet_policy.book.invariants import load_invariants
    from sonet_policy.source.clauses import CLAUSES_CSV, read_clauses

    folder = refuse_baseline(folder)
    book = load_rulebook(folder)
    rule_ids = set(book.rule_index) | {c.constraint_id for c in book.constraints}
    rule_ids |= {i.invariant_id for i in load_invariants(book)}
    rule_ids |= {c.row_id for c in text_citations(folder)}  # the rows of the tables citations.csv names
    clause_ids = set(book.clauses["clause_id"])
    unknown = [i for i in ids if i not in rule_ids and i not in clause_ids]
    if unknown:
        raise ValueError(f"not a rule, constraint, invariant or clause of {folder}: {', '.join(unknown)}")
    rules = [i for i in ids if i in rule_ids]
    clause_list = [i for i in ids if i not in rule_ids]
    if rules:
        stamp(folder, ids=rules, missing_only=False)
    if clause_list:
        own = folder / CLAUSES_CSV.name
        if not own.is_file():
            raise ValueError(f"{folder} carries no clauses.csv of its own (made by source update): nothing to review")
        table = read_clauses(own).reset_index(drop=True)
        if "reviewed" not in table.columns:
            table["reviewed"] = "true"
        table["normative"] = table["normative"].map({True: "true", False: "false"})
        chosen = table["clause_id"].isin(clause_list)
        table.loc[chosen, "reviewed"] = "true"
        if kind:
            table.loc[chosen, "kind"] = kind
            table.loc[chosen, "normative"] = "true" if kind in NORMATIVE_KINDS else "false"
        write_table(own, table)
    return {"rules": rules, "clauses": clause_list}


def update(
    new_page: str,
    name: str,
    *,
    base: Path | str = RULES_DIR,
    root: Path | str | None = None,
) -> tuple[Path, RevisionReport]:
    """Write proposal ``name``: a copy of rule book ``base`` on the new page (see the module docstring).

    The rules are first stamped (``cited_hash``, where they carry none) with the texts of ``base``'s clauses,
    the text they were reviewed against; then the new page, its clause table and its catalogue are written
    beside them. Returns (the proposal folder, the report). Raises :class:`PageError` (nothing written) when a
    line of the new page cannot be read, ValueError for a bad name, FileExistsError when the proposal exists.

    >>> import tempfile
    >>> from sonet_policy.source.clauses import page_text
    >>> folder, report = update(page_text(), "same-page", root=tempfile.mkdtemp())
    >>> sorted(p.name for p in folder.glob("*s.csv") if p.name in ("clauses.csv", "devices.csv", "inputs.csv"))
    ['clauses.csv', 'devices.csv', 'inputs.csv']
    """
    from sonet_policy.analysis.proposals import PROPOSALS_DIR, create_proposal, refuse_baseline, write_table
    from sonet_policy.files.write import write_atomically
    from sonet_policy.paths import DEVICES_CSV
    from sonet_policy.source.clauses import CLAUSES_CSV

    book = load_rulebook(base)
    report = compare(new_page, rulebook=book)
    if len(report.problems):
        raise PageError(report.problems)
    folder = create_proposal(name, base=base, root=root or PROPOSALS_DIR)
    stamp(folder, clauses=book.clauses)
    write_table(folder / CLAUSES_CSV.name, report.new_clauses)
    write_table(folder / DEVICES_CSV.name, report.new_catalogue)
    page = refuse_baseline(folder / PAGE_TXT.name)
    write_atomically(page, lambda tmp: tmp.write_text(new_page, encoding="utf-8"))
    return folder, report


# ---------------------------------------------------------------- the audit's stale citations ----


def stale_citations(book: RuleBook) -> list[dict]:
    """Findings of kind ``stale_citation``: every rule, constraint and invariant whose ``cited_hash`` no longer
    matches the text of the clauses it cites (a rule with no hash is not checked; an invariant's message names
    its file and row, and its id is in the ``invariant`` column). Each has the rule's scope over its
    decision's inputs, the clauses whose text changed with old and new text, and a witness (a valid scenario
    the rule matches). Used by :func:`sonet_policy.analysis.audit.audit`.

    >>> stale_citations(load_rulebook())
    []
    """
    from sonet_policy.analysis.audit import _Projection, rule_scope, witness
    from sonet_policy.book.invariants import FILE as INVARIANTS_CSV
    from sonet_policy.book.invariants import load_invariants

    texts = dict(zip(book.clauses["clause_id"], book.clauses["text_ja"], strict=True))
    previous = {}
    if "previous_text_ja" in book.clauses.columns:
        previous = {c: t for c, t in zip(book.clauses["clause_id"], book.clauses["previous_text_ja"], strict=True) if t}
    recorded: dict[str, str] = {}
    frames = [(book.tables[name], "rule_id") for name in book.rules]
    for file, id_col in (("constraints.csv", "constraint_id"), (INVARIANTS_CSV, "invariant_id")):
        if (book.folder / file).is_file():
            frames.append((_read_text_table(book.folder / file), id_col))
    for frame, id_col in frames:
        if "cited_hash" in frame.columns:
            pairs = zip(frame[id_col], frame["cited_hash"], strict=True)
            recorded.update({i: h.strip() for i, h in pairs if str(h).strip()})
    out: list[dict] = []
    compiled = None
    items = [(r, r.decision, r.source) for rules in book.rules.values() for r in rules]
    items += [(c, "", c.source) for c in book.constraints]
    invariants = load_invariants(book)
    items += [(i, "", i.source) for i in invariants]
    for k, (item, decision, source) in enumerate(items):
        rid = getattr(item, "rule_id", None) or getattr(item, "constraint_id", None) or item.invariant_id
        if rid not in recorded or recorded[rid] == cited_hash([texts.get(c, "") for c in source]):
            continue
        changed = [c for c in source if c in previous] or list(source)
        said = "; ".join(
            f"{c}: 「{previous.get(c, '(not recorded)')}」 → 「{texts.get(c, '') or '(removed from the page)'}」"
            for c in changed
        )
        scope, cells, seen = {}, None, None
        if decision:
            compiled = compiled or book.compiled()
            grid = compiled.decisions[decision]
            proj = _Projection(compiled, book.decisions[decision].inputs)
            i = [r.rule_id for r in grid.rules].index(rid)
            cells = grid.matches[i] & proj.valid  # over the decision's own grid, as the audit's other findings
            scope = rule_scope(item, compiled, proj.inputs)
            first = cells.nonzero()[0]
            seen = witness(compiled, int(first[0]), decision) if first.size else None
        invariant = getattr(item, "invariant_id", "")
        what = f"Rule {rid} of {decision}" if decision else f"Constraint {rid}"
        if invariant:
            what = f"Invariant {rid} ({INVARIANTS_CSV} row {item.row})"
        out.append(
            dict(
                kind="stale_citation",
                decision=decision,
                scope=scope,
                rules=[rid],
                clauses=changed,
                message=(
                    f"{what} was reviewed against other text than the page now says (cited_hash "
                    f"{recorded[rid]}): {said}. Re-read it, edit it if needed, then: "
                    f"python -m sonet_policy source review {rid} --proposal <name>."
                ),
                witness=seen,
                invariant=invariant,
                _cells=cells,
                _order=(k, -1),
            )
        )
    out += stale_text_citations(book.folder, texts, previous, order=len(items))  # the tables citations.csv names
    return out
