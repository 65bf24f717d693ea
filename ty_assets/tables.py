"""The tables behind the assets, as Dagster's UI shows them: ``dagster/table_name`` and ``dagster/column_schema``
on each asset's definition (its *Overview* tab lists the columns, their types, nullability and what they mean).

The column schemas come from ``table_schemas.json`` beside this file, which
``python -m ty_assets.tables --write`` derives from a freshly migrated database (``information_schema``) and the
comments beside each column in ``sql/*.sql``; tests/ty_assets/test_tables.py fails when a migration changes a
table and the file was not written again. (Reading the schema from the database at import would need one when
the code location loads; the UI must show it without.)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from dagster import TableColumn, TableColumnConstraints, TableSchema

from ty_resources.migrations import discover

SCHEMAS_FILE = Path(__file__).with_name("table_schemas.json")
SCHEMA = "public"

# The table each asset writes (the one a person would open first when it writes several).
ASSET_TABLES = {
    "berufenet_catalogue": "professions",
    "postings": "postings",
    "posting_descriptions": "posting_descriptions",
    "posting_embeddings": "posting_embeddings",
    "posting_summaries": "posting_summaries",
    "title_model": "title_models",
    "berufenet_labels": "title_labels",
    "demand_snapshot": "demand_snapshots",
    "profession_similarity": "profession_similarity",
}

COLUMNS_SQL = """
SELECT table_name, column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END,
       is_nullable = 'YES'
FROM information_schema.columns
WHERE table_schema = %s AND table_name = ANY(%s)
ORDER BY table_name, ordinal_position
"""
_CREATE = re.compile(r"^\s*CREATE TABLE (\w+)", re.IGNORECASE)
_ADD = re.compile(r"^\s*ALTER TABLE (\w+) ADD COLUMN (\w+)[^-]*--\s*(.+)$", re.IGNORECASE)
_COLUMN = re.compile(r"^\s+(\w+)\s+[^-]*--\s*(.+)$")


def column_comments() -> dict[tuple[str, str], str]:
    """(table, column) -> the comment on the column's own line in the migrations (the last one wins)."""
    comments: dict[tuple[str, str], str] = {}
    for migration in discover():
        table = None
        for line in migration.sql.splitlines():
            if created := _CREATE.match(line):
                table = created.group(1)
                continue
            if line.startswith(")"):
                table = None
            if added := _ADD.match(line):
                comments[(added.group(1), added.group(2))] = added.group(3).strip()
            elif table and (column := _COLUMN.match(line)):
                comments[(table, column.group(1))] = column.group(2).strip()
    return comments


def read_schemas(conn: psycopg.Connection) -> dict[str, list[dict[str, Any]]]:
    """table -> its columns in order: name, type, nullable, description (the migrations' comment, or empty)."""
    comments = column_comments()
    schemas: dict[str, list[dict[str, Any]]] = {table: [] for table in sorted(ASSET_TABLES.values())}
    for table, column, kind, nullable in conn.execute(COLUMNS_SQL, (SCHEMA, list(schemas))).fetchall():
        schemas[table].append({"name": column, "type": kind, "nullable": nullable,
                               "description": comments.get((table, column), "")})
    return schemas


@cache
def _stored_schemas() -> dict[str, list[dict[str, Any]]]:
    return json.loads(SCHEMAS_FILE.read_text(encoding="utf-8"))


def table_metadata(asset: str) -> dict[str, Any]:
    """The definition metadata of ``asset``: its table's name and column schema."""
    table = ASSET_TABLES[asset]
    columns = _stored_schemas()[table]
    return {
        "dagster/table_name": f"{SCHEMA}.{table}",
        "dagster/column_schema": TableSchema(columns=[
            TableColumn(name=c["name"], type=c["type"], description=c["description"] or None,
                        constraints=TableColumnConstraints(nullable=c["nullable"]))
            for c in columns
        ]),
    }


def main(argv: list[str] | None = None) -> int:
    from ty_resources.database import resolve_database_url, scratch_database

    parser = argparse.ArgumentParser(description="Write table_schemas.json from a freshly migrated database.")
    parser.add_argument("--write", action="store_true", help="write the file (else print the schemas)")
    args = parser.parse_args(argv)
    with scratch_database(resolve_database_url(), "ty_schemas") as url, psycopg.connect(url) as conn:
        text = json.dumps(read_schemas(conn), indent=1, ensure_ascii=False) + "\n"
    if args.write:
        SCHEMAS_FILE.write_text(text, encoding="utf-8")
        print(f"tables: {SCHEMAS_FILE} written", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
