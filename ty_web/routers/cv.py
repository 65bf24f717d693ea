"""CV import: upload -> text by content -> anonymised -> a draft; the user's edited draft -> profile and work history.

The uploaded file is never stored: only the anonymised text and the parsed draft are (``cv_drafts``). The rules
are :mod:`ty_web.services.cv`, which the CV pages call too.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Path, Response, UploadFile

from ty_web.deps import AppSettings, ClassifierDep, Conn, CurrentUser, CvWorkersDep, Db, user_limit
from ty_web.errors import error_responses
from ty_web.services import cv
from ty_web.services.cv import CvDraftOut, CvDraftSummary, CvImportOut, CvImportRequest

__all__ = ["CvDraftOut", "CvDraftSummary", "CvImportOut", "CvImportRequest", "router"]

router = APIRouter(prefix="/profiles/me/cv", tags=["cv"], responses=error_responses(503))

DraftId = Annotated[UUID, Path(description="A CV draft of yours (from POST /profiles/me/cv).")]


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
    return cv.upload_cv(db, settings, workers, user.id, user.email, file.file)


@router.get("", response_model=list[CvDraftSummary], responses=error_responses(401))
def list_drafts(user: CurrentUser, conn: Conn, settings: AppSettings) -> list[CvDraftSummary]:
    """Your CV drafts, newest first (without their text). At most `TY_CV_MAX_DRAFTS` are kept, each for
    `TY_CV_DRAFT_DAYS` days: an upload beyond them drops the oldest, and expired ones are gone."""
    return cv.list_drafts(conn, settings, user.id)


@router.delete("/{draft_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_draft(draft_id: DraftId, user: CurrentUser, conn: Conn) -> Response:
    """Delete one of your CV drafts (its anonymised text and what was parsed from it)."""
    cv.delete_draft(conn, user.id, draft_id)
    return Response(status_code=204)


@router.get("/{draft_id}", response_model=CvDraftOut, responses=error_responses(401, 404, 422))
def get_draft(draft_id: DraftId, user: CurrentUser, conn: Conn) -> CvDraftOut:
    """One of your CV drafts."""
    return cv.get_draft(conn, user.id, draft_id)


@router.post("/{draft_id}/import", response_model=CvImportOut,
             responses=error_responses(401, 403, 404, 409, 413, 422, 429),
             dependencies=[user_limit("cv_import", "imports")])
def import_draft(draft_id: DraftId, body: CvImportRequest, user: CurrentUser, db: Db,
                 classifier: ClassifierDep) -> CvImportOut:
    """Write your edited draft: its work-history entries (each title classified) and skills into your profile,
    in one transaction. A draft is imported once (409 after that)."""
    return cv.import_draft(db, classifier, user.id, draft_id, body)
