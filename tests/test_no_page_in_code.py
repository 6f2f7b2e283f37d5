"""Nothing in the package names an input, a decision, a code, a rule or a clause of this page: those are data.

The package's source is parsed (ast): every string literal that is not a docstring, and every identifier, is
checked against the names in ``data/`` (inputs, decisions, codes, rule ids from the rule tables; clause ids
from ``data/source/clauses.csv``). Docstrings are left out: their examples run the shipped book by name, as a
reader expects. Two words are codes of the page and also plain English that messages use ("none", "number");
they are checked only where a literal *is* the word, and the few such literals are listed below with why.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy.paths import CLAUSES_CSV, PACKAGE_DIR, RULES_DIR

# Modules that are about this page by nature, each with the reason (and the owner, for the lead). None:
# source/catalogue.py finds the device rows and their areas through data/source/section_scope.csv (column device_rows).
PAGE_MODULES: dict[str, str] = {}
# (module, literal) pairs where an English word equals a code or a decision name.
ENGLISH = {
    ("analysis/audit.py", "none"),  # an empty output shown as 'none'
    ("files/header.py", "none"),  # a message word: "it has none" (no column)
    ("widgets/downloads.py", "none"),  # "got 0: none", "the sheet has none" (the analyst helper's module)
    ("book/tables.py", "none"),  # "nearest: none"
    ("export/dmn.py", "number"),  # FEEL's typeRef "number"
    ("widgets/editor.py", "wifi"),  # ProposalEditor's default table (the proposals helper's module)
}


def _stems() -> re.Pattern:
    """A regular expression over clause ids, such as ``dev\\.([ew])\\.r\\d+``: a clause id's first part followed by
    an escaped dot."""
    stems = {c.split(".")[0] for c in pd.read_csv(CLAUSES_CSV, dtype=str)["clause_id"]}
    return re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, sorted(stems))) + r")\\\.")


def _names() -> tuple[set[str], set[str]]:
    inputs = set(pd.read_csv(RULES_DIR / "inputs.csv", dtype=str)["input"])
    decisions = set(pd.read_csv(RULES_DIR / "decisions.csv", dtype=str)["decision"])
    codes = set(pd.read_csv(RULES_DIR / "codes.csv", dtype=str)["code"])
    rule_ids = set()
    for name in decisions:
        rule_ids |= set(pd.read_csv(RULES_DIR / f"{name}.csv", dtype=str)["rule_id"])
    clauses = set(pd.read_csv(CLAUSES_CSV, dtype=str)["clause_id"])
    return inputs, inputs | decisions | codes | rule_ids | clauses


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def findings() -> list[str]:
    inputs, words = _names()
    plain = {w for w in words if re.fullmatch(r"[a-z]+", w)}  # may be an English word inside a sentence
    marked = words - plain  # keep_number, port_out, DEV-W-1, dev.e.n1: never English
    pattern = re.compile(
        r"(?<![A-Za-z0-9_.\-])("
        + "|".join(map(re.escape, sorted(marked, key=len, reverse=True)))
        + r")(?![A-Za-z0-9_])"
    )
    stems = _stems()
    found = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = path.relative_to(PACKAGE_DIR).as_posix()
        if module in PAGE_MODULES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                text = node.value
                hits = {m.group(1) for m in pattern.finditer(text)}
                hits |= {f"a pattern over {m.group(1)}.* clause ids" for m in stems.finditer(text)}
                if text in plain and (module, text) not in ENGLISH:
                    hits.add(text)
                found += [f"{module}:{node.lineno}: {h!r} in {text[:50]!r}" for h in sorted(hits)]
            elif isinstance(node, ast.Name) and node.id in inputs:
                found.append(f"{module}:{node.lineno}: identifier {node.id}")
            elif isinstance(node, ast.Attribute) and node.attr in inputs:
                found.append(f"{module}:{node.lineno}: attribute .{node.attr}")
    return found


@pytest.mark.slow
def test_the_package_names_no_input_code_rule_or_clause_of_the_page() -> None:
    assert findings() == []


def test_the_check_finds_a_planted_name(tmp_path: Path, monkeypatch) -> None:
    """The scan is not vacuous: a module that names an input or a clause is reported."""
    import sonet_policy.paths as paths

    fake = tmp_path / "pkg"
    fake.mkdir()
    (fake / "m.py").write_text(
        '"""doc keep_number"""\nX = {"keep_number": 1, "w": "dev.e.n1", "c": "stops", "r": r"^dev\\.([ew])\\.r\\d+$"}\n'
    )
    monkeypatch.setattr(paths, "PACKAGE_DIR", fake)
    monkeypatch.setitem(globals(), "PACKAGE_DIR", fake)
    hits = findings()
    assert any("'keep_number'" in h for h in hits) and any("'dev.e.n1'" in h for h in hits)
    assert any("'stops'" in h for h in hits) and not any("doc" in h for h in hits)
    assert any("a pattern over dev.* clause ids" in h for h in hits), "a regular expression naming device rows"
