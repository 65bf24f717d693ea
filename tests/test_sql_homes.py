"""Where SQL lives (ty_resources/sqlfiles.py): migrations in sql/; a statement of more than five lines in a
``.sql`` file beside the module that owns it; shorter ones inline. Every ``.sql`` file beside a module is read
by that module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ty_resources", "ty_assets", "ty_web", "ty_cli")
MAX_INLINE_LINES = 5
STATEMENT = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(?:SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP)\b", re.I)


def _sql_literals(path: Path):
    """(line, SQL lines) of every string literal in ``path`` that is an SQL statement."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and STATEMENT.match(node.value):
            text = node.value.strip()
            # a statement written as adjacent literals on several lines is one constant without line breaks
            lines = text.count("\n") + 1 if "\n" in text else (node.end_lineno or node.lineno) - node.lineno + 1
            yield node.lineno, lines
        elif isinstance(node, ast.JoinedStr):
            head = "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))
            if STATEMENT.match(head):
                yield node.lineno, head.strip().count("\n") + 1


def test_long_statements_live_in_sql_files():
    too_long = [
        f"{path.relative_to(ROOT)}:{line} ({lines} lines)"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, lines in _sql_literals(path)
        if lines > MAX_INLINE_LINES
    ]
    assert too_long == [], "move these into a .sql file beside the module (ty_resources.sqlfiles.sql_file)"


def test_every_sql_file_beside_a_module_is_read_by_it():
    unread = []
    for package in PACKAGES:
        for sql in sorted((ROOT / package).rglob("*.sql")):
            readers = [p for p in sql.parent.glob("*.py") if f'"{sql.name}"' in p.read_text(encoding="utf-8")]
            if not readers:
                unread.append(str(sql.relative_to(ROOT)))
    assert unread == []
