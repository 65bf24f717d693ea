"""berufenet_catalogue materialised through Dagster with the real resource and database."""

from __future__ import annotations

from pathlib import Path

import psycopg
from dagster import DagsterInstance, materialize

from ty_assets.catalogue import berufenet_catalogue, catalogue_checks
from ty_assets.resources import DatabaseResource
from ty_resources.kldb import BUNDLED_KLDB_PATH


def _materialize(db_url: str, path: Path | None = None, raise_on_error: bool = True):
    run_config = {"ops": {"berufenet_catalogue": {"config": {"path": str(path)}}}} if path else None
    return materialize(
        [berufenet_catalogue, *catalogue_checks],
        resources={"database": DatabaseResource(database_url=db_url)},
        instance=DagsterInstance.ephemeral(),
        run_config=run_config,
        raise_on_error=raise_on_error,
    )


def _checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _truncated_copy(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "kldb_truncated.csv"
    path.write_bytes(b"".join(BUNDLED_KLDB_PATH.read_bytes().splitlines(keepends=True)[:lines]))
    return path


def test_catalogue_loads_and_checks_pass(db_url, asset_metadata, markdown_table):
    result = _materialize(db_url)
    assert result.success
    assert _checks(result) == {
        "professions_complete": True,
        "profession_codes_exist": True,
        "domains_complete": True,
        "level5_codes_complete": True,
    }
    metadata = asset_metadata(result, "berufenet_catalogue")
    assert metadata["dagster/row_count"] == 18_838
    assert metadata["codes_per_level"] == {"1": 10, "2": 37, "3": 144, "4": 703, "5": 1301}
    assert len(metadata["professions_per_domain"]) == 37
    overview = markdown_table(metadata["titles_per_domain_and_level"])
    assert overview[0] == ["domain", "name", "Helfer", "Fachkraft", "Spezialist", "Experte", "total"]
    assert len(overview) == 1 + 37
    assert sum(int(row[-1]) for row in overview[1:]) == 18_838
    assert all(int(row[-1]) == sum(int(n) for n in row[2:6]) for row in overview[1:])
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM professions WHERE active").fetchone()[0] == 18_838
        assert conn.execute("SELECT count(*) FROM kldb_codes WHERE level = 5").fetchone()[0] == 1301
        row = conn.execute(
            "SELECT name, name_male, name_female, kldb_code, level, is_supervisor, domain_code"
            " FROM professions WHERE berufenet_id = '01104-101'"
        ).fetchone()
        assert row == ("Offizier - Militärfachlicher Dienst", "Offizier - Militärfachlicher Dienst",
                       "Offizier - Militärfachlicher Dienst", "01104", 4, False, "01")
        assert conn.execute("SELECT parent_code FROM kldb_codes WHERE code = '01104'").fetchone()[0] == "0110"
        assert conn.execute("SELECT count(*) FROM profession_exclusions").fetchone()[0] > 4000


def test_second_materialization_changes_nothing(db_url, asset_metadata):
    _materialize(db_url)
    with psycopg.connect(db_url) as conn:
        before = conn.execute("SELECT md5(string_agg(p::text, '|' ORDER BY berufenet_id)) FROM professions p").fetchone()
        xmins = conn.execute("SELECT sum(xmin::text::bigint) FROM professions").fetchone()
    result = _materialize(db_url)
    assert result.success and all(_checks(result).values())
    assert asset_metadata(result, "berufenet_catalogue")["rows_changed"] == 0
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT md5(string_agg(p::text, '|' ORDER BY berufenet_id)) FROM professions p").fetchone() == before
        assert conn.execute("SELECT sum(xmin::text::bigint) FROM professions").fetchone() == xmins  # no row rewritten


def test_truncated_file_fails_the_checks(db_url, tmp_path):
    result = _materialize(db_url, _truncated_copy(tmp_path, 400), raise_on_error=False)
    checks = _checks(result)
    assert checks["professions_complete"] is False
    assert checks["level5_codes_complete"] is False
    assert checks["domains_complete"] is False


def test_truncated_file_retires_rows_and_full_file_restores_them(db_url, tmp_path, asset_metadata):
    _materialize(db_url)
    result = _materialize(db_url, _truncated_copy(tmp_path, 1000), raise_on_error=False)
    assert _checks(result)["professions_complete"] is False
    with psycopg.connect(db_url) as conn:
        total, active = conn.execute("SELECT count(*), count(*) FILTER (WHERE active) FROM professions").fetchone()
    assert total == 18_838 and active < 18_000  # retired, not deleted
    result = _materialize(db_url)
    assert all(_checks(result).values())
    metadata = asset_metadata(result, "berufenet_catalogue")
    assert metadata["professions_inserted"] == 0  # the retired rows came back, none was lost
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM professions WHERE active").fetchone()[0] == 18_838
        versions = conn.execute("SELECT DISTINCT catalogue_version FROM professions").fetchall()
    assert versions == [(metadata["catalogue_version"],)]


def test_damaged_file_fails_the_run_and_keeps_the_catalogue(db_url, tmp_path):
    _materialize(db_url)
    damaged = tmp_path / "damaged.csv"
    damaged.write_bytes(BUNDLED_KLDB_PATH.read_bytes()[:300_000] + b'"')
    result = _materialize(db_url, damaged, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error.to_string()
    assert "CatalogueFileError" in error and "damaged.csv: line" in error
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM professions WHERE active").fetchone()[0] == 18_838


def test_header_only_file_fails_the_checks(db_url, tmp_path):
    result = _materialize(db_url, _truncated_copy(tmp_path, 1), raise_on_error=False)
    checks = _checks(result)
    assert not (checks["professions_complete"] or checks["domains_complete"] or checks["level5_codes_complete"])
