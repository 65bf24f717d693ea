"""Checks of the market views: they query the tables directly (a check that took the asset as an input would
load every partition)."""

from datetime import date

import numpy as np
from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check

from ty_assets.market.assets import demand_snapshot, profession_similarity
from ty_assets.market.demand import recount, snapshot_totals
from ty_assets.partitions import daily_partitions
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_resources.database import one
from ty_resources.settings import get_settings
from ty_resources.sqlfiles import sql_file

EXPECTED_CODES_SQL = sql_file(__file__, "similarity_expected_codes.sql")


def _checked_days(context: AssetCheckExecutionContext, conn) -> list[date]:
    """The run's partition days; a check run without a partition looks at the latest stored day."""
    if context.has_partition_key:
        return [date.fromisoformat(context.partition_key)]
    if context.has_partition_key_range:  # a single-run backfill of several days
        return [date.fromisoformat(k) for k in daily_partitions.get_partition_keys_in_range(
            context.partition_key_range)]
    latest = conn.execute("SELECT max(day) FROM demand_snapshots").fetchone()[0]
    return [latest] if latest else []


@asset_check(
    asset=demand_snapshot,
    blocking=True,
    partitions_def=daily_partitions,
    description=(
        "The day's totals (active, new, invalidated, unlabelled active) equal the same figures counted from "
        "postings directly, by a different query."
    ),
)
def demand_snapshot_matches_postings(
    context: AssetCheckExecutionContext, database: DatabaseResource
) -> AssetCheckResult:
    mismatches: dict[str, dict[str, list[int]]] = {}
    with database.connection() as conn:
        days = _checked_days(context, conn)
        for day in days:
            stored, counted = snapshot_totals(conn, day), recount(conn, day)
            if stored.counts() != counted.counts():
                names = ("active", "new", "invalidated", "unlabelled_active")
                mismatches[day.isoformat()] = {
                    n: [s, c] for n, s, c in zip(names, stored.counts(), counted.counts()) if s != c
                }
    return AssetCheckResult(
        passed=bool(days) and not mismatches,
        metadata={
            "days": [d.isoformat() for d in days],
            "mismatches (snapshot, postings)": MetadataValue.json(mismatches),
        },
    )


@asset_check(asset=profession_similarity, blocking=True, description="No code is its own neighbour.")
def similarity_no_self_pairs(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        count, examples = one(conn.execute(
            "SELECT count(*), (array_agg(kldb_code ORDER BY kldb_code))[1:20] FROM profession_similarity"
            " WHERE kldb_code = neighbour_code"
        ))
    return AssetCheckResult(passed=count == 0, metadata={"self_pairs": count, "examples": examples or []})


@asset_check(asset=profession_similarity, blocking=True, description="Every score is a finite number in [-1, 1].")
def similarity_scores_in_range(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        pairs, bad, low, high = one(conn.execute(
            "SELECT count(*),"
            " count(*) FILTER (WHERE score = 'NaN' OR score < -1 OR score > 1),"  # +-Infinity are outside too
            " min(score) FILTER (WHERE score <> 'NaN'), max(score) FILTER (WHERE score <> 'NaN')"
            " FROM profession_similarity"
        ))
    finite = [x for x in (low, high) if x is not None and np.isfinite(x)]
    return AssetCheckResult(
        passed=bad == 0,
        metadata={"pairs": pairs, "out_of_range": bad, "min_finite_score": min(finite, default=0.0),
                  "max_finite_score": max(finite, default=0.0)},
    )


@asset_check(
    asset=profession_similarity,
    blocking=True,
    description=(
        "Every active code with TY_SIMILARITY_MIN_POSTINGS active postings embedded by the current model has "
        "neighbours computed from its postings, with the current model."
    ),
)
def similarity_covers_codes_with_postings(
    database: DatabaseResource, embedder: EmbedderResource
) -> AssetCheckResult:
    settings = get_settings()
    model = embedder.get_embedder().model
    with database.connection() as conn:
        expected = [r[0] for r in conn.execute(
            EXPECTED_CODES_SQL, {"model": model, "min_postings": settings.similarity_min_postings}).fetchall()]
        covered = {r[0] for r in conn.execute(
            "SELECT DISTINCT kldb_code FROM profession_similarity WHERE basis = 'postings' AND model = %s", (model,)
        ).fetchall()}
        codes = one(conn.execute("SELECT count(*) FROM kldb_codes WHERE level = 5 AND active"))[0]
    missing = [c for c in expected if c not in covered]
    # With a single code there is no one to be similar to.
    passed = not missing or codes < 2
    return AssetCheckResult(
        passed=passed,
        metadata={"codes_with_enough_postings": len(expected), "without_neighbours": len(missing),
                  "examples": missing[:20], "model": model, "min_postings": settings.similarity_min_postings},
    )


demand_checks = [demand_snapshot_matches_postings]
similarity_checks = [similarity_no_self_pairs, similarity_scores_in_range, similarity_covers_codes_with_postings]
market_checks = [*demand_checks, *similarity_checks]
