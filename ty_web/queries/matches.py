"""A user's matches with their postings and the postings' summaries, the ratings, the negative filter
(``suppressions``: KldB 5-digit professions rated down), the facts a cover letter for a match is written from, and
the kept cover letters and explanations.

Match rows (``matches.sql``) become :class:`~ty_web.schemas.MatchOut` through :func:`match_fields`, each with
the summary :mod:`ty_web.queries.summaries` shows (one query per page); the matches themselves are computed and
stored by :mod:`ty_web.matching`.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from ty_resources.germany import BERLIN
from ty_resources.sqlfiles import sql_file
from ty_web import cover_letter, explanations
from ty_web.queries import Row, UserQueries, fetch_one
from ty_web.queries.summaries import summaries
from ty_web.schemas import (
    Decision,
    MatchComponents,
    MatchDetail,
    MatchOut,
    MatchPosting,
    PostingSummary,
    SuppressionOut,
)

MATCHES_SQL = sql_file(__file__, "matches.sql")
STORE_EXPLANATION_SQL = sql_file(__file__, "matches_store_explanation.sql")
BEST_FIRST = " ORDER BY m.score DESC, m.id"
RATED = {None: "", True: " AND m.rating IS NOT NULL", False: " AND m.rating IS NULL"}
# The queue: unrated, the posting still active, the profession not suppressed.
QUEUE = " AND m.rating IS NULL AND p.invalidated_at IS NULL AND s.kldb_code IS NULL"
DETAIL_SQL = (f"SELECT x.*, d.description FROM ({MATCHES_SQL} AND m.id = %(id)s) x"
              " LEFT JOIN posting_descriptions d ON d.refnr = x.refnr AND d.status = 'ok'")

SUPPRESSIONS_SQL = """
SELECT s.kldb_code, k.title, s.created_at, s.source_match_id
FROM suppressions s LEFT JOIN kldb_codes k ON k.code = s.kldb_code
WHERE s.user_id = %(user_id)s
"""

LETTER_POSTING_SQL = """
SELECT p.refnr, p.title, p.employer, p.city, d.description
FROM matches m JOIN postings p ON p.refnr = m.refnr
LEFT JOIN posting_descriptions d ON d.refnr = p.refnr AND d.status = 'ok'
WHERE m.id = %(id)s AND m.user_id = %(user_id)s
"""
LETTER_PROFILE_SQL = """
SELECT pf.display_name, pf.skills, pf.summary,
       ARRAY(SELECT pr.name FROM unnest(pf.desired_berufenet_ids) WITH ORDINALITY AS d (id, n)
             JOIN professions pr ON pr.berufenet_id = d.id ORDER BY d.n) AS desired_professions
FROM profiles pf WHERE pf.user_id = %(user_id)s
"""
LETTER_POSITIONS_SQL = """
SELECT title, employer, start_date, end_date FROM work_history WHERE user_id = %(user_id)s
ORDER BY coalesce(end_date, 'infinity'::date) DESC, start_date DESC, id DESC LIMIT %(limit)s
"""
LETTER_POSITIONS = 5


def match_fields(row: Row, summary: PostingSummary | None = None) -> dict[str, Any]:
    """A row of ``matches.sql`` (and its posting's summary) as the fields of :class:`~ty_web.schemas.MatchOut`."""
    try:
        components = MatchComponents.model_validate(row["components"] or {})
    except ValidationError:  # written by an older version: show the score, not a 500
        components = MatchComponents()
    posting = MatchPosting(
        refnr=row["refnr"], title=row["title"], employer=row["employer"], city=row["city"], plz=row["plz"],
        state=row["state"], published_on=row["published_on"], external_url=row["external_url"],
        active=row["active"], berufenet_id=row["berufenet_id"], profession_name=row["profession_name"],
        kldb_code=row["posting_kldb_code"], level=row["level"],
    )
    return {"id": row["id"], "score": row["score"], "components": components, "kldb_code": row["kldb_code"],
            "suppressed": row["suppressed"], "computed_at": row["computed_at"], "rating": row["rating"],
            "feedback": row["feedback"], "decision": row["decision"], "rated_at": row["rated_at"],
            "posting": posting, "summary": summary}


class MatchQueries(UserQueries):
    """One user's matches, ratings and negative filter. ``summary_model``: the LLM whose posting summaries are
    shown (:func:`ty_web.queries.summaries.summary_model`; None: the extractive ones)."""

    def __init__(self, conn: psycopg.Connection, user_id: int, summary_model: str | None = None):
        super().__init__(conn, user_id)
        self.summary_model = summary_model

    def _matches(self, rows: list[Row]) -> list[MatchOut]:
        shown = summaries(self.conn, [row["refnr"] for row in rows], self.summary_model)
        return [MatchOut(**match_fields(row, shown.get(row["refnr"]))) for row in rows]

    def count(self, rated: bool | None = None) -> int:
        """How many matches; ``rated``: True only rated ones, False only unrated ones."""
        return self.fetch_one("SELECT count(*) AS total FROM matches m WHERE m.user_id = %(user_id)s"
                              + RATED[rated])["total"]

    def page(self, limit: int, offset: int, rated: bool | None = None) -> list[MatchOut]:
        """A page of matches, best first (score, then id)."""
        rows = self.fetch_all(MATCHES_SQL + RATED[rated] + BEST_FIRST + " LIMIT %(limit)s OFFSET %(offset)s",
                              {"limit": limit, "offset": offset})
        return self._matches(rows)

    def next_in_queue(self) -> MatchOut | None:
        """The best unrated match of an active posting whose profession is not suppressed."""
        row = self.fetch_one(MATCHES_SQL + QUEUE + BEST_FIRST + " LIMIT 1")
        return self._matches([row])[0] if row else None

    def match(self, match_id: int) -> MatchOut | None:
        row = self.fetch_one(MATCHES_SQL + " AND m.id = %(id)s", {"id": match_id})
        return self._matches([row])[0] if row else None

    def detail(self, match_id: int) -> MatchDetail | None:
        """The match with its posting's description (None when that was not fetched)."""
        row = self.fetch_one(DETAIL_SQL, {"id": match_id})
        if row is None:
            return None
        shown = summaries(self.conn, [row["refnr"]], self.summary_model)
        return MatchDetail(**match_fields(row, shown.get(row["refnr"])), description=row["description"])

    def rate(self, match_id: int, rating: int, feedback: str | None, decision: Decision | None) -> Row | None:
        """Set (or replace) the match's rating; the match's ``kldb_code``, or None when there is no such match."""
        return self.fetch_one(
            "UPDATE matches SET rating = %(rating)s, feedback = %(feedback)s, decision = %(decision)s,"
            " rated_at = now() WHERE id = %(id)s AND user_id = %(user_id)s RETURNING kldb_code",
            {"rating": rating, "feedback": feedback, "decision": decision, "id": match_id},
        )

    def suppress(self, kldb_code: str, match_id: int) -> None:
        """Put ``kldb_code`` on the negative filter, set by ``match_id``'s rating (unless it is there already)."""
        self.execute("INSERT INTO suppressions (user_id, kldb_code, source_match_id)"
                     " VALUES (%(user_id)s, %(kldb_code)s, %(match_id)s) ON CONFLICT (user_id, kldb_code) DO NOTHING",
                     {"kldb_code": kldb_code, "match_id": match_id})

    def lift_suppression_of(self, match_id: int) -> None:
        """Take off the negative-filter entry that ``match_id``'s rating set, if any."""
        self.execute("DELETE FROM suppressions WHERE user_id = %(user_id)s AND source_match_id = %(match_id)s",
                     {"match_id": match_id})

    def suppressions(self) -> list[SuppressionOut]:
        """The negative filter, newest first."""
        return self.fetch_all(SUPPRESSIONS_SQL + "ORDER BY s.created_at DESC, s.kldb_code", into=SuppressionOut)

    def suppression(self, kldb_code: str) -> SuppressionOut | None:
        return self.fetch_one(SUPPRESSIONS_SQL + "AND s.kldb_code = %(kldb_code)s", {"kldb_code": kldb_code},
                              into=SuppressionOut)

    def delete_suppression(self, kldb_code: str) -> bool:
        """Take ``kldb_code`` off the negative filter; False when it was not on it."""
        return self.execute("DELETE FROM suppressions WHERE user_id = %(user_id)s AND kldb_code = %(kldb_code)s",
                            {"kldb_code": kldb_code}).rowcount > 0

    def cached_letter(self, match_id: int, facts_hash: str) -> cover_letter.CoverLetter | None:
        """The LLM's letter for the match when it was written from the same facts, model and prompt (its
        :func:`~ty_web.cover_letter.letter_key`; None otherwise)."""
        row = self.fetch_one("SELECT letter FROM cover_letters WHERE match_id = %(id)s AND user_id = %(user_id)s"
                             " AND facts_hash = %(hash)s", {"id": match_id, "hash": facts_hash})
        if row is None:
            return None
        try:
            return cover_letter.CoverLetter.model_validate(row["letter"])
        except ValidationError:  # written by an older version of the model: write it anew
            return None

    def store_letter(self, match_id: int, facts_hash: str, letter: cover_letter.CoverLetter) -> None:
        self.execute("INSERT INTO cover_letters (match_id, user_id, facts_hash, letter)"
                     " SELECT id, user_id, %(hash)s, %(letter)s FROM matches"
                     " WHERE id = %(id)s AND user_id = %(user_id)s"
                     " ON CONFLICT (match_id) DO UPDATE SET facts_hash = EXCLUDED.facts_hash,"
                     " letter = EXCLUDED.letter, created_at = now()",
                     {"id": match_id, "hash": facts_hash, "letter": Jsonb(letter.model_dump(mode="json"))})

    def letter_facts(self, match_id: int) -> cover_letter.LetterFacts | None:
        """What a cover letter for the match is written from: the posting, the profile's professional facts and
        latest positions, and today (Berlin); None when there is no such match."""
        posting = self.fetch_one(LETTER_POSTING_SQL, {"id": match_id})
        if posting is None:
            return None
        profile = self.fetch_one(LETTER_PROFILE_SQL) or {"display_name": None, "skills": [], "summary": None,
                                                         "desired_professions": []}
        positions = [cover_letter.Position(**row)
                     for row in self.fetch_all(LETTER_POSITIONS_SQL, {"limit": LETTER_POSITIONS})]
        today = fetch_one(self.conn, "SELECT (now() AT TIME ZONE %(zone)s)::date AS today", {"zone": BERLIN.key})
        return cover_letter.LetterFacts(
            refnr=posting["refnr"], posting_title=posting["title"], employer=posting["employer"],
            city=posting["city"], description=posting["description"], sender_name=profile["display_name"],
            skills=profile["skills"], summary=profile["summary"], desired_professions=profile["desired_professions"],
            positions=positions, today=today["today"],
        )

    def positions(self) -> list[str]:
        """The work history's titles, most recent first (at most :data:`LETTER_POSITIONS`)."""
        return [row["title"] for row in self.fetch_all(LETTER_POSITIONS_SQL, {"limit": LETTER_POSITIONS})]

    def cached_explanation(self, match_id: int, key: str) -> explanations.MatchExplanation | None:
        """The LLM's explanation of the match when it was written from the same facts, model and prompt (its
        :func:`~ty_web.explanations.explanation_key`; None otherwise)."""
        row = self.fetch_one("SELECT explanation FROM match_explanations WHERE match_id = %(id)s"
                             " AND user_id = %(user_id)s AND input_hash = %(key)s", {"id": match_id, "key": key})
        if row is None:
            return None
        try:
            return explanations.MatchExplanation.model_validate(row["explanation"])
        except ValidationError:  # written by an older version of the model: write it anew
            return None

    def store_explanation(self, match_id: int, key: str, explanation: explanations.MatchExplanation) -> None:
        """Keep the LLM's explanation of the match (replacing an older one)."""
        self.execute(STORE_EXPLANATION_SQL, {"id": match_id, "key": key, "model": explanation.model or "",
                      "version": explanation.prompt_version,
                      "explanation": Jsonb(explanation.model_dump(mode="json"))})
