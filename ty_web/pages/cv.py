"""The CV pages: upload a CV, see its anonymised text beside the draft parsed from it, correct every entry and
import it into the profile; the earlier uploads, each to open or delete.

The rules are :mod:`ty_web.services.cv`, as for ``/api/v1/profiles/me/cv``: the file is read in a CV worker
process (limits, one upload per account at a time, the ``cv_upload`` rate limit), only the anonymised text and
the draft are stored; an import is validated with :class:`ty_web.services.cv.CvImportRequest` and happens once.
An upload the service refuses (413, 415, 422, 429, 503) is shown on the form with a message in the user's
language and that status.

Routes: ``GET/POST /cv``; ``GET /cv/{id}``; ``POST /cv/{id}/import``; ``POST /cv/{id}/delete``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from uuid import UUID

from babel.numbers import format_decimal
from fastapi import File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ty_web.deps import AppSettings, ClassifierDep, CvWorkersDep, Db, Limiter, count_for_user
from ty_web.errors import ApiError, not_found
from ty_web.pages.profile import error_message, split_skills
from ty_web.pages.render import gettext, language, render
from ty_web.pages.session import PageUser, page_limit, page_router
from ty_web.services import cv
from ty_web.services.cv import CvDraftOut, CvImportRequest

router = page_router()

ACCEPT = (".pdf,.docx,.txt,application/pdf,text/plain,"
          "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
ENTRY_FIELDS = ("title", "employer", "start_date", "end_date", "description")
FormList = Annotated[list[str], Form(max_length=200)]


def _draft_id(value: str) -> UUID:
    """A draft id from the path; anything but a UUID is no draft of the user's (404)."""
    try:
        return UUID(value)
    except ValueError:
        raise not_found("CV draft") from None


# ------------------------------------------------------------------ upload and list


def _upload_message(request: Request, exc: ApiError, max_bytes: int) -> str:
    status = exc.status_code
    if status == 413:
        size = format_decimal(max_bytes / 1_000_000, format="#,##0.#", locale=language(request))
        return gettext(request, "The file is too large: at most %(size)s MB.", size=size)
    if status == 415:
        return gettext(request, "This is not a PDF, Word (DOCX) or text file.")
    if status == 422:
        return gettext(request, "The file could not be read. Please try another format, for example PDF or text.")
    if status == 429:
        return gettext(request, "Please wait a moment: an upload of yours is being read, or you uploaded too often.")
    if status == 503:
        return gettext(request, "All readers are busy right now. Please try again in a moment.")
    return gettext(request, "The upload did not work. Please try again.")


def _list_page(request: Request, user: PageUser, db: Db, settings: AppSettings, *, error: str | None = None,
               notice: str | None = None, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    with db.connection() as conn:
        drafts = cv.list_drafts(conn, settings, user.id)
    return render(request, "cv/index.html", {"drafts": drafts, "error": error, "notice": notice,
                                             "accept": ACCEPT, "max_drafts": settings.cv_max_drafts,
                                             "draft_days": settings.cv_draft_days},
                  status=status, headers=headers)


@router.get("/cv")
def cv_page(request: Request, user: PageUser, db: Db, settings: AppSettings,
            done: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """The upload form and the earlier uploads."""
    notice = gettext(request, "The upload has been deleted.") if done == "deleted" else None  # a fixed key only
    return _list_page(request, user, db, settings, notice=notice)


@router.post("/cv")
def upload(request: Request, user: PageUser, db: Db, settings: AppSettings, workers: CvWorkersDep,
           limiter: Limiter, file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Read an uploaded CV into a draft (as ``POST /api/v1/profiles/me/cv``) and show it."""
    if file is None or not file.filename:
        return _list_page(request, user, db, settings, status=422,
                          error=gettext(request, "Please choose a file to upload."))
    try:
        count_for_user(limiter, "cv_upload", user.id, "uploads")  # the API's user_limit("cv_upload"), in the form
        draft = cv.upload_cv(db, settings, workers, user.id, user.email, file.file)
    except ApiError as exc:
        retry = (exc.headers or {}).get("Retry-After")
        return _list_page(request, user, db, settings, status=exc.status_code,
                          error=_upload_message(request, exc, settings.cv_max_bytes),
                          headers={"Retry-After": retry} if retry else None)
    return RedirectResponse(f"/cv/{draft.id}", status_code=303)


@router.post("/cv/{draft_id}/delete")
def delete(draft_id: str, user: PageUser, db: Db) -> Response:
    """Delete an upload (its anonymised text and draft)."""
    with db.connection() as conn:
        cv.delete_draft(conn, user.id, _draft_id(draft_id))
    return RedirectResponse("/cv?done=deleted", status_code=303)


# ------------------------------------------------------------------ a draft


def _draft_form(draft: CvDraftOut) -> dict[str, Any]:
    """The draft's entries as form values (strings; a date the draft lacks is blank)."""
    entries = []
    for job in draft.draft.get("work_history", []):
        entries.append({name: str(job.get(name) or "") for name in ENTRY_FIELDS} | {"remove": False})
    return {"entries": entries, "skills": "\n".join(str(s) for s in draft.draft.get("skills", [])),
            "summary": "", "replace": False}


def _draft_page(request: Request, draft: CvDraftOut, form: Mapping[str, Any], *,
                errors: Mapping[str, str] | None = None, alert: Sequence[str] = (), status: int = 200) -> Response:
    entries = list(form["entries"])
    if draft.imported_at is None and (not entries or not _blank(entries[-1])):
        entries.append(dict.fromkeys(ENTRY_FIELDS, "") | {"remove": False})  # room for a position the draft missed
    return render(request, "cv/draft.html", {"draft": draft, "form": form, "entries": entries,
                                             "errors": dict(errors or {}), "alert": list(alert)}, status=status)


@router.get("/cv/{draft_id}")
def draft_page(request: Request, draft_id: str, user: PageUser, db: Db) -> Response:
    """The anonymised text beside the parsed draft, every entry editable."""
    with db.connection() as conn:
        draft = cv.get_draft(conn, user.id, _draft_id(draft_id))
    return _draft_page(request, draft, _draft_form(draft))


def _blank(entry: Mapping[str, Any]) -> bool:
    return not any(str(entry[name]).strip() for name in ENTRY_FIELDS)


@router.post("/cv/{draft_id}/import", dependencies=[page_limit("cv_import", "imports")])
def import_draft(request: Request, draft_id: str, user: PageUser, db: Db, classifier: ClassifierDep,
                 title: FormList = [], employer: FormList = [],  # noqa: B006 - FastAPI copies defaults
                 start_date: FormList = [], end_date: FormList = [], description: FormList = [],  # noqa: B006
                 remove: FormList = [],  # noqa: B006
                 skills: Annotated[str, Form(max_length=20_000)] = "",
                 summary: Annotated[str, Form(max_length=20_000)] = "",
                 replace_work_history: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Import the corrected draft into the profile (as ``POST /api/v1/profiles/me/cv/{id}/import``)."""
    uuid = _draft_id(draft_id)
    columns = (title, employer, start_date, end_date, description)
    count = max(len(column) for column in columns)
    removed = set(remove)
    entries: list[dict[str, Any]] = [
        {name: (column[i] if i < len(column) else "") for name, column in zip(ENTRY_FIELDS, columns)}
        | {"remove": str(i) in removed} for i in range(count)]
    form = {"entries": entries, "skills": skills, "summary": summary, "replace": bool(replace_work_history)}
    kept = [i for i, entry in enumerate(entries) if not entry["remove"] and not _blank(entry)]
    body_input = {
        "work_history": [{"title": entries[i]["title"], "employer": entries[i]["employer"].strip() or None,
                          "start_date": entries[i]["start_date"].strip() or None,
                          "end_date": entries[i]["end_date"].strip() or None,
                          "description": entries[i]["description"].strip() or None} for i in kept],
        "skills": split_skills(skills), "summary": summary.strip() or None,
        "replace_work_history": bool(replace_work_history)}
    errors: dict[str, str] = {}
    try:
        body = CvImportRequest.model_validate(body_input)
    except ValidationError as exc:
        for error in exc.errors():
            loc = error.get("loc") or ("",)
            if loc[0] == "work_history" and len(loc) >= 3 and isinstance(loc[1], int):
                key = f"{kept[loc[1]]}-{loc[2]}"
            else:
                key = str(loc[0])
            errors.setdefault(key, error_message(request, error))
        with db.connection() as conn:
            draft = cv.get_draft(conn, user.id, uuid)
        return _draft_page(request, draft, form, errors=errors, status=422,
                           alert=[gettext(request, "Nothing was imported. Please check the marked fields.")])
    try:
        cv.import_draft(db, classifier, user.id, uuid, body)
    except ApiError as exc:
        if exc.status_code != 409:
            raise
        with db.connection() as conn:
            draft = cv.get_draft(conn, user.id, uuid)
        return _draft_page(request, draft, form, status=409,
                           alert=[gettext(request, "This CV has already been imported.")])
    return RedirectResponse("/profile?done=imported", status_code=303)
