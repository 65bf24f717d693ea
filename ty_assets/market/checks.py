"""Checks of the market views: they query the tables directly (a check that took the asset as an input would
load every partition)."""

from datetime import date

import numpy as np
from dagster import AssetCheckExecutionContext, AssetCheckResult, MetadataValue, asset_check
from psycopg import sql

from ty_assets.market.assets import demand_snapshot, profession_similarity
from ty_assets.market.demand import recount, snapshot_totals
from ty_assets.partitions import daily_partitions
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_resources.database import one
from ty_resources.settings import get_settings
from ty_resources.sqlfiles import sql_file

EXPECTED_CODES_SQL = sql_file(__file__, "similarity_expected_codes.sql")


def _checked_days(context: AssetCheckExecutionContext, conn, table: str) -> list[date]:
    """The run's partition days; a check run without a partition looks at the latest day stored in ``table``."""
    if context.has_partition_key:
        return [date.fromisoformat(context.partition_key)]
    if context.has_partition_key_range:  # a single-run backfill of several days
        return [date.fromisoformat(k) for k in daily_partitions.get_partition_keys_in_range(
            context.partition_key_range)]
    latest = conn.execute(sql.SQL("SELECT max(day) FROM {}").format(sql.Identifier(table))).fetchone()[0]
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
        days = _checked_days(context, conn, "demand_snapshots")
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


@asset_check(asset=profession_similarity, blocking=True, partitions_def=daily_partitions,
             description="No code is its own neighbour on the day.")
def similarity_no_self_pairs(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        days = _checked_days(context, conn, "profession_similarity")
        count, examples = one(conn.execute(
            "SELECT count(*), (array_agg(day || ' ' || kldb_code ORDER BY day, kldb_code))[1:20]"
            " FROM profession_similarity WHERE day = ANY(%s) AND kldb_code = neighbour_code", (days,)
        ))
    return AssetCheckResult(passed=bool(days) and count == 0,
                            metadata={"days": [d.isoformat() for d in days], "self_pairs": count,
                                      "examples": examples or []})


@asset_check(asset=profession_similarity, blocking=True, partitions_def=daily_partitions,
             description="Every score of the day is a finite number in [-1, 1].")
def similarity_scores_in_range(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        days = _checked_days(context, conn, "profession_similarity")
        pairs, bad, low, high = one(conn.execute(
            "SELECT count(*),"
            " count(*) FILTER (WHERE score = 'NaN' OR score < -1 OR score > 1),"  # +-Infinity are outside too
            " min(score) FILTER (WHERE score <> 'NaN'), max(score) FILTER (WHERE score <> 'NaN')"
            " FROM profession_similarity WHERE day = ANY(%s)", (days,)
        ))
    finite = [x for x in (low, high) if x is not None and np.isfinite(x)]
    return AssetCheckResult(
        passed=bool(days) and bad == 0,
        metadata={"days": [d.isoformat() for d in days], "pairs": pairs, "out_of_range": bad,
                  "min_finite_score": min(finite, default=0.0), "max_finite_score": max(finite, default=0.0)},
    )


@asset_check(
    asset=profession_similarity,
    blocking=True,
    partitions_def=daily_partitions,
    description=(
        "Every active code with TY_SIMILARITY_MIN_POSTINGS postings active on the day and embedded by the current "
        "model has neighbours computed from its postings, with the current model."
    ),
)
def similarity_covers_codes_with_postings(
    context: AssetCheckExecutionContext, database: DatabaseResource, embedder: EmbedderResource
) -> AssetCheckResult:
    settings = get_settings()
    model = embedder.get_embedder().model
    missing: dict[str, list[str]] = {}
    expected = 0
    with database.connection() as conn:
        days = _checked_days(context, conn, "profession_similarity")
        for day in days:
            codes = [r[0] for r in conn.execute(
                EXPECTED_CODES_SQL, {"model": model, "day": day, "min_postings": settings.similarity_min_postings}
            ).fetchall()]
            covered = {r[0] for r in conn.execute(
                "SELECT DISTINCT kldb_code FROM profession_similarity"
                " WHERE day = %s AND basis = 'postings' AND model = %s", (day, model)
            ).fetchall()}
            expected += len(codes)
            if absent := [c for c in codes if c not in covered]:
                missing[day.isoformat()] = absent
        active = one(conn.execute("SELECT count(*) FROM kldb_codes WHERE level = 5 AND active"))[0]
    # With a single code there is no one to be similar to.
    passed = bool(days) and (not missing or active < 2)
    return AssetCheckResult(
        passed=passed,
        metadata={"days": [d.isoformat() for d in days], "codes_with_enough_postings": expected,
                  "without_neighbours": sum(len(v) for v in missing.values()),
                  "examples": MetadataValue.json({d: codes[:20] for d, codes in missing.items()}),
                  "model": model, "min_postings": settings.similarity_min_postings},
    )


demand_checks = [demand_snapshot_matches_postings]
similarity_checks = [similarity_no_self_pairs, similarity_scores_in_range, similarity_covers_codes_with_postings]
market_checks = [*demand_checks, *similarity_checks]
