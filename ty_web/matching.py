"""A job seeker's matches, computed from the tables the pipeline materialised (no FastAPI here).

:func:`refresh_matches` does it in four steps (the embedding without holding a database connection):

1. **Profile vector.** The profile's facets, each embedded with the pipeline's embedder (the one that wrote
   ``posting_embeddings``; its ``model`` picks the rows): the desired professions' names (weight 2), the
   work-history titles (1, the latest :data:`MAX_WORK_HISTORY` positions), the skills (1) and the summary (0.5).
   Titles are embedded by their matching key, as postings' titles are. The vector is the normalised weighted
   sum of the facets' unit vectors, so a long summary cannot drown the professions. The display name is never
   embedded. A profile with none of these has nothing to match on (:class:`NothingToMatch`).
2. **Candidates.** The ``match_candidates`` nearest active postings by cosine distance, in the profile's states
   and levels (empty lists: any) and not in a suppressed profession. The query
   (:func:`ty_resources.vector_index.nearest_sql`, beside the index's DDL) repeats the per-model HNSW
   index's expression (``embedding::vector(D)`` under ``WHERE model = ...``) so the index serves it, with
   ``hnsw.ef_search`` at ``match_ef_search`` and ``hnsw.iterative_scan = relaxed_order``: the index scan goes
   on past ``ef_search`` until enough postings pass the filters (the planner itself takes an exact scan when
   the filters leave few postings). ``ef_search`` decides the recall of the nearest postings, the candidate
   count how far the scan goes: the time grows with candidates / share of postings passing the filters.
   When filters still leave fewer candidates than asked (the iterative scan stops at
   ``hnsw.max_scan_tuples``), an exact scan over the filtered postings replaces them (``search = "exact"``).
   A posting's level and KldB code are its label's (``postings.berufenet_id`` -> ``professions``).
   **Unlabelled postings** have neither: they are candidates only for a profile without a level filter, can
   never be suppressed, and get no profession fit.
3. **Scores.** ``score = 0.6 * similarity + 0.4 * profession_fit``. Similarity is the cosine similarity of the
   posting's vector and the profile's. Profession fit compares the posting's label with each profession of
   the profile (desired ones at full weight, work-history ones at 0.8): the same BERUFENET title 1.0, the same
   KldB 5-digit code 0.8, the same 3-digit group 0.5, a neighbour code in ``profession_similarity`` (latest day)
   0.4 x its cosine; the best of these counts. Every component is stored with the match.
4. **Store.** The best ``match_limit`` postings not yet rated replace the user's unrated matches; rated
   matches are never touched (their ratings, feedback and scores stay as they were).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from ty_resources.database import Database
from ty_resources.embedders import Embedder
from ty_resources.sqlfiles import sql_file
from ty_resources.titles import title_key
from ty_resources.vector_index import nearest_sql, set_search_parameters
from ty_web.queries import UserQueries, execute, fetch_all, fetch_one

log = logging.getLogger("ty.web.matching")

SIMILARITY_WEIGHT = 0.6
FIT_WEIGHT = 0.4
FIT_SAME_PROFESSION = 1.0
FIT_SAME_KLDB5 = 0.8
FIT_SAME_KLDB3 = 0.5
FIT_NEIGHBOUR = 0.4  # times the neighbour's cosine similarity
WORK_HISTORY_FACTOR = 0.8  # a past position counts less than a profession the user asks for

FACET_WEIGHTS = {"desired": 2.0, "work_history": 1.0, "skills": 1.0, "summary": 0.5}
MAX_WORK_HISTORY = 10  # latest positions embedded
SUMMARY_CHARS = 1000



class NothingToMatch(ValueError):
    """The profile names no profession, position, skill or summary: there is nothing to embed."""


@dataclass(frozen=True)
class TargetProfession:
    """A profession of the profile: desired, or that of a work-history position."""

    berufenet_id: str
    kldb_code: str
    source: str  # 'desired' | 'work_history'
    name: str = ""

    @property
    def factor(self) -> float:
        return 1.0 if self.source == "desired" else WORK_HISTORY_FACTOR


@dataclass(frozen=True)
class Neighbour:
    """A KldB code similar to one of the profile's (``profession_similarity``)."""

    kldb_code: str
    score: float
    via: str  # the profile's code it neighbours
    source: str


@dataclass
class ProfileFacts:
    """What matching reads about a user."""

    user_id: int
    states: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    summary: str | None = None
    desired: list[TargetProfession] = field(default_factory=list)
    work_titles: list[str] = field(default_factory=list)
    work_professions: list[TargetProfession] = field(default_factory=list)
    suppressed: set[str] = field(default_factory=set)
    neighbours: list[Neighbour] = field(default_factory=list)

    @property
    def targets(self) -> list[TargetProfession]:
        return self.desired + self.work_professions


@dataclass(frozen=True)
class Candidate:
    refnr: str
    similarity: float
    berufenet_id: str | None
    kldb_code: str | None


@dataclass(frozen=True)
class Fit:
    value: float = 0.0
    reason: str | None = None  # same_profession | same_kldb5 | same_kldb3 | similar_profession
    via: str | None = None  # the profile's BERUFENET id (or KldB code, for a neighbour) it fits
    source: str | None = None  # desired | work_history


@dataclass(frozen=True)
class ScoredCandidate:
    candidate: Candidate
    fit: Fit
    score: float

    def components(self, model: str, search: str) -> dict[str, Any]:
        return {
            "similarity": round(self.candidate.similarity, 6),
            "profession_fit": round(self.fit.value, 6),
            "fit_reason": self.fit.reason,
            "fit_via": self.fit.via,
            "fit_source": self.fit.source,
            "weights": {"similarity": SIMILARITY_WEIGHT, "profession_fit": FIT_WEIGHT},
            "model": model,
            "search": search,
        }


@dataclass(frozen=True)
class RefreshResult:
    stored: int  # unrated matches now stored
    rated_kept: int  # rated matches (kept as they were)
    candidates: int  # postings the vector search returned
    search: str  # 'ann' | 'exact'
    model: str
    took_ms: float
    computed_at: datetime


# ------------------------------------------------------------------ reading the profile


def load_profile_facts(conn: psycopg.Connection, user_id: int) -> ProfileFacts:
    facts = ProfileFacts(user_id=user_id)
    user = UserQueries(conn, user_id)
    profile = user.fetch_one("SELECT desired_berufenet_ids, states, levels, skills, summary FROM profiles"
                             " WHERE user_id = %(user_id)s")
    if profile is not None:
        facts.states, facts.levels = profile["states"], profile["levels"]
        facts.skills, facts.summary = profile["skills"], profile["summary"]
        desired_ids = profile["desired_berufenet_ids"]
        if desired_ids:
            found = {r["berufenet_id"]: r for r in fetch_all(
                conn, "SELECT berufenet_id, kldb_code, name FROM professions WHERE berufenet_id = ANY(%(ids)s)",
                {"ids": desired_ids})}
            facts.desired = [TargetProfession(i, found[i]["kldb_code"], "desired", found[i]["name"])
                             for i in desired_ids if i in found]
    for position in user.fetch_all(
        "SELECT title, berufenet_id, kldb_code FROM work_history WHERE user_id = %(user_id)s"
        " ORDER BY coalesce(end_date, 'infinity'::date) DESC, start_date DESC, id DESC LIMIT %(limit)s",
        {"limit": MAX_WORK_HISTORY},
    ):
        facts.work_titles.append(position["title"])
        if position["berufenet_id"] is not None:
            facts.work_professions.append(TargetProfession(position["berufenet_id"], position["kldb_code"],
                                                           "work_history"))
    facts.suppressed = {r["kldb_code"] for r in user.fetch_all("SELECT kldb_code FROM suppressions"
                                                               " WHERE user_id = %(user_id)s")}
    codes = {t.kldb_code: t.source for t in reversed(facts.targets)}  # a desired code wins over a past one
    if codes:
        facts.neighbours = [
            Neighbour(kldb_code=r["neighbour_code"], score=float(r["score"]), via=r["kldb_code"],
                      source=codes[r["kldb_code"]])
            for r in fetch_all(conn, "SELECT kldb_code, neighbour_code, score FROM profession_similarity_latest"
                                     " WHERE kldb_code = ANY(%(codes)s)", {"codes": list(codes)})
        ]
    return facts


def profile_facets(facts: ProfileFacts) -> list[tuple[str, float]]:
    """The texts embedded for the profile, with their weights (never the display name)."""
    facets: list[tuple[str, float]] = []
    for target in facts.desired:
        facets.append((title_key(target.name) or target.name, FACET_WEIGHTS["desired"]))
    for title in facts.work_titles:
        facets.append((title_key(title) or title, FACET_WEIGHTS["work_history"]))
    if facts.skills:
        facets.append((", ".join(facts.skills), FACET_WEIGHTS["skills"]))
    if facts.summary and facts.summary.strip():
        facets.append((facts.summary.strip()[:SUMMARY_CHARS], FACET_WEIGHTS["summary"]))
    return [(text, weight) for text, weight in facets if text.strip()]


def profile_vector(embedder: Embedder, facts: ProfileFacts) -> np.ndarray:
    """The unit vector the profile is matched by; :class:`NothingToMatch` when there is nothing to embed."""
    facets = profile_facets(facts)
    if not facets:
        raise NothingToMatch("the profile has no desired profession, work history, skill or summary")
    vectors = np.asarray(embedder.embed([text for text, _ in facets]), dtype=np.float32)
    weights = np.asarray([weight for _, weight in facets], dtype=np.float32)
    combined = (vectors * weights[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(combined))
    if not np.isfinite(norm) or norm == 0.0:
        raise NothingToMatch("the profile's texts have no features to match on")
    return (combined / norm).astype(np.float32)


# ------------------------------------------------------------------ searching


def nearest_postings(conn: psycopg.Connection, model: str, vector: np.ndarray, *, limit: int, ef_search: int,
                     states: Sequence[str] = (), levels: Sequence[int] = (),
                     suppressed: Collection[str] = ()) -> tuple[list[Candidate], str]:
    """Up to ``limit`` active postings nearest to ``vector`` passing the filters, nearest first, and how they
    were found (``ann`` or ``exact``). Must run inside a transaction (the HNSW settings are ``SET LOCAL``)."""
    params = {"query": vector, "model": model, "limit": int(limit), "states": list(states),
              "levels": [int(x) for x in levels], "suppressed": sorted(suppressed)}
    shape = {"states": bool(states), "levels": bool(levels), "suppressed": bool(suppressed)}
    set_search_parameters(conn, ef_search)
    # prepare=False: never a server-side prepared statement, so never a generic plan; the planner sees the
    # filters' values each time (an exact scan for a small state, the index for a large one).
    rows = execute(conn, nearest_sql(len(vector), **shape), params, prepare=False).fetchall()
    search = "ann"
    if len(rows) < limit and (states or levels):
        # The filters left the iterative scan short (it stops at hnsw.max_scan_tuples): the filtered postings
        # are then few enough to compare with all of them.
        rows = execute(conn, nearest_sql(len(vector), exact=True, **shape), params, prepare=False).fetchall()
        search = "exact"
    return [Candidate(r["refnr"], float(r["similarity"]), r["berufenet_id"], r["kldb_code"]) for r in rows], search


# ------------------------------------------------------------------ scoring


def profession_fit(berufenet_id: str | None, kldb_code: str | None, targets: Sequence[TargetProfession],
                   neighbours: Sequence[Neighbour] = ()) -> Fit:
    """How well a posting's label fits the profile's professions (0 for an unlabelled posting)."""
    if not berufenet_id or not kldb_code:
        return Fit()
    best = Fit()
    for target in targets:
        if berufenet_id == target.berufenet_id:
            value, reason = FIT_SAME_PROFESSION, "same_profession"
        elif kldb_code == target.kldb_code:
            value, reason = FIT_SAME_KLDB5, "same_kldb5"
        elif kldb_code[:3] == target.kldb_code[:3]:
            value, reason = FIT_SAME_KLDB3, "same_kldb3"
        else:
            continue
        value *= target.factor
        if value > best.value:
            best = Fit(value, reason, target.berufenet_id, target.source)
    for neighbour in neighbours:
        if neighbour.kldb_code == kldb_code:
            factor = 1.0 if neighbour.source == "desired" else WORK_HISTORY_FACTOR
            value = FIT_NEIGHBOUR * max(0.0, min(1.0, neighbour.score)) * factor
            if value > best.value:
                best = Fit(value, "similar_profession", neighbour.via, neighbour.source)
    return best


def score(similarity: float, fit: float) -> float:
    return SIMILARITY_WEIGHT * similarity + FIT_WEIGHT * fit


def rank_candidates(candidates: Sequence[Candidate], facts: ProfileFacts, *, limit: int,
                    exclude: Collection[str] = frozenset()) -> list[ScoredCandidate]:
    """The best ``limit`` candidates by score (ties: nearer first, then refnr), without ``exclude``d refnrs and
    suppressed professions."""
    scored = []
    for candidate in candidates:
        if candidate.refnr in exclude or (candidate.kldb_code and candidate.kldb_code in facts.suppressed):
            continue
        fit = profession_fit(candidate.berufenet_id, candidate.kldb_code, facts.targets, facts.neighbours)
        scored.append(ScoredCandidate(candidate, fit, score(candidate.similarity, fit.value)))
    scored.sort(key=lambda s: (-s.score, -s.candidate.similarity, s.candidate.refnr))
    return scored[:limit]


# ------------------------------------------------------------------ refreshing


STORE_SQL = sql_file(__file__, "matching_store.sql")


def refresh_matches(db: Database, user_id: int, embedder: Embedder, *, limit: int,
                    candidates: int, ef_search: int) -> RefreshResult:
    """Recompute ``user_id``'s matches (see the module's docstring).

    The profile is read and embedded without holding a connection (the embedder may wait seconds on a model);
    the search and the store then run in one transaction, and refreshes of one user run one at a time there
    (the user's row is locked). A profile whose texts changed while it was embedded is embedded once more.
    Raises :class:`NothingToMatch` for a profile without anything to embed.
    """
    started = time.perf_counter()
    with db.connection() as conn:
        facts = load_profile_facts(conn, user_id)
    for attempt in range(2):
        vector = profile_vector(embedder, facts)  # no connection held: the embedder may wait on a model
        with db.connection() as conn:
            user = UserQueries(conn, user_id)
            user.execute("SELECT 1 FROM users WHERE id = %(user_id)s FOR NO KEY UPDATE")
            current = load_profile_facts(conn, user_id)
            # saved meanwhile (rare): embed what is stored now, once, outside this transaction
            if attempt == 0 and profile_facets(current) != profile_facets(facts):
                facts = current
                continue
            return _store_matches(conn, user, current, vector, embedder.model, started, limit=limit,
                                  candidates=candidates, ef_search=ef_search)
    raise AssertionError("unreachable")


def _store_matches(conn: psycopg.Connection, user: UserQueries, facts: ProfileFacts, vector: np.ndarray,
                   model: str, started: float, *, limit: int, candidates: int, ef_search: int) -> RefreshResult:
    user_id = user.user_id
    rated = {r["refnr"] for r in user.fetch_all("SELECT refnr FROM matches"
                                                " WHERE user_id = %(user_id)s AND rating IS NOT NULL")}
    found, search = nearest_postings(conn, model, vector, limit=max(candidates, limit),
                                     ef_search=ef_search, states=facts.states, levels=facts.levels,
                                     suppressed=facts.suppressed)
    best = rank_candidates(found, facts, limit=limit, exclude=rated)
    now = fetch_one(conn, "SELECT now() AS now")["now"]
    user.execute("DELETE FROM matches WHERE user_id = %(user_id)s AND rating IS NULL AND refnr <> ALL(%(keep)s)",
                 {"keep": [s.candidate.refnr for s in best]})
    if best:
        user.execute(STORE_SQL, {
            "now": now,
            "refnrs": [s.candidate.refnr for s in best],
            "scores": [s.score for s in best],
            "components": [Jsonb(s.components(model, search)) for s in best],
            "codes": [s.candidate.kldb_code for s in best],
        })
    took_ms = (time.perf_counter() - started) * 1000
    log.info("matches refreshed", extra={"user_id": user_id, "stored": len(best), "candidates": len(found),
                                         "search": search, "took_ms": round(took_ms, 1)})
    return RefreshResult(stored=len(best), rated_kept=len(rated), candidates=len(found), search=search,
                         model=model, took_ms=took_ms, computed_at=now)
