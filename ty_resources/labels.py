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
``missing``. With an LLM configured, a label an LLM prompt decided (method ``llm``, ``enriched`` or ``web``, or
status ``llm_no`` / ``llm_uncertain``) is ``revised`` too when that prompt's version (``prompt_version``) is not the
current one (NULL, made before versions were kept: revised once); labels of another prompt, and no label at all
without an LLM, are untouched. With the web stage on, a ``no_match`` / ``llm_no`` / ``llm_uncertain`` label it has
not looked at, or whose search failed (``evidence`` holds the error) fewer than WEB_ATTEMPTS times in a row, is open
as ``web`` (each such run re-runs the cascade, LLM stages included: a search that keeps failing must not pay for
them forever; a breaker's "not sent" counts as well, since the title paid them all the same). The web app adds
``unclassified`` for titles it could not classify because no catalogue is loaded.
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

# The prompt whose answer decided a label (NULL: none did), by name: 'label_verify' (the llm and enriched
# stages; labels made before prompt versions were kept have none), 'label_web' (the web stage).
LLM_DECIDED_SQL = "(l.method IN ('llm', 'enriched', 'web') OR l.status IN ('llm_no', 'llm_uncertain'))"
_CURRENT_PROMPT_SQL = f"""(CASE WHEN {LLM_DECIDED_SQL} THEN CASE coalesce(split_part(l.prompt_version, '@', 1),
                 'label_verify') WHEN 'label_verify' THEN %(llm_prompt)s::text WHEN 'label_web'
                 THEN %(web_prompt)s::text END END)"""

# Why a title key is open, as the labels asset and ``tyctl health`` see it; NULL when it is settled. ``l`` is the
# key's row of title_labels (LEFT JOINed: NULL when there is none); ``%(version)s`` the current catalogue version
# (NULL before the first catalogue: then nothing is outdated); ``%(decision)s`` the current decision version
# (ty_resources.classifier.decision_version); ``%(llm_prompt)s`` and ``%(web_prompt)s`` the versions of the
# prompts in use (ty_resources.classifier.settings_prompt_versions: NULL where that stage is off). 'revised': a
# label retrieval decided under another decision version, or one a prompt decided under another version of it;
# 'web': with the web stage on, an unsettled label it has not looked at, or whose search failed fewer than
# WEB_ATTEMPTS times in a row (evidence.attempts: web_search_failures' count; none stored: 0).
WEB_ATTEMPTS = 3
_WEB_ATTEMPTS_SQL = ("CASE jsonb_typeof(l.evidence -> 'attempts') WHEN 'number'"
                     " THEN (l.evidence ->> 'attempts')::numeric ELSE 0 END")
OPEN_REASONS: tuple[str, ...] = ("missing", "error", "pending_llm", "outdated", "revised", "web")
OPEN_REASON_SQL = f"""CASE WHEN l.title_key IS NULL THEN 'missing'
            WHEN l.status IN ('pending_llm', 'error') THEN l.status
            WHEN l.catalogue_version <> %(version)s::text THEN 'outdated'
            WHEN (l.status = 'no_match' OR l.method IN ('retrieval', 'typo'))
                 AND l.decision_version IS DISTINCT FROM %(decision)s::text THEN 'revised'
            WHEN {_CURRENT_PROMPT_SQL} IS NOT NULL
                 AND l.prompt_version IS DISTINCT FROM {_CURRENT_PROMPT_SQL} THEN 'revised'
            WHEN %(web_prompt)s::text IS NOT NULL AND l.status IN ('no_match', 'llm_no', 'llm_uncertain')
                 AND (l.evidence IS NULL OR (l.evidence ? 'error' AND {_WEB_ATTEMPTS_SQL} < {WEB_ATTEMPTS}))
                 THEN 'web'
       END"""
