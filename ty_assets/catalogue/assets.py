"""``berufenet_catalogue``: the bundled KldB 2010 file into ``kldb_codes``,
``professions`` and ``profession_exclusions``.

The load is one transaction: readers see the old catalogue until it commits.
Rows are merged, not replaced: an unchanged file changes no row, and a title
that disappears from a new file is retired (``active = false``), never deleted,
so labels that point at it keep their reference.
"""


from collections import Counter
from pathlib import Path

import psycopg
from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from ty_assets.partitions import CATALOGUE_FRESHNESS
from ty_assets.previews import catalogue_by_domain_and_level, markdown
from ty_assets.resources import DatabaseResource
from ty_assets.tables import table_metadata
from ty_resources.bulk import MergeStats, merge_rows
from ty_resources.kldb import Catalogue, read_kldb
from ty_resources.settings import get_settings


class CatalogueConfig(Config):
    path: str = ""
    """KldB 2010 file to load; empty: ``TY_CATALOGUE_PATH``, else the bundled copy."""


def load_catalogue(conn: psycopg.Connection, catalogue: Catalogue) -> dict[str, MergeStats]:
    """Merge a parsed catalogue into the tables, inside the caller's transaction."""
    version = catalogue.version
    conn.execute(
        "INSERT INTO catalogue_versions (version, source, sha256, professions, codes)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (version) DO NOTHING",
        (version, catalogue.source, catalogue.sha256, len(catalogue.professions), len(catalogue.codes)),
    )
    codes = merge_rows(
        conn,
        "kldb_codes",
        key=["code"],
        columns=["code", "level", "title", "short_title", "remarks", "description", "parent_code", "catalogue_version"],
        rows=(
            (c.code, c.level, c.title, c.short_title, c.remarks, c.description, c.parent_code, version)
            for c in catalogue.codes
        ),
        active_column="active",
    )
    professions = merge_rows(
        conn,
        "professions",
        key=["berufenet_id"],
        columns=[
            "berufenet_id", "name", "name_male", "name_female", "kldb_code",
            "level", "is_supervisor", "domain_code", "catalogue_version",
        ],
        rows=(
            (p.berufenet_id, p.name, p.name_male, p.name_female, p.kldb_code,
             p.level, p.is_supervisor, p.domain_code, version)
            for p in catalogue.professions
        ),
        active_column="active",
    )
    exclusions = merge_rows(
        conn,
        "profession_exclusions",
        key=["excluded_from_code", "title", "belongs_to_code"],
        columns=["excluded_from_code", "title", "belongs_to_code", "catalogue_version"],
        rows=((e.excluded_from_code, e.title, e.belongs_to_code, version) for e in catalogue.exclusions),
    )
    # A full load owns the exclusion list: what the file no longer names goes.
    removed = conn.execute(
        "DELETE FROM profession_exclusions WHERE catalogue_version <> %s", (version,)
    ).rowcount
    return {
        "kldb_codes": codes,
        "professions": professions,
        "profession_exclusions": MergeStats(exclusions.inserted, exclusions.updated, removed),
    }


@asset(
    freshness_policy=CATALOGUE_FRESHNESS,
    group_name="catalogue",
    kinds={"postgres", "csv"},
    owners=["team:data-platform"],
    metadata=table_metadata("berufenet_catalogue"),
    tags={"domain": "catalogue"},
    description=(
        "KldB 2010 (V. 2020) codes of all five levels and the 18,838 BERUFENET job titles "
        "(Berufsbenennungen) with male and female readings, plus the hard negatives from "
        "'Ausschlüsse'. Source: Bundesagentur für Arbeit, KldB 2010 V. 2020."
    ),
)
def berufenet_catalogue(
    context: AssetExecutionContext, config: CatalogueConfig, database: DatabaseResource
) -> MaterializeResult:
    path = Path(config.path) if config.path else get_settings().catalogue_path
    catalogue = read_kldb(path)
    context.log.info(
        f"parsed {catalogue.source}: {len(catalogue.codes)} codes, "
        f"{len(catalogue.professions)} job titles, {len(catalogue.exclusions)} exclusions"
    )
    with database.connection() as conn:
        stats = load_catalogue(conn, catalogue)
        overview = catalogue_by_domain_and_level(conn)
    per_level = Counter(c.level for c in catalogue.codes)
    per_domain = Counter(p.domain_code for p in catalogue.professions)
    return MaterializeResult(
        metadata={
            "dagster/row_count": len(catalogue.professions),
            "catalogue_version": catalogue.version,
            "source": catalogue.source,
            "sha256": catalogue.sha256,
            "codes_per_level": MetadataValue.json({str(k): per_level[k] for k in sorted(per_level)}),
            "professions_per_domain": MetadataValue.json({k: per_domain[k] for k in sorted(per_domain)}),
            "titles_per_domain_and_level": markdown(overview, "no active titles"),
            "exclusions": len(catalogue.exclusions),
            **{
                f"{table}_{what}": getattr(s, what)
                for table, s in stats.items()
                for what in ("inserted", "updated", "retired")
            },
            "rows_changed": sum(s.changed for s in stats.values()),
        }
    )
