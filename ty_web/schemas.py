"""Request and response models of the API. Requests forbid unknown fields and bound every size."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from ty_resources.germany import PROFILE_STATES, ProfileState
from ty_resources.labels import TitleStatus
from ty_resources.urls import safe_external_url
from ty_web.cover_letter import CoverLetter
from ty_web.explanations import MatchExplanation

# ------------------------------------------------------------------ shared types

BERUFENET_ID_PATTERN = r"^[0-9]{5}-[0-9]{3}$"
BerufenetId = Annotated[str, StringConstraints(pattern=BERUFENET_ID_PATTERN)]
KldbCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
Level = Annotated[int, Field(ge=1, le=4, description="Anforderungsniveau: 1 Helfer, 2 Fachkraft, 3 Spezialist, "
                                                       "4 Experte")]
# A posting's external URL (``postings.external_url``) as a client may link it: what
# ty_resources.urls.safe_external_url lets through, else None. Every response model with the URL uses this type.
ExternalUrl = Annotated[str | None, AfterValidator(safe_external_url)]

# A plain address (addr-spec): no comments, quotes, angle brackets or lists, which a mail library would still
# deliver to the same mailbox (`victim(1)@x.de`, `"victim"@x.de`, `v<victim@x.de>`): one mailbox, one spelling.
_EMAIL_CHAR = r"[^@\s\x00-\x1f\"(),:;<>\[\]\\]"
_EMAIL_LABEL = r"[^@\s.\x00-\x1f\"(),:;<>\[\]\\]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_LABEL}+(?:\.{_EMAIL_LABEL}+)+$"


def _storable(value: str | None) -> str | None:
    """No control characters (PostgreSQL text cannot even hold NUL) and no lone surrogates (JSON allows
    ``"\\ud800"``; UTF-8 cannot encode it)."""
    if value is not None:
        for c in value:
            if ord(c) < 32 and c not in "\n\r\t":
                raise ValueError("control characters are not allowed")
            if 0xD800 <= ord(c) <= 0xDFFF:
                raise ValueError("lone surrogates are not allowed")
    return value


def _unique(values: list[Any]) -> list[Any]:
    """Duplicates dropped, order kept."""
    return list(dict.fromkeys(values))


Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254,
                                        pattern=EMAIL_PATTERN), AfterValidator(_storable)]


# Stripped strings of bounded length without control characters (newlines and tabs allowed).
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                      AfterValidator(_storable)]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                  AfterValidator(_storable)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=0, max_length=200),
                 AfterValidator(_storable)]
Feedback = Annotated[str, StringConstraints(strip_whitespace=True, min_length=0, max_length=2000),
                     AfterValidator(_storable)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=0, max_length=5000),
                     AfterValidator(_storable)]
LoginEmail = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254),
                       AfterValidator(_storable)]


class RequestModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ errors shared by all routes live in errors.py
# ------------------------------------------------------------------ auth


NewPassword = Annotated[str, Field(min_length=10, max_length=1024,
                                   description="At least 10 characters, and not easy to guess (common passwords, "
                                               "repeats, keyboard rows, your e-mail address are refused).")]
AccountToken = Annotated[str, Field(min_length=20, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                                    description="The token of the link we e-mailed.")]


class RegisterRequest(RequestModel):
    email: Email
    password: NewPassword


class Accepted(BaseModel):
    """What a request that sends an e-mail answers, whatever the address: nothing about whether it has an
    account."""

    message: str


class VerifyEmailRequest(RequestModel):
    token: AccountToken
    password: Annotated[str, Field(min_length=1, max_length=1024,
                                   description="The password given at registration: only its owner verifies.")]


class VerifiedOut(BaseModel):
    email: str
    email_verified_at: datetime


class PasswordResetRequest(RequestModel):
    email: LoginEmail


class PasswordResetConfirm(RequestModel):
    token: AccountToken
    password: NewPassword


class PasswordChange(RequestModel):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: NewPassword


class PasswordConfirmation(RequestModel):
    password: Annotated[str, Field(min_length=1, max_length=1024, description="Your current password.")]


class LoginRequest(RequestModel):
    email: LoginEmail
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class AccountOut(BaseModel):
    id: int
    email: str
    created_at: datetime


class LoginResponse(BaseModel):
    user_id: int
    csrf_token: str = Field(description="Send as header X-CSRF-Token with every POST, PUT, PATCH and DELETE.")
    expires_at: datetime


class TokenResponse(BaseModel):
    access_token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once, stored hashed.")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class SessionOut(BaseModel):
    user_id: int
    email: str
    kind: Literal["cookie", "bearer"]
    expires_at: datetime


# ------------------------------------------------------------------ profiles


class ProfileIn(RequestModel):
    """The whole profile (PUT replaces it; a field left out takes its default)."""

    display_name: ShortText | None = None
    desired_berufenet_ids: Annotated[list[BerufenetId], Field(max_length=20)] = Field(
        default_factory=list, description="BERUFENET ids (`43414-102`) of the professions sought.")
    states: Annotated[list[ProfileState], Field(max_length=len(PROFILE_STATES))] = Field(default_factory=list)
    levels: Annotated[list[Level], Field(max_length=4)] = Field(default_factory=list)
    skills: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)
    summary: LongText | None = None
    email_consent: bool = False

    @field_validator("desired_berufenet_ids", "states", "levels", "skills")
    @classmethod
    def _dedupe(cls, values: list[Any]) -> list[Any]:
        return _unique(values)


class ProfessionRef(BaseModel):
    berufenet_id: str
    name: str
    kldb_code: str
    level: int


class ProfileOut(BaseModel):
    display_name: str | None
    desired_berufenet_ids: list[str]
    desired_professions: list[ProfessionRef]
    states: list[str]
    levels: list[int]
    skills: list[str]
    summary: str | None
    email_consent: bool
    updated_at: datetime | None = Field(description="None: the profile was never saved.")


# ------------------------------------------------------------------ work history

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2100, 12, 31)


class WorkHistoryIn(RequestModel):
    title: Title
    employer: Name | None = None
    start_date: Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]
    end_date: Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)] | None = Field(
        default=None, description="None: the current position.")
    description: LongText | None = None

    @field_validator("end_date")
    @classmethod
    def _not_before_start(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if end is not None and start is not None and end < start:
            raise ValueError("end_date is before start_date")
        return end

    @field_validator("employer", "description")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class WorkHistoryOut(BaseModel):
    id: int
    title: str
    employer: str | None
    start_date: date
    end_date: date | None
    description: str | None
    source: Literal["manual", "cv"]
    berufenet_id: str | None = Field(description="The title's profession, when the classifier matched one.")
    profession_name: str | None
    kldb_code: str | None
    label_status: TitleStatus
    label_score: float | None
    created_at: datetime
    updated_at: datetime


# ------------------------------------------------------------------ account (GDPR)


class ExportAccount(BaseModel):
    id: int
    email: str
    created_at: datetime
    email_verified_at: datetime | None
    last_login_at: datetime | None


class ExportDevice(BaseModel):
    created_at: datetime
    last_used_at: datetime


class ExportAccountToken(BaseModel):
    purpose: Literal["verify_email", "reset_password"]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


class ExportCoverLetter(BaseModel):
    match_id: int
    letter: dict[str, Any]
    created_at: datetime


class ExportMatchExplanation(BaseModel):
    match_id: int
    model: str
    prompt_version: str
    explanation: dict[str, Any]
    created_at: datetime


class ExportSession(BaseModel):
    id: int = Field(description="End it with DELETE /auth/sessions/{id}.")
    kind: Literal["cookie", "bearer"]
    user_agent: str | None = Field(description="The client it was made with (its User-Agent, cut short).")
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime
    current: bool = Field(description="The session this export was requested with.")


class ExportLoginAttempt(BaseModel):
    address: str | None = Field(description="The client address of a successful login; None for a failed one "
                                            "(whoever typed the e-mail: not the user's data).")
    succeeded: bool
    attempted_at: datetime


class ExportCvDraft(BaseModel):
    id: UUID
    filename_kind: Literal["pdf", "docx", "text"]
    anonymised_text: str
    draft: dict[str, Any]
    created_at: datetime
    imported_at: datetime | None


class ExportMatch(BaseModel):
    id: int
    refnr: str
    title: str | None
    score: float
    components: dict[str, Any]
    kldb_code: str | None
    computed_at: datetime
    rating: int | None
    feedback: str | None
    decision: Literal["apply", "save", "skip"] | None
    rated_at: datetime | None


class ExportSuppression(BaseModel):
    kldb_code: str
    created_at: datetime
    source_match_id: int | None


class AccountExport(BaseModel):
    """Everything stored about the user (no password hash, no token hashes)."""

    exported_at: datetime
    account: ExportAccount
    profile: ProfileOut
    work_history: list[WorkHistoryOut]
    cv_drafts: list[ExportCvDraft]
    matches: list[ExportMatch]
    suppressions: list[ExportSuppression]
    sessions: list[ExportSession]
    known_devices: list[ExportDevice] = Field(description="Browsers and clients you signed in with (cookie "
                                                          "ty_device): their logins are not slowed by others.")
    account_tokens: list[ExportAccountToken] = Field(description="Links e-mailed to you (verification, password "
                                                                 "reset), without the tokens.")
    cover_letters: list[ExportCoverLetter] = Field(description="Letters the LLM wrote for your matches (kept "
                                                               "until your profile or the posting changes).")
    match_explanations: list[ExportMatchExplanation] = Field(
        description="Explanations the LLM wrote of why a match fits you (kept until your profile, the posting, "
                    "the model or the prompt changes).")
    login_attempts: list[ExportLoginAttempt]


# ------------------------------------------------------------------ ops


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unreachable"]
    pending_migrations: int | None = None
    detail: str | None = None


# ------------------------------------------------------------------ matches, ratings, suppressions, cover letters

Decision = Literal["apply", "save", "skip"]


class MatchComponents(BaseModel):
    """How a match's score came about: ``score = weights.similarity * similarity + weights.profession_fit *
    profession_fit``."""

    similarity: float | None = Field(default=None, description="Cosine similarity of posting and profile vectors.")
    profession_fit: float | None = Field(default=None, description="0-1: how the posting's profession fits yours.")
    fit_reason: Literal["same_profession", "same_kldb5", "same_kldb3", "similar_profession"] | None = None
    fit_via: str | None = Field(default=None, description="Your profession (BERUFENET id or KldB code) it fits.")
    fit_source: Literal["desired", "work_history"] | None = None
    weights: dict[str, float] = Field(default_factory=dict)
    model: str | None = Field(default=None, description="The embedding model of both vectors.")
    search: Literal["ann", "exact"] | None = None


class PostingSummary(BaseModel):
    """A posting's short summary (the ``posting_summaries`` asset), plain German text: the LLM's when one is
    configured and it summarised the posting, else the extractive one (the description's first sentences, working
    time and contract from the BA's own fields). A field the posting does not state is null or empty."""

    tasks: list[str] = Field(description="What the job is about: at most 5 short items.")
    requirements: list[str] = Field(description="What the posting asks for: at most 5 short items.")
    working_time: str | None = Field(description="`Vollzeit`, `Teilzeit`, ... as stated.")
    contract: str | None = Field(description="`unbefristet`, `befristet`, ... as stated.")
    salary: str | None = Field(description="Only when the posting states it.")
    remote: str | None = Field(description="Working from home, as stated.")
    kind: Literal["llm", "extractive"] = Field(description="llm: written by the LLM; extractive: sentences taken "
                                                           "from the description.")
    model: str = Field(description="The LLM, or `extractive`.")
    prompt_version: str = Field(description="The prompt's (or the extractive code's) version it was made with.")
    made_at: datetime


class MatchPosting(BaseModel):
    refnr: str
    title: str
    employer: str | None
    city: str | None
    plz: str | None
    state: str
    published_on: date | None
    external_url: ExternalUrl = Field(description="The employer's page (http or https only; else null).")
    active: bool = Field(description="False: the posting was taken down since.")
    berufenet_id: str | None
    profession_name: str | None
    kldb_code: str | None
    level: int | None


class MatchOut(BaseModel):
    id: int
    score: float
    components: MatchComponents
    kldb_code: str | None = Field(description="The posting's KldB 5-digit profession when the match was computed.")
    suppressed: bool = Field(description="Its profession is on your negative filter.")
    computed_at: datetime
    rating: int | None
    feedback: str | None
    decision: Decision | None
    rated_at: datetime | None
    posting: MatchPosting
    summary: PostingSummary | None = Field(description="The posting's summary (null: none made yet).")


class MatchDetail(MatchOut):
    description: str | None = Field(description="The posting's description (plain text), when fetched.")


class MatchPage(BaseModel):
    items: list[MatchOut]
    total: int
    limit: int
    offset: int


class RefreshOut(BaseModel):
    stored: int = Field(description="Unrated matches stored (the queue, best first).")
    rated_kept: int = Field(description="Rated matches, kept as they were.")
    candidates: int = Field(description="Postings the vector search returned before scoring.")
    search: Literal["ann", "exact"] = Field(description="ann: the HNSW index; exact: every filtered posting.")
    model: str
    took_ms: float
    computed_at: datetime


class RateIn(RequestModel):
    rating: Annotated[int, Field(ge=1, le=5, description="1-5; 2 or less puts the posting's profession on your "
                                                         "negative filter.")]
    feedback: Feedback | None = None
    decision: Decision | None = None

    @field_validator("feedback")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class SuppressionOut(BaseModel):
    kldb_code: str
    title: str | None = Field(description="The KldB code's title.")
    created_at: datetime
    source_match_id: int | None = Field(description="The match whose rating set it (null: that match is gone).")


class RatingOut(BaseModel):
    match: MatchOut
    suppression: SuppressionOut | None = Field(
        description="The negative-filter entry of the posting's profession after this rating, if any.")


class CoverLetterOut(CoverLetter):
    markdown: str


class MatchExplanationOut(MatchExplanation):
    """Why one of your matches fits you and what is missing."""

    match_id: int
    cached: bool = Field(description="true: the LLM's explanation kept from an earlier request (it cost nothing).")

