"""CV import: upload -> text by content -> anonymised -> a draft; the user's edited draft -> profile and work history.

The uploaded file is never stored: only the anonymised text and the parsed draft are (``cv_drafts``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Path, Response, UploadFile
from pydantic import BaseModel, Field

from ty_web.cv import CvError
from ty_web.cv.worker import CvBusy
from ty_web.deps import AppSettings, ClassifierDep, Conn, CurrentUser, CvWorkersDep, Db, user_limit
from ty_web.errors import ApiError, error_responses, not_found
from ty_web.queries import Row
from ty_web.queries.cv import CvQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.schemas import LongText, ProfileOut, RequestModel, ShortText, WorkHistoryIn, WorkHistoryOut

router = APIRouter(prefix="/profiles/me/cv", tags=["cv"], responses=error_responses(503))

DraftId = Annotated[UUID, Path(description="A CV draft of yours (from POST /profiles/me/cv).")]
READ_CHUNK = 64 * 1024


class CvDraftSummary(BaseModel):
    id: UUID
    kind: str = Field(description="What the upload was, by its content: pdf, docx or text.")
    created_at: datetime
    imported_at: datetime | None


class CvDraftOut(BaseModel):
    id: UUID
    kind: str = Field(description="What the upload was, by its content: pdf, docx or text.")
    anonymised_text: str = Field(description="The CV's text with personal data replaced by [NAME], [E-MAIL], ...")
    draft: dict[str, Any] = Field(description="Parsed from the anonymised text: work_history, education, skills.")
    removed: dict[str, int] = Field(default_factory=dict,
                                    description="How many items of each kind were replaced (never the items).")
    created_at: datetime
    imported_at: datetime | None


class CvImportRequest(RequestModel):
    """The draft as the user corrected it: what is sent is written, nothing else of the draft."""

    work_history: Annotated[list[WorkHistoryIn], Field(max_length=50)] = Field(default_factory=list)
    skills: Annotated[list[ShortText], Field(max_length=50)] = Field(
        default_factory=list, description="Added to the profile's skills (kept once each).")
    summary: LongText | None = Field(default=None, description="Replaces the profile's summary when given.")
    replace_work_history: bool = Field(
        default=False, description="True: the entries imported from an earlier CV are replaced; manual ones stay.")


class CvImportOut(BaseModel):
    profile: ProfileOut
    work_history: list[WorkHistoryOut]
    imported_entries: int


def _read_limited(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, 413 as soon as it has more than ``limit`` (never more than limit + one chunk read)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := upload.file.read(READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the file is larger than {limit:,} bytes (TY_CV_MAX_BYTES)")
        chunks.append(chunk)
    return b"".join(chunks)


_reading: set[int] = set()  # users whose upload is in a CV worker now (this process)
_reading_lock = threading.Lock()


@contextmanager
def _one_upload_per_user(user_id: int) -> Iterator[None]:
    """One upload per user in the workers at a time (per process): one account cannot take every worker."""
    with _reading_lock:
        if user_id in _reading:
            raise ApiError(429, "an upload of yours is being read: wait for its answer",
                           headers={"Retry-After": "5"})
        _reading.add(user_id)
    try:
        yield
    finally:
        with _reading_lock:
            _reading.discard(user_id)


def _found(draft: Row | None) -> Row:
    if draft is None:
        raise not_found("CV draft")
    return draft


def _unimported(draft: Row) -> None:
    if draft["imported_at"] is not None:
        raise ApiError(409, f"this draft was imported at {draft['imported_at']:%Y-%m-%d %H:%M %Z}")


@router.post("", status_code=201, response_model=CvDraftOut,
             responses=error_responses(401, 403, 413, 415, 422, 429), dependencies=[user_limit("cv_upload", "uploads")])
def upload_cv(file: Annotated[UploadFile, File(description="The CV: PDF, DOCX or plain text (UTF-8).")],
              user: CurrentUser, db: Db, settings: AppSettings, workers: CvWorkersDep) -> CvDraftOut:
    """Upload a CV. Its kind is told by its content, not its name; at most `TY_CV_MAX_BYTES` (413), anything but
    PDF, DOCX or text is 415, a file that cannot be read (or takes longer than `TY_CV_TIME_LIMIT_S` or more
    memory than `TY_CV_MEMORY_MB` to read) 422. The text is anonymised (your name from the CV's header and
    wherever it recurs, e-mail addresses, phone numbers, addresses and postcodes, dates of birth, IBANs, tax and
    social-security numbers, URLs and handles) and parsed into a draft; only those are stored, never the file.
    The file is read in a worker process of its own; 503 with `Retry-After` when all are busy, 429 while another
    upload of yours is being read."""
    data = _read_limited(file, settings.cv_max_bytes)
    with db.connection() as conn:
        display_name = ProfileQueries(conn, user.id).profile().display_name
    with _one_upload_per_user(user.id):
        try:  # no connection held: reading a file may take seconds
            result = workers.process(data, settings.cv_max_bytes, known_names=[n for n in [display_name] if n],
                                     known_emails=[user.email])
        except CvBusy as exc:
            raise ApiError(503, exc.message, headers={"Retry-After": str(exc.retry_after_s)}) from None
        except CvError as exc:
            raise ApiError(exc.status, exc.message) from None
    with db.connection() as conn:
        drafts = CvQueries(conn, user.id)
        drafts.prune(keep=settings.cv_max_drafts - 1, days=settings.cv_draft_days)  # room for this one
        draft = drafts.add_draft(result.kind, result.anonymised_text, result.draft.model_dump(mode="json"))
    return CvDraftOut(**draft, removed=result.removed)


@router.get("", response_model=list[CvDraftSummary], responses=error_responses(401))
def list_drafts(user: CurrentUser, conn: Conn, settings: AppSettings) -> list[CvDraftSummary]:
    """Your CV drafts, newest first (without their text). At most `TY_CV_MAX_DRAFTS` are kept, each for
    `TY_CV_DRAFT_DAYS` days: an upload beyond them drops the oldest, and expired ones are gone."""
    drafts = CvQueries(conn, user.id)
    drafts.prune(keep=settings.cv_max_drafts, days=settings.cv_draft_days)
    return [CvDraftSummary(**row) for row in drafts.drafts()]


@router.delete("/{draft_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_draft(draft_id: DraftId, user: CurrentUser, conn: Conn) -> Response:
    """Delete one of your CV drafts (its anonymised text and what was parsed from it)."""
    if not CvQueries(conn, user.id).delete_draft(draft_id):
        raise not_found("CV draft")
    return Response(status_code=204)


@router.get("/{draft_id}", response_model=CvDraftOut, responses=error_responses(401, 404, 422))
def get_draft(draft_id: DraftId, user: CurrentUser, conn: Conn) -> CvDraftOut:
    """One of your CV drafts."""
    return CvDraftOut(**_found(CvQueries(conn, user.id).draft(draft_id)))


@router.post("/{draft_id}/import", response_model=CvImportOut,
             responses=error_responses(401, 403, 404, 409, 413, 422, 429),
             dependencies=[user_limit("cv_import", "imports")])
def import_draft(draft_id: DraftId, body: CvImportRequest, user: CurrentUser, db: Db,
                 classifier: ClassifierDep) -> CvImportOut:
    """Write your edited draft: its work-history entries (each title classified) and skills into your profile,
    in one transaction. A draft is imported once (409 after that)."""
    with db.connection() as conn:
        _unimported(_found(CvQueries(conn, user.id).draft(draft_id)))
    # classified before the transaction, without a connection: the LLM may take seconds per title
    labels = classifier.classify(db, [entry.title for entry in body.work_history]) if body.work_history else []
    with db.connection() as conn:
        drafts, profiles = CvQueries(conn, user.id), ProfileQueries(conn, user.id)
        _unimported(_found(drafts.draft(draft_id, lock=True)))  # imported meanwhile: 409
        if body.replace_work_history:
            profiles.delete_cv_work_history()
        for entry, label in zip(body.work_history, labels):
            profiles.add_work_history(entry, label, source="cv")
        skills = list(dict.fromkeys([*profiles.profile().skills, *body.skills]))[:50]
        profiles.save_skills(skills, body.summary)
        drafts.mark_imported(draft_id)
        return CvImportOut(profile=profiles.profile(), work_history=profiles.work_history(),
                           imported_entries=len(body.work_history))
