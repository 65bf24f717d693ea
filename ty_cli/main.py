"""`tyctl`: the project's commands, and the one place that puts the graph, the web app and the core together.

``tyctl --help`` lists the commands; ``python -m ty_cli`` is the same program. Each command resolves the
database once (``DATABASE_URL``, or the embedded server in ``TY_DATA_DIR``, which this process then keeps running
until it exits) and passes it on to what it starts, so a child process never starts a second server.

Errors a user can cause (the database unreachable, a migration that fails, a missing Ollama model, a bad
snapshot or catalogue file, settings that do not validate) end in one line on stderr and exit code 1; the
traceback is logged at DEBUG (``TY_LOG_LEVEL=DEBUG``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import psycopg
from pydantic import ValidationError

from ty_resources.ba import BaRequestError, BaShapeError
from ty_resources.catalogue import CatalogueMissing
from ty_resources.database import redact, resolve_database_url
from ty_resources.germany import BERLIN
from ty_resources.kldb import CatalogueFileError
from ty_resources.logs import configure_logging
from ty_resources.migrations import MigrationError, apply_migrations
from ty_resources.notify import NotifierConfigError
from ty_resources.ollama import OllamaError
from ty_resources.settings import get_settings, project_root
from ty_resources.snapshot import SnapshotError

PROG = "tyctl"
DISTRIBUTION = "talent-yoga-data"

log = logging.getLogger("ty.cli")

# What a user can cause and fix: reported in one line, not as a traceback (a ValidationError only when it is
# the settings').
USER_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError, MigrationError, OllamaError, SnapshotError, CatalogueFileError, CatalogueMissing,
    NotifierConfigError, BaRequestError, BaShapeError, ValidationError,
)


def one_line(exc: BaseException) -> str:
    """The error as one line: its first line, plus how many more there were."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in exc.errors())
        return f"invalid settings: {problems}"
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(lines) < 2 else f"{text} (+{len(lines) - 1} more lines)"


class Cli(click.Group):
    """The command group; a user's error becomes one line and exit code 1 (click's own usage errors: 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            if isinstance(exc, ValidationError) and exc.title != "Settings":
                raise  # a model of ours that did not validate is a bug, not the user's settings
            log.debug("command failed", exc_info=exc)
            raise click.ClickException(f"{type(exc).__name__}: {one_line(exc)}") from None


def database_url() -> str:
    """Resolve the database, apply pending migrations, and export it (``DATABASE_URL``) for child processes."""
    url = resolve_database_url(get_settings())
    applied = apply_migrations(url)
    if applied:
        log.info("migrations applied", extra={"migrations": [m.path.name for m in applied]})
    os.environ["DATABASE_URL"] = url
    return url


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name=PROG)
def main() -> None:
    """talent.yoga data platform: BA postings, BERUFENET labels, embeddings, market views and the web API."""
    configure_logging(get_settings())
    # SIGTERM exits like Ctrl-C, so the embedded server this process holds is stopped cleanly.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@main.command()
def run() -> None:
    """Materialise the whole asset graph for the demo window and print a summary.

    The window is every day of the offline snapshot (generated on first use), or
    today's partition with TY_SOURCE=ba.
    """
    from ty_cli.demo import demo_partition_keys, record_first_day

    settings = get_settings()
    url = database_url()
    keys = demo_partition_keys(settings)
    record_first_day(settings, url, keys)  # before the definitions are imported: their first partition
    from ty_assets.backfill import fail_dead_runs
    from ty_assets.definitions import MAIN_SEQUENCE, defs
    from ty_assets.health import build_report
    from ty_assets.labels.assets import labels_overview
    from ty_assets.postings.ingest import postings_overview
    from ty_assets.progress import RunProgress, wanted
    from ty_assets.runner import planned_runs, run_jobs
    from ty_cli.instance import get_instance
    from ty_resources.title_model import latest as latest_title_model

    instance = get_instance(settings, url)
    for run_id in fail_dead_runs(instance):  # a `make run` killed before: its pool slots would hold this one up
        log.warning("run %s: its process is gone; marked failed, its pool slots freed", run_id)
    if wanted(settings.log_format):  # on a terminal: a line per run and asset, the log lines above
        display = RunProgress(len(planned_runs(defs, MAIN_SEQUENCE, keys)))
        with display.showing():
            report = run_jobs(defs, instance, MAIN_SEQUENCE, keys, display)
    else:
        report = run_jobs(defs, instance, MAIN_SEQUENCE, keys)
    click.echo(report.render())
    with psycopg.connect(url) as conn:
        overview = postings_overview(conn)
        labels = labels_overview(conn)
        model = latest_title_model(conn)
    click.echo("postings: " + ", ".join(f"{reason} {count:,}" for reason, count in overview.items()))
    click.echo("title labels: " + ", ".join(f"{status} {count:,}" for status, count in labels.items()))
    click.echo("title model: " + ("none trained yet (the catalogue's own lexical model is in use)" if model is None
                                  else f"{model.version} {'accepted' if model.accepted else 'BLOCKED'}, "
                                       f"{model.train_pairs:,} training pairs: {model.verdict}"))
    click.echo("")
    click.echo(build_report(defs, instance, url, settings=settings).render())
    if labels.get("pending_llm"):
        click.echo("  pending_llm: the first candidate is likely but not sure enough for TY_LABEL_PRECISION (its"
                   " confidence is between TY_REJECT_CONFIDENCE and the accept threshold), so an LLM must decide;"
                   " none is configured (OLLAMA_HOST). With one, the next berufenet_labels run labels all of them,"
                   " whichever day it is for.")
    if not report.ok:
        sys.exit(1)


@main.command("backfill-failed")
@click.argument("asset")
def backfill_failed_command(asset: str) -> None:
    """Materialise exactly the partitions of ASSET whose latest run failed or died, reporting each."""
    from ty_assets.backfill import fail_dead_runs, failed_partitions, materialize_partitions
    from ty_assets.definitions import defs
    from ty_cli.instance import get_instance

    settings = get_settings()
    instance = get_instance(settings, database_url())
    for run_id in fail_dead_runs(instance):  # killed outright: their partitions count as failed now
        click.echo(f"run {run_id}: its process is gone; marked failed, its pool slots freed")
    try:
        todo = failed_partitions(defs, instance, asset)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"{asset}: {len(todo)} failed partition(s)" + (f": {', '.join(todo)}" if todo else ""))
    still_failed = 0
    for outcome in materialize_partitions(defs, instance, asset, todo):
        state = "materialised" if outcome.success else f"FAILED again: {outcome.error}"
        click.echo(f"  {outcome.partition_key}  run {outcome.run_id}  {state}")
        still_failed += not outcome.success
    if still_failed:
        sys.exit(1)


@main.command()
@click.option("--candidates", type=click.IntRange(0, 50), default=5, show_default=True,
              help="Candidates listed per title.")
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True,
              help="Lines classified together (answers are written after each batch).")
def classify(candidates: int, batch: int) -> None:
    """Classify job titles from stdin into the BERUFENET catalogue, one JSON object per line on stdout.

    A line is a title, or JSON with `title` and optional `description` and `beruf`. The cascade is the
    pipeline's (exact, retrieval, LLM, LLM with the description, and with TY_WEB_SEARCH the LLM with web search
    snippets), on the catalogue of TY_CATALOGUE_PATH (bundled by default), offline unless OLLAMA_HOST is set; no
    database needed (web search results are cached in the process only). A line that cannot be read
    gets {"line": N, "status": "invalid", "reason": ...} and the exit code is 1 at the end.
    """
    from ty_resources.classifier import Classifier, ProfessionIndex, TitleRequest, label_records
    from ty_resources.embedders import embedder_from_settings
    from ty_resources.kldb import read_kldb
    from ty_resources.ollama import OllamaClient
    from ty_resources.websearch import WebSearch

    settings = get_settings()
    catalogue = read_kldb(settings.catalogue_path)
    embedder = embedder_from_settings(settings)
    llm = embedder if isinstance(embedder, OllamaClient) else None
    if llm is not None:
        llm.check_models(llm=True)
    index = ProfessionIndex.from_catalogue(catalogue, embedder, cache_dir=settings.resolved_cache_dir)
    web = WebSearch.from_settings(settings) if llm is not None else None
    classifier = Classifier.from_settings(index, llm, settings, web=web)
    invalid = 0

    def flush(pending: list[tuple[int, TitleRequest]]) -> None:
        records = label_records(classifier, [r for _, r in pending], excerpt_chars=settings.label_excerpt_chars,
                                candidates=candidates)
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))

    pending: list[tuple[int, TitleRequest]] = []
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            pending.append((number, TitleRequest.parse(line)))
        except ValueError as exc:
            flush(pending)  # keep the output in input order
            pending = []
            invalid += 1
            click.echo(json.dumps({"line": number, "status": "invalid", "reason": str(exc)}, ensure_ascii=False))
            continue
        if len(pending) >= batch:
            flush(pending)
            pending = []
    if pending:
        flush(pending)
    if llm is not None:
        llm.close()
    if invalid:
        sys.exit(1)


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write (.json or .json.gz; default TY_SNAPSHOT_PATH or TY_DATA_DIR/snapshot/...).")
@click.option("--seed", type=int, default=None, help="Random seed (default TY_SAMPLE_SEED, 42).")
@click.option("--postings", "n_postings", type=click.IntRange(min=1), default=None,
              help="Distinct postings in all (default TY_SAMPLE_POSTINGS, 20000).")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Days covered (default TY_SAMPLE_DAYS, 7).")
@click.option("--end-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day (default today, Europe/Berlin).")
@click.option("--beruf-share", type=click.FloatRange(0, 1), default=None,
              help="Share of postings with the BA's `beruf` field (default TY_SAMPLE_BERUF_SHARE, 0.6).")
def sample(out: Path | None, seed: int | None, n_postings: int | None, days: int | None,
           end_date, beruf_share: float | None) -> None:
    """Write an offline snapshot of the BA API, generated deterministically from the catalogue."""
    from ty_cli.demo import write_sample

    settings = get_settings()
    path = out or settings.resolved_snapshot_path
    snapshot = write_sample(
        path,
        seed=settings.sample_seed if seed is None else seed,
        postings=n_postings or settings.sample_postings,
        days=days or settings.sample_days,
        end_date=end_date.date() if end_date else datetime.now(BERLIN).date(),
        beruf_share=settings.sample_beruf_share if beruf_share is None else beruf_share,
        catalogue_path=settings.catalogue_path,
    )
    per_day = ", ".join(f"{day} {len(snapshot.days[day]):,}" for day in snapshot.day_keys)
    click.echo(f"wrote {path}: {len(snapshot.postings):,} postings; per day: {per_day}")


@main.command()
def migrate() -> None:
    """Apply the schema migrations in sql/ that the database has not applied."""
    url = resolve_database_url(get_settings())
    applied = apply_migrations(url)
    click.echo(f"{len(applied)} migration(s) applied to {redact(url)}"
               + "".join(f"\n  {m.path.name}" for m in applied))


@main.command("export")
@click.argument("what", type=click.Choice(["demand", "similarity"]))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write (replaced once complete).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default=None,
              help="csv or parquet (default: from --out's suffix, else csv).")
@click.option("--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="First day (YYYY-MM-DD; default: the first stored).")
@click.option("--to", "last", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day (YYYY-MM-DD; default: the last stored).")
def export_command(what: str, out: Path, fmt: str | None, first: datetime | None, last: datetime | None) -> None:
    """Write the demand snapshots or the profession similarity of a range of days to one CSV or Parquet file,
    with the profession and KldB titles beside the codes."""
    from ty_resources.export import export

    if first and last and first > last:
        raise click.BadParameter(f"--from {first:%Y-%m-%d} is after --to {last:%Y-%m-%d}")
    fmt = fmt or ("parquet" if out.suffix.lower() == ".parquet" else "csv")
    with psycopg.connect(database_url()) as conn:
        result = export(conn, what, out, "parquet" if fmt == "parquet" else "csv",
                        first.date() if first else None, last.date() if last else None)
    days = f"{result.days} day(s)" + (f", {result.first} to {result.last}" if result.days else "")
    click.echo(f"{what}: {result.rows:,} rows of {days} written to {result.path} ({fmt})")


@main.command("db-url")
def db_url() -> None:
    """Print the database URL (starts the embedded server while the command runs)."""
    click.echo(redact(resolve_database_url(get_settings())))


@main.command()
@click.option("--port", type=int, default=None, help="Webserver port (default TY_DAGSTER_PORT, 3000).")
def dev(port: int | None) -> None:
    """Dagster webserver on 127.0.0.1 plus the daemon, on the project's PostgreSQL storage."""
    from ty_cli.demo import demo_partition_keys, record_first_day
    from ty_cli.instance import get_instance

    settings = get_settings()
    url = database_url()
    # the first day of data, for the partitions the UI shows (dev does not generate the snapshot)
    record_first_day(settings, url, demo_partition_keys(settings, generate=False))
    get_instance(settings, url).dispose()  # DAGSTER_HOME, and the pools' limits before the daemon starts runs
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(project_root() / "workspace.yaml"),
               "-h", "127.0.0.1", "-p", str(port or settings.dagster_port)]
    log.info("starting dagster dev", extra={"command": command, "dagster_home": os.environ["DAGSTER_HOME"]})
    # Run from DAGSTER_HOME: started from the checkout, Dagster warns about the dagster.yaml there. In a session
    # of its own, so that its webserver, daemon and code servers can be stopped as one group.
    # SIGINT back to its default: started in the background (`tyctl dev &`, nohup, some supervisors) it is
    # inherited as ignored, and dagster dev, which stops on SIGINT and maps SIGTERM to it, could not be stopped.
    child = subprocess.Popen(command, cwd=os.environ["DAGSTER_HOME"], start_new_session=True,
                             preexec_fn=_default_sigint)
    try:
        sys.exit(child.wait())
    except (KeyboardInterrupt, SystemExit):
        _stop_process_group(child, grace_s=DEV_STOP_GRACE_S)
        raise


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# dagster dev gives its webserver and daemon up to 60 s each after Ctrl-C; the database must outlive them.
DEV_STOP_GRACE_S = 150


def _stop_process_group(child: subprocess.Popen, grace_s: float) -> None:
    """Ctrl-C to ``child`` (what ``dagster dev`` shuts down on), then, after ``grace_s``, SIGKILL to its whole
    process group, so nothing is left to use the embedded database this process stops next."""
    try:
        child.send_signal(signal.SIGINT)  # dagster dev tells its webserver and daemon itself
        child.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        log.warning("dagster dev did not stop in time; killing its processes", extra={"grace_s": grace_s})
    except ProcessLookupError:
        return
    try:
        os.killpg(child.pid, signal.SIGKILL)  # what is left of the group (code servers)
    except ProcessLookupError:
        pass
    child.wait()


@main.command()
@click.option("--host", default=None, help="Listen address (default TY_WEB_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default TY_WEB_PORT, 8000).")
def web(host: str | None, port: int | None) -> None:
    """talent.yoga's pages (at /) and JSON API (under /api/v1), FastAPI under uvicorn, over the database the
    pipeline fills."""
    import uvicorn

    from ty_web.app import API_PREFIX, create_app

    settings = get_settings()
    app = create_app(settings.model_copy(update={"database_url": database_url()}))
    host, port = host or settings.web_host, port or settings.web_port
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"talent.yoga on http://{shown}:{port}/ (the pages; the JSON API under {API_PREFIX}, its OpenAPI UI "
               f"at /docs). Ctrl-C stops it.", err=True)
    uvicorn.run(app, host=host, port=port, log_config=None,
                proxy_headers=False, server_header=False)  # no "Server: uvicorn" to fingerprint


@main.command("health")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Partitions of the last N days (ending today, Europe/Berlin) to check (default 7).")
@click.option("--runs", type=click.IntRange(min=1), default=None,
              help="Recent materializations per asset that the throughput is measured over (default 10).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def health(days: int | None, runs: int | None, as_json: bool) -> None:
    """Pipeline health: last materializations, failed/missing partitions, backlog, throughput and ETA."""
    from ty_assets.definitions import defs
    from ty_assets.health import DEFAULT_DAYS, DEFAULT_RUNS, build_report
    from ty_cli.instance import get_instance

    days, runs = days or DEFAULT_DAYS, runs or DEFAULT_RUNS

    settings = get_settings()
    url = database_url()
    instance = get_instance(settings, url)
    try:
        report = build_report(defs, instance, url, days=days, runs=runs, settings=settings)
    finally:
        instance.dispose()
    click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) if as_json else report.render())
