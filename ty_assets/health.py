"""`tyctl health`: what the pipeline has done, what is left, and how long the rest takes.

Four parts, each from its source of truth:

- **Assets** (Dagster instance): per asset of the code location, its last
  materialization (time, partition, run) and, for partitioned assets, the
  partitions of the last ``days`` days (the daily partition keys that exist in
  the window ending today, Europe/Berlin) that are FAILED, missing or in
  progress; for an unpartitioned asset its state, derived as Dagster's own
  asset health does it (the latest run that targeted it).
- **Backlog** (database): the work the assets have not done yet, in the unit
  each asset works in.

  * ``descriptions``: active postings (``invalidated_at IS NULL``) without a
    description row, or whose row has status ``error`` (the asset retries
    those). ``not_found`` is settled (the BA has no details) and only reported.
  * ``labels``: distinct title keys of active postings whose label is *open*:
    no ``title_labels`` row, status ``error`` or ``pending_llm``, or made with
    another catalogue version than the current one (the version most active
    professions carry, as the asset decides), or decided by retrieval under
    another decision version (``revised``: another vocabulary, confidence model
    or threshold; see ``ty_resources/labels.py``). Settled statuses (``matched``,
    ``no_match``, ``llm_no``, ``llm_uncertain`` of the current catalogue) are not
    backlog. The asset classifies title keys, so they are the items; the
    detail also counts the active postings without a label
    (``berufenet_id IS NULL``) that wait on an open title. Without an LLM
    (``OLLAMA_HOST`` unset) ``pending_llm`` titles cannot move: they are
    *blocked* and left out of the ETA.
  * ``embeddings``: active postings without a vector of the model the embedder
    resource uses with the current settings (``ollama:<TY_EMBED_MODEL>`` with
    ``OLLAMA_HOST``, else the local embedder of ``TY_LOCAL_EMBED_DIMENSION``).

- **Crawl** (database, table ``crawls``): the latest day's crawl: source, planned total, distinct postings
  fetched, coverage, whether every query was paged to its end, requests and splits.

- **Throughput and ETA**: items per second over the last ``runs`` successful
  materializations of the asset that processed at least one item, from the
  metadata the assets emit (``todo`` / ``classified`` / ``embedded`` and the
  asset's own ``seconds``; embeddings only of the current model):
  sum of items / sum of seconds. ETA = workable backlog / that rate, in
  seconds of asset work; None with a reason when there is no rate yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from dagster import (
    AssetKey,
    AssetPartitionStatus,
    DagsterInstance,
    Definitions,
    MetadataValue,
    TimeWindowPartitionsDefinition,
)

from ty_assets.metadata import DESCRIPTIONS_FETCHED, EMBEDDINGS_WRITTEN, LABELS_CLASSIFIED, MODEL, SECONDS
from ty_assets.postings.crawls import crawl_of
from ty_resources.catalogue import current_version
from ty_resources.classifier import settings_decision_version, settings_prompt_versions
from ty_resources.database import one
from ty_resources.embedders import embedding_model_name
from ty_resources.germany import BERLIN
from ty_resources.labels import OPEN_REASON_SQL, OPEN_REASONS
from ty_resources.settings import Settings, get_settings
from ty_resources.sqlfiles import sql_file
from ty_resources.title_model import in_use_version

DEFAULT_DAYS = 7
DEFAULT_RUNS = 10
# Materializations scanned per asset to find `runs` that did work (re-runs often have nothing to do).
SCAN_FACTOR = 5

DESCRIPTIONS_BACKLOG_SQL = """
SELECT count(*) FILTER (WHERE d.refnr IS NULL) AS missing,
       count(*) FILTER (WHERE d.status = 'error') AS error,
       count(*) FILTER (WHERE d.status = 'not_found') AS not_found
FROM postings p LEFT JOIN posting_descriptions d USING (refnr)
WHERE p.invalidated_at IS NULL
"""
LABELS_BACKLOG_SQL = sql_file(__file__, "health_labels_backlog.sql").format(open_reason=OPEN_REASON_SQL)
EMBEDDINGS_BACKLOG_SQL = """
SELECT count(*) FROM postings p
WHERE p.invalidated_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM posting_embeddings e WHERE e.refnr = p.refnr AND e.model = %(model)s)
"""



@dataclass(frozen=True)
class BacklogKind:
    kind: str
    asset: str
    items_key: str  # the asset's metadata entry counting the items a materialization processed
    unit: str


BACKLOG_KINDS = (
    BacklogKind("descriptions", "posting_descriptions", DESCRIPTIONS_FETCHED, "postings"),
    BacklogKind("labels", "berufenet_labels", LABELS_CLASSIFIED, "title keys"),
    BacklogKind("embeddings", "posting_embeddings", EMBEDDINGS_WRITTEN, "postings"),
)


@dataclass(frozen=True)
class Materialization:
    timestamp: datetime
    partition: str | None
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp.isoformat(), "partition": self.partition, "run_id": self.run_id}


@dataclass
class AssetHealth:
    asset: str
    partitioned: bool
    last_materialization: Materialization | None
    # partitioned: the window's keys by status; unpartitioned: all empty
    partitions_in_window: int = 0
    materialized: int = 0
    failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    # unpartitioned: materialized | failed | in_progress | never_materialized; partitioned: None
    state: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_materialization"] = self.last_materialization.to_dict() if self.last_materialization else None
        return out


@dataclass
class Throughput:
    items: int
    seconds: float
    materializations: int
    run_ids: list[str]

    @property
    def per_second(self) -> float:
        return self.items / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "per_second": self.per_second}


@dataclass
class Backlog:
    kind: str
    asset: str
    unit: str
    items: int
    detail: dict[str, Any]
    blocked: int = 0  # items that cannot move with the current settings (left out of the ETA)
    blocked_reason: str | None = None
    throughput: Throughput | None = None
    eta_seconds: float | None = None
    eta_reason: str | None = None  # why there is no ETA

    @property
    def workable(self) -> int:
        return self.items - self.blocked

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["workable"] = self.workable
        out["throughput"] = self.throughput.to_dict() if self.throughput else None
        return out


@dataclass
class HealthReport:
    generated_at: datetime
    days: int
    runs: int
    window_start: str
    window_end: str
    assets: list[AssetHealth]
    backlog: list[Backlog]
    crawl: dict[str, Any] | None = None  # the latest day's crawl (table crawls), without its plan

    def to_dict(self) -> dict[str, Any]:
        return {
            "crawl": self.crawl,
            "generated_at": self.generated_at.isoformat(),
            "days": self.days,
            "runs": self.runs,
            "window": {"start": self.window_start, "end": self.window_end},
            "assets": [a.to_dict() for a in self.assets],
            "backlog": [b.to_dict() for b in self.backlog],
        }

    def render(self) -> str:
        lines = [f"pipeline health at {self.generated_at:%Y-%m-%d %H:%M %Z}; partitions {self.window_start} .. "
                 f"{self.window_end} ({self.days} days)", ""]
        rows: list[tuple[str, ...]] = [
            ("asset", "last materialization", "run", "window", "failed", "missing", "in progress")
        ]
        for a in self.assets:
            last = a.last_materialization
            when = "never" if last is None else (
                f"{last.timestamp:%Y-%m-%d %H:%M}" + (f" [{last.partition}]" if last.partition else "")
            )
            run = last.run_id[:8] if last else "-"
            if a.partitioned:
                rows.append((a.asset, when, run, f"{a.materialized}/{a.partitions_in_window} ok",
                             _keys(a.failed), _keys(a.missing), _keys(a.in_progress)))
            else:
                rows.append((a.asset, when, run, a.state or "-", "yes" if a.state == "failed" else "-", "-",
                             "yes" if a.state == "in_progress" else "-"))
        lines += _table(rows)
        lines += ["", f"backlog (throughput: last {self.runs} materializations that did work)"]
        rows = [("backlog", "items", "unit", "items/s", "ETA", "detail")]
        for b in self.backlog:
            rate = f"{b.throughput.per_second:,.1f}" if b.throughput else "-"
            eta = format_duration(b.eta_seconds) if b.eta_seconds is not None else f"- ({b.eta_reason})"
            detail = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in b.detail.items())
            if b.blocked:
                detail += f"; blocked {b.blocked:,}: {b.blocked_reason}"
            rows.append((b.kind, f"{b.items:,}", b.unit, rate, eta, detail))
        lines += _table(rows)
        lines += ["", self._crawl_line()]
        return "\n".join(lines)

    def _crawl_line(self) -> str:
        c = self.crawl
        if c is None:
            return "last crawl: none recorded"
        stats = c["stats"]
        state = "complete" if c["complete"] else f"INCOMPLETE ({stats.get('problems', '?')} problem(s))"
        return (f"last crawl: {c['day']} from {c['source']}: coverage {c['coverage']:.4f} "
                f"({c['fetched']:,} of {c['planned']:,} planned), {state}; {stats.get('search_requests', 0):,} "
                f"requests ({stats.get('planning_requests', 0):,} planning), {stats.get('leaves', 0):,} leaves, "
                f"{stats.get('splits', 0):,} splits, {stats.get('requeried', 0):,} re-queried")


def _keys(keys: Sequence[str], shown: int = 3) -> str:
    if not keys:
        return "-"
    head = ", ".join(keys[:shown])
    return f"{len(keys)}: {head}" + (", ..." if len(keys) > shown else "")


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours / 24:.1f} days"


# ------------------------------------------------------------------ assets (Dagster instance)


def window_partition_keys(partitions_def, instance: DagsterInstance, days: int, now: datetime) -> list[str]:
    """Keys of ``partitions_def`` that exist now and overlap the ``days`` days ending today (Berlin).

    A partitions definition that is not time-based has no window: all its keys."""
    if not isinstance(partitions_def, TimeWindowPartitionsDefinition):
        return list(partitions_def.get_partition_keys(current_time=now, dynamic_partitions_store=instance))
    today = now.astimezone(BERLIN).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=BERLIN)
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN)
    keys = []
    for key in partitions_def.get_partition_keys(current_time=now):
        window = partitions_def.time_window_for_partition_key(key)
        if window.start < end and window.end > start:
            keys.append(key)
    return keys


def _materialization(record) -> Materialization | None:
    if record is None:
        return None
    return Materialization(datetime.fromtimestamp(record.timestamp, tz=BERLIN), record.partition_key, record.run_id)


def _unpartitioned_state(instance: DagsterInstance, key: AssetKey) -> str:
    """As Dagster's asset health derives it without stored failure events: the latest run that targeted it."""
    records = instance.get_asset_records([key])
    entry = records[0].asset_entry if records else None
    if entry is None or entry.last_run_id is None:
        return "never_materialized"
    last = entry.last_materialization_record
    if last is not None and last.run_id == entry.last_run_id:
        return "materialized"
    run = instance.get_run_record_by_id(entry.last_run_id)
    if run is None:  # the run was deleted
        return "materialized" if last is not None else "never_materialized"
    if not run.dagster_run.is_finished:
        return "in_progress"
    if last is not None and run.end_time is not None and last.timestamp > run.end_time:
        return "materialized"  # reported after that run
    if run.dagster_run.is_failure:
        return "failed"
    return "materialized" if last is not None else "never_materialized"


def asset_health(defs: Definitions, instance: DagsterInstance, days: int = DEFAULT_DAYS,
                 now: datetime | None = None) -> list[AssetHealth]:
    """Every materializable asset of ``defs``, upstream first."""
    now = now or datetime.now(BERLIN)
    graph = defs.resolve_asset_graph()
    out = []
    materializable = graph.materializable_asset_keys
    for key in (k for k in graph.toposorted_asset_keys if k in materializable):
        partitions_def = graph.get(key).partitions_def
        latest = instance.fetch_materializations(key, limit=1).records
        last = _materialization(latest[0] if latest else None)
        health = AssetHealth(key.to_user_string(), partitions_def is not None, last)
        if partitions_def is None:
            health.state = _unpartitioned_state(instance, key)
        else:
            keys = window_partition_keys(partitions_def, instance, days, now)
            statuses = (instance.get_status_by_partition(key, keys, partitions_def) or {}) if keys else {}
            health.partitions_in_window = len(keys)
            for k in keys:
                status = statuses.get(k)
                if status == AssetPartitionStatus.MATERIALIZED:
                    health.materialized += 1
                elif status == AssetPartitionStatus.FAILED:
                    health.failed.append(k)
                elif status == AssetPartitionStatus.IN_PROGRESS:
                    health.in_progress.append(k)
                else:
                    health.missing.append(k)
        out.append(health)
    return out


# ------------------------------------------------------------------ backlog (database)


def database_backlog(conn: psycopg.Connection, settings: Settings) -> dict[str, Backlog]:
    """The three backlogs, without throughput (see the module's docstring for the definitions)."""
    missing, error, not_found = one(conn.execute(DESCRIPTIONS_BACKLOG_SQL))
    descriptions = Backlog("descriptions", "posting_descriptions", "postings", missing + error,
                           {"missing": missing, "error": error, "not_found_settled": not_found})

    version = current_version(conn)
    model = embedding_model_name(settings)
    decision = settings_decision_version(settings, model, in_use_version(conn, version or ""))
    titles = {r: 0 for r in OPEN_REASONS}
    postings = {r: 0 for r in OPEN_REASONS}
    settled_unlabelled = 0
    for reason, n_titles, n_postings in conn.execute(
        LABELS_BACKLOG_SQL, {"version": version, "decision": decision, **settings_prompt_versions(settings)}
    ).fetchall():
        if reason is None:
            settled_unlabelled = n_postings
        else:
            titles[reason], postings[reason] = n_titles, n_postings
    labels = Backlog(
        "labels", "berufenet_labels", "title keys", sum(titles.values()),
        {**titles, "unlabelled_postings": sum(postings.values()),
         "unlabelled_postings_settled": settled_unlabelled, "catalogue_version": version},
    )
    if not settings.ollama_hosts and titles["pending_llm"]:
        labels.blocked = titles["pending_llm"]
        labels.blocked_reason = "pending_llm titles wait for an LLM (OLLAMA_HOST is unset)"

    missing_vectors = one(conn.execute(EMBEDDINGS_BACKLOG_SQL, {"model": model}))[0]
    embeddings = Backlog("embeddings", "posting_embeddings", "postings", missing_vectors, {"model": model})
    return {"descriptions": descriptions, "labels": labels, "embeddings": embeddings}


# ------------------------------------------------------------------ throughput (Dagster instance)


def _metadata_value(metadata: Mapping[str, MetadataValue], name: str) -> object:
    entry = metadata.get(name)
    return None if entry is None else entry.value


def _metadata_number(metadata: Mapping[str, MetadataValue], name: str) -> float | None:
    """The entry's value when it is a number (the assets write ints and floats), else None."""
    value = _metadata_value(metadata, name)
    return value if isinstance(value, (int, float)) else None


def recent_throughput(instance: DagsterInstance, asset: str, items_key: str, runs: int = DEFAULT_RUNS,
                      model: str | None = None) -> Throughput | None:
    """Items per second over the last ``runs`` materializations of ``asset`` that processed items in a
    measurable time (and, with ``model``, whose metadata names that model). None when there is none."""
    records = instance.fetch_materializations(AssetKey.from_user_string(asset), limit=runs * SCAN_FACTOR).records
    items = 0
    seconds = 0.0
    run_ids: list[str] = []
    for record in records:  # newest first
        materialization = record.asset_materialization
        if materialization is None:  # not a materialization (the query asks for nothing else)
            continue
        metadata = materialization.metadata
        processed = _metadata_number(metadata, items_key)
        took = _metadata_number(metadata, SECONDS)
        if not processed or not took or (model is not None and _metadata_value(metadata, MODEL) != model):
            continue
        items += int(processed)
        seconds += float(took)
        run_ids.append(record.run_id)
        if len(run_ids) == runs:
            break
    if not run_ids or seconds <= 0:
        return None
    return Throughput(items, seconds, len(run_ids), run_ids)


def add_eta(backlog: Backlog, throughput: Throughput | None, runs: int) -> None:
    backlog.throughput = throughput
    if backlog.workable == 0:
        if backlog.blocked:
            backlog.eta_reason = backlog.blocked_reason
        else:
            backlog.eta_seconds = 0.0
        return
    if throughput is None:
        model = backlog.detail.get("model")
        backlog.eta_reason = (f"no throughput yet: none of the last {runs * SCAN_FACTOR} materializations of "
                              f"{backlog.asset}" + (f" for model {model}" if model else "") + " processed items")
        return
    backlog.eta_seconds = backlog.workable / throughput.per_second


# ------------------------------------------------------------------ the report


def build_report(defs: Definitions, instance: DagsterInstance, database_url: str, *, days: int = DEFAULT_DAYS,
                 runs: int = DEFAULT_RUNS, now: datetime | None = None, settings: Settings | None = None
                 ) -> HealthReport:
    if days < 1 or runs < 1:
        raise ValueError("days and runs must be at least 1")
    settings = settings or get_settings()
    now = (now or datetime.now(BERLIN)).astimezone(BERLIN)
    assets = asset_health(defs, instance, days, now)
    with psycopg.connect(database_url) as conn:
        backlog = database_backlog(conn, settings)
        crawl = crawl_of(conn)
    if crawl is not None:
        crawl = {"day": crawl["day"].isoformat(), "source": crawl["source"], "planned": crawl["planned"],
                 "fetched": crawl["fetched"], "coverage": crawl["coverage"], "complete": crawl["complete"],
                 "stats": crawl["stats"], "finished_at": crawl["finished_at"].isoformat()}
    for kind in BACKLOG_KINDS:
        entry = backlog[kind.kind]
        model = entry.detail.get("model") if kind.kind == "embeddings" else None
        add_eta(entry, recent_throughput(instance, kind.asset, kind.items_key, runs, model=model), runs)
    today = now.date()
    return HealthReport(
        generated_at=now, days=days, runs=runs,
        window_start=(today - timedelta(days=days - 1)).isoformat(), window_end=today.isoformat(),
        assets=assets, backlog=[backlog[k.kind] for k in BACKLOG_KINDS], crawl=crawl,
    )
