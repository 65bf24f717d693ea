"""Benchmark: the whole graph for one ordinary day at the seed's scale, offline, on this machine.

Setup (not measured): one fresh, migrated database with the bundled catalogue; *yesterday* as the pipeline
would have left it, loaded in bulk: the open postings of a DAY_POSTINGS day (``ty_testing/ba_market.py``,
seeded, titles as job boards write them) collected for the default offer types, each with its description,
its title's label (the profession it was drawn from, settled with the current catalogue), its vector by the
default (local) embedder with the hash of its text, the HNSW index built in bulk, yesterday's demand
snapshot, and yesterday's crawl plan (a real crawl of yesterday's market). The classifier's lexical model is
trained into the cache beforehand, as a running installation has it from the days before.

Today: the strict BA test server has the market a day later (NEW postings published, GONE withdrawn, all
others a day older; postings arrive and are withdrawn while it is crawled). The daily job
(``daily_job``: postings, descriptions, embeddings, labels, demand snapshot, their checks) runs for today's
partition in a child process, as the schedule would run it, with the local embedder and no LLM (the
defaults). The BA client runs without its rate limit: the requests are counted and their time at
TY_BA_REQUESTS_PER_S is reported beside the run, not slept through. Printed: minutes per step (assets and
checks), the run's total, the requests, and the child's peak resident memory. Last line:
``BENCH day open=... new=... total_minutes=... crawl_minutes_at_rate=... peak_rss_mb=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bench.common import copy_embeddings, fresh_database, server_url
from ty_assets.catalogue.assets import load_catalogue
from ty_assets.embeddings.assets import embedding_text, text_hash
from ty_assets.market.demand import write_demand_snapshot
from ty_assets.postings.crawls import save_crawl
from ty_assets.postings.rows import POSTING_COLUMNS, posting_row
from ty_resources.ba import BaClient, html_to_text
from ty_resources.catalogue import current_version
from ty_resources.classifier import load_index, settings_decision_version
from ty_resources.crawl import Crawl, initial_plan
from ty_resources.embedders import LocalEmbedder
from ty_resources.germany import BERLIN
from ty_resources.kldb import read_kldb
from ty_resources.settings import Settings
from ty_resources.vector_index import ensure_hnsw_index
from ty_testing.ba_market import Market
from ty_testing.ba_server import BaTestServer, Churn

DAY_POSTINGS = 260_000
NEW, GONE = 15_000, 12_000
CHURN = 0.05


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def load_yesterday(url: str, market: Market, settings: Settings) -> dict[str, int]:
    """Yesterday as the pipeline leaves it (see the module docstring), loaded in bulk."""
    day = market.day
    catalogue = read_kldb()
    offer_types = set(settings.offer_types)
    rows = [i for i in np.flatnonzero(market.active) if int(market.offer[i]) in offer_types]
    embedder = LocalEmbedder(settings.local_embed_dimension)
    with psycopg.connect(url) as conn:
        with conn.transaction():
            load_catalogue(conn, catalogue)
        version = current_version(conn)
        postings, descriptions, labels, texts = [], [], {}, {}
        for i in rows:
            item = {**market.items[i], "angebotsart": str(int(market.offer[i]))}
            row = list(posting_row(item, day))
            p = market.professions[int(market.profession[i])]
            key = row[POSTING_COLUMNS.index("title_normalized")]
            labels.setdefault(key, (item["titel"], p.berufenet_id))
            postings.append((*row, labels[key][1], "title"))
            detail = market.detail(item["refnr"])
            text = html_to_text(detail["stellenangebotsBeschreibung"])
            descriptions.append((item["refnr"], "ok", text))
            texts[item["refnr"]] = embedding_text(key, text[: settings.embed_description_chars])
        with conn.cursor() as cur:
            columns = ", ".join((*POSTING_COLUMNS, "berufenet_id", "label_source"))
            with cur.copy(f"COPY postings ({columns}) FROM STDIN") as copy:
                for posting in postings:
                    copy.write_row(posting)
            with cur.copy("COPY posting_descriptions (refnr, status, description) FROM STDIN") as copy:
                for description in descriptions:
                    copy.write_row(description)
            decision = settings_decision_version(settings, embedder.model)  # labelled by today's cascade
            with cur.copy("COPY title_labels (title_key, example_title, status, berufenet_id, method, score, "
                          "catalogue_version, decision_version) FROM STDIN") as copy:
                for key, (title, berufenet_id) in labels.items():
                    copy.write_row((key, title, "matched", berufenet_id, "retrieval", 0.9, version, decision))
        conn.commit()
        log(f"yesterday: {len(postings):,} postings, {len(labels):,} labelled titles loaded")
        register_vector(conn)
        refnrs = list(texts)
        hashes = {refnr: text_hash(text) for refnr, text in texts.items()}

        def batches():
            for start in range(0, len(refnrs), 10_000):
                chunk = refnrs[start : start + 10_000]
                yield chunk, embedder.embed([texts[refnr] for refnr in chunk])

        started = time.perf_counter()
        copy_embeddings(conn, embedder.model, embedder.dimension, batches(), hashes)
        conn.commit()
        log(f"yesterday: {len(refnrs):,} texts embedded in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        ensure_hnsw_index(conn, embedder.model, embedder.dimension, settings.hnsw_build_memory)
        log(f"yesterday: {len(refnrs):,} vectors, HNSW index built in {time.perf_counter() - started:.0f} s")
        for table in ("postings", "posting_descriptions", "title_labels", "posting_embeddings"):
            conn.execute(f"ANALYZE {table}")
        conn.commit()
        write_demand_snapshot(conn, day)
        # the classifier's lexical model, trained into the cache as the days before would have left it
        load_index(conn, embedder, settings.resolved_cache_dir)
    return {"postings": len(postings), "titles": len(labels)}


def crawl_yesterday(url: str, market: Market, settings: Settings) -> None:
    """Yesterday's crawl for real, so today starts from its stored plan."""
    with BaTestServer(market=market) as server:
        client = BaClient(server.url, requests_per_s=1e6)
        crawl = Crawl(client.search, initial_plan(settings.offer_types))
        for _ in crawl.pages():
            pass
        client.close()
    with psycopg.connect(url) as conn:
        save_crawl(conn, market.day, "ba", crawl, min_coverage=settings.min_crawl_coverage)
    log(f"yesterday's crawl: {crawl.stats.requests:,} requests, coverage {crawl.stats.coverage:.5f}")


CHILD = """
import json, sys, time
from dagster import DagsterInstance
from ty_assets.definitions import defs
day, out = sys.argv[1:3]
started = time.perf_counter()
result = defs.get_job_def("daily_job").execute_in_process(
    partition_key=day, instance=DagsterInstance.ephemeral(), raise_on_error=False)
total = time.perf_counter() - started
steps = {e.step_key: e.event_specific_data.duration_ms / 1000 for e in result.all_events
         if e.event_type_value == "STEP_SUCCESS"}
failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
metadata = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}
checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
json.dump({"success": result.success, "total_s": total, "steps": steps, "failed": failed,
           "metadata": metadata, "checks": checks}, open(out, "w"), default=str)
"""


def run_today(url: str, ba_url: str, day: date, data_dir: Path) -> tuple[dict, float]:
    """The daily job in a child process; its report and its peak resident memory (MB)."""
    out = data_dir / "day.json"
    env = dict(os.environ, DATABASE_URL=url, TY_SOURCE="ba", TY_BA_BASE_URL=ba_url, TY_BA_REQUESTS_PER_S="100000",
               TY_DATA_DIR=str(data_dir), TY_BA_BACKOFF_S="0.05")
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-c", CHILD, day.isoformat(), str(out)], env=env, check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        log("note: an earlier child had the larger peak; the figure is the larger")
    return json.loads(out.read_text()), peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postings", type=int, default=DAY_POSTINGS)
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="ty-bench-day-"))
    os.environ["TY_DATA_DIR"] = str(data_dir)  # the classifier's cache goes where the child finds it
    settings = Settings()
    rate = settings.ba_requests_per_s
    today = datetime.now(BERLIN).date()
    catalogue = read_kldb()
    started = time.perf_counter()
    yesterday = Market.generate(catalogue, day=today - timedelta(days=1), postings=args.postings, seed=1,
                                noisy_titles=True)
    market = yesterday.next_day(catalogue, new=NEW, gone=GONE, seed=3, noisy_titles=True)
    wanted = sum(market.open_count_of_offer(code) for code in settings.offer_types)
    new = int(((market.published == 0) & np.isin(market.offer, settings.offer_types)).sum())
    log(f"markets generated in {time.perf_counter() - started:.0f} s: today {wanted:,} open of the collected "
        f"offer types, {new:,} new")
    admin, label = server_url()
    log(f"database server: {label}")
    with fresh_database(admin) as url:
        loaded = load_yesterday(url, yesterday, settings)
        crawl_yesterday(url, yesterday, settings)
        with BaTestServer(market=market, churn=Churn(arrivals=CHURN, withdrawals=CHURN, seed=4)) as server:
            log("today: the daily job starts")
            report, peak_mb = run_today(url, server.url, today, data_dir)
            detail_requests = sum(1 for path, _ in server.requests if path != "/pc/v4/jobs")
        log(f"today: the daily job {'succeeded' if report['success'] else 'FAILED: ' + str(report['failed'])}")
    postings_meta = report["metadata"].get("postings", {})
    search_requests = postings_meta.get("search_requests", 0)
    print(f"\nyesterday loaded: {loaded['postings']:,} postings, {loaded['titles']:,} labelled titles")
    print(f"{'step':<58} {'minutes':>8}")
    for step, seconds in sorted(report["steps"].items(), key=lambda kv: -kv[1]):
        print(f"{step:<58} {seconds / 60:>8.2f}")
    total_minutes = report["total_s"] / 60
    print(f"{'the whole run (steps run one after another)':<58} {total_minutes:>8.2f}")
    for asset in ("postings", "posting_descriptions", "posting_embeddings", "berufenet_labels", "demand_snapshot"):
        meta = report["metadata"].get(asset, {})
        shown = {k: meta[k] for k in ("fetched", "new", "invalidated", "coverage", "planned", "todo", "ok",
                                      "embedded", "unchanged", "classified", "dagster/row_count") if k in meta}
        print(f"  {asset}: {shown}")
    print(f"  checks: {sum(report['checks'].values())} of {len(report['checks'])} passed; "
          f"failed: {[k for k, v in report['checks'].items() if not v]}")
    crawl_minutes = search_requests / rate / 60
    detail_minutes = detail_requests / rate / 60
    print(f"BA requests: {search_requests:,} search ({crawl_minutes:.1f} min at {rate:g}/s), {detail_requests:,} "
          f"details ({detail_minutes:.1f} min): {crawl_minutes + detail_minutes:.1f} min of requests a day")
    print(f"peak resident memory of the run: {peak_mb:,.0f} MB")
    print(f"BENCH day open={wanted} new={new} total_minutes={total_minutes:.2f} "
          f"crawl_minutes_at_rate={crawl_minutes:.1f} peak_rss_mb={peak_mb:.0f}")


if __name__ == "__main__":
    main()
