"""Response models of the public market and catalogue routes (``ty_web.routers.market``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ty_resources.labels import TitleStatus
from ty_resources.offers import OFFER_LABELS, OfferType
from ty_web.schemas import ExternalUrl, PostingSummary, ProfessionRef

LEVEL_NAMES = {1: "Helfer", 2: "Fachkraft", 3: "Spezialist", 4: "Experte"}
OFFER_TYPE_HELP = ", ".join(f"{code} {label}" for code, label in OFFER_LABELS.items())


# ------------------------------------------------------------------ demand


class DemandFilters(BaseModel):
    """The filters applied, with the catalogue's titles of the KldB code and the domain."""

    kldb: str | None = Field(description="KldB 2010 code or prefix (1-5 digits).")
    kldb_title: str | None
    domain: str | None = Field(description="Berufshauptgruppe (2 digits).")
    domain_title: str | None
    state: str | None
    level: int | None
    offer_type: OfferType | None = Field(description="BA offer type (angebotsart): " + OFFER_TYPE_HELP)


class DemandPoint(BaseModel):
    day: date
    active_postings: int = Field(description="Postings open on the day.")
    new_postings: int = Field(description="Postings first seen on the day.")
    invalidated_postings: int = Field(description="Postings that disappeared (were invalidated) on the day.")


class DemandSeries(BaseModel):
    """A daily time series from `demand_snapshots`: one point per day in the range whose snapshot was computed
    (days without a snapshot are left out: unknown is not zero); filters that match nothing on a computed
    day give zeros."""

    model_config = ConfigDict(populate_by_name=True)

    filters: DemandFilters
    from_: date = Field(alias="from", description="First day of the range (inclusive).")
    to: date = Field(description="Last day of the range (inclusive).")
    series: list[DemandPoint]


# ------------------------------------------------------------------ professions


class ProfessionSummary(ProfessionRef):
    """A catalogue profession in the market views: the fields of :class:`~ty_web.schemas.ProfessionRef`, under
    the name the OpenAPI document has always given it here."""


class SearchCandidate(ProfessionSummary):
    score: float = Field(description="The classifier's retrieval score: similarity to the catalogue title and its "
                         "code's text (1.0: an exact reading); with an embedder the confidence model was not "
                         "fitted for, what TY_ACCEPT_SCORE / TY_REJECT_SCORE compare. The candidates come in the "
                         "classifier's ranking, which adds the lexical model's score of each candidate's KldB "
                         "code, so a lower score can rank higher.")


class ProfessionSearch(BaseModel):
    """The classifier's verdict on the query (as for a job title) and its ranked candidates."""

    query: str
    key: str = Field(description="The normalised matching key of the query.")
    status: TitleStatus = Field(description="`matched`: `profession` is the label; otherwise only candidates.")
    profession: ProfessionSummary | None
    suggestion: ProfessionSummary | None = Field(
        description="When the status is not `matched`: the first candidate, what the query most likely is (with "
        "`confidence`), offered to choose, not a label.")
    score: float | None
    confidence: float | None = Field(
        description="How likely the first candidate is right, 0 to 1 (1: an exact reading); a title is matched "
        "from the confidence that gave TY_LABEL_PRECISION on the hand-written evaluation titles. Null where "
        "the confidence model was not fitted for the embedder in use.")
    candidates: list[SearchCandidate]


class ProfessionDetail(BaseModel):
    berufenet_id: str
    name: str = Field(description="As the catalogue prints it: `Kaufmann/-frau - Büromanagement`.")
    name_male: str
    name_female: str
    kldb_code: str
    kldb_title: str
    level: int = Field(description="Anforderungsniveau: 1 Helfer, 2 Fachkraft, 3 Spezialist, 4 Experte.")
    level_name: str
    is_supervisor: bool = Field(description="Aufsichts- oder Führungskraft (4th KldB digit 9).")
    domain_code: str
    domain_title: str | None
    active: bool = Field(description="False: no longer in the current catalogue.")
    active_postings: int = Field(description="Open postings labelled with this profession now.")


class NeighbourProfession(BaseModel):
    berufenet_id: str
    name: str
    level: int


class SimilarProfession(BaseModel):
    rank: int = Field(description="1 = most similar.")
    kldb_code: str
    title: str
    score: float = Field(description="Cosine similarity of the two codes' vectors.")
    basis: Literal["postings", "catalogue"] = Field(
        description="postings: the centroid of its postings' embeddings; catalogue: its catalogue text's.")
    professions: int = Field(description="Active catalogue titles of the code.")
    examples: list[NeighbourProfession] = Field(description="Up to five of those titles.")


class SimilarProfessions(BaseModel):
    berufenet_id: str
    kldb_code: str
    kldb_title: str
    model: str | None = Field(description="The embedding model of the vectors compared; None: not computed yet.")
    day: date | None = Field(description="The day whose active postings were compared: the latest computed.")
    computed_at: datetime | None
    neighbours: list[SimilarProfession]


# ------------------------------------------------------------------ postings


class PostingLabel(BaseModel):
    berufenet_id: str
    name: str
    kldb_code: str
    level: int
    source: Literal["beruf", "title"] | None = Field(
        description="beruf: the BA's own profession field named it; title: the title's label.")


class PostingOut(BaseModel):
    """A posting's public fields (never the source's raw record)."""

    refnr: str
    title: str
    employer: str | None
    beruf: str | None = Field(description="The BA's own profession field, as given.")
    plz: str | None
    city: str | None
    state: str
    offer_type: OfferType | None = Field(description="BA offer type (angebotsart): " + OFFER_TYPE_HELP
                                         + "; null when not known.")
    published_on: date | None
    entry_date: date | None = Field(description="Eintrittsdatum: when the job starts.")
    first_seen: date
    last_seen: date
    active: bool
    invalidated_on: date | None
    label: PostingLabel | None
    description: str | None = Field(description="Plain text of the job details, when they were fetched.")
    summary: PostingSummary | None = Field(description="The posting's summary (null: none made yet).")
    external_url: ExternalUrl = Field(description="The employer's page (http or https only; anything else is "
                                                  "withheld).")
