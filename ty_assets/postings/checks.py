"""Checks of the postings tables (queried directly, not loaded through the asset)."""

from dagster import AssetCheckResult, AssetCheckSeverity, asset_check

from ty_assets.postings.assets import postings
from ty_assets.resources import DatabaseResource

MIN_KNOWN_STATE_SHARE = 0.95


@asset_check(asset=postings, blocking=True, description="No refnr is stored twice (the primary key says so too).")
def postings_unique_refnr(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        duplicates = conn.execute(
            "SELECT count(*) FROM (SELECT refnr FROM postings GROUP BY refnr HAVING count(*) > 1) d"
        ).fetchone()[0]
    return AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_refnrs": duplicates})


@asset_check(
    asset=postings,
    description=f"At least {MIN_KNOWN_STATE_SHARE:.0%} of active postings have a known state (a Land or Ausland).",
)
def postings_known_state_share(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        active, known = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE state <> 'unbekannt') FROM postings WHERE invalidated_at IS NULL"
        ).fetchone()
    share = known / active if active else 1.0
    return AssetCheckResult(
        passed=share >= MIN_KNOWN_STATE_SHARE,
        severity=AssetCheckSeverity.WARN,
        metadata={"active": active, "known_state": known, "share": round(share, 4), "minimum": MIN_KNOWN_STATE_SHARE},
    )


postings_checks = [postings_unique_refnr, postings_known_state_share]
