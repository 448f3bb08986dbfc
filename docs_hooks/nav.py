"""Nav sections that list a folder: ``- How-to guides: how-to/`` in mkdocs.yml becomes every page in it.

So a new page under docs/how-to/ or docs/benchmarks/ appears in the nav without editing
mkdocs.yml: the folder's index.md first, then the others in order of their titles.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)


def page_title(page: Path) -> str:
    found = _TITLE.search(page.read_text(encoding="utf-8"))
    return found.group(1).strip() if found else page.stem.replace("-", " ").capitalize()


def folder_pages(docs: Path, folder: str) -> list[Any]:
    pages = sorted((docs / folder).glob("*.md"), key=lambda page: (page.name != "index.md", page_title(page)))
    if not pages:
        raise ValueError(f"the nav names the folder {folder}, which holds no pages")
    return [{page_title(page): page.relative_to(docs).as_posix()} for page in pages]


def expand_folders(nav: list[Any], docs: Path) -> list[Any]:
    """``nav`` with each ``title: folder/`` entry replaced by that folder's pages."""
    expanded: list[Any] = []
    for entry in nav:
        if isinstance(entry, dict):
            ((title, target),) = entry.items()
            if isinstance(target, str) and target.endswith("/"):
                target = folder_pages(docs, target.rstrip("/"))
            elif isinstance(target, list):
                target = expand_folders(target, docs)
            entry = {title: target}
        expanded.append(entry)
    return expanded
