"""The job seeker's profile and work history; each work-history title is classified into the catalogue."""

from __future__ import annotations

from typing import Annotated

import psycopg
from fastapi import APIRouter, Path, Response

from ty_resources.classifier import LabelledTitle
from ty_web.deps import ClassifierDep, Conn, CurrentUser
from ty_web.errors import error_responses, field_error, not_found
from ty_web.schemas import ProfessionRef, ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut

router = APIRouter(prefix="/profiles/me", tags=["profiles"], responses=error_responses(503))

BIGINT_MAX = 2**63 - 1
WorkHistoryId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="A work-history entry of yours.")]

PROFILE_SQL = """
SELECT display_name, desired_berufenet_ids, states, levels, skills, summary, email_consent, updated_at
FROM profiles WHERE user_id = %s
"""

WORK_HISTORY_SQL = """
SELECT w.id, w.title, w.employer, w.start_date, w.end_date, w.description, w.source, w.berufenet_id, p.name,
       w.kldb_code, w.label_status, w.label_score, w.created_at, w.updated_at
FROM work_history w LEFT JOIN professions p ON p.berufenet_id = w.berufenet_id
WHERE w.user_id = %s {and_id}
ORDER BY w.start_date DESC, w.id DESC
"""


def profession_refs(conn: psycopg.Connection, ids: list[str]) -> list[ProfessionRef]:
    """The catalogue entries of ``ids``, in their order; unknown ids are left out."""
    if not ids:
        return []
    rows = conn.execute("SELECT berufenet_id, name, kldb_code, level FROM professions WHERE berufenet_id = ANY(%s)",
                        (ids,)).fetchall()
    found = {r[0]: ProfessionRef(berufenet_id=r[0], name=r[1], kldb_code=r[2], level=r[3]) for r in rows}
    return [found[i] for i in ids if i in found]


def load_profile(conn: psycopg.Connection, user_id: int) -> ProfileOut:
    """The stored profile, or the empty one of a user who never saved it."""
    row = conn.execute(PROFILE_SQL, (user_id,)).fetchone()
    if row is None:
        return ProfileOut(display_name=None, desired_berufenet_ids=[], desired_professions=[], states=[], levels=[],
                          skills=[], summary=None, email_consent=False, updated_at=None)
    return ProfileOut(display_name=row[0], desired_berufenet_ids=row[1],
                      desired_professions=profession_refs(conn, row[1]), states=row[2], levels=row[3],
                      skills=row[4], summary=row[5], email_consent=row[6], updated_at=row[7])


def _work_history_out(row: tuple) -> WorkHistoryOut:
    return WorkHistoryOut(id=row[0], title=row[1], employer=row[2], start_date=row[3], end_date=row[4],
                          description=row[5], source=row[6], berufenet_id=row[7], profession_name=row[8],
                          kldb_code=row[9], label_status=row[10], label_score=row[11], created_at=row[12],
                          updated_at=row[13])


def list_work_history(conn: psycopg.Connection, user_id: int) -> list[WorkHistoryOut]:
    return [_work_history_out(r) for r in conn.execute(WORK_HISTORY_SQL.format(and_id=""), (user_id,))]


def get_work_history(conn: psycopg.Connection, user_id: int, entry_id: int) -> WorkHistoryOut | None:
    row = conn.execute(WORK_HISTORY_SQL.format(and_id="AND w.id = %s"), (user_id, entry_id)).fetchone()
    return _work_history_out(row) if row else None


def add_work_history(conn: psycopg.Connection, user_id: int, entry: WorkHistoryIn, label: LabelledTitle,
                     source: str = "manual") -> int:
    """Insert one entry with its label (inside the caller's transaction); its id. Also used by the CV import."""
    return conn.execute(
        "INSERT INTO work_history (user_id, title, employer, start_date, end_date, description, source,"
        " berufenet_id, kldb_code, label_status, label_score)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (user_id, entry.title, entry.employer, entry.start_date, entry.end_date, entry.description, source,
         label.berufenet_id, label.kldb_code, label.status, label.score),
    ).fetchone()[0]


@router.get("", response_model=ProfileOut, responses=error_responses(401))
def get_profile(user: CurrentUser, conn: Conn) -> ProfileOut:
    """Your profile (empty until saved)."""
    return load_profile(conn, user.id)


@router.put("", response_model=ProfileOut, responses=error_responses(401, 403, 413, 422))
def put_profile(body: ProfileIn, user: CurrentUser, conn: Conn) -> ProfileOut:
    """Replace your profile. Desired professions are BERUFENET ids of the catalogue; states are the 16 Länder
    or `Ausland`; levels 1-4."""
    known = {ref.berufenet_id for ref in profession_refs(conn, body.desired_berufenet_ids)}
    unknown = [i for i in body.desired_berufenet_ids if i not in known]
    if unknown:
        raise field_error("body.desired_berufenet_ids", f"not in the catalogue: {', '.join(unknown)}")
    conn.execute(
        """
        INSERT INTO profiles (user_id, display_name, desired_berufenet_ids, states, levels, skills, summary,
                              email_consent, updated_at)
        VALUES (%(user)s, %(display_name)s, %(desired)s, %(states)s, %(levels)s::smallint[], %(skills)s,
                %(summary)s, %(consent)s, now())
        ON CONFLICT (user_id) DO UPDATE SET
            display_name = EXCLUDED.display_name, desired_berufenet_ids = EXCLUDED.desired_berufenet_ids,
            states = EXCLUDED.states, levels = EXCLUDED.levels, skills = EXCLUDED.skills,
            summary = EXCLUDED.summary, email_consent = EXCLUDED.email_consent, updated_at = now()
        """,
        {"user": user.id, "display_name": body.display_name, "desired": body.desired_berufenet_ids,
         "states": list(body.states), "levels": body.levels, "skills": body.skills, "summary": body.summary,
         "consent": body.email_consent},
    )
    return load_profile(conn, user.id)


@router.get("/work-history", response_model=list[WorkHistoryOut], responses=error_responses(401))
def list_entries(user: CurrentUser, conn: Conn) -> list[WorkHistoryOut]:
    """Your work history, most recent first."""
    return list_work_history(conn, user.id)


@router.post("/work-history", status_code=201, response_model=WorkHistoryOut,
             responses=error_responses(401, 403, 413, 422))
def add_entry(body: WorkHistoryIn, user: CurrentUser, conn: Conn, classifier: ClassifierDep) -> WorkHistoryOut:
    """Add a position; its title is classified into the catalogue (`berufenet_id`, `label_status`)."""
    label = classifier.classify(conn, [body.title])[0]
    entry_id = add_work_history(conn, user.id, body, label)
    entry = get_work_history(conn, user.id, entry_id)
    assert entry is not None
    return entry


@router.put("/work-history/{entry_id}", response_model=WorkHistoryOut,
            responses=error_responses(401, 403, 404, 413, 422))
def update_entry(entry_id: WorkHistoryId, body: WorkHistoryIn, user: CurrentUser, conn: Conn,
                 classifier: ClassifierDep) -> WorkHistoryOut:
    """Replace one of your positions (classified again)."""
    if conn.execute("SELECT 1 FROM work_history WHERE id = %s AND user_id = %s FOR UPDATE",
                    (entry_id, user.id)).fetchone() is None:
        raise not_found("work-history entry")
    label = classifier.classify(conn, [body.title])[0]
    conn.execute(
        "UPDATE work_history SET title = %s, employer = %s, start_date = %s, end_date = %s, description = %s,"
        " berufenet_id = %s, kldb_code = %s, label_status = %s, label_score = %s, updated_at = now()"
        " WHERE id = %s AND user_id = %s",
        (body.title, body.employer, body.start_date, body.end_date, body.description, label.berufenet_id,
         label.kldb_code, label.status, label.score, entry_id, user.id),
    )
    entry = get_work_history(conn, user.id, entry_id)
    assert entry is not None
    return entry


@router.delete("/work-history/{entry_id}", status_code=204, response_class=Response,
               responses=error_responses(401, 403, 404, 422))
def delete_entry(entry_id: WorkHistoryId, user: CurrentUser, conn: Conn) -> Response:
    """Delete one of your positions."""
    if conn.execute("DELETE FROM work_history WHERE id = %s AND user_id = %s", (entry_id, user.id)).rowcount == 0:
        raise not_found("work-history entry")
    return Response(status_code=204)
