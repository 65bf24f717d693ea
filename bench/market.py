"""Benchmark: the market views on a full-size day.

Data (one fresh, migrated database on the benchmark server): the bundled
catalogue (``load_catalogue``), then POSTINGS postings, every one labelled with
a real BERUFENET title drawn uniformly from the 18,838 (so ~1,300 KldB codes,
their levels and domains as the catalogue has them), a random state (16 Länder,
Ausland, unbekannt), first seen on a random day of the 60 before DAY, 20 %
invalidated on a random day after that (before or after DAY), a raw item of a
realistic size; one embedding each (DIM dimensions, the local embedder's default,
model = the local embedder's name): a random unit centre per KldB code plus
noise, normalised. Everything is loaded with COPY (the embeddings in binary)
and ANALYZEd, as the pipeline leaves its tables. The HNSW index of
``posting_embeddings`` is not built: neither measured query uses it.

Measured:

- ``snapshot``: ``write_demand_snapshot`` for DAY (delete the day + one
  INSERT ... SELECT + commit), median of REPEATS runs, the totals compared with
  the independent recount of the asset check;
- ``similarity``: ``compute_similarity`` as the asset runs it (centroids by
  pgvector's ``avg`` in the server, catalogue texts of the codes below
  TY_SIMILARITY_MIN_POSTINGS embedded by the local embedder, top-k in numpy,
  DAY's rows replaced), once, for the postings active on DAY;
- side by side, the alternative to the in-server centroids: fetching every
  active labelled vector (binary) and averaging per code in numpy; the two sets
  of centroids must agree.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from bench.common import copy_embeddings, fresh_database, server_url
from ty_assets.catalogue.assets import load_catalogue
from ty_assets.market.demand import recount, write_demand_snapshot
from ty_assets.market.similarity import CENTROIDS_SQL, compute_similarity, normalise
from ty_resources.embedders import LocalEmbedder
from ty_resources.germany import LAENDER
from ty_resources.kldb import read_kldb
from ty_resources.settings import get_settings

POSTINGS = int(sys.argv[1]) if len(sys.argv) > 1 else 260_000
DIM = get_settings().local_embed_dimension
DAY = date(2026, 11, 2)
HISTORY_DAYS = 60
INVALIDATED_SHARE = 0.2
REPEATS = 3
STATES = (*LAENDER, "Ausland", "unbekannt")
POSTING_COLUMNS = ("refnr", "title", "title_normalized", "beruf", "employer", "state", "plz", "city", "lat", "lon",
                   "published_on", "raw", "first_seen", "last_seen", "invalidated_at", "invalidated_on",
                   "invalidated_reason", "berufenet_id", "label_source")


def posting_rows(professions: list[tuple[str, str]], seed: int = 1):
    rng = random.Random(seed)
    for n in range(POSTINGS):
        berufenet_id, name = rng.choice(professions)
        state = rng.choice(STATES)
        first_seen = DAY - timedelta(days=rng.randrange(HISTORY_DAYS))
        invalidated_on = None
        if rng.random() < INVALIDATED_SHARE:
            invalidated_on = first_seen + timedelta(days=rng.randrange(1, HISTORY_DAYS // 2))
        last_seen = min(DAY, invalidated_on - timedelta(days=3) if invalidated_on else DAY)
        last_seen = max(first_seen, last_seen)
        refnr = f"10000-{1_100_000_000 + n}-S"
        title = f"{name} (m/w/d)"
        employer = f"Firma {rng.randrange(20_000)} GmbH"
        plz, city = f"{rng.randrange(1000, 99999):05d}", f"Ort {rng.randrange(3000)}"
        lat, lon = round(rng.uniform(47.3, 55.0), 6), round(rng.uniform(5.9, 15.0), 6)
        raw = json.dumps({
            "refnr": refnr, "titel": title, "beruf": name, "arbeitgeber": employer,
            "aktuelleVeroeffentlichungsdatum": first_seen.isoformat(), "modifikationsTimestamp": "2026-10-30T08:15:00",
            "arbeitsort": {"plz": plz, "ort": city, "region": state, "land": "Deutschland",
                           "koordinaten": {"lat": lat, "lon": lon}},
        }, ensure_ascii=False)
        yield (refnr, title, title.casefold(), name, employer, state, plz, city, lat, lon, first_seen, raw,
               first_seen, last_seen,
               None if invalidated_on is None else datetime(invalidated_on.year, invalidated_on.month,
                                                            invalidated_on.day, 20, tzinfo=UTC),
               invalidated_on, None if invalidated_on is None else "stale", berufenet_id, "beruf")


def load(url: str) -> tuple[int, str]:
    """Catalogue, postings, embeddings; returns the number of codes postings have and the model name."""
    model = LocalEmbedder(dimension=DIM).model
    with psycopg.connect(url) as conn:
        register_vector(conn)
        load_catalogue(conn, read_kldb())
        conn.commit()
        professions = conn.execute("SELECT berufenet_id, name FROM professions WHERE active ORDER BY 1").fetchall()
        with conn.cursor() as cur, cur.copy(f"COPY postings ({', '.join(POSTING_COLUMNS)}) FROM STDIN") as copy:
            for row in posting_rows(professions):
                copy.write_row(row)
        conn.commit()
        labels = conn.execute("SELECT p.refnr, pr.kldb_code FROM postings p JOIN professions pr USING (berufenet_id)"
                              " ORDER BY p.refnr").fetchall()
        codes = sorted({c for _, c in labels})
        rng = np.random.default_rng(2)
        centres = rng.normal(size=(len(codes), DIM)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        position = {c: i for i, c in enumerate(codes)}

        def batches():
            for start in range(0, len(labels), 10_000):
                chunk = labels[start : start + 10_000]
                vectors = centres[[position[c] for _, c in chunk]] + rng.normal(0, 0.06, size=(len(chunk), DIM))
                yield [refnr for refnr, _ in chunk], (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
                                                      ).astype(np.float32)

        copy_embeddings(conn, model, DIM, batches())
        conn.commit()
        conn.execute("ANALYZE postings")
        conn.execute("ANALYZE posting_embeddings")
        conn.execute("ANALYZE professions")
        conn.commit()
    return len(codes), model


def centroids_in_numpy(conn: psycopg.Connection, model: str, min_postings: int) -> dict[str, np.ndarray]:
    """The alternative: every vector of the postings active on DAY to the client, averaged per code there."""
    with conn.cursor(binary=True) as cur:
        cur.execute(
            "SELECT pr.kldb_code, e.embedding FROM postings p JOIN professions pr USING (berufenet_id)"
            " JOIN kldb_codes k ON k.code = pr.kldb_code AND k.level = 5 AND k.active"
            " JOIN posting_embeddings e ON e.refnr = p.refnr AND e.model = %s"
            " WHERE p.first_seen <= %s AND (p.invalidated_on IS NULL OR p.invalidated_on > %s)",
            (model, DAY, DAY),
        )
        codes, vectors = [], []
        for code, vector in cur:
            codes.append(code)
            vectors.append(vector.to_numpy())
    names, inverse = np.unique(np.asarray(codes), return_inverse=True)
    sums = np.zeros((len(names), DIM))
    np.add.at(sums, inverse, np.stack(vectors))
    counts = np.bincount(inverse)
    return {str(c): sums[i] / counts[i] for i, c in enumerate(names) if counts[i] >= min_postings}


def main() -> int:
    settings = get_settings()
    admin, label = server_url()
    print(f"server: {label}; {POSTINGS:,} postings, {DIM}-dimensional embeddings, day {DAY}")
    with fresh_database(admin) as url:
        t0 = time.perf_counter()
        codes_with_postings, model = load(url)
        print(f"load: {time.perf_counter() - t0:.1f} s (catalogue, postings, embeddings; not measured below)")
        with psycopg.connect(url) as conn:
            register_vector(conn)
            times = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                totals = write_demand_snapshot(conn, DAY)
                times.append(time.perf_counter() - t0)
            counted = recount(conn, DAY)
            if totals.counts() != counted.counts():
                print(f"snapshot totals {totals} differ from the recount {counted}", file=sys.stderr)
                return 1
            snapshot_s = statistics.median(times)
            print(f"snapshot: {totals.rows:,} rows, {totals.active:,} active, {totals.new:,} new, "
                  f"{totals.invalidated:,} invalidated on {DAY}; runs {', '.join(f'{t:.2f}' for t in times)} s, "
                  f"median {snapshot_s:.2f} s")

            embedder = LocalEmbedder(dimension=DIM)
            t0 = time.perf_counter()
            stats = compute_similarity(conn, embedder, DAY, settings.similarity_min_postings, settings.similarity_top_k)
            similarity_s = time.perf_counter() - t0
            print(f"similarity: {stats.codes:,} codes ({stats.postings_basis:,} from postings, "
                  f"{stats.catalogue_basis:,} from catalogue text; {codes_with_postings:,} codes have postings), "
                  f"{stats.pairs:,} pairs, top {settings.similarity_top_k}, min {settings.similarity_min_postings} "
                  f"postings: {similarity_s:.2f} s ("
                  + ", ".join(f"{k} {v:.2f}" for k, v in stats.seconds.items()) + ")")

            t0 = time.perf_counter()
            params = {"model": model, "day": DAY, "min_postings": settings.similarity_min_postings}
            in_sql = {code: v.to_numpy() for code, _, v in conn.execute(CENTROIDS_SQL, params).fetchall()}
            sql_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            in_numpy = centroids_in_numpy(conn, model, settings.similarity_min_postings)
            numpy_s = time.perf_counter() - t0
            if in_sql.keys() != in_numpy.keys() or not all(
                np.allclose(normalise(in_sql[c][None])[0], normalise(in_numpy[c][None])[0], atol=1e-5)
                for c in in_sql
            ):
                print("centroids in SQL and in numpy differ", file=sys.stderr)
                return 1
            print(f"centroids of {len(in_sql):,} codes: avg(vector) in PostgreSQL {sql_s:.2f} s, "
                  f"all vectors fetched + numpy {numpy_s:.2f} s: {numpy_s / sql_s:.1f}x")
    print(f"BENCH market postings={POSTINGS} snapshot_s={snapshot_s:.2f} professions={stats.codes} "
          f"similarity_s={similarity_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
