"""A user's CV drafts (``cv_drafts``): the anonymised text of an upload and the draft parsed from it, never the
file. A draft row has ``id``, ``kind`` (what the upload was: pdf, docx, text), ``anonymised_text``,
``draft``, ``created_at`` and ``imported_at`` (None until imported)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from ty_web.queries import Row, UserQueries

DRAFT_COLUMNS = "id, filename_kind AS kind, anonymised_text, draft, created_at, imported_at"


class CvQueries(UserQueries):
    """One user's CV drafts."""

    def add_draft(self, kind: str, anonymised_text: str, draft: dict[str, Any]) -> Row:
        return self.fetch_one(
            "INSERT INTO cv_drafts (user_id, filename_kind, anonymised_text, draft)"
            f" VALUES (%(user_id)s, %(kind)s, %(text)s, %(draft)s) RETURNING {DRAFT_COLUMNS}",
            {"kind": kind, "text": anonymised_text, "draft": Jsonb(draft)},
        )

    def draft(self, draft_id: UUID, *, lock: bool = False) -> Row | None:
        """The draft, locked until the transaction ends with ``lock``; None when the user has no such draft."""
        return self.fetch_one(f"SELECT {DRAFT_COLUMNS} FROM cv_drafts WHERE id = %(id)s AND user_id = %(user_id)s"
                              + (" FOR UPDATE" if lock else ""), {"id": draft_id})

    def drafts(self) -> list[Row]:
        """The user's drafts, newest first, without their text."""
        return self.fetch_all("SELECT id, filename_kind AS kind, created_at, imported_at FROM cv_drafts"
                              " WHERE user_id = %(user_id)s ORDER BY created_at DESC, id")

    def delete_draft(self, draft_id: UUID) -> bool:
        """Delete the draft; False when the user has no such draft."""
        return self.execute("DELETE FROM cv_drafts WHERE id = %(id)s AND user_id = %(user_id)s",
                            {"id": draft_id}).rowcount > 0

    def prune(self, keep: int, days: int) -> int:
        """Delete the drafts older than ``days`` and all but the newest ``keep``; how many went."""
        return self.execute(
            "DELETE FROM cv_drafts WHERE user_id = %(user_id)s"
            " AND (created_at < now() - make_interval(days => %(days)s) OR id NOT IN"
            " (SELECT id FROM cv_drafts WHERE user_id = %(user_id)s ORDER BY created_at DESC, id LIMIT %(keep)s))",
            {"keep": keep, "days": days}).rowcount

    def mark_imported(self, draft_id: UUID) -> None:
        self.execute("UPDATE cv_drafts SET imported_at = now() WHERE id = %(id)s AND user_id = %(user_id)s",
                     {"id": draft_id})
