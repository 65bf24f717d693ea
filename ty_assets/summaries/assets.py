"""``posting_summaries``: a short structured summary of each posting of the day, per model.

The extractive summary (offline, from the description's first sentences and the BA's own fields) is always made,
so the pages always have one to show; with an LLM configured (``OLLAMA_HOST``) the LLM's is made beside it. A
summary is made again only when what it reads changed (its ``source_hash``), its prompt or extractive code changed
(``prompt_version``), or it failed last time (``error``) and has failed fewer than :data:`MAX_ATTEMPTS` runs in a
row on the same input and prompt (at temperature 0 a wrong answer repeats: past that it is given up until the input
or the prompt changes, which makes it due again with its count started over).
"""

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import pandas as pd
import psycopg
from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ty_assets.metadata import SECONDS
from ty_assets.partitions import DAILY_FRESHNESS, NETWORK_RETRY, daily_partitions
from ty_assets.postings import DAY_POSTINGS_SQL, posting_descriptions, postings
from ty_assets.previews import markdown
from ty_assets.resources import DatabaseResource, OllamaResource
from ty_assets.tables import table_metadata
from ty_resources.prompts import load_prompt
from ty_resources.settings import get_settings
from ty_resources.sqlfiles import sql_file
from ty_resources.summaries import (
    EXTRACTIVE,
    EXTRACTIVE_VERSION,
    LlmSummarizer,
    SummaryInput,
    SummaryOutcome,
    extractive_summary,
    source_hash,
)

# Newest first: a run cut short (or a first run over a backlog) has summarised the postings people look at most.
DAY_REFNRS_SQL = f"SELECT p.refnr FROM postings p WHERE {DAY_POSTINGS_SQL} ORDER BY p.first_seen DESC, p.refnr"
INPUTS_SQL = sql_file(__file__, "summary_inputs.sql")
UPSERT_SQL = sql_file(__file__, "summaries_upsert.sql")
STATUSES = ("ok", "error", "skipped")
# Postings read per query (their descriptions, the stored summaries' hashes), then the transaction ends.
PAGE = 1000
# Summaries of one model made, stored and committed together: a killed run keeps every chunk before the one it
# was in (with an LLM a chunk is about a minute of work), and no transaction stays open while a model works.
SUMMARY_CHUNK = 200
PREVIEW_ROWS = 5
ERROR_EXAMPLES = 5
# Runs in a row a summary may fail on the same source_hash and prompt_version before it is given up (not asked
# again until either changes; summaries_upsert.sql starts the count over then).
MAX_ATTEMPTS = 3
# The metadata entry counting the summaries a materialization made (all models).
SUMMARIES_MADE = "summarized"


class Summarizer(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def prompt_version(self) -> str: ...

    def summarize(self, items: Sequence[SummaryInput]) -> list[SummaryOutcome]: ...


class ExtractiveSummarizer:
    """The offline summary as a :class:`Summarizer`."""

    model = EXTRACTIVE
    prompt_version = EXTRACTIVE_VERSION

    def summarize(self, items: Sequence[SummaryInput]) -> list[SummaryOutcome]:
        return [extractive_summary(item) for item in items]


@dataclass
class ModelRun:
    """One model's work in a run: what waits to be summarised, what was made."""

    summarizer: Summarizer
    kind: str  # extractive | llm: the metadata's prefix
    pending: list[tuple[SummaryInput, str]] = field(default_factory=list)  # (item, its source_hash)
    statuses: Counter[str] = field(default_factory=Counter)
    unchanged: int = 0
    given_up: int = 0  # errors not retried: MAX_ATTEMPTS failed runs on the same input and prompt
    seconds: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)  # ok summaries for the preview
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def made(self) -> int:
        return sum(self.statuses.values())

    @property
    def tried(self) -> int:
        """The summaries it tried to make (a skipped one needs no model)."""
        return self.statuses["ok"] + self.statuses["error"]

    @property
    def error_share(self) -> float:
        return self.statuses["error"] / self.tried if self.tried else 0.0

    def due(self, stored: dict[str, Any] | None, digest: str) -> bool:
        """Whether the stored summary (None: none) has to be made again: none, a changed input or prompt, or an
        error that has failed fewer than :data:`MAX_ATTEMPTS` runs (an error given up counts in ``given_up``)."""
        if (stored is None or stored["source_hash"] != digest
                or stored["prompt_version"] != self.summarizer.prompt_version):
            return True
        if stored["status"] != "error":
            return False
        if (stored.get("attempts") or 0) < MAX_ATTEMPTS:
            return True
        self.given_up += 1
        return False

    def flush(self, conn: psycopg.Connection, limit: int | None = None) -> None:
        """Summarise (up to ``limit`` of) the pending items outside any transaction, store them and commit."""
        batch = self.pending[:limit] if limit else self.pending
        self.pending = self.pending[len(batch):]
        if not batch:
            return
        started = time.perf_counter()
        outcomes = self.summarizer.summarize([item for item, _ in batch])
        self.seconds += time.perf_counter() - started
        if len(outcomes) != len(batch) or any(o.refnr != i.refnr for o, (i, _) in zip(outcomes, batch)):
            raise RuntimeError(f"{self.summarizer.model}: the outcomes do not answer the items in order")
        with conn.cursor() as cursor:
            cursor.executemany(UPSERT_SQL, [
                {"refnr": o.refnr, "model": self.summarizer.model, "status": o.status,
                 "summary": Jsonb(o.summary) if o.status == "ok" and o.summary is not None else None,
                 "prompt_version": self.summarizer.prompt_version, "source_hash": digest,
                 "error": (o.error or "unknown error")[:1000] if o.status == "error" else None}
                for o, (_, digest) in zip(outcomes, batch)
            ])
        conn.commit()
        self.statuses.update(o.status for o in outcomes)
        for outcome, (item, _) in zip(outcomes, batch):
            if outcome.status == "ok" and outcome.summary is not None and len(self.examples) < PREVIEW_ROWS:
                self.examples.append(_preview_row(item, self.summarizer.model, outcome.summary))
            elif outcome.status == "error" and len(self.errors) < ERROR_EXAMPLES:
                self.errors.append({"refnr": outcome.refnr, "error": (outcome.error or "")[:300]})


def _short(value: Any, chars: int = 60) -> str:
    text = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _preview_row(item: SummaryInput, model: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"refnr": item.refnr, "model": model, "title": _short(item.title, 40),
            "tasks": _short(summary.get("tasks") or []), "requirements": _short(summary.get("requirements") or []),
            "working_time": _short(summary.get("working_time")), "contract": _short(summary.get("contract")),
            "salary": _short(summary.get("salary")), "remote": _short(summary.get("remote"))}


def _input(row: dict[str, Any]) -> SummaryInput:
    return SummaryInput(refnr=row["refnr"], title=row["title"], description=row["description"] or None,
                        facts=row["facts"])


def summarize_day(conn: psycopg.Connection, day: date, runs: Sequence[ModelRun]) -> int:
    """Make every due summary of the day's postings for each model, a chunk at a time; the day's postings."""
    with conn.cursor(row_factory=dict_row) as cursor:
        refnrs = [row["refnr"] for row in cursor.execute(DAY_REFNRS_SQL, {"day": day}).fetchall()]
    conn.commit()
    models = [run.summarizer.model for run in runs]
    for start in range(0, len(refnrs), PAGE):
        with conn.cursor(row_factory=dict_row) as cursor:
            rows = cursor.execute(INPUTS_SQL, {"refnrs": refnrs[start : start + PAGE], "models": models}).fetchall()
        conn.commit()  # the page is read: no snapshot held while the models work
        for row in rows:
            item = _input(row)
            digest = source_hash(item)
            stored = row["stored"] or {}
            for run in runs:
                if run.due(stored.get(run.summarizer.model), digest):
                    run.pending.append((item, digest))
                else:
                    run.unchanged += 1
        for run in runs:
            while len(run.pending) >= SUMMARY_CHUNK:
                run.flush(conn, SUMMARY_CHUNK)
    for run in runs:
        run.flush(conn)
    return len(refnrs)


def summary_code_version() -> str:
    """What decides a summary apart from its input: the extractive code's version and the LLM prompt's."""
    return f"{EXTRACTIVE_VERSION}+{load_prompt('posting_summary').version}"


@asset(
    partitions_def=daily_partitions,
    freshness_policy=DAILY_FRESHNESS,
    pool="ollama",
    # The least urgent work of the pool: when it is ready together with the day's embeddings and labels (which
    # matching and the market views need), they get the pool first; with an LLM a day's summaries hold it for hours.
    op_tags={"dagster/priority": "-1"},
    retry_policy=NETWORK_RETRY,
    code_version=summary_code_version(),
    deps=[postings, posting_descriptions],
    group_name="postings",
    kinds={"postgres", "ollama"},
    owners=["team:data-platform"],
    metadata=table_metadata("posting_summaries"),
    description=(
        "A short structured summary (tasks, requirements, working time, contract, salary, remote work; a field the "
        "posting does not state stays empty) of each posting of the day, per model: always the extractive one "
        "(the description's first sentences per section, working time and contract from the BA's own fields), "
        "and the LLM's (Ollama structured output, validated) when OLLAMA_HOST is set. Status per posting and "
        "model: ok, error (with attempts; retried by the next runs until it has failed 3 runs in a row on the "
        "same input and prompt, then given up until either changes: metadata llm_given_up), skipped (no "
        "description). Made again only when the description or the BA's fields change, or the model's prompt "
        "version; the partition fails when the "
        "share of errors among the summaries a model tried in the run exceeds TY_SUMMARY_MAX_ERROR_RATE (the rest is "
        "stored)."
    ),
)
def posting_summaries(
    context: AssetExecutionContext, database: DatabaseResource, ollama: OllamaResource
) -> MaterializeResult:
    settings = get_settings()
    day = date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    runs = [ModelRun(ExtractiveSummarizer(), "extractive")]
    llm: LlmSummarizer | None = None
    if ollama.client is not None:
        llm = LlmSummarizer(ollama.client, workers=settings.summary_workers,
                            description_chars=settings.summary_description_chars)
        runs.append(ModelRun(llm, "llm"))
    with database.connection() as conn:
        day_postings = summarize_day(conn, day, runs)
    by_kind = {run.kind: run for run in runs}
    llm_run = by_kind.get("llm")
    llm_seconds = llm_run.seconds if llm_run else 0.0
    examples = [row for run in reversed(runs) for row in run.examples][:PREVIEW_ROWS]
    metadata: dict[str, Any] = {
        "dagster/row_count": day_postings,
        "postings": day_postings,
        SUMMARIES_MADE: sum(run.made for run in runs),
        **{f"{kind}_{status}": by_kind[kind].statuses[status] if kind in by_kind else 0
           for kind in ("extractive", "llm") for status in STATUSES},
        **{f"{run.kind}_unchanged": run.unchanged for run in runs},
        **{f"{run.kind}_given_up": run.given_up for run in runs},
        "max_attempts": MAX_ATTEMPTS,
        "errors": sum(run.statuses["error"] for run in runs),
        "llm_error_share": MetadataValue.float(round(llm_run.error_share, 4) if llm_run else 0.0),
        "max_error_rate": MetadataValue.float(settings.summary_max_error_rate),
        "llm": llm.model if llm else "none (OLLAMA_HOST unset: extractive summaries only)",
        "llm_prompt_version": llm.prompt_version if llm else "",
        "extractive_version": EXTRACTIVE_VERSION,
        "llm_seconds": MetadataValue.float(round(llm_seconds, 3)),
        "llm_summaries_per_s": MetadataValue.float(
            round(llm_run.tried / llm_seconds, 2) if llm_run and llm_seconds else 0.0),
        "preview": markdown(pd.DataFrame(examples), "no summaries made"),
        "error_examples": MetadataValue.json([{"model": run.summarizer.model, **e} for run in runs
                                              for e in run.errors]),
        SECONDS: MetadataValue.float(round(time.perf_counter() - started, 3)),
    }
    failing = [run for run in runs if run.error_share > settings.summary_max_error_rate]
    if failing:
        raise Failure(
            description="; ".join(
                f"{run.statuses['error']} of {run.tried} {run.summarizer.model} "
                f"summaries failed for {day} ({run.error_share:.1%} > TY_SUMMARY_MAX_ERROR_RATE "
                f"{settings.summary_max_error_rate:.1%})" for run in failing)
            + "; the rest is stored, a re-run retries only the failed ones",
            metadata=metadata,
        )
    return MaterializeResult(metadata=metadata)
