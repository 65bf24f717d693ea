"""`tyctl export`: demand snapshots and profession similarity as CSV or Parquet, day by day, all or nothing."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ty_assets.catalogue.assets import load_catalogue
from ty_cli.main import main
from ty_resources import export as export_module

D0 = date(2026, 5, 4)
DAYS = [D0 + timedelta(days=i) for i in range(3)]


@pytest.fixture
def market_db(db_url, catalogue, monkeypatch, tmp_path) -> str:
    """Three days of demand (a labelled bucket per day and the unlabelled one) and two days of similarity."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path / "data"))
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        load_catalogue(conn, catalogue)
        for i, day in enumerate(DAYS):
            conn.execute(
                "INSERT INTO demand_snapshots (day, kldb_code, berufenet_id, domain_code, level, state, offer_type,"
                " active_postings, new_postings, invalidated_postings, computed_at) VALUES"
                " (%(day)s, '43414', '43414-102', '43', 4, 'Berlin', 1, %(n)s, 2, 0, %(now)s),"
                " (%(day)s, NULL, NULL, NULL, NULL, 'Hamburg', NULL, 5, 1, 1, %(now)s)",
                {"day": day, "n": 10 + i, "now": now})
        for day in DAYS[1:]:
            for rank, neighbour in enumerate(("43423", "43104"), start=1):
                conn.execute(
                    "INSERT INTO profession_similarity (day, kldb_code, neighbour_code, rank, score, basis,"
                    " neighbour_basis, postings, model, computed_at)"
                    " VALUES (%s, '43414', %s, %s, %s, 'postings', 'catalogue', 25, 'local-test', %s)",
                    (day, neighbour, rank, 0.9 - rank / 10, now))
    return db_url


def invoke(*args: str):
    return CliRunner().invoke(main, ["export", *args])


def test_demand_as_csv_for_a_range_of_days(market_db, tmp_path):
    out = tmp_path / "demand.csv"
    result = invoke("demand", "--out", str(out), "--from", DAYS[1].isoformat(), "--to", DAYS[2].isoformat())
    assert result.exit_code == 0, result.output
    assert f"4 rows of 2 day(s), {DAYS[1]} to {DAYS[2]}" in result.output
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["day"] for r in rows] == [DAYS[1].isoformat()] * 2 + [DAYS[2].isoformat()] * 2
    assert out.stat().st_mode & 0o044  # readable by others, as a new file here is (not mkstemp's 0600)
    link = tmp_path / "latest.csv"
    link.symlink_to(out)
    assert invoke("demand", "--out", str(link)).exit_code == 0
    assert link.is_symlink() and len(list(csv.DictReader(out.open(encoding="utf-8")))) == 6  # the target rewritten
    labelled, unlabelled = rows[0], rows[1]
    assert labelled["profession"] and labelled["kldb_title"].startswith("Berufe in der Softwareentwicklung")
    assert (labelled["level"], labelled["offer_type"], labelled["active_postings"]) == ("4", "1", "11")  # no 4.0
    assert (unlabelled["kldb_code"], unlabelled["level"], unlabelled["active_postings"]) == ("", "", "5")


def test_similarity_as_parquet_with_fixed_types(market_db, tmp_path):
    out = tmp_path / "exports" / "similarity.parquet"  # the folder is made; the format follows the suffix
    result = invoke("similarity", "--out", str(out))
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.num_rows == 4 and pq.ParquetFile(out).num_row_groups == 2  # one group per day
    assert str(table.schema.field("day").type) == "date32[day]" and str(table.schema.field("rank").type) == "int16"
    frame = table.to_pandas()
    assert frame["neighbour_code"].tolist() == ["43423", "43104"] * 2
    assert frame["neighbour_title"].notna().all()


def test_parquet_keeps_the_types_of_a_day_whose_levels_are_all_missing(market_db, tmp_path):
    with psycopg.connect(market_db) as conn:
        conn.execute("DELETE FROM demand_snapshots WHERE day = %s AND kldb_code IS NOT NULL", (DAYS[0],))
    out = tmp_path / "demand.parquet"
    assert invoke("demand", "--out", str(out)).exit_code == 0
    table = pq.read_table(out)
    assert str(table.schema.field("level").type) == "int16" and table.num_rows == 5
    assert table.column("level").null_count == 3


def test_a_failed_export_leaves_the_previous_file_and_no_part_file(market_db, tmp_path, monkeypatch):
    out = tmp_path / "demand.csv"
    out.write_text("the analyst's last export\n", encoding="utf-8")
    calls = []

    def failing(conn, query, params=None):
        calls.append(params)
        if len(calls) == 2:
            raise psycopg.OperationalError("the server went away")
        return real(conn, query, params)

    real = export_module.frame
    monkeypatch.setattr(export_module, "frame", failing)
    result = invoke("demand", "--out", str(out))
    assert result.exit_code == 1 and "the server went away" in result.output
    assert out.read_text(encoding="utf-8") == "the analyst's last export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_bad_arguments_are_usage_errors(market_db, tmp_path):
    out = str(tmp_path / "x.csv")
    assert invoke("demand", "--out", out, "--from", "2026-05-06", "--to", "2026-05-04").exit_code == 2
    assert invoke("jobs", "--out", out).exit_code == 2
    assert invoke("demand", "--out", out, "--from", "06.05.2026").exit_code == 2
    folder = invoke("demand", "--out", str(tmp_path))
    assert folder.exit_code == 2 and "is a directory" in folder.output  # click's own check (dir_okay=False)
    empty = invoke("demand", "--out", out, "--from", "2030-01-01")
    assert empty.exit_code == 0 and "0 rows of 0 day(s)" in empty.output
    assert (tmp_path / "x.csv").read_text(encoding="utf-8").startswith("day,kldb_code,kldb_title,")
