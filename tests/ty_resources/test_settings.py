"""Settings: TY_* variables with offline defaults; DATABASE_URL and OLLAMA_HOST keep their names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ty_resources.database import redact, sqlalchemy_psycopg2_url, url_for_database
from ty_resources.settings import Settings


def test_offline_defaults(monkeypatch):
    monkeypatch.delenv("TY_DATA_DIR", raising=False)
    settings = Settings()
    assert settings.database_url is None and settings.ollama_host is None
    assert settings.data_dir.name == ".ty"
    assert settings.pg_data_dir == settings.data_dir / "pg"
    assert settings.dagster_home == settings.data_dir / "dagster"
    assert settings.log_format == "auto"


def test_usual_names_and_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:5432/ty")
    monkeypatch.setenv("OLLAMA_HOST", "http://gpu1:11434,http://gpu2:11434")
    monkeypatch.setenv("TY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TY_DB_POOL_MAX_SIZE", "3")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@db.example:5432/ty"
    assert settings.ollama_host == "http://gpu1:11434,http://gpu2:11434"
    assert settings.data_dir == tmp_path
    assert settings.db_pool_max_size == 3


def test_blank_url_means_unset(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "  ")
    assert Settings().database_url is None


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("TY_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        Settings()


def test_urls():
    url = "postgresql://postgres:@/postgres?host=/tmp/x/pg"
    assert sqlalchemy_psycopg2_url(url) == "postgresql+psycopg2://postgres:@/postgres?host=/tmp/x/pg"
    assert url_for_database(url, "other") == "postgresql://postgres:@/other?host=/tmp/x/pg"
    assert redact("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        sqlalchemy_psycopg2_url("mysql://h/db")
