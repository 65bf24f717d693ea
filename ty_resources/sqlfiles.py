"""Where SQL lives: migrations in ``sql/``; a statement of more than five lines, or one that two modules use, in
a ``.sql`` file beside the module that owns it; shorter ones inline. ``tests/test_sql_homes.py`` holds the
packages to that rule."""

from __future__ import annotations

from pathlib import Path


def sql_file(module_file: str, name: str) -> str:
    """The text of the SQL file ``name`` beside the module ``module_file`` (pass ``__file__``), read once when
    the module loads."""
    return (Path(module_file).parent / name).read_text(encoding="utf-8")
