"""The job seeker's profile and work history; each work-history title is classified into the catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ty_web.deps import ClassifierDep, Conn, CurrentUser, Db, user_limit
from ty_web.errors import error_responses, field_error, not_found
from ty_web.queries.profiles import ProfileQueries, profession_refs
from ty_web.schemas import ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut

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
    known = {ref.berufenet_id for ref in profession_refs(conn, body.desired_berufenet_ids)}
    unknown = [i for i in body.desired_berufenet_ids if i not in known]
    if unknown:
        raise field_error("body.desired_berufenet_ids", f"not in the catalogue: {', '.join(unknown)}")
    profiles = ProfileQueries(conn, user.id)
    profiles.save(body)
    return profiles.profile()


@router.get("/work-history", response_model=list[WorkHistoryOut], responses=error_responses(401))
def list_entries(user: CurrentUser, conn: Conn) -> list[WorkHistoryOut]:
    """Your work history, most recent first."""
    return ProfileQueries(conn, user.id).work_history()


@router.post("/work-history", status_code=201, response_model=WorkHistoryOut,
             responses=error_responses(401, 403, 413, 422, 429),
             dependencies=[user_limit("work_history", "work-history changes")])
def add_entry(body: WorkHistoryIn, user: CurrentUser, db: Db, classifier: ClassifierDep) -> WorkHistoryOut:
    """Add a position; its title is classified into the catalogue (`berufenet_id`, `label_status`)."""
    label = classifier.classify(db, [body.title])[0]  # no connection held meanwhile: it may ask the LLM
    with db.connection() as conn:
        profiles = ProfileQueries(conn, user.id)
        entry = profiles.work_history_entry(profiles.add_work_history(body, label))
    assert entry is not None
    return entry


@router.put("/work-history/{entry_id}", response_model=WorkHistoryOut,
            responses=error_responses(401, 403, 404, 413, 422, 429),
            dependencies=[user_limit("work_history", "work-history changes")])
def update_entry(entry_id: WorkHistoryId, body: WorkHistoryIn, user: CurrentUser, db: Db,
                 classifier: ClassifierDep) -> WorkHistoryOut:
    """Replace one of your positions (classified again)."""
    with db.connection() as conn:
        if ProfileQueries(conn, user.id).work_history_entry(entry_id) is None:
            raise not_found("work-history entry")
    label = classifier.classify(db, [body.title])[0]
    with db.connection() as conn:
        profiles = ProfileQueries(conn, user.id)
        if not profiles.lock_work_history_entry(entry_id):  # deleted meanwhile
            raise not_found("work-history entry")
        profiles.update_work_history(entry_id, body, label)
        entry = profiles.work_history_entry(entry_id)
    assert entry is not None
    return entry


@router.delete("/work-history/{entry_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_entry(entry_id: WorkHistoryId, user: CurrentUser, conn: Conn) -> Response:
    """Delete one of your positions."""
    if not ProfileQueries(conn, user.id).delete_work_history(entry_id):
        raise not_found("work-history entry")
    return Response(status_code=204)
