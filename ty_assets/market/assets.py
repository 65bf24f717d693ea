"""Market views: ``demand_snapshot`` and ``profession_similarity``, both daily, with their checks.

The domains dimension (the 37 Berufshauptgruppen with their active postings) is
the view ``domains`` of sql/007_market.sql, not an asset: it follows the
catalogue the moment ``berufenet_catalogue`` commits.
"""

import time
from datetime import date

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.embeddings import posting_embeddings
from ty_assets.labels import berufenet_labels
from ty_assets.market.demand import write_demand_snapshot
from ty_assets.market.similarity import compute_similarity
from ty_assets.metadata import MODEL, SECONDS
from ty_assets.partitions import DAILY_FRESHNESS, NETWORK_RETRY, daily_partitions
from ty_assets.postings import postings
from ty_assets.previews import markdown, top_new_professions
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_assets.tables import table_metadata
from ty_resources.settings import get_settings


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    deps=[berufenet_labels, postings],
    group_name="market",
    kinds={"postgres"},
    owners=["team:data-platform"],
    metadata=table_metadata("demand_snapshot"),
    description=(
        "Postings active on the partition's day D (first_seen <= D and not invalidated on or before D), new on D "
        "(first_seen = D) and invalidated on D, per KldB code / BERUFENET title (a NULL bucket for unlabelled "
        "postings), domain, qualification level and state. One INSERT ... SELECT in PostgreSQL; the day is "
        "replaced in one transaction."
    ),
)
def demand_snapshot(context: AssetExecutionContext, database: DatabaseResource) -> MaterializeResult:
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    with database.connection() as conn:
        totals = write_demand_snapshot(conn, day)
        top = top_new_professions(conn, day)
    if totals.rows == 0:
        context.log.warning(f"no postings active, new or invalidated on {day}: is the day ingested?")
    return MaterializeResult(
        metadata={
            "dagster/row_count": totals.rows,
            "rows": totals.rows,
            "active": totals.active,
            "new": totals.new,
            "invalidated": totals.invalidated,
            "unlabelled_active": totals.unlabelled_active,
            "top_new_professions": markdown(top, "no new postings on this day"),
            SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


# profession_similarity of day D runs once D's embeddings and labels are in: Dagster's "eager" without its
# restriction to the latest day (a backfilled or re-run day gets its similarity too), and not for a reloaded
# catalogue (that would recompute every day ever kept). The daemon evaluates it (similarity_automation, in
# ty_assets.schedules) and the run's page says which condition started it.
SIMILARITY_AUTOMATION = (
    AutomationCondition.any_deps_updated().ignore(AssetSelection.assets(berufenet_catalogue)).since_last_handled()
    & ~AutomationCondition.any_deps_missing()
    & ~AutomationCondition.any_deps_in_progress()
    & ~AutomationCondition.in_progress()
).with_label("after the day's embeddings and labels")


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    automation_condition=SIMILARITY_AUTOMATION,
    retry_policy=NETWORK_RETRY,
    pool="ollama",  # it embeds the catalogue texts of codes with too few postings
    deps=[posting_embeddings, berufenet_labels, berufenet_catalogue],
    group_name="market",
    kinds={"postgres", "pgvector", "numpy"},
    owners=["team:data-platform"],
    metadata=table_metadata("profession_similarity"),
    description=(
        "Top-k (TY_SIMILARITY_TOP_K) most similar KldB 5-digit codes per active code, by cosine: the normalised "
        "centroid of the embeddings (current model) of its postings active on the partition's day when it has "
        "TY_SIMILARITY_MIN_POSTINGS of them, else the embedding of its catalogue text. Every day is kept (the "
        "service reads the latest); the day's rows are replaced in one transaction."
    ),
)
def profession_similarity(
    context: AssetExecutionContext, database: DatabaseResource, embedder: EmbedderResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    model = embedder.get_embedder()
    started = time.perf_counter()
    with database.connection() as conn:
        stats = compute_similarity(conn, model, day, settings.similarity_min_postings, settings.similarity_top_k)
    if stats.codes == 0:
        raise Failure("no active KldB 5-digit codes: materialise berufenet_catalogue first", allow_retries=False)
    if stats.without_vector:
        context.log.warning(f"{stats.without_vector} codes have a zero vector (empty text) and no neighbours")
    stats_extra = getattr(model, "stats", None)
    return MaterializeResult(
        metadata={
            "dagster/row_count": stats.pairs,
            "pairs": stats.pairs,
            "codes": stats.codes,
            "codes_from_postings": stats.postings_basis,
            "codes_from_catalogue": stats.catalogue_basis,
            "codes_without_vector": stats.without_vector,
            MODEL: stats.model,
            "top_k": settings.similarity_top_k,
            "min_postings": settings.similarity_min_postings,
            **{k: MetadataValue.float(round(v, 3)) for k, v in stats.seconds.items()},
            SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
            **(stats_extra.as_dict(prefix="ollama_") if stats_extra is not None else {}),
        }
    )
