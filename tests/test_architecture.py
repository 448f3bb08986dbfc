"""The package's shape: imports flow one way (import-linter), SQL lives in the store, modules stay small.

The layers and the no-circle rule are import-linter contracts in pyproject.toml; the tests
run the real ``lint-imports`` over the package, and over a throwaway package to show the
contracts see the imports a hand-written checker would miss (inside functions, under
``TYPE_CHECKING``).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "simsearch"
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE FROM|CREATE TABLE|PRAGMA|json_extract)\b")

MAX_LINES = 300
# A module may pass MAX_LINES if its docstring says why ("Longer than 300 lines because ...").
# These are today's exceptions, each waiting for the split issue 21 names; an entry that is no
# longer needed fails the check below, so the list only shrinks.
OVERSIZE_TODAY: dict[str, str] = {}
_STATED_REASON = re.compile(r"longer than 300 lines because", re.IGNORECASE)


def lint_imports(root: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed ``lint-imports`` in ``root`` (its config, its packages), without a cache file."""
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", *options]
    environment = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    return subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_import_contracts():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


LATE_IMPORT = "def late():\n    from toy.a import thing\n"
TYPE_ONLY_IMPORT = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy.a import thing\n"


@pytest.mark.parametrize("hidden", [LATE_IMPORT, TYPE_ONLY_IMPORT])
def test_the_contracts_see_a_circle_through_a_late_or_type_only_import(tmp_path, hidden):
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from toy.b import other\nthing = 1\n")
    (package / "b.py").write_text(hidden + "other = 2\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = toy\n\n"
        "[importlinter:contract:circles]\nname = no circles\ntype = acyclic_siblings\nancestors = toy\n"
    )
    result = lint_imports(tmp_path)
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout


PUBLIC_IMPORTS = (
    "from simsearch import Index\nfrom simsearch.errors import InputError\nfrom simsearch.tools import compare_texts\n"
)


def test_the_ui_contract_refuses_an_internal_module_even_late_or_type_only(tmp_path):
    """The repository's own contract, run over a throwaway simsearch_ui beside the real simsearch."""
    ui = tmp_path / "simsearch_ui"
    ui.mkdir()
    (ui / "__init__.py").write_text("")
    (ui / "public.py").write_text(PUBLIC_IMPORTS)
    (ui / "late.py").write_text("def late():\n    from simsearch.query.terms import lexical_terms\n")
    (ui / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from simsearch.atomic import replacing\n"
    )
    (tmp_path / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    result = lint_imports(
        tmp_path, "--contract", "ui-public-surface", env={"PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"}
    )
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout + result.stderr
    refused = sorted(re.findall(r"(simsearch_ui\.\w+) -> (simsearch[\w.]*)", result.stdout))
    assert refused == [("simsearch_ui.late", "simsearch.query.terms"), ("simsearch_ui.typed", "simsearch.atomic")]


def python_files() -> dict[str, Path]:
    return {
        str(path.relative_to(REPO)): path for folder in (PACKAGE, REPO / "ui") for path in sorted(folder.rglob("*.py"))
    }


def test_only_the_store_writes_sql():
    writers = sorted(
        name
        for name, path in python_files().items()
        if name.startswith("simsearch/")
        and not name.startswith("simsearch/store/")
        and _SQL.search(path.read_text(encoding="utf-8"))
    )
    assert writers == []


def oversize_without_reason() -> dict[str, int]:
    """Modules over MAX_LINES whose docstring does not say why, with their line counts."""
    found = {}
    for name, path in python_files().items():
        source = path.read_text(encoding="utf-8")
        lines = len(source.splitlines())
        if lines > MAX_LINES and not _STATED_REASON.search(ast.get_docstring(ast.parse(source)) or ""):
            found[name] = lines
    return found


def test_no_module_over_300_lines_without_a_stated_reason():
    oversize = oversize_without_reason()
    unexplained = {name: lines for name, lines in oversize.items() if name not in OVERSIZE_TODAY}
    assert unexplained == {}, (
        "split these modules by job, or say in the docstring why one job needs the length "
        "('Longer than 300 lines because ...')"
    )
    no_longer_needed = sorted(set(OVERSIZE_TODAY) - set(oversize))
    assert no_longer_needed == [], "short now (or explaining themselves): remove these from OVERSIZE_TODAY"


def test_query_stages_import_nothing_from_the_index_not_even_for_types():
    upward = []
    for path in sorted((PACKAGE / "query").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else ([alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            )
            upward += [f"{path.name}: {name}" for name in names if name.startswith("simsearch.index")]
    assert upward == []
