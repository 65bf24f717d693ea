"""``berufenet_labels``: one label per distinct normalised title; the day's postings take theirs."""

import json
import time
from collections import Counter
from datetime import date

import psycopg
from dagster import (
    AssetExecutionContext,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.labels.title_model import title_model
from ty_assets.metadata import LABELS_CLASSIFIED, SECONDS
from ty_assets.partitions import DAILY_FRESHNESS, NETWORK_RETRY, daily_partitions
from ty_assets.postings import DAY_POSTINGS_SQL, posting_descriptions, postings
from ty_assets.previews import label_status_shares, markdown
from ty_assets.resources import DatabaseResource, EmbedderResource, OllamaResource, WebSearchResource
from ty_assets.tables import table_metadata
from ty_resources.bulk import merge_rows
from ty_resources.catalogue import CatalogueMissing
from ty_resources.classifier import Classifier, Label, load_index, settings_decision_version
from ty_resources.database import one
from ty_resources.embedders import embedding_model_name
from ty_resources.labels import OPEN_REASON_SQL, STATUSES
from ty_resources.settings import get_settings
from ty_resources.sqlfiles import sql_file

DAY_KEYS_SQL = f"SELECT count(DISTINCT p.title_normalized) FROM postings p WHERE {DAY_POSTINGS_SQL}"
OPEN_KEYS_SQL = sql_file(__file__, "open_title_keys.sql").format(open_reason=OPEN_REASON_SQL,
                                                                  day_postings=DAY_POSTINGS_SQL)
# The stored label of each open key, before it is classified again: its attempts, verdict and open reason.
REVISED_BEFORE_SQL = f"""
SELECT l.title_key, l.attempts, l.status, l.berufenet_id, {OPEN_REASON_SQL} AS reason
FROM title_labels l WHERE l.title_key = ANY(%(keys)s)
"""
POSTING_LABELS_SQL = sql_file(__file__, "posting_labels.sql")
LABEL_COLUMNS = ["title_key", "example_title", "status", "berufenet_id", "method", "score", "candidates", "model",
                 "reason", "attempts", "catalogue_version", "confidence", "decision_version", "evidence",
                 "prompt_version"]
REVISED_SAMPLE = 10  # changed labels of revised titles shown in the run's metadata
# Open titles classified, stored and committed together: a killed run keeps every chunk before the one it was
# in (with an LLM, a chunk is minutes of work), and no transaction stays open while the models work.
LABEL_CHUNK = 500


def _verdict(status: str | None, berufenet_id: str | None) -> str:
    return f"{status} {berufenet_id}" if berufenet_id else str(status)


def labels_overview(conn: psycopg.Connection) -> dict[str, int]:
    """Title labels per status, for summaries."""
    return dict(conn.execute("SELECT status, count(*) FROM title_labels GROUP BY status ORDER BY 2 DESC").fetchall())


def label_row(label: Label, attempts: int, version: str, decision: str) -> tuple:
    return (label.title_key, label.example_title, label.status, label.berufenet_id, label.method, label.score,
            json.dumps([c.as_json() for c in label.candidates], ensure_ascii=False), label.model, label.reason,
            attempts, version, label.confidence, decision,
            None if label.evidence is None else json.dumps(label.evidence, ensure_ascii=False), label.prompt_version)


# The cascade's code version: what decides a label apart from the title model in use (the embedder, the search,
# the vocabulary, the confidence model and the thresholds: ty_resources.classifier.decision_version). When it
# changes, the UI marks the labels outdated; the next run revises the labels retrieval decided under the old
# one. The title model's own version reaches the labels as title_model's data version.
CASCADE_CODE_VERSION = settings_decision_version(get_settings(), embedding_model_name())


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    pool="ollama",
    retry_policy=NETWORK_RETRY,
    code_version=CASCADE_CODE_VERSION,
    deps=[postings, posting_descriptions, berufenet_catalogue, title_model],
    group_name="labels",
    kinds={"postgres", "ollama"},
    owners=["team:data-platform"],
    metadata=table_metadata("berufenet_labels"),
    description=(
        "One BERUFENET label per distinct normalised title (title_labels), by the cascade exact -> retrieval "
        "(with the title_model in use) -> LLM -> LLM with a description excerpt -> LLM with web search snippets "
        "(optional: TY_WEB_SEARCH); the day's postings take the BA's "
        "`beruf` when it names a catalogue title exactly, else their title's label. Settled labels are reused; "
        "only new, error and pending_llm titles (all of them after a catalogue change, those retrieval decided "
        "after a new title model or threshold, those an LLM decided after its prompt changed) are classified."
    ),
)
def berufenet_labels(
    context: AssetExecutionContext, database: DatabaseResource, embedder: EmbedderResource, ollama: OllamaResource,
    web_search: WebSearchResource,
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    with database.connection() as conn:
        day_keys = one(conn.execute(DAY_KEYS_SQL, {"day": day}))[0]
        try:
            index, version = load_index(conn, embedder.get_embedder(), settings.resolved_cache_dir,
                                          end_reads=conn.commit)
        except CatalogueMissing as exc:
            raise Failure(str(exc), allow_retries=False) from exc
        conn.commit()  # building the index can take a minute the first time: no snapshot held meanwhile
        try:
            web = web_search.open(database) if ollama.client is not None else None  # the web stage needs the LLM
        except ValueError as exc:  # TY_WEB_SEARCH set without TY_WEB_SEARCH_URL, or an unknown backend
            raise Failure(str(exc), allow_retries=False) from exc
        classifier = Classifier.from_settings(index, ollama.client, settings, web=web)
        versions = {"version": version, "decision": classifier.version, **classifier.prompt_versions}
        open_rows = conn.execute(OPEN_KEYS_SQL, {"day": day, "chars": settings.label_excerpt_chars,
                                                 **versions}).fetchall()
        if ollama.client is not None:  # with an LLM, every title still waiting for one gets its turn now
            waiting = conn.execute(
                "SELECT title_key, example_title, NULL FROM title_labels WHERE status = 'pending_llm'"
                " AND NOT title_key = ANY(%s)", ([r[0] for r in open_rows],)
            ).fetchall()
            open_rows = [*open_rows, *waiting]
        before = {key: (attempts, status, berufenet_id, reason) for key, attempts, status, berufenet_id, reason in
                  conn.execute(REVISED_BEFORE_SQL, {"keys": [r[0] for r in open_rows], **versions}).fetchall()}
        conn.commit()  # the work list is read; the models work outside any transaction
        labels: list[Label] = []
        for start in range(0, len(open_rows), LABEL_CHUNK):
            chunk = open_rows[start : start + LABEL_CHUNK]
            chunk_labels = classifier.classify({k: t for k, t, _ in chunk}, {k: x for k, _, x in chunk if x})
            merge_rows(
                conn, "title_labels", key=["title_key"], columns=LABEL_COLUMNS,
                rows=(label_row(lab, before.get(lab.title_key, (0,))[0] + (lab.status == "error"), version,
                                classifier.version) for lab in chunk_labels),
            )
            conn.commit()
            labels += chunk_labels
        updated = conn.execute(POSTING_LABELS_SQL, {"day": day}).rowcount
        conn.commit()
        shares = label_status_shares(conn, day)
        sources = dict(conn.execute(
            "SELECT coalesce(label_source, 'none'), count(*) FROM postings"
            " WHERE last_seen = %s AND invalidated_at IS NULL GROUP BY 1", (day,)
        ).fetchall())
    revised = [lab for lab in labels if before.get(lab.title_key, (0, None, None, None))[3] == "revised"]
    changed = [lab for lab in revised if before[lab.title_key][1:3] != (lab.status, lab.berufenet_id)]
    statuses = Counter(lab.status for lab in labels)
    methods = Counter(lab.method for lab in labels if lab.method)
    metadata = {
        "dagster/row_count": len(labels),
        "title_keys_of_day": day_keys,
        LABELS_CLASSIFIED: len(labels),
        **{f"status_{s}": statuses.get(s, 0) for s in STATUSES},
        **{f"method_{m}": n for m, n in sorted(methods.items())},
        "llm_calls": classifier.llm_calls,
        "web_search": web.where if web else "off (TY_WEB_SEARCH unset, or no LLM)",
        "web_searches": classifier.web_searches,
        "web_cache_hits": classifier.web_cache_hits,
        "web_search_failed": classifier.web_failed,
        "labels_settled_by_web": classifier.web_settled,
        "labels_web_open": sum(1 for lab in labels if lab.evidence and "error" in lab.evidence),
        "prompt_versions": MetadataValue.json({k: v for k, v in classifier.prompt_versions.items() if v}),
        "llm": ollama.client.llm_model if ollama.client else "none (pending_llm waits for OLLAMA_HOST)",
        "postings_labelled_by_beruf": sources.get("beruf", 0),
        "postings_labelled_by_title": sources.get("title", 0),
        "postings_unlabelled": sources.get("none", 0),
        "postings_updated": updated,
        "catalogue_version": version,
        "decision_version": classifier.version,
        "title_model": index.code_model_version,
        "labels_revised": len(revised),
        "labels_revised_changed": len(changed),
        "status_shares": markdown(shares, "no labels yet"),
        "labels_revised_changes": MetadataValue.json([
            {"title": lab.example_title, "from": _verdict(*before[lab.title_key][1:3]),
             "to": _verdict(lab.status, lab.berufenet_id)} for lab in changed[:REVISED_SAMPLE]]),
        SECONDS: round(time.perf_counter() - started, 3),
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
