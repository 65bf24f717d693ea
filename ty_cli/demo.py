"""The demo window of `make run`: the days of the offline snapshot (generated on first use),
or, with the live API, today's partition."""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

import psycopg

from ty_resources.database import one
from ty_resources.germany import BERLIN
from ty_resources.kldb import read_kldb
from ty_resources.sample import generate_snapshot
from ty_resources.settings import Settings
from ty_resources.snapshot import Snapshot

log = logging.getLogger("ty.demo")


def write_sample(
    path: Path, *, seed: int, postings: int, days: int, end_date: date, beruf_share: float,
    catalogue_path: Path | None = None,
) -> Snapshot:
    snapshot = generate_snapshot(
        read_kldb(catalogue_path), seed=seed, days=days, postings=postings, end_date=end_date,
        beruf_share=beruf_share,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save(path)
    return snapshot


def ensure_default_snapshot(settings: Settings) -> Path:
    """The configured snapshot; the default one is generated (ending today) if it is missing."""
    path = settings.resolved_snapshot_path
    if path.exists() or settings.snapshot_path is not None:
        return path  # an explicit TY_SNAPSHOT_PATH that is missing fails loudly when loaded
    log.info("generating the default snapshot", extra={"path": str(path)})
    write_sample(
        path, seed=settings.sample_seed, postings=settings.sample_postings, days=settings.sample_days,
        end_date=datetime.now(BERLIN).date(), beruf_share=settings.sample_beruf_share,
        catalogue_path=settings.catalogue_path,
    )
    return path


def demo_partition_keys(settings: Settings, generate: bool = True) -> list[str]:
    """The days `make run` materialises: the snapshot's (generated on first use, or none when ``generate`` is
    false and it is missing), or today with the live API."""
    if settings.source != "snapshot":
        return [datetime.now(BERLIN).date().isoformat()]
    if not generate and not settings.resolved_snapshot_path.exists():
        return []
    return Snapshot.load(ensure_default_snapshot(settings)).day_keys


def record_first_day(settings: Settings, url: str, keys: list[str]) -> None:
    """Record the first day of data, the graph's first partition while TY_PARTITIONS_START is unset: the first of
    ``keys`` (the days about to run), or the first day of postings already stored (a database filled before
    this was recorded keeps its days visible), whichever is earlier. Call it before the definitions are
    imported."""
    if settings.partitions_start:
        return
    days = [date.fromisoformat(key) for key in keys[:1]]
    with psycopg.connect(url) as conn:
        if one(conn.execute("SELECT to_regclass('postings') IS NOT NULL"))[0]:
            stored = one(conn.execute("SELECT min(first_seen) FROM postings"))[0]
            if stored is not None:
                days.append(stored)
    if days:
        try:
            settings.record_first_day(min(days))
        except OSError as exc:  # a read-only data folder: the partitions start today, as before anything ran
            log.warning("cannot record the first day of data in %s: %s", settings.partitions_start_file, exc)
