"""What a title label's status means, once for the pipeline, ``tyctl health`` and the web app.

A distinct normalised title (``title_labels.title_key``) has one label. Its status is

- settled: ``matched`` (a catalogue title was chosen), ``no_match`` (retrieval found nothing close enough),
  ``llm_no`` / ``llm_uncertain`` (the LLM said none of the candidates / the title does not say enough);
- open, tried again by the next ``berufenet_labels`` run: ``pending_llm`` (the retrieval score fell in the band
  an LLM must decide, and none is configured) and ``error`` (a model call failed).

A label is also open when it was made with another catalogue version than the current one (``outdated``), or
when retrieval decided it (``no_match``, or matched by method ``retrieval`` or ``typo``) under another decision
version than the current cascade's (``revised``: another vocabulary, confidence model or threshold; it is
classified again and changes only where the decision does); a title key without a label is open as
``missing``. The web app adds ``unclassified`` for titles it could not classify
because no catalogue is loaded.
"""

from __future__ import annotations

from typing import Literal, get_args

LabelStatus = Literal["matched", "no_match", "llm_no", "llm_uncertain", "pending_llm", "error"]
STATUSES: tuple[str, ...] = get_args(LabelStatus)
SETTLED: tuple[str, ...] = ("matched", "no_match", "llm_no", "llm_uncertain")
RETRIED: tuple[str, ...] = ("pending_llm", "error")
# Statuses the LLM's second look (with a description excerpt) is for.
SECOND_LOOK: tuple[str, ...] = ("no_match", "llm_no", "llm_uncertain")

UNCLASSIFIED = "unclassified"
TitleStatus = Literal[LabelStatus, "unclassified"]

# Why a title key is open, as ``tyctl health`` reports it; NULL when it is settled. ``l`` is the key's row of
# title_labels (LEFT JOINed: NULL when there is none); ``%(version)s`` the current catalogue version (NULL
# before the first catalogue: then nothing is outdated); ``%(decision)s`` the current decision version
# (ty_resources.classifier.decision_version).
OPEN_REASONS: tuple[str, ...] = ("missing", "error", "pending_llm", "outdated", "revised")
OPEN_REASON_SQL = """CASE WHEN l.title_key IS NULL THEN 'missing'
            WHEN l.status IN ('pending_llm', 'error') THEN l.status
            WHEN l.catalogue_version <> %(version)s::text THEN 'outdated'
            WHEN (l.status = 'no_match' OR l.method IN ('retrieval', 'typo'))
                 AND l.decision_version IS DISTINCT FROM %(decision)s::text THEN 'revised'
       END"""
