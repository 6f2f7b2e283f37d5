"""The house, checked on the source: which folder may import which, no import cycle, short modules and functions.

Every module of ``sonet_policy`` is parsed with ``ast``; every ``import`` counts wherever it stands (at the top,
inside a function, inside a ``try``), except under ``if TYPE_CHECKING:``, which never runs. Only imports of
``sonet_policy`` itself make the graph (third-party and optional dependencies are not the house's).
``sonet_policy/__init__.py`` names the modules of its public names as strings, imported on first use by
``__getattr__``: it runs no import statement, so it adds no edge, and the public names may live in any layer.

The layers, top to bottom (a module may import its own layer and those below it)::

    cli        the commands (and ``__main__``, which runs them)
    widgets    the ipywidgets apps
    analysis   audit, coverage, diff, population, what-ifs, proposals
    export     DMN, JDM
    engine     encode, evaluate, answer, explain, possible, message
    files      reading and writing customer files
    book       the rule book as data
    source     the page
    root       errors.py, paths.py, text.py, __init__.py
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import sonet_policy

PACKAGE = Path(sonet_policy.__file__).parent
LAYERS = ("cli", "widgets", "analysis", "export", "engine", "files", "book", "source", "root")
ENTRY_POINTS = {"sonet_policy.__main__": "cli"}  # ``python -m sonet_policy`` runs the command line
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in ENTRY_POINTS:
        return ENTRY_POINTS[module]
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS and (PACKAGE / parts[1]).is_dir() else "root"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(node: ast.AST):
    """Every node below ``node``, the bodies of ``if TYPE_CHECKING:`` left out (their ``else`` kept)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield stmt
                yield from _statements(stmt)
            continue
        yield child
        yield from _statements(child)


def _targets(node: ast.Import | ast.ImportFrom, importer: str) -> list[str]:
    """The package modules an import statement loads (a name imported from a package may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the importer's package
        package = importer.split(".")
        if MODULES[importer].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([base] if base else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]


def imports_of(module: str) -> list[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in _statements(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(node, module):
                if target.split(".")[0] == "sonet_policy" and target != module:
                    found.append(Import(module, target, node.lineno))
    return found


IMPORTS = [imp for module in MODULES for imp in imports_of(module)]


def _edge(imp: Import) -> tuple[str, str]:
    return imp.importer, imp.imported


def test_the_graph_is_read() -> None:
    """The parser sees imports at the top, inside functions, and not under TYPE_CHECKING."""
    edges = {_edge(i) for i in IMPORTS}
    assert ("sonet_policy.book.load", "sonet_policy.book.model") in edges  # at the top
    assert ("sonet_policy.book.compile", "sonet_policy.book.model") not in edges  # only for type checking
    assert all(i.imported in MODULES for i in IMPORTS), [i for i in IMPORTS if i.imported not in MODULES]
    assert {layer(m) for m in MODULES} == set(LAYERS)


def test_nothing_outside_the_command_line_imports_it() -> None:
    bad = [i for i in IMPORTS if layer(i.imported) == "cli" and layer(i.importer) != "cli"]
    assert bad == []


def test_imports_run_down_the_layers() -> None:
    rank = {name: k for k, name in enumerate(LAYERS)}
    upward = [i for i in IMPORTS if rank[layer(i.imported)] < rank[layer(i.importer)]]
    assert [f"{i.importer}:{i.line} imports {i.imported}" for i in upward] == []


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted.

    >>> cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")})
    [['a', 'b', 'c']]
    """
    graph: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycle() -> None:
    edges = {_edge(i) for i in IMPORTS}
    assert cycles(edges) == []


def long_pieces() -> dict[str, int]:
    """Modules over :data:`MAX_MODULE_LINES` lines (by path) and functions over :data:`MAX_FUNCTION_LINES` (by
    ``module.qualified.name``), with their lengths."""
    out: dict[str, int] = {}
    for module, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            out[str(path.relative_to(PACKAGE.parent))] = len(text.splitlines())
        out.update(_long_functions(ast.parse(text), module))
    return out


def _long_functions(node: ast.AST, prefix: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for child in ast.iter_child_nodes(node):
        name = prefix
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{prefix}.{child.name}"
            length = child.end_lineno - child.lineno + 1  # type: ignore[operator]
            if not isinstance(child, ast.ClassDef) and length > MAX_FUNCTION_LINES:
                out[name] = length
        out.update(_long_functions(child, name))
    return out


def test_no_module_or_function_is_too_long() -> None:
    assert long_pieces() == {}
