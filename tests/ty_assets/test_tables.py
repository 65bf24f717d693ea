"""The tables the UI shows on each asset: the name and column schema are the migrated database's."""

from __future__ import annotations

import json

import psycopg
from dagster import AssetKey

from ty_assets.definitions import defs
from ty_assets.tables import ASSET_TABLES, SCHEMAS_FILE, column_comments, read_schemas


def test_the_column_schemas_are_the_migrated_databases(db_url):
    with psycopg.connect(db_url) as conn:
        live = read_schemas(conn)
    assert live == json.loads(SCHEMAS_FILE.read_text(encoding="utf-8")), (
        "a migration changed an asset's table: run `python -m ty_assets.tables --write`")
    assert all(live[table] for table in ASSET_TABLES.values())


def test_every_asset_names_its_table_and_columns():
    graph = defs.resolve_asset_graph()
    schemas = json.loads(SCHEMAS_FILE.read_text(encoding="utf-8"))
    assert {key.to_user_string() for key in graph.get_all_asset_keys()} == set(ASSET_TABLES)
    for key in graph.get_all_asset_keys():
        metadata = graph.get(key).metadata
        table = ASSET_TABLES[key.to_user_string()]
        assert metadata["dagster/table_name"] == f"public.{table}"
        columns = metadata["dagster/column_schema"].columns
        assert [c.name for c in columns] == [c["name"] for c in schemas[table]]
    postings = {c.name: c for c in graph.get(AssetKey("postings")).metadata["dagster/column_schema"].columns}
    assert postings["refnr"].constraints.nullable is False and postings["beruf"].constraints.nullable is True
    assert postings["first_seen"].description == "partition day it was first fetched"


def test_comments_come_from_the_column_lines_of_the_migrations():
    comments = column_comments()
    assert comments[("postings", "raw")] == "the item as the source returned it (last seen)"
    assert ("postings", "state") not in comments  # its line has no comment (the CHECK list's lines are not columns)
