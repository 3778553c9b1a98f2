"""Core's packages import one another in one direction (docs/layout.md, "Layers"): no cycle among the subpackages
and top-level modules of servecast, counting the imports that run when a module is imported (not those inside
functions, nor those under `if TYPE_CHECKING:`)."""

from __future__ import annotations

import ast
import graphlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "servecast"

Edges = dict[tuple[str, str], list[str]]
"""(importing node, imported node) → the `module imports module` lines behind that edge."""


def module_name(path: Path, package: Path) -> str:
    """The dotted name of the module at `path` inside the top-level `package` folder."""
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def node(module: str) -> str:
    """The layering node a module belongs to: its subpackage, or itself when it is a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def import_time_imports(statements: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module runs: all but those in functions and type-checking blocks."""
    for statement in statements:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif isinstance(statement, ast.If) and is_type_checking(statement.test):
            yield from import_time_imports(statement.orelse)
        elif not isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from import_time_imports(ast.iter_child_nodes(statement))


def imported_names(statement: ast.Import | ast.ImportFrom, where: str) -> list[str]:
    """The dotted names an import statement may load: its modules, and for `from a import b` also `a.b` (which is
    a module when b is one)."""
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    assert statement.level == 0 and statement.module, f"{where}:{statement.lineno}: write the import absolute"
    return [statement.module, *(f"{statement.module}.{alias.name}" for alias in statement.names)]


def package_edges(package: Path) -> Edges:
    """The import-time imports between the nodes of the package in folder `package`."""
    files = sorted(package.rglob("*.py"))
    modules = {module_name(path, package) for path in files}
    edges: Edges = defaultdict(list)
    for path in files:
        importer = module_name(path, package)
        for statement in import_time_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            for imported in imported_names(statement, str(path)):
                if imported in modules and node(imported) != node(importer):
                    edges[node(importer), node(imported)].append(f"{importer} imports {imported}")
    return edges


def cycle(edges: Edges) -> list[str]:
    """One cycle of nodes, each importing the next, the first repeated at the end; empty when there is none."""
    imports: dict[str, set[str]] = defaultdict(set)
    for importer, imported in edges:
        imports[importer].add(imported)
    try:
        graphlib.TopologicalSorter(imports).prepare()
    except graphlib.CycleError as error:
        # graphlib lists each node before one that depends on it, i.e. before a node importing it
        return list(reversed(error.args[1]))
    return []


def describe(found: list[str], edges: Edges) -> str:
    """The cycle, then the imports behind each of its steps."""
    lines = [" → ".join(found), *(f"  {line}" for step in pairwise(found) for line in sorted(set(edges[step])))]
    return "\n".join(lines)


def test_core_packages_import_one_another_without_a_cycle() -> None:
    edges = package_edges(CORE)
    found = cycle(edges)
    assert not found, "a package-level import cycle in core:\n" + describe(found, edges)


def test_a_cycle_is_named_and_imports_that_do_not_run_at_import_time_are_not_counted(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "a/__init__.py": "from pkg.b.tables import Table\n",
        "b/__init__.py": "",
        "b/tables.py": "from pkg import a\n\nclass Table: ...\n",
        "c.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.a import x\n\n"
            "def later():\n    from pkg.a import y\n"
        ),
        "d.py": "try:\n    import pkg.c\nexcept ImportError:\n    pass\n",
    }
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text, encoding="utf-8")
    edges = package_edges(package)
    assert set(edges) == {("a", "b"), ("b", "a"), ("b", "pkg"), ("d", "c")}
    assert describe(cycle(edges), edges) in {
        "a → b → a\n  pkg.a imports pkg.b.tables\n  pkg.b.tables imports pkg.a",
        "b → a → b\n  pkg.b.tables imports pkg.a\n  pkg.a imports pkg.b.tables",
    }
