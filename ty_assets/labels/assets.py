"""``berufenet_labels``: one label per distinct normalised title; the day's postings take theirs."""

import json
import time
from collections import Counter
from datetime import date

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    asset,
    asset_check,
)

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.partitions import daily_partitions
from ty_assets.postings import posting_descriptions, postings
from ty_assets.resources import DatabaseResource, EmbedderResource, OllamaResource
from ty_resources.bulk import merge_rows
from ty_resources.classifier import CatalogueMissing, Classifier, Label, load_index
from ty_resources.settings import get_settings

# A posting's title key is postings.title_normalized, set at ingest (ty_resources.titles.title_key).
DAY_KEYS_SQL = """
SELECT count(DISTINCT title_normalized) FROM postings WHERE last_seen = %(day)s AND invalidated_at IS NULL
"""
OPEN_KEYS_SQL = """
SELECT p.title_normalized, min(p.title) AS example,
       min(left(d.description, %(chars)s)) FILTER (WHERE d.description <> '') AS excerpt
FROM postings p
LEFT JOIN title_labels l ON l.title_key = p.title_normalized
LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'
WHERE p.last_seen = %(day)s AND p.invalidated_at IS NULL
  AND (l.title_key IS NULL OR l.status IN ('error', 'pending_llm') OR l.catalogue_version <> %(version)s)
GROUP BY p.title_normalized
"""
POSTING_LABELS_SQL = """
UPDATE postings p
SET berufenet_id = v.berufenet_id, label_source = v.source
FROM (
    SELECT p2.refnr,
           coalesce(b.berufenet_id, CASE WHEN l.status = 'matched' THEN l.berufenet_id END) AS berufenet_id,
           CASE WHEN b.berufenet_id IS NOT NULL THEN 'beruf'
                WHEN l.status = 'matched' THEN 'title' END AS source
    FROM postings p2
    LEFT JOIN title_labels l ON l.title_key = p2.title_normalized
    LEFT JOIN LATERAL (SELECT min(berufenet_id) AS berufenet_id FROM professions
                       WHERE active AND name = p2.beruf) b ON true
    WHERE p2.last_seen = %(day)s
) v
WHERE p.refnr = v.refnr
  AND (p.berufenet_id, p.label_source) IS DISTINCT FROM (v.berufenet_id, v.source)
"""
STATUSES = ("matched", "no_match", "llm_no", "llm_uncertain", "pending_llm", "error")
LABEL_COLUMNS = ["title_key", "example_title", "status", "berufenet_id", "method", "score", "candidates", "model",
                 "reason", "attempts", "catalogue_version"]


def labels_overview(conn: psycopg.Connection) -> dict[str, int]:
    """Title labels per status, for summaries."""
    return dict(conn.execute("SELECT status, count(*) FROM title_labels GROUP BY status ORDER BY 2 DESC").fetchall())


def label_row(label: Label, attempts: int, version: str) -> tuple:
    return (label.title_key, label.example_title, label.status, label.berufenet_id, label.method, label.score,
            json.dumps([c.as_json() for c in label.candidates], ensure_ascii=False), label.model, label.reason,
            attempts, version)


@asset(
    partitions_def=daily_partitions,
    deps=[postings, posting_descriptions, berufenet_catalogue],
    group_name="labels",
    kinds={"postgres", "ollama"},
    owners=["team:data-platform"],
    description=(
        "One BERUFENET label per distinct normalised title (title_labels), by the cascade exact -> retrieval -> "
        "LLM -> LLM with a description excerpt; the day's postings take the BA's `beruf` when it names a catalogue "
        "title exactly, else their title's label. Settled labels are reused; only new, error and pending_llm "
        "titles (and all of them after a catalogue change) are classified."
    ),
)
def berufenet_labels(
    context: AssetExecutionContext, database: DatabaseResource, embedder: EmbedderResource, ollama: OllamaResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    with database.connection() as conn:
        day_keys = conn.execute(DAY_KEYS_SQL, {"day": day}).fetchone()[0]
        try:
            index, version = load_index(conn, embedder.get_embedder(), settings.resolved_cache_dir)
        except CatalogueMissing as exc:
            raise Failure(str(exc)) from exc
        open_rows = conn.execute(
            OPEN_KEYS_SQL, {"day": day, "chars": settings.label_excerpt_chars, "version": version}
        ).fetchall()
        if ollama.client is not None:  # with an LLM, every title still waiting for one gets its turn now
            waiting = conn.execute(
                "SELECT title_key, example_title, NULL FROM title_labels WHERE status = 'pending_llm'"
                " AND NOT title_key = ANY(%s)", ([r[0] for r in open_rows],)
            ).fetchall()
            open_rows = [*open_rows, *waiting]
        attempts = dict(conn.execute(
            "SELECT title_key, attempts FROM title_labels WHERE title_key = ANY(%s)", ([r[0] for r in open_rows],)
        ).fetchall())
        classifier = Classifier(index, ollama.client, accept=settings.accept_score, reject=settings.reject_score,
                                k=settings.label_top_k)
        labels = classifier.classify({k: t for k, t, _ in open_rows}, {k: x for k, _, x in open_rows if x})
        merge_rows(
            conn, "title_labels", key=["title_key"], columns=LABEL_COLUMNS,
            rows=(label_row(lab, attempts.get(lab.title_key, 0) + (lab.status == "error"), version) for lab in labels),
        )
        updated = conn.execute(POSTING_LABELS_SQL, {"day": day}).rowcount
        conn.commit()
        sources = dict(conn.execute(
            "SELECT coalesce(label_source, 'none'), count(*) FROM postings"
            " WHERE last_seen = %s AND invalidated_at IS NULL GROUP BY 1", (day,)
        ).fetchall())
    statuses = Counter(lab.status for lab in labels)
    methods = Counter(lab.method for lab in labels if lab.method)
    metadata = {
        "dagster/row_count": len(labels),
        "title_keys_of_day": day_keys,
        "classified": len(labels),
        **{f"status_{s}": statuses.get(s, 0) for s in STATUSES},
        **{f"method_{m}": n for m, n in sorted(methods.items())},
        "llm_calls": classifier.llm_calls,
        "llm": ollama.client.llm_model if ollama.client else "none (pending_llm waits for OLLAMA_HOST)",
        "postings_labelled_by_beruf": sources.get("beruf", 0),
        "postings_labelled_by_title": sources.get("title", 0),
        "postings_unlabelled": sources.get("none", 0),
        "postings_updated": updated,
        "catalogue_version": version,
        "seconds": round(time.perf_counter() - started, 3),
    }
    error_rate = statuses.get("error", 0) / len(labels) if labels else 0.0
    if error_rate > settings.label_max_error_rate:
        raise Failure(
            description=(f"{statuses['error']} of {len(labels)} titles failed for {day} ({error_rate:.1%} > "
                         f"TY_LABEL_MAX_ERROR_RATE {settings.label_max_error_rate:.1%}); the rest is stored, a re-run "
                         "retries only the failed ones"),
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)


@asset_check(asset=berufenet_labels,
             description="Matched labels point at active catalogue titles (a catalogue change retires some).")
def labels_point_at_active_professions(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        retired = conn.execute(
            "SELECT count(*) FROM title_labels l JOIN professions p USING (berufenet_id)"
            " WHERE l.status = 'matched' AND NOT p.active"
        ).fetchone()[0]
        statuses = labels_overview(conn)
    return AssetCheckResult(
        passed=retired == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={"matched_to_retired": retired, **{f"labels_{k}": v for k, v in statuses.items()}},
    )


# The postings a check looks at: those of the checked partition's day, or all active ones outside a partitioned run.
DAY_POSTINGS_SQL = """
SELECT count(*) AS postings,
       count(*) FILTER (WHERE p.berufenet_id IS NOT NULL) AS labelled,
       count(*) FILTER (WHERE p.label_source = 'beruf') AS by_beruf,
       {statuses}
FROM postings p LEFT JOIN title_labels l ON l.title_key = p.title_normalized
WHERE p.invalidated_at IS NULL AND (%(day)s::date IS NULL OR p.last_seen = %(day)s)
""".format(statuses=", ".join(f"count(*) FILTER (WHERE l.status = '{s}') AS {s}" for s in STATUSES))


def _day_label_counts(context: AssetCheckExecutionContext, database: DatabaseResource) -> tuple[dict, dict]:
    day = date.fromisoformat(context.partition_key) if context.has_partition_key else None
    with database.connection() as conn:
        cursor = conn.execute(DAY_POSTINGS_SQL, {"day": day})
        counts = dict(zip([c.name for c in cursor.description], cursor.fetchone()))
    total = counts["postings"]
    shares = {f"share_{s}": round(counts[s] / total, 4) if total else 0.0 for s in STATUSES}
    return counts, {"day": str(day) if day else "all active", **counts, **shares}


@asset_check(asset=berufenet_labels, blocking=False,
             description="Coverage: the share of the day's active postings with a matched label (their title's, or "
                         "the BA's `beruf`) reaches TY_MIN_COVERAGE; the share of each title status in the metadata.")
def labels_coverage(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    minimum = get_settings().min_coverage
    counts, metadata = _day_label_counts(context, database)
    coverage = counts["labelled"] / counts["postings"] if counts["postings"] else 1.0
    return AssetCheckResult(passed=coverage >= minimum,
                            metadata={"coverage": round(coverage, 4), "minimum": minimum, **metadata})


@asset_check(asset=berufenet_labels, blocking=False,
             description="The share of the day's active postings whose title label is `error` stays within "
                         "TY_LABEL_MAX_ERROR_RATE.")
def labels_error_share(context: AssetCheckExecutionContext, database: DatabaseResource) -> AssetCheckResult:
    maximum = get_settings().label_max_error_rate
    counts, metadata = _day_label_counts(context, database)
    share = counts["error"] / counts["postings"] if counts["postings"] else 0.0
    return AssetCheckResult(passed=share <= maximum,
                            metadata={"error_share": round(share, 4), "maximum": maximum, **metadata})


label_checks = [labels_point_at_active_professions, labels_coverage, labels_error_share]
