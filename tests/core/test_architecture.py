"""Layer boundaries: core never imports UI libraries; the allocator never reaches storage."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UI_LIBRARIES = {"streamlit", "pydeck", "plotly"}
STORAGE = {"sqlalchemy", "core.db", "core.models", "alembic"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(folder: str, banned: set[str]) -> list[str]:
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for name in _imports(path):
            if any(name == b or name.startswith(b + ".") for b in banned):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_core_never_imports_ui_libraries() -> None:
    assert _offenders("core", UI_LIBRARIES) == []


def test_allocator_never_imports_storage() -> None:
    assert _offenders("core/allocator", STORAGE) == []


@pytest.mark.parametrize("folder", ["ui", "pages"])
def test_ui_and_pages_hold_no_sql(folder: str) -> None:
    assert _offenders(folder, {"sqlalchemy.sql", "sqlalchemy.orm"}) == []


def test_only_core_db_creates_engines() -> None:
    makers = [
        str(p.relative_to(ROOT))
        for p in ROOT.joinpath("core").rglob("*.py")
        if "create_engine(" in p.read_text() and p.name not in {"db.py", "env.py"}
    ]
    assert makers == []
