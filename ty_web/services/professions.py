"""The profession search: a job title as anyone writes it → the catalogue's professions, through the project's
classifier. Called by ``GET /api/v1/professions/search`` and by the pages (the market page's search box, the
profile page's search-as-you-type)."""

from __future__ import annotations

from ty_resources.database import Database
from ty_resources.titles import normalize_title
from ty_web.classify import AppClassifier, SearchBusy
from ty_web.errors import ApiError, field_error
from ty_web.market_schemas import ProfessionSearch, ProfessionSummary, SearchCandidate

QUERY_MAX_CHARS = 200
DEFAULT_LIMIT = 10
MAX_LIMIT = 50


def clean_query(q: str) -> str:
    """The query with its whitespace collapsed; 422 (`query.q`) when blank or holding control characters."""
    q = " ".join(q.split())
    if not q:
        raise field_error("query.q", "is blank")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in q):
        raise field_error("query.q", "control characters are not allowed")
    return q


def search_professions(db: Database, classifier: AppClassifier, q: str, limit: int = DEFAULT_LIMIT) -> ProfessionSearch:
    """The catalogue's professions for the title ``q`` (at most ``limit`` candidates, best first).

    The classifier runs the pipeline's label cascade without the LLM (a title only the LLM would settle answers
    ``pending_llm`` with its likeliest candidate as ``suggestion``); answers are cached per normalised title.
    Raises :class:`ApiError` 422 (field ``query.q``) for a blank query, control characters or nothing left once
    gender markers and filler words are removed, and 429 with ``Retry-After`` while the classifier is busy."""
    q = clean_query(q)
    if not normalize_title(q).key:
        raise field_error("query.q", "nothing to search for once gender markers and filler words are removed")
    try:
        label = classifier.search(db, q)
    except SearchBusy:
        raise ApiError(429, "too many searches right now: try again in a second",
                       headers={"Retry-After": "1"}) from None
    profession = None
    if label.berufenet_id is not None and label.kldb_code is not None and label.name is not None:
        profession = ProfessionSummary(berufenet_id=label.berufenet_id, name=label.name, kldb_code=label.kldb_code,
                                       level=int(label.kldb_code[4]))
    candidates = [SearchCandidate(berufenet_id=c.berufenet_id, name=c.name, kldb_code=c.kldb_code,
                                  level=int(c.kldb_code[4]), score=round(float(c.score), 4))
                  for c in label.candidates[:limit]]
    first = label.suggestion
    suggestion = None if first is None else ProfessionSummary(
        berufenet_id=first.berufenet_id, name=first.name, kldb_code=first.kldb_code, level=int(first.kldb_code[4]))
    return ProfessionSearch(query=q, key=label.key, status=label.status, profession=profession,
                            suggestion=suggestion, score=round(label.score, 4) if label.score is not None else None,
                            confidence=label.confidence, candidates=candidates)
