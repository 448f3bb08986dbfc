"""The package's shape, checked statically: imports flow one way, SQL lives in the store, modules stay small.

These read the source with ``ast`` (nothing is imported), so they also see imports
made inside functions; only ``if TYPE_CHECKING:`` imports are exempt, because they
never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "simsearch"
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE FROM|CREATE TABLE|PRAGMA|json_extract)\b")


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imported_modules(path: Path, known: set[str], root: Path = PACKAGE.parent) -> set[str]:
    """Every simsearch module this file imports at run time (module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    this = module_name(path, root)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "simsearch")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "simsearch":
                return
            for alias in node.names:  # `from simsearch import layout` imports the submodule, not __init__
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(this)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    # A package's __init__ runs before any of its modules, but a facade __init__ that re-exports
    # them is the usual Python shape, not a cycle; only imports that name a module count.
    return {name: imported_modules(path, set(known)) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := walk(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_the_cycle_finder_sees_a_cycle_through_a_function_level_import(tmp_path):
    graph = {"simsearch.a": {"simsearch.b"}, "simsearch.b": {"simsearch.a"}, "simsearch.c": set()}
    assert find_cycle(graph) == ["simsearch.a", "simsearch.b", "simsearch.a"]
    source = tmp_path / "simsearch" / "b.py"
    source.parent.mkdir()
    source.write_text("def late():\n    from simsearch.a import thing\n")
    assert imported_modules(source, {"simsearch.a", "simsearch.b"}, root=tmp_path) == {"simsearch.a"}


def test_type_checking_imports_do_not_count(tmp_path):
    source = tmp_path / "simsearch" / "b.py"
    source.parent.mkdir()
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simsearch.a import thing\n")
    assert imported_modules(source, {"simsearch.a"}, root=tmp_path) == set()


def test_no_import_cycle_among_the_package_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle)


def test_only_the_store_writes_sql():
    writers = sorted(name for name, path in modules().items()
                     if not name.startswith("simsearch.store") and _SQL.search(path.read_text(encoding="utf-8")))
    assert writers == []


def test_index_module_stays_small():
    assert len((PACKAGE / "index" / "index.py").read_text(encoding="utf-8").splitlines()) < 300


def test_query_stages_import_nothing_from_the_index_not_even_for_types():
    upward = []
    for path in sorted((PACKAGE / "query").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            upward += [f"{path.name}: {name}" for name in names if name.startswith("simsearch.index")]
    assert upward == []
