"""Reading the stored posting summaries (``posting_summaries``, made by the pipeline's ``posting_summaries``
asset) for what the web app shows: per posting its LLM summary where there is an ok one of the configured model,
else the extractive one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

from ty_resources.sqlfiles import sql_file
from ty_resources.summaries import EXTRACTIVE

SHOWN_SQL = sql_file(__file__, "summary_store.sql")
MAX_ITEMS = 5  # tasks / requirements shown (the summaries keep at most 5 each)
MAX_CHARS = 300  # per text shown


@dataclass(frozen=True)
class ShownSummary:
    tasks: list[str]
    requirements: list[str]
    working_time: str | None
    contract: str | None
    salary: str | None
    remote: str | None
    kind: Literal["llm", "extractive"]
    model: str
    prompt_version: str
    made_at: datetime


def _text(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_CHARS]


def _texts(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [t for t in (_text(v) for v in value) if t is not None][:MAX_ITEMS]


def shown_summaries(
    conn: psycopg.Connection, refnrs: Sequence[str], llm_model: str | None
) -> dict[str, ShownSummary]:
    """Per refnr the summary to show: the ok row of ``llm_model`` (when given) else the ok extractive row; refnrs
    without either are absent. One query for the whole list (a page of matches)."""
    if not refnrs:
        return {}
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(SHOWN_SQL, {"refnrs": list(refnrs), "llm": llm_model, "extractive": EXTRACTIVE})
        shown = {}
        for row in rows.fetchall():
            summary = row["summary"] if isinstance(row["summary"], dict) else {}
            shown[row["refnr"]] = ShownSummary(
                tasks=_texts(summary.get("tasks")), requirements=_texts(summary.get("requirements")),
                working_time=_text(summary.get("working_time")), contract=_text(summary.get("contract")),
                salary=_text(summary.get("salary")), remote=_text(summary.get("remote")),
                kind="extractive" if row["extractive"] else "llm", model=row["model"],
                prompt_version=row["prompt_version"], made_at=row["made_at"],
            )
    return shown
