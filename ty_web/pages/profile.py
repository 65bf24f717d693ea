"""The profile page: desired professions (search-as-you-type over the classifier's profession search), Länder,
levels, skills, summary; and the work history (list, add, edit, delete).

Every rule is the API's: the profile is validated with :class:`ty_web.schemas.ProfileIn` and saved by
:func:`ty_web.services.profiles.save_profile` (unknown BERUFENET ids refused), work-history entries are
validated with :class:`ty_web.schemas.WorkHistoryIn` and classified by :mod:`ty_web.services.profiles` under the
API's ``work_history`` rate limit, the search is :func:`ty_web.services.professions.search_professions` under
the API's ``search`` limit per client address. Forms post and redirect (303) to ``/profile?done=<key>``; invalid
input shows the form again (422) with a message next to each field.

Routes: ``GET/POST /profile``; ``GET /profile/professions?q=`` (htmx: the candidates as a fragment; without
htmx, ``/profile?q=``); ``POST /profile/professions`` (add one), ``POST /profile/professions/{id}/delete``;
``POST /profile/work-history``; ``GET/POST /profile/work-history/{id}``, ``POST /profile/work-history/{id}/delete``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from ty_resources.germany import PROFILE_STATES
from ty_web.deps import ClassifierDep, ClientAddress, Db, Limiter
from ty_web.errors import ApiError
from ty_web.market_schemas import ProfessionSearch
from ty_web.pages.render import gettext, render
from ty_web.pages.session import PageUser, page_limit, page_router
from ty_web.queries.profiles import ProfileQueries
from ty_web.schemas import ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut
from ty_web.services import profiles
from ty_web.services.professions import QUERY_MAX_CHARS, search_professions

router = page_router()

BIGINT_MAX = 2**63 - 1
EntryId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
BerufenetIdPath = Annotated[str, Path(max_length=20)]
# Form fields are bounded generously here; the API's models judge them (and say so next to the field).
FormText = Annotated[str, Form(max_length=20_000)]
FormList = Annotated[list[str], Form(max_length=100)]
SEARCH_LIMIT = 10
LEVELS = (1, 2, 3, 4)
ENTRY_FIELDS = ("title", "employer", "start_date", "end_date", "description")





def _notice(request: Request, done: str | None) -> str | None:
    """The notice of ``?done=<key>`` (a fixed key: nothing of the URL is shown)."""
    notices = {
        "saved": gettext(request, "Your profile has been saved."),
        "imported": gettext(request, "Your CV has been imported into your profile."),
        "profession-added": gettext(request, "The profession has been added."),
        "profession-removed": gettext(request, "The profession has been removed."),
        "entry-added": gettext(request, "The position has been added."),
        "entry-saved": gettext(request, "The position has been saved."),
        "entry-deleted": gettext(request, "The position has been deleted."),
    }
    return notices.get(done or "")


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# ------------------------------------------------------------------ messages for invalid input


def error_message(request: Request, error: Mapping[str, Any]) -> str:
    """A pydantic error (of the API's request models) in the user's language; never the input itself."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    message = str(error.get("msg", ""))
    if kind in ("missing", "string_too_short") or error.get("input") is None:
        return gettext(request, "Please fill in this field.")
    if kind == "string_too_long":
        return gettext(request, "At most %(n)s characters.", n=ctx.get("max_length", "?"))
    if kind == "too_long":
        return gettext(request, "At most %(n)s entries.", n=ctx.get("max_length", "?"))
    if kind.startswith("date") or (kind in ("greater_than_equal", "less_than_equal")
                                   and "date" in str(error.get("loc", ""))):
        return gettext(request, "Enter a date between 1900 and 2100.")
    if kind == "string_pattern_mismatch":
        return gettext(request, "This is not a profession of the catalogue.")
    if "before start_date" in message:
        return gettext(request, "The end is before the start.")
    if "control characters" in message:
        return gettext(request, "Control characters are not allowed.")
    if "surrogates" in message:
        return gettext(request, "This text holds characters that cannot be stored.")
    if kind in ("literal_error", "int_parsing", "greater_than_equal", "less_than_equal", "int_type"):
        return gettext(request, "Please choose from the list.")
    return gettext(request, "This value is not valid.")


def field_errors(request: Request, exc: ValidationError) -> dict[str, str]:
    """``{field: message}`` for the form (the first message of each top-level field)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("",)
        found.setdefault(str(loc[0]), error_message(request, error))
    return found


def api_field_errors(request: Request, exc: ApiError) -> dict[str, str]:
    """The fields a service's 422 names (``body.desired_berufenet_ids``), with a translated message."""
    found: dict[str, str] = {}
    for field in exc.fields or []:
        name = field.field.split(".")[1] if field.field.count(".") else field.field
        found.setdefault(name, gettext(request, "This is not a profession of the catalogue.")
                         if name == "desired_berufenet_ids" else gettext(request, "This value is not valid."))
    return found


def split_skills(text: str) -> list[str]:
    """Skills as typed: one per line or separated by commas; blanks dropped."""
    return [part.strip() for part in re.split(r"[\n,;]", text) if part.strip()]


# ------------------------------------------------------------------ the page


def _profile_form(profile: ProfileOut) -> dict[str, Any]:
    return {"display_name": profile.display_name or "", "states": list(profile.states),
            "levels": [str(level) for level in profile.levels], "skills": "\n".join(profile.skills),
            "summary": profile.summary or ""}


def _empty_entry() -> dict[str, str]:
    return dict.fromkeys(ENTRY_FIELDS, "")


def _search(request: Request, db: Any, classifier: ClassifierDep, limiter: Limiter, address: str,
            q: str) -> tuple[ProfessionSearch | None, str | None]:
    """The search's result, or the message why there is none. Counts against the API's ``search`` limit of the
    client address (as ``GET /api/v1/professions/search``)."""
    if len(q) > QUERY_MAX_CHARS:
        return None, gettext(request, "At most %(n)s characters.", n=QUERY_MAX_CHARS)
    try:
        limiter.check("search", f"addr:{address}", "searches")
        return search_professions(db, classifier, q, limit=SEARCH_LIMIT), None
    except ApiError as exc:
        if exc.status_code == 429:
            return None, gettext(request, "Too many searches. Please wait a moment and try again.")
        return None, gettext(request, "Please enter a job title to search for.")


def _page(request: Request, user: PageUser, db: Any, *, profile: ProfileOut | None = None,
          form: dict[str, Any] | None = None, errors: Mapping[str, str] | None = None,
          entry: dict[str, str] | None = None, entry_errors: Mapping[str, str] | None = None,
          q: str = "", search: ProfessionSearch | None = None, search_error: str | None = None,
          alert: Sequence[str] = (), notice: str | None = None, status: int = 200,
          headers: Mapping[str, str] | None = None) -> Response:
    with db.connection() as conn:
        queries = ProfileQueries(conn, user.id)
        stored = queries.profile()
        entries = queries.work_history()
    profile = profile or stored
    return render(request, "profile/index.html", {
        "profile": stored, "form": form or _profile_form(profile), "errors": dict(errors or {}),
        "entries": entries, "entry": entry or _empty_entry(), "entry_errors": dict(entry_errors or {}),
        "q": q, "search": search, "search_error": search_error,
        "desired_ids": set(stored.desired_berufenet_ids), "states": PROFILE_STATES, "levels": LEVELS,
        "alert": list(alert), "notice": notice,
    }, status=status, headers=headers)


@router.get("/profile")
def profile_page(request: Request, user: PageUser, db: Db, classifier: ClassifierDep, limiter: Limiter,
                 address: ClientAddress, done: Annotated[str | None, Query(max_length=40)] = None,
                 q: Annotated[str | None, Query(max_length=1000)] = None) -> Response:
    """The profile and the work history; with ``q`` the professions found for it, each to add."""
    search, search_error = (None, None)
    if q is not None:
        search, search_error = _search(request, db, classifier, limiter, address, q)
    return _page(request, user, db, q=q or "", search=search, search_error=search_error,
                 notice=_notice(request, done))


@router.get("/profile/professions")
def profession_candidates(request: Request, user: PageUser, db: Db, classifier: ClassifierDep, limiter: Limiter,
                          address: ClientAddress, q: Annotated[str, Query(max_length=1000)] = "") -> Response:
    """htmx: the professions found for ``q`` as a fragment (each with an "add" button); without htmx the profile
    page with them."""
    if request.headers.get("hx-request") != "true":
        return _redirect("/profile?" + urlencode({"q": q}) + "#professions")
    search, search_error = (None, None)
    if q.strip():
        search, search_error = _search(request, db, classifier, limiter, address, q)
    with db.connection() as conn:
        desired = set(ProfileQueries(conn, user.id).profile().desired_berufenet_ids)
    return render(request, "profile/_candidates.html",
                  {"search": search, "search_error": search_error, "desired_ids": desired})


def _stored_input(profile: ProfileOut, **changes: Any) -> dict[str, Any]:
    """The stored profile as the API's input, with ``changes``."""
    return {"display_name": profile.display_name, "desired_berufenet_ids": list(profile.desired_berufenet_ids),
            "states": list(profile.states), "levels": list(profile.levels), "skills": list(profile.skills),
            "summary": profile.summary, "email_consent": profile.email_consent, **changes}


@router.post("/profile")
def save_profile(request: Request, user: PageUser, db: Db, display_name: FormText = "",
                 states: FormList = [], levels: FormList = [],  # noqa: B006 - FastAPI copies defaults
                 skills: FormText = "", summary: FormText = "") -> Response:
    """Save the profile's details (the desired professions stay as they are: they have buttons of their own)."""
    form = {"display_name": display_name, "states": states, "levels": levels, "skills": skills, "summary": summary}
    with db.connection() as conn:
        stored = ProfileQueries(conn, user.id).profile()
        try:
            body = ProfileIn.model_validate(_stored_input(
                stored, display_name=display_name.strip() or None, states=states, levels=levels,
                skills=split_skills(skills), summary=summary.strip() or None))
            profiles.save_profile(conn, user.id, body)
        except ValidationError as exc:
            errors = field_errors(request, exc)
        except ApiError as exc:
            if exc.status_code != 422:
                raise
            errors = api_field_errors(request, exc)
        else:
            return _redirect("/profile?done=saved")
    return _page(request, user, db, form=form, errors=errors, status=422,
                 alert=[gettext(request, "Your profile was not saved. Please check the marked fields.")])


def _change_professions(request: Request, user: PageUser, db: Db, change: Any, done: str) -> Response:
    with db.connection() as conn:
        stored = ProfileQueries(conn, user.id).profile()
        try:
            body = ProfileIn.model_validate(_stored_input(
                stored, desired_berufenet_ids=change(list(stored.desired_berufenet_ids))))
            profiles.save_profile(conn, user.id, body)
        except ValidationError as exc:
            kinds = {error.get("type") for error in exc.errors()}
            message = (gettext(request, "At most %(n)s professions.", n=20) if "too_long" in kinds
                       else gettext(request, "This is not a profession of the catalogue."))
        except ApiError as exc:
            if exc.status_code != 422:
                raise
            message = gettext(request, "This is not a profession of the catalogue.")
        else:
            return _redirect(f"/profile?done={done}#professions")
    return _page(request, user, db, errors={"desired_berufenet_ids": message}, status=422, alert=[message])


@router.post("/profile/professions")
def add_profession(request: Request, user: PageUser, db: Db,
                   berufenet_id: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Add a profession (a candidate of the search) to the desired ones."""
    return _change_professions(request, user, db, lambda ids: [*ids, berufenet_id.strip()], "profession-added")


@router.post("/profile/professions/{berufenet_id}/delete")
def remove_profession(request: Request, user: PageUser, db: Db, berufenet_id: BerufenetIdPath) -> Response:
    """Remove one of the desired professions."""
    return _change_professions(request, user, db, lambda ids: [i for i in ids if i != berufenet_id],
                               "profession-removed")


# ------------------------------------------------------------------ work history


def _entry_input(form: Mapping[str, str]) -> dict[str, Any]:
    """The form's entry as the API's input: blank optional fields are None (a blank date is "missing")."""
    values: dict[str, Any] = {"title": form["title"], "start_date": form["start_date"].strip() or None}
    for name in ("employer", "end_date", "description"):
        values[name] = form[name].strip() or None
    return values


def _entry_form(entry: WorkHistoryOut) -> dict[str, str]:
    return {"title": entry.title, "employer": entry.employer or "", "start_date": entry.start_date.isoformat(),
            "end_date": entry.end_date.isoformat() if entry.end_date else "", "description": entry.description or ""}


def _entry_failed(request: Request, exc: ValidationError) -> tuple[dict[str, str], list[str]]:
    message = gettext(request, "The position was not saved. Please check the marked fields.")
    return field_errors(request, exc), [message]


EntryForm = Annotated[str, Form(max_length=20_000)]


@router.post("/profile/work-history", dependencies=[page_limit("work_history", "work-history changes")])
def add_entry(request: Request, user: PageUser, db: Db, classifier: ClassifierDep, title: EntryForm = "",
              employer: EntryForm = "", start_date: EntryForm = "", end_date: EntryForm = "",
              description: EntryForm = "") -> Response:
    """Add a position; its title is classified (no connection held meanwhile)."""
    form = {"title": title, "employer": employer, "start_date": start_date, "end_date": end_date,
            "description": description}
    try:
        body = WorkHistoryIn.model_validate(_entry_input(form))
    except ValidationError as exc:
        errors, alert = _entry_failed(request, exc)
        return _page(request, user, db, entry=form, entry_errors=errors, alert=alert, status=422)
    profiles.add_work_history(db, classifier, user.id, body)
    return _redirect("/profile?done=entry-added#work-history")


def _entry_page(request: Request, entry_id: int, form: Mapping[str, str], *, errors: Mapping[str, str] | None = None,
                alert: Sequence[str] = (), status: int = 200) -> Response:
    return render(request, "profile/entry.html", {"entry_id": entry_id, "entry": dict(form),
                                                  "entry_errors": dict(errors or {}), "alert": list(alert)},
                  status=status)


@router.get("/profile/work-history/{entry_id}")
def entry_page(request: Request, entry_id: EntryId, user: PageUser, db: Db) -> Response:
    """One position to edit (or delete)."""
    with db.connection() as conn:
        entry = profiles.work_history_entry(conn, user.id, entry_id)
    return _entry_page(request, entry_id, _entry_form(entry))


@router.post("/profile/work-history/{entry_id}", dependencies=[page_limit("work_history", "work-history changes")])
def update_entry(request: Request, entry_id: EntryId, user: PageUser, db: Db, classifier: ClassifierDep,
                 title: EntryForm = "", employer: EntryForm = "", start_date: EntryForm = "",
                 end_date: EntryForm = "", description: EntryForm = "") -> Response:
    """Save an edited position (its title classified again)."""
    form = {"title": title, "employer": employer, "start_date": start_date, "end_date": end_date,
            "description": description}
    try:
        body = WorkHistoryIn.model_validate(_entry_input(form))
    except ValidationError as exc:
        with db.connection() as conn:
            profiles.work_history_entry(conn, user.id, entry_id)  # someone else's: 404, not a form
        errors, alert = _entry_failed(request, exc)
        return _entry_page(request, entry_id, form, errors=errors, alert=alert, status=422)
    profiles.update_work_history(db, classifier, user.id, entry_id, body)
    return _redirect("/profile?done=entry-saved#work-history")


@router.post("/profile/work-history/{entry_id}/delete")
def delete_entry(entry_id: EntryId, user: PageUser, db: Db) -> Response:
    """Delete a position."""
    with db.connection() as conn:
        profiles.delete_work_history(conn, user.id, entry_id)
    return _redirect("/profile?done=entry-deleted#work-history")
