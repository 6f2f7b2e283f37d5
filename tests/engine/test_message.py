"""The customer message (issue 21), read as a support agent reads it against the page.

The sweep takes every complete scenario of the catalogue the page does not rule out (the product of the
compiled axes, evaluated) and a set of partial ones (every subset of the inputs of a few witnesses), and holds:
nothing twice and nothing dangling (3), no decision silently dropped (4), only the page's words and the book's
(6). A second test holds that an exception keeps what it does not override (2) and what partial knowledge gives
(5). The reviewed messages are in ``tests/cases/messages`` (see :func:`test_reviewed_messages_are_unchanged`).
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import re
import unicodedata
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy import default_rulebook, evaluate, message
from sonet_policy.analysis.audit import audit
from sonet_policy.analysis.revision import update
from sonet_policy.book.invariants import load_invariants
from sonet_policy.cli.common import given_inputs
from sonet_policy.cli.main import build_parser, main
from sonet_policy.engine.invariants import violations
from sonet_policy.engine.message import context, message_column, message_of
from sonet_policy.engine.message_compose import Message, Section
from sonet_policy.engine.message_lines import Line
from sonet_policy.engine.message_open import MAX_BRANCHES
from sonet_policy.paths import PACKAGE_DIR, RULES_DIR
from sonet_policy.source.citations import citing_tables
from sonet_policy.source.clauses import page_text, text_key

BOOK = default_rulebook()
CTX = context(BOOK)
DATA, PAGE = CTX.data, CTX.page
MARKS = PAGE.marks
CASES = Path(__file__).resolve().parents[1] / "cases" / "messages"
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")


def _value(axis, pos: int) -> object:
    if axis.kind == "integer":
        interval = axis.intervals[pos]
        return None if interval is None else int(interval[0])
    if axis.kind == "boolean":
        return axis.labels[pos] == "true"
    return axis.labels[pos]


@cache
def domain() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every complete scenario (one value per axis cell of each input) the page does not rule out, and its
    answers."""
    axes = BOOK.compiled().axes
    values = {n: [_value(a, p) for p in range(len(a.labels))] for n, a in axes.items()}
    frame = pd.DataFrame(list(itertools.product(*values.values())), columns=list(values))
    answers = evaluate(frame)
    keep = answers["error"].isna() | answers["error"].astype(str).eq("")
    return frame[keep].reset_index(drop=True), answers[keep].reset_index(drop=True)


def representatives() -> list[tuple[dict, pd.Series]]:
    """One scenario per distinct combination of answers and deciding rules."""
    frame, answers = domain()
    key = answers[[*BOOK.decisions, "rules"]].astype(str)
    first = key.drop_duplicates().index
    return [(frame.loc[i].to_dict(), answers.loc[i]) for i in first]


WITNESSES = [
    dict(area="east", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=True, days_since_phone_stop=None),
    dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False, days_since_phone_stop=5),
    dict(
        area="east", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days_since_phone_stop=31
    ),
    dict(area="west", plan="other", device="RS-500KI", setup="rental_only", keep_number=True, days_since_phone_stop=40),
    dict(
        area="east",
        plan="10g",
        device="XG-100NE",
        setup="wlan_router_10g",
        keep_number=True,
        days_since_phone_stop=None,
    ),
    dict(area="west", plan="other", device="RV-440NE", setup="wlan_1g", keep_number=False, days_since_phone_stop=0),
]


def partial_scenarios() -> list[dict]:
    """Every subset of the inputs of each witness (the empty one once)."""
    out, seen = [], set()
    for w in WITNESSES:
        names = list(w)
        for k in range(len(names)):
            for chosen in itertools.combinations(names, k):
                known = {n: w[n] for n in chosen}
                key = tuple(sorted((n, str(v)) for n, v in known.items()))
                if key not in seen:
                    seen.add(key)
                    out.append(known)
    return out


# ----------------------------------------------------------------------------------- the checks ----


def _unmarked(text: str) -> str:
    """A text without the page's footnote marks (the message's layout, not its words), as compared."""
    mark = re.escape(MARKS.mark)
    return text_key(re.sub(rf"\(\s*{mark}\s*\)|{mark}\d*", "", text))


def _undecorated(line: Line) -> str:
    if line.style in ("link", "subhead", "option"):
        before, after = DATA.fill(line.style, text="\0").split("\0")
        assert line.ja.startswith(before) and line.ja.endswith(after), line
        return line.ja[len(before) : len(line.ja) - len(after)]
    return line.ja


def _template_pattern(key: str) -> re.Pattern:
    out, seen = [], set()
    for piece in re.split(r"(\{[a-z]+\})", DATA.texts[key].ja):
        name = piece[1:-1]
        if piece.startswith("{"):
            out.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+)")
            seen.add(name)
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


def _book_words(name: str, value: str) -> bool:
    if name == "heading":
        return value in {spec.question_ja for spec in BOOK.decisions.values()}
    if name == "label":
        return value in {spec.label_ja for spec in BOOK.inputs.values()}
    if name == "values":  # models as the page lists them: each family starts with a catalogue model's stem
        stems = [piece.split(DATA.fill("model_sep"))[0] for piece in value.split(DATA.fill("list_sep"))]
        return all(any(m.startswith(s) for m in BOOK.models) for s in stems)
    return False


def _branch_text(line: Line) -> bool:
    name = line.source.rsplit("branch.", 1)[1]
    if line.ja == DATA.fill("branch_else"):
        return True
    whole = f"branch.{name}"
    if DATA.has(whole):
        m = _template_pattern(whole).fullmatch(line.ja)
        if m and all(_book_words(k, v) for k, v in m.groupdict().items()):
            return True
    heads = {t.ja for k, t in DATA.texts.items() if k.startswith(whole + ".")}
    return line.ja in heads or all(piece in heads for piece in line.ja.split(DATA.fill("list_sep")))


def assert_only_book_words(msg: Message) -> None:
    """(6) Every line is text of the page (NFKC, spacing and footnote marks aside) or of a data file of the book."""
    for section in msg.sections:
        assert section.heading == DATA.fill("heading", heading=BOOK.decisions[section.decision].question_ja)
        for line in section.lines:
            if line.source in PAGE.clauses:
                assert _unmarked(_undecorated(line)) in _unmarked(PAGE.clauses[line.source].text_ja), line
            elif line.style == "branch":
                assert _branch_text(line), line
            elif line.source.startswith("inputs.csv "):
                assert line.ja == DATA.questions[line.source.split()[1]], line
            else:
                key = line.source.removeprefix("message_texts.csv ")
                m = _template_pattern(key).fullmatch(line.ja)
                assert m and all(_book_words(k, v) for k, v in m.groupdict().items()), line


def _compatible(a: Line, b: Line) -> bool:
    """Whether one customer can read both lines (their branches do not exclude each other)."""
    mine = dict(a.path)
    return all(name not in mine or mine[name] & values for name, values in b.path)


def _anchors(text: str) -> list[str]:
    return list(MARKS.anchors(text, skip_start=True))


def assert_nothing_twice_or_dangling(msg: Message) -> None:
    """(3) No sentence twice for one customer; a footnote only under its anchor and an anchor only over its
    footnote; 「下記」 only with what it points at; no pointer to a section of the page."""
    lines = [line for s in msg.sections for line in s.lines]
    for a, b in itertools.combinations(lines, 2):
        assert not (a.key and a.key == b.key and _compatible(a, b)), (a.ja, msg.ja)
    headings = {c.text_ja for c in PAGE.clauses.values() if c.kind == "heading"}
    for section in msg.sections:
        _assert_footnotes(section)
        _assert_pointers(section)
        for line in section.lines:
            assert not any(f"「{h}」" in line.ja for h in headings), line


def _assert_footnotes(section: Section) -> None:
    lines = section.lines
    for k, line in enumerate(lines):
        label = MARKS.footnote_label(line.ja)
        if label is not None:  # a footnote: under a line that anchors it
            assert any(label in _anchors(x.ja) for x in lines[:k] if _compatible(x, line)), (line, section.ja)
        for anchor in _anchors(line.ja):  # an anchor: over its footnote
            assert any(MARKS.footnote_label(x.ja) == anchor for x in lines[k + 1 :]), (line, section.ja)


def _assert_pointers(section: Section) -> None:
    pointer = text_key(MARKS.pointer)
    sources = {x.source for x in section.lines}
    for k, line in enumerate(section.lines):
        if line.key is None or pointer not in text_key(line.ja):
            continue
        after = section.lines[k + 1] if k + 1 < len(section.lines) else None
        linked = after is not None and after.style in ("link", "text") and after.group == line.group
        needs = DATA.use(line.source).needs
        assert linked or (needs and set(needs) <= sources), (line, section.ja)


def _rule_clauses(rule_id: str) -> set[str]:
    rule = BOOK.rule_index[rule_id]
    kept = {ref.split("#")[0] for ref in DATA.keeps.get(rule_id, ())}
    return set(rule.source) | kept | {w for c in rule.source for w in DATA.use(c).with_}


def assert_every_decision(msg: Message, answers: pd.Series, broken: set[str]) -> None:
    """(4) Every decision has a section with the status of its answer: a conflict's sides each said and told to
    the agent; an uncovered case from the template; an invariant the answers break told to the agent."""
    assert [s.decision for s in msg.sections] == list(BOOK.decisions)
    index = BOOK.rule_index
    for section in msg.sections:
        code = answers[section.decision]
        assert section.status == (code if code in ("uncovered", "conflict") else "ok"), section.ja
        assert any(line.key for line in section.lines), section.ja
        sources = {line.source for line in section.lines}
        if code == "uncovered":
            assert "message_texts.csv uncovered" in sources
        if code == "conflict":
            rules = [r for r in str(answers["rules"]).split() if index[r].decision == section.decision]
            assert len(rules) >= 2 and all(sources & _rule_clauses(r) for r in rules), section.ja
            assert any(all(r in note for r in rules) for note in msg.notes)
    for invariant in broken:
        assert any(invariant in note for note in msg.notes), (invariant, msg.notes)


def assert_open_sections(msg: Message) -> None:
    """(4, 5) From partial knowledge: every decision has a section; an open one branches (a few branches, each
    with its line) or asks."""
    assert [s.decision for s in msg.sections] == list(BOOK.decisions)
    for section in msg.sections:
        assert section.status in ("ok", "uncovered", "conflict", "invalid", "open")
        branches = [line for line in section.lines if line.style == "branch"]
        assert len(branches) <= MAX_BRANCHES
        if section.status == "open" and not branches:
            assert "message_texts.csv pending" in {line.source for line in section.lines}, section.ja


# ----------------------------------------------------------------------------------- the sweeps ----


@pytest.mark.slow
def test_every_complete_scenario_says_each_decision_once_in_the_pages_words() -> None:
    frame, answers = domain()
    broken_frame = violations(frame, rulebook=BOOK)
    column = message_column(answers)
    reps = representatives()
    assert len(reps) > 100 and set(answers["status"]) == {"ok", "conflict", "uncovered"}
    for scenario, row in reps:
        msg = message_of(**scenario)
        at = int(row.name)
        assert msg.ja == column.iloc[at], "the frame's message is the scenario's message"
        broken = {c for c in broken_frame.columns if broken_frame.loc[at, c]}
        assert_only_book_words(msg)
        assert_nothing_twice_or_dangling(msg)
        assert_every_decision(msg, row, broken)
    assert broken_frame.any(axis=None), "the page's own contradictions across decisions are in the sweep"


@pytest.mark.slow
def test_every_partial_scenario_says_each_decision_once_in_the_pages_words() -> None:
    scenarios = partial_scenarios()
    assert len(scenarios) > 300
    statuses = set()
    for known in scenarios:
        msg = message_of(**known)
        assert_only_book_words(msg)
        assert_nothing_twice_or_dangling(msg)
        assert_open_sections(msg)
        statuses |= {s.status for s in msg.sections}
    assert statuses == {"ok", "uncovered", "conflict", "open"}


def test_invalid_and_ruled_out_values_name_the_field_to_correct_in_japanese() -> None:
    bad = message_of(area="east", plan="other", device="PR-700KI", setup="wlan_router_10g", keep_number="x")
    assert_only_book_words(bad)
    assert_nothing_twice_or_dangling(bad)
    statuses = {s.decision: s.status for s in bad.sections}
    assert set(statuses.values()) == {"invalid"}
    device, keep = BOOK.inputs["device"].label_ja, BOOK.inputs["keep_number"].label_ja
    assert DATA.fill("invalid", label=device) in bad.ja and DATA.fill("invalid", label=keep) in bad.ja
    assert sum(note.count("PR-700KI") for note in bad.notes) == 1, "one note per field to correct"
    ruled_out = message_of(area="east", plan="other", device="PR-600KI", setup="wlan_router_10g", keep_number=True)
    field = BOOK.constraints[0].field
    assert [s.status for s in ruled_out.sections] == ["ok", "ok", "invalid", "invalid", "invalid"]
    assert DATA.fill("invalid", label=BOOK.inputs[field].label_ja) in ruled_out.ja
    rows = evaluate(pd.DataFrame([dict(area="east", plan="other", device="PR-700KI", setup="wlan_1g")]))
    assert DATA.fill("invalid", label=device) in message_column(rows).iloc[0]
    assert DATA.questions["keep_number"] in message_column(rows).iloc[0], "a missing field is asked for"


@pytest.mark.slow
def test_no_japanese_is_written_in_the_message_code() -> None:
    """(6) No string of the message's modules holds Japanese (docstrings aside, whose examples read the shipped
    book): every word of the message comes from data."""
    modules = [
        *PACKAGE_DIR.glob("engine/message*.py"),
        PACKAGE_DIR / "widgets/message.py",
        PACKAGE_DIR / "cli/message.py",
    ]
    assert len(modules) >= 8
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                assert not CJK.search(node.value), (path.name, node.lineno, node.value)


# ---------------------------------------------------------------- exceptions and partial knowledge ----


def _section(msg: Message, decision: str) -> Section:
    return next(s for s in msg.sections if s.decision == decision)


@pytest.mark.slow
def test_an_exception_keeps_what_it_does_not_override() -> None:
    """(2) East ※1 cancels the remote stop, not 「機器の返却や交換は不要です」; ※4 leaves the kit sentence; every
    ``keeps`` of the book is said wherever its exception decides, and what it overrides is not."""
    east1 = message_of(area="east", plan="other", device="PR-600KI", setup="wlan_1g", keep_number=True)
    device = _section(east1, "device_action").ja
    assert "機器の返却や交換は不要です。" in device and "遠隔でルーター機能を停止します" not in device
    assert "ルーター機能および無線 LAN 機能は停止されません" in device
    east4 = message_of(area="east", plan="10g", device="XG-100NE", setup="wlan_router_10g", keep_number=True)
    device = _section(east4, "device_action").ja
    assert (
        "「回収キット」が郵送されましたら機器をご返却ください。" in device
        and "機器返却が必要な場合があります。" in device
    )
    assert "ルーター機能および無線LAN機能は停止されません" in east4.ja
    frame, answers = domain()
    seen = set()
    for scenario, row in representatives():
        deciding = str(row["rules"]).split()
        for rid in deciding:
            rule = BOOK.rule_index[rid]
            if not rule.exception_of:
                continue
            seen.add(rid)
            msg = message_of(**scenario)
            said = {text_key(line.said or line.ja) for s in msg.sections for line in s.lines}
            section = {(line.source, text_key(line.said or line.ja)) for line in _section(msg, rule.decision).lines}
            kept = _kept_parts(rid)
            assert kept <= said, (rid, kept - said)
            for target in rule.exception_of:
                for cid in BOOK.rule_index[target].source:
                    if cid in rule.source:
                        continue
                    for part in PAGE.clauses[cid].parts:
                        key = text_key(_plain(part.text))
                        if key not in kept:
                            assert (cid, key) not in section, (rid, cid, part.text)
    assert seen == {r.rule_id for rules in BOOK.rules.values() for r in rules if r.exception_of}


def _plain(text: str) -> str:
    text = MARKS.without_footnote_mark(text)
    for label in MARKS.anchors(text, skip_start=False):
        text = MARKS.without_anchor(text, label)
    return text


def _kept_parts(rule_id: str) -> set[str]:
    out = set()
    for ref in DATA.keeps.get(rule_id, ()):
        cid, _, index = ref.partition("#")
        for part in PAGE.clauses[cid].parts:
            if not index or part.index == int(index):
                out.add(text_key(_plain(part.text)))
    return out


def _position(axis, value: object) -> int:
    """The axis cell of a scenario value (a day count: the interval holding it)."""
    value = None if value is None or (isinstance(value, float) and value != value) else value
    for pos in range(len(axis.labels)):
        if axis.kind == "integer":
            interval = axis.intervals[pos]
            if (interval is None) == (value is None) and (value is None or interval[0] <= int(value) < interval[1]):
                return pos
        elif axis.kind == "boolean" and axis.labels[pos] == str(bool(value)).lower():
            return pos
        elif axis.labels[pos] == value:
            return pos
    raise ValueError(value)


def _completions(known: dict, limit: int = 6) -> list[dict]:
    """A few complete scenarios of the domain that agree with ``known``."""
    frame, _ = domain()
    axes = BOOK.compiled().axes
    mask = pd.Series(True, index=frame.index)
    for name, value in known.items():
        target = _position(axes[name], value)
        mask &= frame[name].map(lambda v, a=axes[name], t=target: _position(a, v) == t)
    rows = frame[mask]
    step = max(1, len(rows) // limit)
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for _, r in rows.iloc[::step].iterrows()]


@pytest.mark.slow
def test_partial_knowledge_gives_the_settled_sections_and_branches_or_questions() -> None:
    """(5) With inputs unknown: the sections they cannot change say what the complete message says; an open
    section branches on one input (at most a few branches, each saying what the complete message says for a
    value of its group) or asks for an input the decision reads, in Japanese from the book."""
    msg = message_of(area="east", plan="sml", setup="wlan_1g", keep_number=True)
    ipv4 = _section(msg, "ipv4")
    heads = [line.ja for line in ipv4.lines if line.style == "branch"]
    assert heads[0] == "ご利用の機器が PR-600KI / MI、PR-500KI / MI の場合" and len(heads) == 2
    assert DATA.questions["device"] in _section(msg, "device_action").ja
    for known in partial_scenarios()[::7]:
        partial = message_of(**known)
        for complete in _completions(known):
            full = message_of(**complete)
            for section, done in zip(partial.sections, full.sections, strict=True):
                _assert_agrees(section, done, complete, known, (_keys(partial), _keys(full)))


def _keys(msg: Message) -> set[str]:
    return {line.key for s in msg.sections for line in s.lines if line.key}


def _assert_agrees(section: Section, done: Section, complete: dict, known: dict, said: tuple) -> None:
    """A settled section says what the complete message says for it, a sentence said in another section of one
    of the two aside (where a sentence said twice is said depends on the other sections); a branch says, for a
    value of its group, what the complete message says."""
    if section.status in ("ok", "uncovered", "conflict"):
        mine, theirs = {x.key for x in section.lines if x.key}, {x.key for x in done.lines if x.key}
        assert section.status == done.status and mine - theirs <= said[1] and theirs - mine <= said[0], (
            known,
            section.ja,
            done.ja,
        )
        return
    reads = set(BOOK.decisions[section.decision].inputs)
    branches = [line for line in section.lines if line.style == "branch"]
    if not branches:
        asked = [line for line in section.lines if line.source.startswith("inputs.csv ")]
        pending = [line for line in section.lines if line.source == "message_texts.csv pending"]
        assert pending and all(line.source.split()[1] in reads for line in asked), section.ja
        return
    name = branches[0].path[0][0]
    assert name in reads and name not in known and all(line.path[0][0] == name for line in branches)
    label = BOOK.compiled().axes[name].labels[_position(BOOK.compiled().axes[name], complete[name])]
    for line in section.lines:
        if line.key and (not line.path or label in dict(line.path)[name]):
            assert line.key in said[1], (known, complete, line.ja, done.ja)


# ---------------------------------------------------------------- the reviewed messages ----


def _case_files() -> list[Path]:
    return sorted(CASES.glob("*.txt"))


def _read_case(path: Path) -> tuple[list[str], str, str, str]:
    head, _, body = path.read_text(encoding="utf-8").partition("\n---\n")
    fields = dict(re.findall(r"^(\w+): (.*)$", head, flags=re.M))
    return fields["inputs"].split(), fields["review"], fields["reviewed"], body


def _cli_text(args: list[str], capsys) -> str:
    main(["message", *args])
    return capsys.readouterr().out


def reviewed_hash(text: str) -> str:
    return hashlib.sha256(unicodedata.normalize("NFC", text).encode("utf-8")).hexdigest()[:12]


@pytest.mark.parametrize("path", _case_files(), ids=lambda p: p.stem)
def test_reviewed_messages_are_unchanged(path: Path, capsys) -> None:
    """Each file holds the CLI's text for its inputs, a note reading it against the page and the hash of the
    text that note was written for: a message that changes, or a text edited without a new review, fails."""
    args, review, reviewed, body = _read_case(path)
    assert len(review) > 80, "a review note reads the message against the page"
    assert reviewed == reviewed_hash(body), f"{path.name}: the text changed since its review: re-read, re-hash"
    assert _cli_text(args, capsys) == body, f"{path.name}: the message changed: review it (tests/cases/messages)"


@pytest.mark.slow
def test_reviewed_messages_cover_every_rule_and_every_status(capsys) -> None:
    files = _case_files()
    assert len(files) >= 20
    rules, statuses = set(), set()
    for path in files:
        args, *_ = _read_case(path)
        known = given_inputs(build_parser(["message", *args]).parse_args(["message", *args]), BOOK)
        result = message(**known)
        statuses |= {s["status"] for s in result["sections"]}
        if len(known) == len(BOOK.inputs):
            rules |= set(evaluate(pd.DataFrame([known]))["rules"].iloc[0].split())
    assert rules == set(BOOK.rule_index)
    assert statuses == {"ok", "uncovered", "conflict", "invalid", "open"}


# ---------------------------------------------------------------- the command and the dict ----


def test_the_command_prints_the_message_and_its_json_is_the_dict(capsys) -> None:
    args = ["--area", "west", "--plan", "sml", "--device", "PR-600KI", "--setup", "wlan_1g", "--keep-number", "no"]
    assert main(["message", *args, "--format", "json"]) == 0
    import json

    printed = json.loads(capsys.readouterr().out)
    expected = message(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number="no")
    assert printed == expected
    assert set(printed) == {"ja", "sections", "notes", "rulebook_hash"}
    assert set(printed["sections"][0]) == {"decision", "status", "ja", "lines"}
    assert set(printed["sections"][0]["lines"][0]) == {"ja", "source"}
    assert printed["ja"] == "\n\n".join(s["ja"] for s in printed["sections"])
    assert any("INV-ROUTER-IPV4" in note for note in printed["notes"])
    assert main(["message", "--device", "PR-700KI"]) == 2, "a field to correct"
    assert load_invariants(BOOK)


# ---------------------------------------------------------------- a page that moves the days ----


def _rows_quoting(numbers: set[int]) -> set[str]:
    """Every row of the shipped book's tables with a cell that quotes one of ``numbers`` (a standalone number,
    after NFKC): its id (a citing table's id columns, else the first column)."""
    ids = {t.table: t.id_columns for t in citing_tables(RULES_DIR)}
    pattern = re.compile(r"(?<![\d.])(\d+)(?![\d])")
    out = set()
    for path in sorted(RULES_DIR.glob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        columns = ids.get(path.name, (table.columns[0],))
        for rec in table.to_dict(orient="records"):
            cells = (unicodedata.normalize("NFKC", str(v)) for k, v in rec.items() if k != "cited_hash")
            if any(int(n) in numbers for cell in cells for n in pattern.findall(cell)):
                out.add("/".join(rec[c] for c in columns))
    return out


@pytest.mark.slow
def test_a_page_that_moves_32_and_31_days_to_61_and_60_flags_every_row_quoting_them(tmp_path) -> None:
    page = page_text().replace("32 日", "61 日").replace("31 日", "60 日")
    assert page.count("61 日") == page_text().count("32 日") > 0
    folder, _ = update(page, "days-61", root=tmp_path)
    findings = audit(folder)
    stale = {rules[0] for rules in findings.loc[findings["kind"] == "stale_citation", "rules"]}
    quoting = _rows_quoting({31, 32})
    assert {"V4-OTH-V6-32", "V4-OTH-V6-31", "EC-PRE-STOP", "ipv4/reapply_v6plus", "ipv4/ipoe_support_desk"} <= quoting
    assert {"branch.days_since_phone_stop.>=32", "branch.days_since_phone_stop.0-31"} <= quoting
    assert quoting <= stale, quoting - stale


# ---------------------------------------------------------------- the view ----


def test_the_view_offers_copy_and_a_printable_page_and_keeps_notes_out_of_the_text() -> None:
    import html as html_lib
    import json

    from sonet_policy.widgets.message import printable_html, render_html

    msg = message_of(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number=False)
    markup = render_html(msg)
    assert f"<textarea class='sp-message-ja' readonly>{html_lib.escape(msg.ja)}</textarea>" in markup
    assert "navigator.clipboard.writeText(t.value)" in markup and "w.print()" in markup
    page = re.search(r'data-page="([^"]*)"', markup).group(1)
    assert json.loads(html_lib.unescape(page)) == printable_html(msg)
    assert all(html_lib.escape(note) in markup for note in msg.notes)
    assert not any(note in msg.ja for note in msg.notes), "the agent's notes are never in the text to send"
    printable = printable_html(msg)
    assert printable.startswith("<!doctype html>") and "@media print{.notes{display:none}}" in printable
    hostile = Message([Section("x", "ok", "<b>", [Line("<script>", "", "x", "sentence")])], ["</textarea>"])
    assert "<script>" not in render_html(hostile) and "</textarea></" not in render_html(hostile)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_evaluate_message_adds_each_rows_message_for_a_mail_merge(tmp_path: Path, suffix: str) -> None:
    rows = pd.DataFrame(
        [
            dict(area="east", plan="other", device="PR-600KI", setup="wlan_1g", keep_number="yes", days=""),
            dict(area="west", plan="sml", device="PR-600KI", setup="wlan_1g", keep_number="no", days=""),
            dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number="no", days="20"),
            dict(area="west", plan="other", device="PR-700KI", setup="v6plus_router", keep_number="no", days="20"),
        ]
    )
    rows.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / f"out{suffix}"
    assert (
        main(["evaluate", "--input", str(tmp_path / "in.csv"), "--output", str(out), "--message", "--no-progress"]) == 0
    )
    read = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}[suffix]
    got = read(out, dtype=str) if suffix != ".parquet" else read(out)
    assert len(got) == len(rows) and "message_ja" in got.columns
    for k, rec in enumerate(rows.to_dict(orient="records")):
        days = rec.pop("days")
        expected = message_of(**rec, days_since_phone_stop=int(days) if days else None).ja
        assert str(got["message_ja"].iloc[k]).replace("\r\n", "\n") == expected, k
    assert (
        "device" in got["message_ja"].iloc[3] or "機器" in got["message_ja"].iloc[3]
    )  # the partial row says what to fix
