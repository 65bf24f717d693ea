"""``postings`` and ``posting_descriptions``: daily partitions of the BA job postings."""

import time
from datetime import date

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from ty_assets.metadata import DESCRIPTIONS_FETCHED, SECONDS
from ty_assets.partitions import DAILY_FRESHNESS, NETWORK_RETRY, daily_partitions
from ty_assets.postings.crawls import load_plan, save_crawl
from ty_assets.postings.descriptions import fetch_descriptions
from ty_assets.postings.ingest import ingest_pages, invalidate_stale
from ty_assets.resources import DatabaseResource, PostingSourceResource
from ty_assets.tables import table_metadata
from ty_resources.crawl import CrawlIncomplete
from ty_resources.settings import get_settings


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    pool="ba",
    retry_policy=NETWORK_RETRY,
    group_name="postings",
    kinds={"postgres", "api"},
    owners=["team:data-platform"],
    metadata=table_metadata("postings"),
    description=(
        "Open job postings of the BA job search API (or the offline snapshot, TY_SOURCE), one row per "
        "refnr: first/last seen, normalised title, offer type, state, place, employer, raw item. The live "
        "crawl follows a query plan that keeps every query under the API's 10,000-result cap (table crawls: "
        "the plan, planned total, distinct fetched, coverage). Postings missing TY_STALE_DAYS days in a row "
        "are invalidated, never deleted; they come back when seen again."
    ),
)
def postings(
    context: AssetExecutionContext, source: PostingSourceResource, database: DatabaseResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    src = source.open_source()
    with database.connection() as conn:
        plan = load_plan(conn, day)
        conn.commit()  # no transaction open while the crawl plans and fetches its first batch
        fetch = src.fetch_day(day, plan)
        try:
            stats = ingest_pages(conn, fetch.pages(), day, settings.ingest_batch_size, settings.stale_days)
        except Exception as exc:
            # What was fetched is committed; the partition is marked failed so that a
            # backfill of failed partitions fetches it again. No staleness on a partial day.
            conn.rollback()  # (ingest rolled back its failed batch already; this makes sure)
            save_crawl(conn, day, src.name, fetch, min_coverage=settings.min_crawl_coverage, failed=True)
            raise Failure(
                description=f"fetching postings for {day} from {src.name} failed: {exc}",
                metadata={"source": src.name, **src.stats.as_dict(), **fetch.stats.as_dict()},
            ) from exc
        trusted = save_crawl(conn, day, src.name, fetch, min_coverage=settings.min_crawl_coverage)
        crawl = fetch.stats.as_dict()
        try:
            fetch.raise_if_incomplete()
        except CrawlIncomplete as exc:
            # Some query could not be paged to its end, or failed: what was fetched is stored, but a
            # partial day must not invalidate postings it merely did not reach. A re-run completes it.
            raise Failure(
                description=f"the crawl of {day} is incomplete (postings stored, staleness skipped): {exc}",
                metadata={"source": src.name, **src.stats.as_dict(), **crawl, "fetched": stats.fetched},
            ) from exc
        # A day that fetched too little (or more than its counts: they cannot be trusted) must not turn
        # what it did not see into invalidations; its coverage check fails and blocks downstream.
        # (The postings a backfilled older day brought in are measured against the trusted days all the same.)
        invalidated = invalidate_stale(conn, settings.stale_days)
        if not trusted:
            context.log.warning(f"the crawl of {day} covers {fetch.stats.coverage:.4f} of its planned total: "
                                "it does not count for staleness")
    return MaterializeResult(
        metadata={
            "dagster/row_count": stats.fetched - stats.duplicates,
            "source": src.name,
            "fetched": stats.fetched,
            "duplicates": stats.duplicates,
            "new": stats.new,
            "updated": stats.updated,
            "invalidated": invalidated,
            "staleness": "applied" if trusted else "day not counted (coverage)",
            "reactivated": stats.reactivated,
            "batches": stats.batches,
            **src.stats.as_dict(),
            **crawl,
            SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    pool="ba",
    retry_policy=NETWORK_RETRY,
    deps=[postings],
    group_name="postings",
    kinds={"postgres", "api"},
    owners=["team:data-platform"],
    metadata=table_metadata("posting_descriptions"),
    description=(
        "Description text of the day's active postings (BA job details, HTML to text) with a status per "
        "posting: ok, not_found, or error with its attempt count. After TY_DESCRIPTION_MAX_ATTEMPTS failed "
        "runs a posting is invalidated as 'description_given_up'."
    ),
)
def posting_descriptions(
    context: AssetExecutionContext, source: PostingSourceResource, database: DatabaseResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    src = source.open_source()
    with database.connection() as conn:
        counts = fetch_descriptions(
            conn, src, day, workers=settings.description_workers, max_attempts=settings.description_max_attempts,
            count_attempt=context.retry_number == 0,  # a retry of this run is the same attempt
        )
    metadata: dict[str, MetadataValue | float | str] = {
        **counts,
        "source": src.name,
        **src.stats.as_dict(),
        SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
    }
    error_rate = counts["error"] / counts[DESCRIPTIONS_FETCHED] if counts[DESCRIPTIONS_FETCHED] else 0.0
    if error_rate > settings.description_max_error_rate:
        raise Failure(
            description=(
                f"{counts['error']} of {counts[DESCRIPTIONS_FETCHED]} details failed for {day} "
                f"({error_rate:.1%} > TY_DESCRIPTION_MAX_ERROR_RATE {settings.description_max_error_rate:.1%}); "
                "the successful ones are stored, a re-run retries the rest"
            ),
            metadata=metadata,
        )
    return MaterializeResult(metadata={"dagster/row_count": counts["ok"], **metadata})
