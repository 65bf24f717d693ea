"""CV import, the rules behind ``/api/v1/profiles/me/cv`` and the CV pages: upload -> text by content ->
anonymised -> a draft; the user's edited draft -> profile and work history.

The uploaded file is never stored: only the anonymised text and the parsed draft are (``cv_drafts``). A file is
read in a CV worker process (:mod:`ty_web.cv.worker`), one upload per user at a time, without a database
connection held meanwhile. Errors are :class:`ApiError`: 413 (too large), 415 (not PDF, DOCX or text), 422 (not
readable), 429 (another upload of the user's is being read), 503 (every worker busy), 404 (no such draft of the
user's), 409 (imported already).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, BinaryIO
from uuid import UUID

import psycopg
from pydantic import BaseModel, Field

from ty_resources.database import Database
from ty_resources.settings import Settings
from ty_web.classify import AppClassifier
from ty_web.cv import CvError
from ty_web.cv.worker import CvBusy, CvWorkers
from ty_web.errors import ApiError, not_found
from ty_web.queries import Row
from ty_web.queries.cv import CvQueries
from ty_web.queries.profiles import ProfileQueries
from ty_web.schemas import LongText, ProfileOut, RequestModel, ShortText, WorkHistoryIn, WorkHistoryOut

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


def read_limited(file: BinaryIO, limit: int) -> bytes:
    """The upload's bytes, 413 as soon as it has more than ``limit`` (never more than limit + one chunk read)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := file.read(READ_CHUNK):
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


def upload_cv(db: Database, settings: Settings, workers: CvWorkers, user_id: int, email: str,
              file: BinaryIO) -> CvDraftOut:
    """Read the uploaded ``file`` (at most ``TY_CV_MAX_BYTES``) in a CV worker, anonymise it (the profile's
    display name and the account's e-mail address among what is removed) and store the draft, dropping the
    oldest beyond ``TY_CV_MAX_DRAFTS``."""
    data = read_limited(file, settings.cv_max_bytes)
    with db.connection() as conn:
        display_name = ProfileQueries(conn, user_id).profile().display_name
    with _one_upload_per_user(user_id):
        try:  # no connection held: reading a file may take seconds
            result = workers.process(data, settings.cv_max_bytes, known_names=[n for n in [display_name] if n],
                                     known_emails=[email])
        except CvBusy as exc:
            raise ApiError(503, exc.message, headers={"Retry-After": str(exc.retry_after_s)}) from None
        except CvError as exc:
            raise ApiError(exc.status, exc.message) from None
    with db.connection() as conn:
        drafts = CvQueries(conn, user_id)
        drafts.prune(keep=settings.cv_max_drafts - 1, days=settings.cv_draft_days)  # room for this one
        draft = drafts.add_draft(result.kind, result.anonymised_text, result.draft.model_dump(mode="json"))
    return CvDraftOut(**draft, removed=result.removed)


def list_drafts(conn: psycopg.Connection, settings: Settings, user_id: int) -> list[CvDraftSummary]:
    """The user's drafts, newest first, without their text; expired ones and those beyond the limit are gone."""
    drafts = CvQueries(conn, user_id)
    drafts.prune(keep=settings.cv_max_drafts, days=settings.cv_draft_days)
    return [CvDraftSummary(**row) for row in drafts.drafts()]


def get_draft(conn: psycopg.Connection, user_id: int, draft_id: UUID) -> CvDraftOut:
    """One of the user's drafts (404 when there is no such draft of theirs)."""
    return CvDraftOut(**_found(CvQueries(conn, user_id).draft(draft_id)))


def delete_draft(conn: psycopg.Connection, user_id: int, draft_id: UUID) -> None:
    """Delete one of the user's drafts (404 when there is no such draft of theirs)."""
    if not CvQueries(conn, user_id).delete_draft(draft_id):
        raise not_found("CV draft")


def import_draft(db: Database, classifier: AppClassifier, user_id: int, draft_id: UUID,
                 body: CvImportRequest) -> CvImportOut:
    """Write the edited draft: its work-history entries (each title classified) and skills into the profile, in
    one transaction; a draft is imported once (409 after that)."""
    with db.connection() as conn:
        _unimported(_found(CvQueries(conn, user_id).draft(draft_id)))
    # classified before the transaction, without a connection: the LLM may take seconds per title
    labels = classifier.classify(db, [entry.title for entry in body.work_history]) if body.work_history else []
    with db.connection() as conn:
        drafts, profiles = CvQueries(conn, user_id), ProfileQueries(conn, user_id)
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
