"""A user's profile and work history (each entry with its title's label), and the catalogue entries of the
professions a profile names."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ty_resources.classifier import LabelledTitle
from ty_resources.sqlfiles import sql_file
from ty_web.queries import UserQueries, fetch_all
from ty_web.schemas import ProfessionRef, ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut

WORK_HISTORY_SQL = sql_file(__file__, "profiles_work_history.sql")
SAVE_PROFILE_SQL = sql_file(__file__, "profiles_save.sql")

PROFILE_SQL = """
SELECT display_name, desired_berufenet_ids, states, levels, skills, summary, email_consent, updated_at
FROM profiles WHERE user_id = %(user_id)s
"""


def profession_refs(conn: psycopg.Connection, ids: Sequence[str]) -> list[ProfessionRef]:
    """The catalogue entries of ``ids``, in their order; unknown ids are left out."""
    if not ids:
        return []
    found = {ref.berufenet_id: ref for ref in fetch_all(
        conn, "SELECT berufenet_id, name, kldb_code, level FROM professions WHERE berufenet_id = ANY(%(ids)s)",
        {"ids": list(ids)}, into=ProfessionRef)}
    return [found[i] for i in ids if i in found]


class ProfileQueries(UserQueries):
    """One user's profile and work history."""

    def profile(self) -> ProfileOut:
        """The stored profile, or the empty one of a user who never saved it."""
        row = self.fetch_one(PROFILE_SQL)
        if row is None:
            return ProfileOut(display_name=None, desired_berufenet_ids=[], desired_professions=[], states=[],
                              levels=[], skills=[], summary=None, email_consent=False, updated_at=None)
        return ProfileOut(**row, desired_professions=profession_refs(self.conn, row["desired_berufenet_ids"]))

    def save(self, profile: ProfileIn) -> None:
        """Replace the profile with ``profile``."""
        self.execute(SAVE_PROFILE_SQL, {
            "display_name": profile.display_name, "desired": profile.desired_berufenet_ids,
            "states": list(profile.states), "levels": profile.levels, "skills": profile.skills,
            "summary": profile.summary, "consent": profile.email_consent,
        })

    def save_skills(self, skills: list[str], summary: str | None) -> None:
        """Set the skills, and the summary unless ``summary`` is None; the rest of the profile stays."""
        self.execute("INSERT INTO profiles (user_id, skills, summary, updated_at)"
                     " VALUES (%(user_id)s, %(skills)s, %(summary)s, now())"
                     " ON CONFLICT (user_id) DO UPDATE SET skills = EXCLUDED.skills,"
                     " summary = coalesce(EXCLUDED.summary, profiles.summary), updated_at = now()",
                     {"skills": skills, "summary": summary})

    def work_history(self) -> list[WorkHistoryOut]:
        """The work history, most recent first."""
        return self.fetch_all(WORK_HISTORY_SQL + "ORDER BY w.start_date DESC, w.id DESC", into=WorkHistoryOut)

    def work_history_entry(self, entry_id: int) -> WorkHistoryOut | None:
        return self.fetch_one(WORK_HISTORY_SQL + "AND w.id = %(id)s", {"id": entry_id}, into=WorkHistoryOut)

    def lock_work_history_entry(self, entry_id: int) -> bool:
        """Lock the entry until the transaction ends; False when the user has no such entry."""
        return self.fetch_one("SELECT 1 AS found FROM work_history WHERE id = %(id)s AND user_id = %(user_id)s"
                              " FOR UPDATE", {"id": entry_id}) is not None

    def add_work_history(self, entry: WorkHistoryIn, label: LabelledTitle, source: str = "manual") -> int:
        """Insert one entry with its title's label; its id."""
        return self.fetch_one(
            "INSERT INTO work_history (user_id, title, employer, start_date, end_date, description, source,"
            " berufenet_id, kldb_code, label_status, label_score)"
            " VALUES (%(user_id)s, %(title)s, %(employer)s, %(start_date)s, %(end_date)s, %(description)s,"
            " %(source)s, %(berufenet_id)s, %(kldb_code)s, %(status)s, %(score)s) RETURNING id",
            {**_entry_params(entry, label), "source": source},
        )["id"]

    def update_work_history(self, entry_id: int, entry: WorkHistoryIn, label: LabelledTitle) -> None:
        """Replace one entry and its title's label (its source stays)."""
        self.execute(
            "UPDATE work_history SET title = %(title)s, employer = %(employer)s, start_date = %(start_date)s,"
            " end_date = %(end_date)s, description = %(description)s, berufenet_id = %(berufenet_id)s,"
            " kldb_code = %(kldb_code)s, label_status = %(status)s, label_score = %(score)s, updated_at = now()"
            " WHERE id = %(id)s AND user_id = %(user_id)s",
            {**_entry_params(entry, label), "id": entry_id},
        )

    def delete_work_history(self, entry_id: int) -> bool:
        """Delete one entry; False when the user has no such entry."""
        return self.execute("DELETE FROM work_history WHERE id = %(id)s AND user_id = %(user_id)s",
                            {"id": entry_id}).rowcount > 0

    def delete_cv_work_history(self) -> None:
        """Delete the entries imported from a CV (manual ones stay)."""
        self.execute("DELETE FROM work_history WHERE user_id = %(user_id)s AND source = 'cv'")


def _entry_params(entry: WorkHistoryIn, label: LabelledTitle) -> dict[str, object]:
    return {"title": entry.title, "employer": entry.employer, "start_date": entry.start_date,
            "end_date": entry.end_date, "description": entry.description, "berufenet_id": label.berufenet_id,
            "kldb_code": label.kldb_code, "status": label.status, "score": label.score}
