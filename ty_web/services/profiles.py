"""The job seeker's profile and work history: the rules behind ``/api/v1/profiles/me`` and the profile page.

- :func:`save_profile` replaces the profile; desired professions must be BERUFENET ids of the catalogue (422
  on ``body.desired_berufenet_ids`` otherwise).
- :func:`add_work_history` / :func:`update_work_history` classify the entry's title with the app's classifier
  (which may ask the LLM: no connection is held meanwhile) and store it with its label;
  :func:`delete_work_history` removes one. Another user's entry is unknown (404).
"""

from __future__ import annotations

import psycopg

from ty_resources.database import Database
from ty_web.classify import AppClassifier
from ty_web.errors import field_error, not_found
from ty_web.queries.profiles import ProfileQueries, profession_refs
from ty_web.schemas import ProfileIn, ProfileOut, WorkHistoryIn, WorkHistoryOut


def save_profile(conn: psycopg.Connection, user_id: int, body: ProfileIn) -> ProfileOut:
    """Replace the user's profile with ``body``; the stored profile. 422 for ids not in the catalogue."""
    known = {ref.berufenet_id for ref in profession_refs(conn, body.desired_berufenet_ids)}
    unknown = [i for i in body.desired_berufenet_ids if i not in known]
    if unknown:
        raise field_error("body.desired_berufenet_ids", f"not in the catalogue: {', '.join(unknown)}")
    profiles = ProfileQueries(conn, user_id)
    profiles.save(body)
    return profiles.profile()


def add_work_history(db: Database, classifier: AppClassifier, user_id: int, body: WorkHistoryIn) -> WorkHistoryOut:
    """Add a position with its title's label."""
    label = classifier.classify(db, [body.title])[0]  # no connection held meanwhile: it may ask the LLM
    with db.connection() as conn:
        profiles = ProfileQueries(conn, user_id)
        entry = profiles.work_history_entry(profiles.add_work_history(body, label))
    assert entry is not None
    return entry


def work_history_entry(conn: psycopg.Connection, user_id: int, entry_id: int) -> WorkHistoryOut:
    """One of the user's positions (404 when they have no such entry)."""
    entry = ProfileQueries(conn, user_id).work_history_entry(entry_id)
    if entry is None:
        raise not_found("work-history entry")
    return entry


def update_work_history(db: Database, classifier: AppClassifier, user_id: int, entry_id: int,
                        body: WorkHistoryIn) -> WorkHistoryOut:
    """Replace one of the user's positions (its title classified again); 404 when there is no such entry, or it
    was deleted while the title was being classified."""
    with db.connection() as conn:
        work_history_entry(conn, user_id, entry_id)
    label = classifier.classify(db, [body.title])[0]
    with db.connection() as conn:
        profiles = ProfileQueries(conn, user_id)
        if not profiles.lock_work_history_entry(entry_id):  # deleted meanwhile
            raise not_found("work-history entry")
        profiles.update_work_history(entry_id, body, label)
        entry = profiles.work_history_entry(entry_id)
    assert entry is not None
    return entry


def delete_work_history(conn: psycopg.Connection, user_id: int, entry_id: int) -> None:
    """Delete one of the user's positions (404 when there is no such entry)."""
    if not ProfileQueries(conn, user_id).delete_work_history(entry_id):
        raise not_found("work-history entry")
