"""Market views and the catalogue: demand over time, profession search, a profession and its neighbours, a
posting.

**Public**: none of these routes needs a sign-in. They serve what the pipeline materialised from the BA's
public job board and the public KldB/BERUFENET catalogue, nothing about any user; so they take no cookie and
need no CSRF token (all are GET). Reads only, rate-limited per client address (limits `public`, and `search`
for the profession search: 429 with `Retry-After` past them).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from ty_resources.germany import PostingState
from ty_resources.offers import OfferType
from ty_web.deps import AppSettings, ClassifierDep, Conn, Db, address_limit
from ty_web.errors import error_responses, field_error, not_found
from ty_web.market_schemas import (
    OFFER_TYPE_HELP,
    DemandFilters,
    DemandSeries,
    PostingOut,
    ProfessionDetail,
    ProfessionSearch,
    SimilarProfessions,
)
from ty_web.queries import market
from ty_web.queries.summaries import summary_model
from ty_web.schemas import BERUFENET_ID_PATTERN
from ty_web.services import professions
from ty_web.services.market import MAX_DAYS, date_range
from ty_web.services.professions import MAX_LIMIT, QUERY_MAX_CHARS

router = APIRouter(tags=["market"], responses=error_responses(429, 503), dependencies=[address_limit("public")])

# BA reference numbers (`10000-1234567890-S`, `12265-447238_JB4263457-S`): letters, digits and - _ .
REFNR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"

BerufenetIdPath = Annotated[str, Path(pattern=BERUFENET_ID_PATTERN, description="BERUFENET id: `43414-102`.")]


# ------------------------------------------------------------------ demand


@router.get("/market/demand", response_model=DemandSeries, response_model_by_alias=True,
            responses=error_responses(422))
def get_demand(
    conn: Conn,
    kldb: Annotated[str | None, Query(pattern=r"^[0-9]{1,5}$", description=(
        "KldB 2010 code or prefix, 1-5 digits: `4` Berufsbereich, `43` Hauptgruppe, `434` Gruppe, "
        "`4341` Untergruppe, `43414` Berufsgattung."))] = None,
    domain: Annotated[str | None, Query(pattern=r"^[0-9]{2}$", description="Berufshauptgruppe, 2 digits.")] = None,
    state: Annotated[PostingState | None, Query(description="A Land, `Ausland` or `unbekannt`.")] = None,
    level: Annotated[int | None, Query(ge=1, le=4, description="Anforderungsniveau 1-4.")] = None,
    offer_type: Annotated[OfferType | None, Query(description="BA offer type (angebotsart): " + OFFER_TYPE_HELP
                                                  + ".")] = None,
    start: Annotated[date | None, Query(alias="from", description=(
        "First day (inclusive); default: 29 days before `to`."))] = None,
    end: Annotated[date | None, Query(alias="to", description=(
        "Last day (inclusive); default: the latest day with a snapshot (today when there is none). "
        f"At most {MAX_DAYS} days in all."))] = None,
) -> DemandSeries:
    """Open, new and disappeared postings per day, summed over the snapshot's buckets that match the filters
    (all filters together). Without a profession filter (`kldb`, `domain`, `level`) the sums include the
    unlabelled postings. Days in the range whose snapshot was not computed are left out. Public."""
    kldb_title = domain_title = None
    if kldb is not None:
        kldb_title = market.code_title(conn, kldb)
        if kldb_title is None:
            raise field_error("query.kldb", f"{kldb} is not a KldB 2010 code")
    if domain is not None:
        domain_title = market.code_title(conn, domain)
        if domain_title is None:
            raise field_error("query.domain", f"{domain} is not a KldB 2010 Berufshauptgruppe")
        if kldb is not None and not (kldb.startswith(domain) or domain.startswith(kldb)):
            raise field_error("query.domain", f"KldB {kldb} is not in domain {domain}")
    first, last = date_range(conn, start, end)
    return DemandSeries(
        filters=DemandFilters(kldb=kldb, kldb_title=kldb_title, domain=domain, domain_title=domain_title,
                              state=state, level=level, offer_type=offer_type),
        from_=first, to=last,
        series=market.demand(conn, first, last, kldb=kldb, domain=domain, state=state, level=level,
                             offer_type=offer_type),
    )


# ------------------------------------------------------------------ professions


@router.get("/professions/search", response_model=ProfessionSearch, responses=error_responses(422),
            dependencies=[address_limit("search", "searches")])
def search_professions(
    db: Db,
    classifier: ClassifierDep,
    q: Annotated[str, Query(min_length=1, max_length=QUERY_MAX_CHARS,
                            description="A job title as anyone writes it: `Lagerist (m/w/d)`, `Köchin`.")],
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Candidates returned at most.")] = 10,
) -> ProfessionSearch:
    """The catalogue's professions for a job title, through the project's classifier (the pipeline's label
    cascade: exact reading and retrieval; never the LLM, which anyone could keep busy here: a title only the
    LLM would settle answers `pending_llm` with its likeliest candidate as `suggestion`). Answers are cached per
    normalised title. Public; at most `search` requests per client address (429 past it)."""
    return professions.search_professions(db, classifier, q, limit)


@router.get("/professions/{berufenet_id}", response_model=ProfessionDetail, responses=error_responses(404, 422))
def get_profession(berufenet_id: BerufenetIdPath, conn: Conn) -> ProfessionDetail:
    """A catalogue profession: its readings, KldB code, level, domain and how many open postings carry it.
    Public."""
    profession = market.profession(conn, berufenet_id)
    if profession is None:
        raise not_found("profession")
    return profession


@router.get("/professions/{berufenet_id}/similar", response_model=SimilarProfessions,
            responses=error_responses(404, 422))
def get_similar_professions(berufenet_id: BerufenetIdPath, conn: Conn) -> SimilarProfessions:
    """The professions (KldB 5-digit codes) most like this one's code, best first, with some of their titles:
    what the `profession_similarity` asset computed from the postings' embeddings (empty until it ran).
    Public."""
    similar = market.similar_professions(conn, berufenet_id)
    if similar is None:
        raise not_found("profession")
    return similar


# ------------------------------------------------------------------ postings


@router.get("/postings/{refnr}", response_model=PostingOut, responses=error_responses(404, 422))
def get_posting(
    refnr: Annotated[str, Path(pattern=REFNR_PATTERN, description="The BA's reference number.")],
    conn: Conn,
    settings: AppSettings,
) -> PostingOut:
    """A posting's public fields, its label, description and summary (the LLM's when one is configured and it
    summarised the posting, else the extractive one; null when none was made); postings that are no longer open
    are still served (`active` false). Public."""
    posting = market.posting(conn, refnr, summary_model(settings))
    if posting is None:
        raise not_found("posting")
    return posting
