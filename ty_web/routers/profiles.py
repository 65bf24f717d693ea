"""The job seeker's profile and work history; each work-history title is classified into the catalogue (the rules:
:mod:`ty_web.services.profiles`, which the profile page calls too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ty_web.deps import ClassifierDep, Conn, CurrentUser, Db, user_limit
from ty_web.errors import error_responses
from ty_web.queries.profiles import ProfileQueries
from ty_web.schemas import ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut
from ty_web.services import profiles

router = APIRouter(prefix="/profiles/me", tags=["profiles"], responses=error_responses(503))

BIGINT_MAX = 2**63 - 1
WorkHistoryId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="A work-history entry of yours.")]


@router.get("", response_model=ProfileOut, responses=error_responses(401))
def get_profile(user: CurrentUser, conn: Conn) -> ProfileOut:
    """Your profile (empty until saved)."""
    return ProfileQueries(conn, user.id).profile()


@router.put("", response_model=ProfileOut, responses=error_responses(401, 403, 413, 422))
def put_profile(body: ProfileIn, user: CurrentUser, conn: Conn) -> ProfileOut:
    """Replace your profile. Desired professions are BERUFENET ids of the catalogue; states are the 16 Länder
    or `Ausland`; levels 1-4."""
    return profiles.save_profile(conn, user.id, body)


@router.get("/work-history", response_model=list[WorkHistoryOut], responses=error_responses(401))
def list_entries(user: CurrentUser, conn: Conn) -> list[WorkHistoryOut]:
    """Your work history, most recent first."""
    return ProfileQueries(conn, user.id).work_history()


@router.post("/work-history", status_code=201, response_model=WorkHistoryOut,
             responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[user_limit("work_history", "work-history changes")])
def add_entry(body: WorkHistoryIn, user: CurrentUser, db: Db, classifier: ClassifierDep) -> WorkHistoryOut:
    """Add a position; its title is classified into the catalogue (`berufenet_id`, `label_status`)."""
    return profiles.add_work_history(db, classifier, user.id, body)


@router.put("/work-history/{entry_id}", response_model=WorkHistoryOut,
            responses=error_responses(401, 403, 404, 413, 422, 429),
            dependencies=[user_limit("work_history", "work-history changes")])
def update_entry(entry_id: WorkHistoryId, body: WorkHistoryIn, user: CurrentUser, db: Db,
                 classifier: ClassifierDep) -> WorkHistoryOut:
    """Replace one of your positions (classified again)."""
    return profiles.update_work_history(db, classifier, user.id, entry_id, body)


@router.delete("/work-history/{entry_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_entry(entry_id: WorkHistoryId, user: CurrentUser, conn: Conn) -> Response:
    """Delete one of your positions."""
    profiles.delete_work_history(conn, user.id, entry_id)
    return Response(status_code=204)
