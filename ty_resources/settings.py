"""The one settings module: every tunable is an environment variable.

Project settings carry the prefix ``TY_``; ``DATABASE_URL`` and ``OLLAMA_HOST``
keep the names every tool already knows. Every default works offline on a
fresh clone (embedded PostgreSQL in ``TY_DATA_DIR``, no LLM).
"""

from __future__ import annotations

import os
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ty_resources.germany import BERLIN
from ty_resources.offers import OFFER_TYPES

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").is_file():
        return candidate
    return Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TY_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default_factory=lambda: project_root() / ".ty",
        description="Holds the embedded database (pg/), Dagster's home (dagster/), the generated snapshot "
        "(snapshot/) and the cache (cache/). Default: .ty/ in the checkout (git-ignored).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Derived data kept between runs: the catalogue's vectors per model, the lexical model per "
        "catalogue. Unset: TY_DATA_DIR/cache.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL"),
        description="PostgreSQL URL (postgresql://...). Unset: an embedded server in TY_DATA_DIR/pg.",
    )
    pg_shared_buffers: str = Field(
        default="1GB", pattern=r"^\d+\s*(kB|MB|GB|TB)$",
        description="shared_buffers of the embedded PostgreSQL (not of a DATABASE_URL server): enough for the "
        "posting vectors' HNSW index and the rows its scans visit (bench-api: 250,000 postings -> 239 MB index, "
        "489 MB vectors). Applied when the embedded server starts.",
    )
    dagster_pg_url: str | None = Field(
        default=None,
        description="Storage URL for Dagster's runs, events and schedules. Unset: the data database.",
    )
    ollama_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OLLAMA_HOST"),
        description="Ollama base URL(s), comma-separated. Unset: local embedder, no LLM.",
    )
    embed_model: str = Field(default="bge-m3", description="Ollama embedding model.")
    llm_model: str = Field(default="qwen2.5:7b", description="Ollama chat model of the label verifier.")
    embed_batch_size: int = Field(
        default=64, ge=1,
        description="Texts per /api/embed request (64: >= 0.9 of the GPU's ceiling, see docs/benchmarks.md).",
    )
    embed_workers: int = Field(default=8, ge=1, description="Embedding requests in flight (all hosts together).")
    llm_workers: int = Field(
        default=2, ge=1, description="Chat requests in flight; raise with the server's OLLAMA_NUM_PARALLEL."
    )
    ollama_connect_timeout_s: float = Field(default=5.0, gt=0, description="Seconds to connect to an Ollama host.")
    ollama_read_timeout_s: float = Field(
        default=120.0, gt=0, description="Seconds to wait for an Ollama answer (a batch of embeddings, a chat)."
    )
    ollama_max_retries: int = Field(default=4, ge=0, description="Retries on connection errors, timeouts, 5xx.")
    ollama_backoff_s: float = Field(default=0.5, ge=0, description="Base of the exponential backoff.")
    ollama_keep_alive: str = Field(default="30m", description="How long Ollama keeps a model loaded after a call.")
    ollama_num_ctx: int = Field(default=4096, ge=256, description="Context size sent with every call (fixed).")
    llm_seed: int = Field(default=42, description="Seed of every chat call (with temperature 0).")
    local_embed_dimension: int = Field(default=384, ge=16, le=2000, description="Dimensions of the local embedder.")
    hnsw_build_memory: str = Field(
        default="1GB", pattern=r"^[0-9]+\s*(kB|MB|GB)$",
        description="PostgreSQL's maintenance_work_mem while the HNSW index of a model is built (first load): the "
        "build is fast while the graph fits (~0.6 GB for 250,000 x 384 dimensions).",
    )
    embed_description_chars: int = Field(
        default=500, ge=0, description="Description characters embedded after the title."
    )
    label_precision: float = Field(
        default=0.97, gt=0, le=1,
        description="Precision the label cascade accepts a title's first candidate at (matched without an LLM): "
        "the threshold is the lowest confidence at which the shipped confidence model's evaluation titles "
        "(exact readings among them) reached it at 95% confidence (none: nothing is accepted by confidence).",
    )
    reject_confidence: float = Field(
        default=0.25, ge=0, le=1,
        description="Confidence below which a title is no_match rather than waiting for the LLM (pending_llm); "
        "lowered to the accept confidence (with a warning) where TY_LABEL_PRECISION puts that lower.",
    )
    title_model_min_new_postings: int = Field(
        default=10_000, ge=1,
        description="Postings whose BA `beruf` names a catalogue title that title_model needs beyond those the "
        "latest model saw before it trains a new one (the first: this many at all). Training on the demo's 3,106 "
        "title keys took 74 s on two cores.",
    )
    title_model_max_pairs: int = Field(
        default=200_000, ge=0,
        description="Title keys (each with the catalogue title most of its postings' `beruf` named) title_model "
        "learns from at most, the most frequent first.",
    )
    title_model_eval_pairs: int = Field(
        default=3000, ge=1,
        description="Held-out pairs a new title model and the one in use are evaluated on (a fixed sample).",
    )
    accept_score: float = Field(
        default=0.85, ge=0, le=1,
        description="Retrieval score from which a title is matched, with an embedder the confidence model was "
        "not fitted for.",
    )
    reject_score: float = Field(
        default=0.55, ge=0, le=1,
        description="Retrieval score below which it is no_match, with such an embedder.",
    )
    label_top_k: int = Field(default=10, ge=1, le=50, description="Candidates kept per title (5 shown to the LLM).")
    label_max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of `error` labels above which the partition fails."
    )
    min_coverage: float = Field(
        default=0.90, ge=0, le=1, description="Share of active postings with a matched label the coverage check wants."
    )
    # --- LLM work per posting and per match (issue: summaries, web search, explanations)
    summary_max_error_rate: float = Field(
        default=0.05, ge=0, le=1,
        description="Share of the day's LLM summaries answered `error` above which posting_summaries fails (the "
        "rest is stored; the next run retries only the failed ones).",
    )
    summary_description_chars: int = Field(
        default=3000, ge=200, le=20_000,
        description="Description characters an LLM summary reads (the start of each section first).",
    )
    summary_workers: int = Field(
        default=8, ge=1, le=64,
        description="Summary requests in flight: as many as the chat model's OLLAMA_NUM_PARALLEL slots over all "
        "hosts (docs/benchmarks.md: one in flight leaves the GPU idle between requests).",
    )
    web_search: Literal["", "searxng"] = Field(
        default="",
        description="Web search backend of the label cascade's last stage (titles no stage settled, with an LLM "
        "only): searxng (its JSON API at TY_WEB_SEARCH_URL). Unset: off.",
    )
    web_search_url: str | None = Field(
        default=None, description="Base URL of the search backend (a SearXNG instance with format=json enabled)."
    )
    web_search_results: int = Field(
        default=5, ge=1, le=20, description="Results (title, URL, snippet) per query given to the LLM."
    )
    web_search_per_s: float = Field(
        default=1.0, gt=0, le=100, description="Queries per second sent to the search backend at most."
    )
    web_search_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Timeout of one search request.")
    web_search_cache_days: int = Field(
        default=30, ge=0, le=3650,
        description="Days a query's results are kept and reused (0: never reused).",
    )
    label_excerpt_chars: int = Field(default=500, ge=0, description="Description characters shown for enrichment.")
    log_format: Literal["auto", "json", "human"] = Field(
        default="auto", description="json: one JSON object per line; human: readable lines (and `tyctl run` shows "
        "its progress); auto: human on a terminal, else json."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR; DEBUG also logs the traceback of a CLI error."
    )
    db_pool_min_size: int = Field(default=1, ge=0, description="Connections the pool keeps open.")
    db_pool_max_size: int = Field(default=10, ge=1, description="Most connections the pool opens.")
    db_connect_timeout_s: float = Field(default=10.0, gt=0, description="Seconds to wait for a connection.")
    db_idle_in_transaction_timeout_s: float = Field(
        default=300.0, ge=0,
        description="The server ends a session of the pipeline's pool that sits this long inside a transaction "
        "without a query (PostgreSQL's idle_in_transaction_session_timeout: a hung run cannot hold locks or hold "
        "back vacuum); 0: never.",
    )
    migration_lock_timeout_s: float = Field(
        default=30.0, gt=0,
        description="Seconds the migration runner waits for its lock (another process migrating) and a migration "
        "for each table lock it needs (a running job holding the table); then it fails with a message.",
    )
    catalogue_path: Path | None = Field(
        default=None,
        description="KldB 2010 file for berufenet_catalogue. Unset: the bundled copy.",
    )
    partitions_start: str | None = Field(
        default=None,
        description="First daily partition (YYYY-MM-DD, Europe/Berlin). Unset: the first day of data, which the first "
        "`tyctl run` or `tyctl dev` records in TY_DATA_DIR/partitions_start (offline: the snapshot's first day; live: "
        "that day), so the UI shows only days that can have data (today before anything ran).",
    )
    retry_max: int = Field(
        default=3, ge=0, le=10,
        description="Retries of a failed step of the assets that call the BA or Ollama (postings, descriptions, "
        "embeddings, labels, similarity) before the run fails; 0: none.",
    )
    retry_delay_s: float = Field(
        default=120.0, ge=0,
        description="Seconds before the first retry of such a step; doubled for each further one, +-50 % jitter.",
    )

    # --- postings source
    source: Literal["snapshot", "ba"] = Field(
        default="snapshot", description="snapshot: offline file; ba: the live BA API."
    )
    snapshot_path: Path | None = Field(
        default=None,
        description="Offline snapshot (JSON in the API's shape). "
        "Unset: TY_DATA_DIR/snapshot/ba-snapshot.json.gz, generated on first use.",
    )
    sample_seed: int = Field(default=42, description="Seed of the generated default snapshot.")
    sample_postings: int = Field(
        default=20_000, ge=1, description="Distinct postings in the generated default snapshot."
    )
    sample_days: int = Field(default=7, ge=1, description="Days the generated default snapshot covers (ending today).")
    sample_beruf_share: float = Field(
        default=0.6, ge=0, le=1, description="Share of generated postings with the BA's `beruf` field."
    )
    ba_base_url: str = Field(
        default="https://rest.arbeitsagentur.de/jobboerse/jobsuche-service", description="BA job search API base URL."
    )
    ba_api_key: str = Field(default="jobboerse-jobsuche", description="Header X-API-Key of the BA API.")
    ba_page_size: int = Field(default=100, ge=1, le=100, description="Results per page (the API allows 100).")
    ba_offer_types: str = Field(
        default="1,4",
        description="Offer types (`angebotsart`, comma-separated) the crawl collects: 1 jobs, 2 self-employment, "
        "4 apprenticeships and dual study, 34 internships and trainee programmes.",
    )
    min_crawl_coverage: float = Field(
        default=0.99, ge=0, le=1,
        description="Share of the day's planned postings the crawl must fetch; below it the coverage check fails "
        "and blocks the day's downstream assets.",
    )
    warn_crawl_coverage: float = Field(
        default=0.999, ge=0, le=1, description="Share of the planned postings below which the coverage check warns."
    )
    ba_requests_per_s: float = Field(default=5.0, gt=0, description="Client-side rate limit of BA requests.")
    ba_connect_timeout_s: float = Field(default=5.0, gt=0, description="Seconds to connect to the BA API.")
    ba_read_timeout_s: float = Field(default=30.0, gt=0, description="Seconds to wait for a BA API answer.")
    ba_max_retries: int = Field(default=5, ge=0, description="Retries on 429, 5xx, timeouts, connection errors.")
    ba_backoff_s: float = Field(default=0.5, ge=0, description="Base of the exponential backoff between retries.")
    ingest_batch_size: int = Field(default=5_000, ge=1, description="Postings per upsert batch (one commit each).")
    stale_days: int = Field(default=3, ge=1, description="Days a posting may be missing before it is invalidated.")
    description_workers: int = Field(default=4, ge=1, description="Threads fetching posting details.")
    description_max_attempts: int = Field(default=3, ge=1, description="Failed runs before a description is given up.")
    description_max_error_rate: float = Field(
        default=0.05, ge=0, le=1, description="Share of detail errors above which the partition fails."
    )

    # --- market views
    similarity_min_postings: int = Field(
        default=20, ge=1,
        description="Postings a profession needs for a centroid of their embeddings; fewer: its catalogue text.",
    )
    similarity_top_k: int = Field(default=10, ge=1, le=100, description="Neighbours stored per profession.")

    # --- alerts
    alert_kind: Literal["off", "webhook", "signal"] = Field(
        default="off", description="off: alerts are only logged; webhook: JSON POST; signal: Signal REST API."
    )
    alert_url: str | None = Field(
        default=None, description="Webhook URL, or the Signal REST API base URL (POST {url}/v2/send)."
    )
    alert_signal_number: str | None = Field(default=None, description="Signal: the sending number.")
    alert_signal_recipients: str = Field(default="", description="Signal: recipients, comma-separated.")
    alert_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one alert request.")

    # --- web API (ty_web)
    debug: bool = Field(default=False, description="Development only: the session cookie without Secure (http).")
    session_ttl_hours: float = Field(default=336, gt=0, description="Lifetime of a login session (14 days).")
    token_ttl_days: float = Field(default=90, gt=0, description="Lifetime of an API bearer token.")
    session_idle_hours: float = Field(
        default=72, gt=0, description="A cookie session unused this long ends (sign in again); bearer tokens "
        "live TY_TOKEN_TTL_DAYS."
    )
    login_max_attempts: int = Field(
        default=5, ge=1, description="Failed logins per account, and per client address, within TY_LOGIN_WINDOW_S "
        "before each further attempt is delayed (1, 2, 4, ... s from TY_LOGIN_FIRST_DELAY_S up to "
        "TY_LOGIN_MAX_DELAY_S). A device that signed "
        "in to the account before is slowed only by its own failures."
    )
    login_window_s: float = Field(default=3600, gt=0, description="How long a failed login counts (seconds).")
    login_first_delay_s: float = Field(
        default=1, gt=0, description="The delay after the first failure past TY_LOGIN_MAX_ATTEMPTS; it doubles with "
        "each further one."
    )
    login_max_delay_s: float = Field(default=300, gt=0, description="Longest delay between two login attempts.")
    login_hard_limit: int = Field(
        default=100, ge=1, description="Failed logins from one client address within TY_LOGIN_WINDOW_S after which "
        "it is stopped until they leave the window."
    )
    trusted_proxies: str = Field(
        default="", description="Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
        "names the client; empty: the TCP peer is the client."
    )
    rate_limits: str = Field(
        default="", description="Overrides of the API's rate limits as name=count/seconds, comma-separated "
        "(docs/api.md lists them: register, mail, mail_to, search, public, cv_upload, cv_import, refresh, "
        "work_history, cover_letter, explanation, reauth)."
    )
    verify_token_hours: float = Field(default=48, gt=0, description="Lifetime of an e-mail verification link.")
    reset_token_minutes: float = Field(default=60, gt=0, description="Lifetime of a password-reset link.")
    unverified_account_days: float = Field(
        default=7, gt=0, description="An account whose address was never verified is deleted after this long."
    )
    web_statement_timeout_s: float = Field(
        default=15, ge=0, description="PostgreSQL cancels a statement of the web API running longer (0: never)."
    )
    web_idle_in_transaction_timeout_s: float = Field(
        default=30, ge=0, description="PostgreSQL ends a web API session idling this long inside a transaction "
        "(0: never): no request holds locks while it waits on something else."
    )
    web_ollama_timeout_s: float = Field(
        default=20, gt=0, description="The web API's read timeout for one Ollama call of the profession classifier "
        "and the profile's embedding (one retry): a request waits at most about twice this on the model. (A cover "
        "letter's LLM call has 60 s.)"
    )
    cv_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, description="Largest CV upload accepted.")
    cv_max_drafts: int = Field(default=10, ge=1, le=100,
                               description="CV drafts kept per user; an upload beyond them drops the oldest.")
    cv_draft_days: int = Field(default=30, ge=1, description="Days a CV draft is kept, imported or not.")
    cv_workers: int = Field(
        default=2, ge=1, le=32, description="Worker processes that read CV uploads (extraction, anonymisation, "
        "parsing); an upload waits at most TY_CV_QUEUE_WAIT_S for a free one, else 503 with Retry-After."
    )
    cv_time_limit_s: float = Field(
        default=20.0, gt=0, le=600, description="Wall-clock limit of one CV upload in its worker: past it the "
        "worker is killed and replaced, and the upload answers 422."
    )
    cv_memory_mb: int = Field(
        default=768, ge=128, description="Address-space limit of a CV worker process (MiB): a file that needs "
        "more answers 422 and the worker is replaced."
    )
    cv_queue_wait_s: float = Field(default=5.0, ge=0, description="How long an upload waits for a free CV worker.")
    match_limit: int = Field(default=100, ge=1, le=2000, description="Matches stored per refresh (the queue).")
    match_candidates: int = Field(
        default=150, ge=10, le=10_000, description="Postings the ANN query returns (after the state/level/"
        "suppression filters, before scoring; at least TY_MATCH_LIMIT)."
    )
    match_ef_search: int = Field(
        default=400, ge=10, le=1000, description="pgvector's hnsw.ef_search for the match query: its recall of "
        "the nearest postings (measured in bench/api.py)."
    )

    # --- e-mail (account verification, password reset): without TY_SMTP_HOST the mail is logged, not sent
    smtp_host: str | None = Field(default=None, description="SMTP server; unset: e-mails are written to the log.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587 submission, 465 TLS).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (port 587), tls (implicit TLS, port 465) or none (local relay)."
    )
    smtp_user: str | None = Field(default=None, description="SMTP login; unset: no authentication.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one SMTP conversation.")
    mail_from: str = Field(default="talent.yoga <noreply@talent.yoga>", description="Sender of every e-mail.")
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="The site's address as users reach it: links in e-mails."
    )

    web_host: str = Field(default="127.0.0.1", description="Address `tyctl web` listens on.")
    web_port: int = Field(default=8000, ge=1, le=65535, description="Port `tyctl web` listens on.")
    dagster_port: int = Field(default=3000, ge=1, le=65535, description="Port of `tyctl dev`'s webserver.")

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _fold_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.upper() if value.lower() in {"debug", "info", "warning", "error"} else value.lower()

    @field_validator("database_url", "dagster_pg_url", "ollama_host", "smtp_host", "smtp_user", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def ollama_hosts(self) -> list[str]:
        hosts = [h.strip().rstrip("/") for h in (self.ollama_host or "").split(",") if h.strip()]
        return [h if "://" in h else f"http://{h}" for h in hosts]

    @property
    def offer_types(self) -> list[int]:
        return [int(x) for x in dict.fromkeys(part.strip() for part in self.ba_offer_types.split(",")) if x]

    @field_validator("ba_offer_types")
    @classmethod
    def _known_offer_types(cls, value: str) -> str:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        unknown = [part for part in parts if not part.isdigit() or int(part) not in OFFER_TYPES]
        if not parts or unknown:
            raise ValueError(f"offer types must be some of {', '.join(map(str, OFFER_TYPES))} (got {value!r})")
        return value

    @property
    def partitions_start_file(self) -> Path:
        return self.data_dir / "partitions_start"

    @property
    def resolved_partitions_start(self) -> str:
        """TY_PARTITIONS_START, else the recorded first day of data, else today (Europe/Berlin)."""
        if self.partitions_start:
            return self.partitions_start
        try:
            return date.fromisoformat(self.partitions_start_file.read_text().strip()).isoformat()
        except (OSError, ValueError):  # nothing recorded yet (or damaged): only today can have data
            return datetime.now(BERLIN).date().isoformat()

    def record_first_day(self, day: date) -> None:
        """Record ``day`` as the first day of data unless an earlier one is recorded (a snapshot generated again
        later must not hide the partitions already materialised)."""
        path = self.partitions_start_file
        try:
            recorded = date.fromisoformat(path.read_text().strip())
        except (OSError, ValueError):
            recorded = None
        if recorded is None or day < recorded:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_text(day.isoformat() + "\n")
            os.replace(partial, path)  # a reader sees the old day or the new one, never an empty file

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.data_dir / "cache"

    @property
    def resolved_snapshot_path(self) -> Path:
        return self.snapshot_path or self.data_dir / "snapshot" / "ba-snapshot.json.gz"

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
