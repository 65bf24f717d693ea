"""Which professions resemble each other: the logic behind ``profession_similarity``. No Dagster here.

A profession here is an active KldB 5-digit code (Berufsgattung). Its vector is

- ``postings``: the centroid of the embeddings (current model) of its labelled
  postings active on the day, averaged inside PostgreSQL (pgvector's ``avg(vector)``,
  so only one vector per code leaves the server) and normalised — when it has at
  least ``min_postings`` of them;
- ``catalogue``: otherwise the embedding, by the same model, of the code's
  catalogue text (title and description, as the label index reads it).

Neighbours are the top k other codes by cosine similarity (numpy, in row
blocks, so memory stays at block x codes however many codes there are); ties
are broken by code. A code whose vector is zero (an empty text) has none and is
no one's neighbour. The day's rows are replaced in one transaction; other days stay.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import psycopg

from ty_resources.catalogue import load_code_texts
from ty_resources.sqlfiles import sql_file

CENTROIDS_SQL = sql_file(__file__, "similarity_centroids.sql")
# One writer per day (two runs of the same day wait for each other; other days go on).
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('profession_similarity'), %s::date - date '2000-01-01')"
COLUMNS = ("day", "kldb_code", "neighbour_code", "rank", "score", "basis", "neighbour_basis", "postings", "model",
           "computed_at")
BLOCK = 1024  # rows of the similarity matrix computed at once


@dataclass
class ProfessionVectors:
    """Unit vectors of the codes, in code order, with their basis and centroid size (0: catalogue)."""

    codes: list[str]
    vectors: np.ndarray
    basis: list[str]
    postings: list[int]
    without_vector: list[str] = field(default_factory=list)  # zero vectors: left out
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, basis: str) -> int:
        return sum(b == basis for b in self.basis)


def normalise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to norm 1 (float64) and the mask of rows that could be (norm > 0, finite)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.zeros(0)
    ok = np.isfinite(norms) & (norms > 1e-12)
    out = np.zeros_like(vectors)
    out[ok] = vectors[ok] / norms[ok, None]
    return out, ok


def profession_vectors(conn: psycopg.Connection, embedder, day: date, min_postings: int) -> ProfessionVectors:
    """One vector per active level-5 code: the centroid of its postings active on ``day``, or its catalogue
    text's embedding."""
    t0 = time.perf_counter()
    texts = load_code_texts(conn)
    centroids = {code: (n, np.asarray(v.to_numpy(), dtype=np.float64))
                 for code, n, v in conn.execute(CENTROIDS_SQL, {"model": embedder.model, "day": day,
                                                               "min_postings": min_postings}).fetchall()}
    conn.commit()  # read: no transaction open while the catalogue texts are embedded
    t1 = time.perf_counter()
    from_catalogue = [code for code in texts if code not in centroids]
    embedded = embedder.embed([texts[c] for c in from_catalogue]) if from_catalogue else np.zeros((0, 0))
    t2 = time.perf_counter()
    dimension = embedder.dimension
    for code, (_, vector) in centroids.items():
        if vector.shape != (dimension,):
            raise ValueError(f"centroid of {code} has {vector.shape[0]} dimensions, {embedder.model} has {dimension}")
    codes = sorted(texts)
    rows = {code: vector for code, (_, vector) in centroids.items()}
    rows.update(zip(from_catalogue, np.asarray(embedded, dtype=np.float64)))
    matrix = np.stack([rows[c] for c in codes]) if codes else np.zeros((0, dimension))
    unit, ok = normalise(matrix)
    keep = [i for i, c in enumerate(codes) if ok[i]]
    return ProfessionVectors(
        codes=[codes[i] for i in keep],
        vectors=unit[keep],
        basis=["postings" if codes[i] in centroids else "catalogue" for i in keep],
        postings=[centroids[codes[i]][0] if codes[i] in centroids else 0 for i in keep],
        without_vector=[c for i, c in enumerate(codes) if not ok[i]],
        seconds={"centroids_s": t1 - t0, "catalogue_embed_s": t2 - t1},
    )


def nearest_neighbours(unit: np.ndarray, k: int, block: int = BLOCK) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For each row i of ``unit`` (unit vectors): (i, neighbour indices, cosine scores), best first.

    ``min(k, n - 1)`` neighbours per row, never the row itself; ties ordered by index.
    """
    n = len(unit)
    kk = min(k, n - 1)
    if kk <= 0:
        return
    for start in range(0, n, block):
        stop = min(start + block, n)
        scores = unit[start:stop] @ unit.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        top = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.clip(np.take_along_axis(top_scores, order, axis=1), -1.0, 1.0)
        for row in range(stop - start):
            yield start + row, top[row], top_scores[row]


@dataclass(frozen=True)
class SimilarityStats:
    codes: int
    postings_basis: int
    catalogue_basis: int
    without_vector: int
    pairs: int
    model: str
    seconds: dict[str, float]


def write_similarity(conn: psycopg.Connection, day: date, vectors: ProfessionVectors, k: int, model: str) -> int:
    """Replace ``day``'s rows of ``profession_similarity`` with the top-k neighbours of ``vectors``; commits.
    Returns the pairs."""
    computed_at = datetime.now(UTC)
    pairs = 0

    def rows():
        nonlocal pairs
        for i, neighbours, scores in nearest_neighbours(vectors.vectors, k):
            for rank, (j, score) in enumerate(zip(neighbours, scores), start=1):
                pairs += 1
                yield (day, vectors.codes[i], vectors.codes[j], rank, round(float(score), 6), vectors.basis[i],
                       vectors.basis[j], vectors.postings[i], model, computed_at)

    with conn.transaction():
        conn.execute(LOCK_SQL, (day,))
        conn.execute("DELETE FROM profession_similarity WHERE day = %s", (day,))
        with conn.cursor() as cur, cur.copy(f"COPY profession_similarity ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows():
                copy.write_row(row)
    if not conn.autocommit:  # the block above was a savepoint inside the caller's transaction
        conn.commit()
    return pairs


def compute_similarity(conn: psycopg.Connection, embedder, day: date, min_postings: int, k: int) -> SimilarityStats:
    """Vectors, neighbours, rows: ``profession_similarity`` of one day."""
    vectors = profession_vectors(conn, embedder, day, min_postings)
    t0 = time.perf_counter()
    pairs = write_similarity(conn, day, vectors, k, embedder.model)
    return SimilarityStats(
        codes=len(vectors.codes),
        postings_basis=vectors.count("postings"),
        catalogue_basis=vectors.count("catalogue"),
        without_vector=len(vectors.without_vector),
        pairs=pairs,
        model=embedder.model,
        seconds={**vectors.seconds, "neighbours_and_write_s": time.perf_counter() - t0},
    )
