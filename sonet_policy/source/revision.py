"""A new version of the page against a clause table: what changed in the text, the new clause table and catalogue.

:func:`compare_clauses` splits the new page (:func:`sonet_policy.source.splitter.split_page`, the same split
that gives the shipped clause table), pairs its clauses with the old ones (:func:`sonet_policy.source.alignment.align`:
``unchanged``, ``moved``, ``edited``, ``added``, ``removed``) and gives ids to the new page's clauses: old ids
for unchanged, moved and edited clauses, new ids next to their neighbours for added ones. A clause that moves
into another section keeps its old id and section. Table rows are the exception: a row paired with a row of
*another* table (a device row moved whole from the East table to the West one) gets a fresh row id in its new
table and its old id is left behind as removed, so the catalogue files its models under the new area and the
rules citing the old row are stale. Models moved between rows by editing the rows show as removed from one row
and added to the other.

The :class:`RevisionReport` lists every clause with its status, the models added to or removed from each
device row (expanded from the compact notation, as the catalogue is), rows whose answer text changed, the
lines of the new page that cannot be read, the new clause table (removed clauses kept, empty, so the rules
citing them still load) and the rebuilt catalogue. What the change means for a rule book (the rules citing
changed clauses, the numbers their condition cells use, a proposal on the new page) is read by
:mod:`sonet_policy.analysis.revision`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from sonet_policy.paths import PAGE_TXT
from sonet_policy.source.alignment import STATUSES, align
from sonet_policy.source.catalogue import SECTION_SCOPE_CSV, build_catalogue, device_tables, expand_notation
from sonet_policy.source.clauses import CLAUSE_COLUMNS, text_key
from sonet_policy.source.splitter import Segment, split_page

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
# The cells of a new clause table's row that do not depend on the clause, for added and removed clauses.
_ADDED = dict(kind="rule", normative="true", text_en="", reviewed="false", revision="added", previous_text_ja="")
_REMOVED = dict(kind="removed", normative="false", line="", text_ja="", reviewed="false", revision="removed")


@dataclass(kw_only=True)
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
    * ``new_clauses``: the new page's clause table (ids kept, new ids for added clauses);
    * ``new_catalogue``: the catalogue rebuilt from the new page's device rows.

    :func:`compare_clauses` reads the text only and leaves ``stale_rules`` and ``numbers`` empty;
    :func:`sonet_policy.analysis.revision.compare` fills them from a rule book.
    """

    clauses: pd.DataFrame
    devices: pd.DataFrame
    device_answers: pd.DataFrame
    problems: pd.DataFrame
    new_clauses: pd.DataFrame
    new_catalogue: pd.DataFrame
    stale_rules: list[dict] = field(default_factory=list)
    numbers: list[dict] = field(default_factory=list)

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
        lines += self._clause_lines()
        lines.append(f"stale rules (cite an edited or removed clause): {len(self.stale_rules)}")
        for s in self.stale_rules:
            where = f"{s['table']} row {s['row']}"
            lines.append(f"  {s['rule_id']} ({where}): {', '.join(c['clause_id'] for c in s['clauses'])}")
        lines += self._device_lines()
        lines.append(f"numbers changed in cited clauses: {len(self.numbers)}")
        for n in self.numbers:
            cells = "; ".join(f"{u['rule_id']}.{u['column']} = {u['cell']}" for u in n["cells"]) or "no rule cell"
            lines.append(f"  {n['clause_id']}: {n['old']} → {n['new']} (used in {cells})")
        if len(self.problems):
            lines.append(f"lines the splitter could not parse: {len(self.problems)}")
            for rec in self.problems.to_dict(orient="records"):
                lines.append(f"  line {rec['line']}: {rec['problem']}: {rec['text']}")
        return "\n".join(lines)

    def _clause_lines(self) -> list[str]:
        lines = []
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
        return lines

    def _device_lines(self) -> list[str]:
        lines = [f"device changes: {len(self.devices)}"]
        for rec in self.devices.to_dict(orient="records"):
            scope = rec[self.devices.columns[1]]
            lines.append(f"  {rec['change']}: {rec['model']} ({scope}, row {rec['row']})")
        for rec in self.device_answers.to_dict(orient="records"):
            scope = rec[self.device_answers.columns[1]]
            lines.append(f"  answer of row {rec['row']} ({scope}): {rec['old_answer']} → {rec['new_answer']}")
        return lines


def folder_page(folder: Path | str) -> str:
    """The text of the page a rule-book folder's clauses were split from: its own ``page.txt`` (a proposal made
    by ``source update``), else the shipped page.

    >>> from sonet_policy.paths import RULES_DIR
    >>> folder_page(RULES_DIR) == PAGE_TXT.read_text(encoding="utf-8")
    True
    """
    own = Path(folder) / PAGE_TXT.name
    return (own if own.is_file() else PAGE_TXT).read_text(encoding="utf-8")


def compare_clauses(new_page: str, clauses: pd.DataFrame, *, old_page: str) -> RevisionReport:
    """Compare the text of a new page with a clause table (``clauses``, indexed by clause id, split from
    ``old_page``; a proposal's table keeps removed clauses as empty rows, ``revision`` = ``removed``). Reads
    the text only: ``stale_rules`` and ``numbers`` stay empty. Never raises on page text: lines it cannot
    parse are in ``report.problems``.

    >>> from sonet_policy.source.clauses import page_text, read_clauses
    >>> page = page_text()
    >>> report = compare_clauses(page.replace("PR-200NE |", "PR-200NE PR-300NE |", 1), read_clauses(), old_page=page)
    >>> report.counts()["edited"], report.devices.values.tolist()
    (1, [['added', 'east', 'PR-300NE', 'dev.e.r2']])
    """
    old = clauses[clauses["revision"] != "removed"] if "revision" in clauses.columns else clauses
    split = split_page(new_page)
    segs = split.segments
    before = split_page(old_page).segments
    pairs = align(list(old["text_ja"]), [seg.text for seg in segs])
    taken = set(clauses["clause_id"])
    new_ids = _new_ids(list(old["clause_id"]), segs, pairs, taken)
    relocated = _relocate_rows(before, old, segs, pairs, new_ids, taken)
    report = _clause_report(old, segs, pairs, new_ids, relocated)
    new_table = _new_clause_table(clauses, old, report)
    old_rows = set(old.index[_table_rows(before, old)])
    new_rows = {new_ids[k] for k, s in enumerate(segs) if s.row}
    devices, device_answers, dev_problems = _device_changes(old, old_rows, new_table, new_rows)
    bad_rows = {p["text"] for p in dev_problems}
    good = new_table[~new_table["text_ja"].isin(bad_rows)]
    return RevisionReport(
        clauses=report,
        devices=devices,
        device_answers=device_answers,
        problems=pd.DataFrame(split.problems + dev_problems, columns=["line", "text", "problem"]),
        new_clauses=new_table,
        new_catalogue=build_catalogue(good[good["clause_id"].isin(new_rows)]),
    )


def _new_ids(old_ids: list[str], segs: list[Segment], pairs: list[tuple], taken: set[str]) -> list[str | None]:
    """The id of each clause of the new page: its old id when paired; a new id next to the clause before it
    when added (a new table row takes the id stem of the table's other rows). New ids are added to ``taken``."""
    new_ids: list[str | None] = [None] * len(segs)
    for _status, i, j, _ratio, _moved in pairs:
        if j is not None and i is not None:
            new_ids[j] = old_ids[i]
    for status, _i, j, _ratio, _moved in pairs:
        if status == "added":
            seg = segs[j]
            hint = None
            if seg.row:
                mates = [new_ids[k] for k, s in enumerate(segs) if s.table == seg.table and s.row and new_ids[k]]
                hint = mates[-1] if mates else None
            prev = next((new_ids[k] for k in range(j - 1, -1, -1) if new_ids[k]), None)
            new_ids[j] = _new_id(prev, taken, stem_hint=hint)
            taken.add(new_ids[j])
    return new_ids


def _relocate_rows(
    before: list[Segment], old: pd.DataFrame, segs: list[Segment], pairs: list[tuple], new_ids: list, taken: set[str]
) -> dict[int, str]:
    """Table rows paired with a row of *another* table (a device row moved from the East table to the West
    one) get a fresh id in their new table, so the catalogue files their models under the new area; the old id
    stays behind as removed. Returns {new index: id of the destination table's header}. Needs the old page
    (``before``, its segments) to split into the old clauses (else nothing is relocated)."""
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


def _clause_report(
    old: pd.DataFrame, segs: list[Segment], pairs: list[tuple], new_ids: list, relocated: dict[int, str]
) -> pd.DataFrame:
    """One row per clause (:data:`CLAUSE_REPORT_COLUMNS`): an added clause takes the section of the clause
    before it, a relocated table row the section of its new table."""
    old_ids, old_texts, old_lines = list(old["clause_id"]), list(old["text_ja"]), list(old["line"])
    section_of = dict(zip(old["clause_id"], old["section"], strict=True))
    rows: list[dict] = []
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
    return pd.DataFrame(rows, columns=CLAUSE_REPORT_COLUMNS)


def _table_rows(segments: list[Segment], table: pd.DataFrame) -> list[bool]:
    """Which clauses of ``table`` are table rows, judged by pairing them with the page's segments by text."""
    rows = {text_key(s.text) for s in segments if s.row}
    return [text_key(t) in rows for t in table["text_ja"]]


# ---------------------------------------------------------------- the new clause table ----


def _new_clause_table(clauses: pd.DataFrame, old: pd.DataFrame, report: pd.DataFrame) -> pd.DataFrame:
    """The clause table of the new page: old metadata for paired clauses, new rows for added ones, removed
    clauses kept with empty text after the clause they followed (rules citing them still load and show as
    stale), then the clauses an earlier revision removed (``clauses`` keeps them)."""
    meta = old.set_index("clause_id", drop=False)
    old_order = list(meta["clause_id"])
    records = report.to_dict(orient="records")
    paired = {r["old_id"]: r["new_id"] for r in records if r["old_id"] and r["new_id"]}
    kept: list[dict] = []
    removed_after: dict[str | None, list[dict]] = {}
    for rec in records:
        if rec["status"] == "added":
            kept.append(_added_record(rec))
            continue
        if rec["status"] != "removed":
            kept.append(_paired_record(rec, meta.loc[rec["old_id"]]))
        if rec["new_id"] != rec["old_id"]:  # removed, or a table row moved to another table: its old id removed
            k = old_order.index(rec["old_id"])
            after = next((paired[o] for o in reversed(old_order[:k]) if o in paired), None)
            removed_after.setdefault(after, []).append(_removed_record(meta.loc[rec["old_id"]]))
    ordered: list[dict] = list(removed_after.get(None, []))
    for r in kept:
        ordered.append(r)
        ordered.extend(removed_after.get(r["clause_id"], []))
    table = pd.DataFrame(ordered, columns=[*CLAUSE_COLUMNS, *REVISION_COLUMNS])
    if "revision" not in clauses.columns:
        return table
    earlier = clauses[clauses["revision"] == "removed"].reset_index(drop=True)
    earlier = earlier.assign(normative=earlier["normative"].map({True: "true", False: "false"}))
    return pd.concat([table, earlier[table.columns]], ignore_index=True)


def _added_record(rec: dict) -> dict:
    """A clause new on the page: normative until a person reads it (``source review --kind``), not reviewed."""
    return {
        **_ADDED,
        "clause_id": rec["new_id"],
        "section": rec["section"],
        "line": rec["new_line"],
        "text_ja": rec["new_text"],
    }


def _paired_record(rec: dict, m: pd.Series) -> dict:
    """A clause of the old table on the new page: reviewed stays as it was unless the text was edited; a table
    row moved to another table is ``moved`` under a new id, not reviewed."""
    status = rec["status"]
    was_reviewed = str(m["reviewed"]).lower() != "false" if "reviewed" in m.index else True
    if rec["new_id"] != rec["old_id"]:
        status, was_reviewed = "moved", False
    return dict(
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


def _removed_record(m: pd.Series) -> dict:
    """A clause gone from the page, kept as an empty row so the rules citing it still load."""
    return {
        **_REMOVED,
        "clause_id": m["clause_id"],
        "section": m["section"],
        "text_en": m["text_en"],
        "previous_text_ja": m["text_ja"],
    }


# ---------------------------------------------------------------- device rows and numbers ----


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


def _device_changes(
    old: pd.DataFrame, old_rows: set[str], new_table: pd.DataFrame, new_rows: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """The models added to or removed from each device row, the rows whose answer text changed, and the device
    rows of the new page whose model cell cannot be read (problems)."""
    scope_name, scopes = table_scopes()
    before_dev, _ = _device_rows(old, old_rows, scopes)
    after_dev, problems = _device_rows(new_table.set_index("clause_id", drop=False), new_rows, scopes)
    b = set(map(tuple, before_dev[["scope", "model", "row"]].values.tolist()))
    a = set(map(tuple, after_dev[["scope", "model", "row"]].values.tolist()))
    devices = pd.DataFrame(
        [dict(change="removed", scope=x[0], model=x[1], row=x[2]) for x in sorted(b - a)]
        + [dict(change="added", scope=x[0], model=x[1], row=x[2]) for x in sorted(a - b)],
        columns=["change", "scope", "model", "row"],
    )
    answers_b = before_dev.drop_duplicates("row").set_index("row")
    answers_a = after_dev.drop_duplicates("row").set_index("row")
    answer_rows = [
        dict(
            row=row,
            scope=answers_a.at[row, "scope"],
            old_answer=answers_b.at[row, "answer"],
            new_answer=answers_a.at[row, "answer"],
        )
        for row in answers_b.index.intersection(answers_a.index)
        if text_key(answers_b.at[row, "answer"]) != text_key(answers_a.at[row, "answer"])
    ]
    answers = pd.DataFrame(answer_rows, columns=["row", "scope", "old_answer", "new_answer"])
    return devices.rename(columns={"scope": scope_name}), answers.rename(columns={"scope": scope_name}), problems


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


def number_changes(old: str, new: str) -> list[tuple[int | None, int | None]]:
    """The numbers that changed from text ``old`` to text ``new`` (old, new; None where one side has none).
    Only numbers that stand alone count (``32 日``, ``※1``), not those inside a model name (``PR-300NE``).

    >>> number_changes("停止から 32 日以上 (PR-300NE)", "停止から 30 日以上 (PR-400NE)")
    [(32, 30)]
    """
    a, b = _numbers(old), _numbers(new)
    out: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            out.append((olds[k] if k < len(olds) else None, news[k] if k < len(news) else None))
    return out


def _numbers(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(?<![A-Za-z0-9-])\d+(?![A-Za-z0-9])", text_key(text))]


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
