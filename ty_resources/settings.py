"""The one settings module: every tunable is an environment variable.

Project settings carry the prefix ``TY_``; ``DATABASE_URL`` and ``OLLAMA_HOST``
keep the names every tool already knows. Every default works offline on a
fresh clone (embedded PostgreSQL in ``TY_DATA_DIR``, no LLM).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TY_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: project_root() / ".ty",
        description="Holds the embedded database (pg/) and Dagster's home (dagster/).",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL"),
        description="PostgreSQL URL (postgresql://...). Unset: an embedded server in TY_DATA_DIR/pg.",
    )
    dagster_pg_url: str | None = Field(
        default=None,
        description="Storage URL for Dagster's runs, events and schedules. Unset: the data database.",
    )
    ollama_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OLLAMA_HOST"),
        description="Ollama base URL(s), comma-separated. Unset: local embedder, no LLM.",
    )
    log_format: Literal["json", "human"] = Field(
        default="json", description="json: one JSON object per line; human: readable lines."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")
    db_pool_min_size: int = Field(default=1, ge=0, description="Connections the pool keeps open.")
    db_pool_max_size: int = Field(default=10, ge=1, description="Most connections the pool opens.")
    db_connect_timeout_s: float = Field(default=10.0, gt=0, description="Seconds to wait for a connection.")
    catalogue_path: Path | None = Field(
        default=None,
        description="KldB 2010 file for berufenet_catalogue. Unset: the bundled copy.",
    )
    demo_days: int = Field(default=7, ge=1, description="Daily partitions `make run` materialises.")
    web_host: str = Field(default="127.0.0.1", description="Address `ty web` listens on.")
    web_port: int = Field(default=8000, ge=1, le=65535, description="Port `ty web` listens on.")
    dagster_port: int = Field(default=3000, ge=1, le=65535, description="Port of `ty dev`'s webserver.")

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _fold_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if value.lower() in {"debug", "info", "warning", "error"} else value.lower()

    @field_validator("database_url", "dagster_pg_url", "ollama_host", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
