"""The postings' summaries as the API and the pages show them: read with
:func:`ty_resources.summary_store.shown_summaries` (one query for a page of postings), the LLM's summary when an
LLM is configured and it made one, else the extractive one.

The texts come from the postings (and an LLM): each is cleaned to one line of plain text
(:func:`ty_web.cover_letter.clean_text`: no tags, no control characters, bounded), the lists to at most
:data:`MAX_ITEMS` items.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ty_resources.settings import Settings
from ty_resources.summary_store import ShownSummary, shown_summaries
from ty_web.cover_letter import clean_text
from ty_web.schemas import PostingSummary

MAX_ITEMS = 5
ITEM_CHARS = 300
FIELD_CHARS = 200


def summary_model(settings: Settings) -> str | None:
    """The LLM whose summaries are shown: the configured model when an Ollama host is set, else None (the
    extractive summaries only)."""
    return settings.llm_model if settings.ollama_hosts else None


def _items(values: Sequence[str]) -> list[str]:
    cleaned = (clean_text(v if isinstance(v, str) else "", ITEM_CHARS, one_line=True) for v in list(values)[:MAX_ITEMS])
    return [v for v in cleaned if v]


def _field(value: str | None) -> str | None:
    return clean_text(value if isinstance(value, str) else None, FIELD_CHARS, one_line=True) or None


def posting_summary(shown: ShownSummary) -> PostingSummary:
    """A stored summary as plain text."""
    return PostingSummary(
        tasks=_items(shown.tasks or []), requirements=_items(shown.requirements or []),
        working_time=_field(shown.working_time), contract=_field(shown.contract), salary=_field(shown.salary),
        remote=_field(shown.remote), kind=shown.kind, model=shown.model, prompt_version=shown.prompt_version,
        made_at=shown.made_at,
    )


def summaries(conn: psycopg.Connection, refnrs: Sequence[str], llm_model: str | None) -> dict[str, PostingSummary]:
    """The summary to show per refnr (refnrs without one are absent): one query."""
    if not refnrs:
        return {}
    return {refnr: posting_summary(shown)
            for refnr, shown in shown_summaries(conn, list(dict.fromkeys(refnrs)), llm_model).items()}
