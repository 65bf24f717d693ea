"""Checks of ``berufenet_catalogue``. They query the tables directly (a check
that took the asset as an input would load it) and block downstream assets."""

from dagster import AssetCheckResult, AssetChecksDefinition, asset_check

from ty_assets.catalogue.assets import berufenet_catalogue
from ty_assets.resources import DatabaseResource
from ty_resources.database import one

MIN_PROFESSIONS = 18_000
EXPECTED_DOMAINS = 37
MIN_LEVEL5_CODES = 1_300


@asset_check(
    asset=berufenet_catalogue,
    blocking=True,
    description=f"At least {MIN_PROFESSIONS:,} active job titles, ids unique and well-formed.",
)
def professions_complete(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        total, distinct, malformed = one(conn.execute(
            "SELECT count(*), count(DISTINCT berufenet_id),"
            " count(*) FILTER (WHERE berufenet_id !~ '^[0-9]{5}-[0-9]{3}$')"
            " FROM professions WHERE active"
        ))
    return AssetCheckResult(
        passed=total >= MIN_PROFESSIONS and distinct == total and malformed == 0,
        metadata={
            "active_professions": total,
            "distinct_ids": distinct,
            "malformed_ids": malformed,
            "minimum": MIN_PROFESSIONS,
        },
    )


@asset_check(
    asset=berufenet_catalogue,
    blocking=True,
    description="Every active job title's KldB code exists as an active level-5 code.",
)
def profession_codes_exist(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        rows = conn.execute(
            "SELECT p.berufenet_id, p.kldb_code FROM professions p"
            " LEFT JOIN kldb_codes k ON k.code = p.kldb_code AND k.level = 5 AND k.active"
            " WHERE p.active AND k.code IS NULL ORDER BY p.berufenet_id LIMIT 20"
        ).fetchall()
    return AssetCheckResult(
        passed=not rows,
        metadata={"orphans_shown": len(rows), "examples": [f"{i} -> {c}" for i, c in rows]},
    )


@asset_check(
    asset=berufenet_catalogue,
    blocking=True,
    description=f"Exactly {EXPECTED_DOMAINS} Berufshauptgruppen (domains), each with job titles.",
)
def domains_complete(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        domains, with_titles = one(conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE EXISTS ("
            "  SELECT 1 FROM professions p WHERE p.active AND p.domain_code = k.code))"
            " FROM kldb_codes k WHERE k.level = 2 AND k.active"
        ))
    return AssetCheckResult(
        passed=domains == EXPECTED_DOMAINS and with_titles == EXPECTED_DOMAINS,
        metadata={"domains": domains, "domains_with_titles": with_titles, "expected": EXPECTED_DOMAINS},
    )


@asset_check(
    asset=berufenet_catalogue,
    blocking=True,
    description=f"At least {MIN_LEVEL5_CODES:,} level-5 codes (Berufsgattungen), each with a parent.",
)
def level5_codes_complete(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        codes, orphans = one(conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE NOT EXISTS ("
            "  SELECT 1 FROM kldb_codes p WHERE p.code = k.parent_code AND p.active))"
            " FROM kldb_codes k WHERE k.level = 5 AND k.active"
        ))
    return AssetCheckResult(
        passed=codes >= MIN_LEVEL5_CODES and orphans == 0,
        metadata={"level5_codes": codes, "without_parent": orphans, "minimum": MIN_LEVEL5_CODES},
    )


catalogue_checks: list[AssetChecksDefinition] = [
    professions_complete,
    profession_codes_exist,
    domains_complete,
    level5_codes_complete,
]
