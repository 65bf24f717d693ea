"""The label cascade: posting titles into the BERUFENET catalogue. No Dagster here.

Each stage only sees what the stage before left open:

1. ``exact``: the normalised title equals the key of a catalogue reading
   (name, male or female form) -> ``matched``, no model call.
2. ``retrieval``: top-k professions by cosine similarity of the title to the
   catalogue titles, plus the similarity to their KldB code's own text (title
   and activities), fused with a lexical score: what a linear model over
   character n-grams, learnt from the catalogue, says of each title's code
   (:mod:`ty_resources.code_model`), so a title the catalogue lacks still finds
   its code. A title one edit from a reading of a candidate (a typo: ``lagerlogsitik``; keys of at least
   TYPO_MIN_CHARS characters, every such reading of one code) -> ``matched`` (method ``typo``).
   Else best score >= ``accept`` -> ``matched``; < ``reject`` -> ``no_match``;
   the band between goes to the LLM, or waits as ``pending_llm`` without one.
3. ``llm``: the model picks one candidate, or answers NONE / UNCERTAIN with a
   reason -> ``matched`` / ``llm_no`` / ``llm_uncertain``.
4. ``enriched``: ``no_match``, ``llm_no`` and ``llm_uncertain`` titles get a
   second LLM look with a description excerpt of one of their postings.
5. ``web`` (optional: an LLM and a web search, TY_WEB_SEARCH): titles still
   ``no_match``, ``llm_no`` or ``llm_uncertain`` are searched for
   (``"{title} Beruf Stellenbeschreibung"``, :mod:`ty_resources.websearch`) and
   the LLM decides with the snippets (never whole pages), its candidates plus
   the catalogue titles the snippets name; a match must cite a snippet (a title
   only the snippets name: two cited snippets from different sites). The
   label keeps the evidence (query, URLs, the supporting snippets). A failed
   search leaves the label as it was, with the reason in ``reason`` and
   ``evidence``.

A failed model call gives ``error`` with the message. Every label keeps its
candidates with scores, the chosen id, the method and the models.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psycopg

from ty_resources.catalogue import CatalogueMissing, current_version, load_code_texts, load_professions
from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel, cache_lock, cached_arrays, store_arrays
from ty_resources.confidence import CONFIDENCE_CANDIDATES, ConfidenceModel, load_confidence
from ty_resources.embedders import Embedder
from ty_resources.kldb import Catalogue, Profession
from ty_resources.labels import SECOND_LOOK
from ty_resources.ollama import OllamaClient, OllamaError
from ty_resources.prompts import load_prompt
from ty_resources.settings import Settings
from ty_resources.title_model import in_use_version, load_model
from ty_resources.titles import (
    NormalizedTitle,
    degree_of,
    normalize_title,
    one_edit_apart,
    reading_key,
    split_role,
)
from ty_resources.vocabulary import Vocabulary, job_board_vocabulary
from ty_resources.websearch import SearchOutcome, Snippet, WebSearch

log = logging.getLogger("ty.classifier")

LABEL_PROMPT = load_prompt("label_verify")
WEB_PROMPT = load_prompt("label_web")
WEB_QUERY = "{title} Beruf Stellenbeschreibung"
# Catalogue titles the snippets name that the web stage shows the LLM besides the title's own candidates: those
# named by the most snippets first (a reading of them stands in a snippet's title or text as whole words).
WEB_EXTRA_CANDIDATES = 3
# A candidate only the snippets name (not the title's own retrieval) is chosen only when this many cited snippets
# from different sites (the host's last two labels: subdomains are one site) name it.
WEB_SNIPPET_SITES = 2


TYPO_MIN_CHARS = 8  # shorter keys are not matched one edit away
SEARCH_VERSION = "search-v2"  # bump when the search's code changes what it finds (part of decision_version)
CONTAINED_WEIGHT = 1.0  # rank bonus of a title whose reading covers all the searched words (less: a share)
CONTAINED_MAX_WORDS = 8  # longest reading looked for inside a key
# Word endings that make a title supervisory; without one, supervisory readings inside it do not count. Chosen
# by the catalogue: of its titles with a word so ending, 80% (leiter), 94% (meister), 100% (polier) and 78%
# (direktor) are supervisory (4th digit 9), against 10% for -führer (Baggerführer), 15% -manager, 32% -chef
# and 0% -vorarbeiter and -begleiter (which ends in -leiter).
LEAD_WORDS = ("leiter", "leitung", "meister", "polier", "direktor")
NOT_LEAD_WORDS = ("begleiter", "halbleiter")


@dataclass(frozen=True)
class Candidate:
    berufenet_id: str
    name: str
    kldb_code: str
    score: float
    title_score: float
    code_score: float
    model_score: float = 0.0
    contained: float = 0.0  # share of the searched words a reading of this title covers (0: none stands in it)
    rank: float = 0.0  # the ranking the candidates are ordered by (every signal fused)

    def as_json(self) -> dict[str, Any]:
        return {"berufenet_id": self.berufenet_id, "name": self.name, "kldb_code": self.kldb_code,
                "score": round(self.score, 4), "title_score": round(self.title_score, 4),
                "code_score": round(self.code_score, 4), "model_score": round(self.model_score, 4),
                "contained": round(self.contained, 4), "rank": round(self.rank, 4)}


@dataclass
class Label:
    title_key: str
    example_title: str
    status: str
    berufenet_id: str | None = None
    method: str | None = None
    score: float | None = None
    candidates: list[Candidate] = field(default_factory=list)
    model: str | None = None
    reason: str | None = None
    confidence: float | None = None  # how likely the first candidate is right (1.0: an exact reading)
    prompt_version: str | None = None  # the prompt of the LLM answer that decided it (None: no LLM did)
    evidence: dict[str, Any] | None = None  # the web stage's query, URLs and supporting snippets, or its error


def embed_distinct(embedder: Embedder, lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Vectors (float64) for several lists of texts, each distinct text embedded once: a title without a role
    word is its own field, and with Ollama every text is GPU time."""
    distinct = list(dict.fromkeys(text for texts in lists for text in texts))
    row = {text: i for i, text in enumerate(distinct)}
    # float64: a title's scores then agree to far below the 4 decimals kept, whatever its batch
    matrix = embedder.embed(distinct).astype(np.float64) if distinct else np.zeros((0, 0))
    return [matrix[[row[t] for t in texts]] if texts else np.zeros((0, matrix.shape[1])) for texts in lists]


class ProfessionIndex:
    """Exact keys and vectors of the catalogue, built once per run (18,838 titles, 1,300 codes)."""

    def __init__(
        self,
        professions: Sequence[Profession],
        code_texts: Mapping[str, str],
        embedder: Embedder,
        *,
        code_weight: float = 0.35,
        field_weight: float = 1.0,
        field_code_weight: float = 0.5,
        role_weight: float = 0.1,
        model_weight: float = 1.0,
        contained_weight: float = CONTAINED_WEIGHT,
        vocabulary: Vocabulary | None = None,
        cache_dir: Path | None = None,
        code_model: CodeModel | None = None,
        code_model_version: str = CODE_MODEL_VERSION,
    ):
        self.professions = list(professions)
        self.embedder = embedder
        self.code_weight = code_weight
        self.field_weight = field_weight
        self.field_code_weight = field_code_weight
        self.role_weight = role_weight
        self.model_weight = model_weight
        self.contained_weight = contained_weight
        self.vocabulary = vocabulary or job_board_vocabulary()
        self.exact: dict[str, list[int]] = {}
        self.readings: dict[str, tuple[str, ...]] = {}  # berufenet_id -> its distinct reading keys
        for i, p in enumerate(self.professions):
            readings = tuple(dict.fromkeys(reading_key(r) for r in (p.name, p.name_male, p.name_female)))
            self.readings[p.berufenet_id] = readings
            for key in readings:
                self.exact.setdefault(key, []).append(i)
        self.codes = sorted({p.kldb_code for p in self.professions})
        code_row = {code: i for i, code in enumerate(self.codes)}
        self.code_of = np.array([code_row[p.kldb_code] for p in self.professions])
        # The catalogue side is embedded as keys, like the titles searched for (Classifier searches keys).
        keys = [reading_key(p.name_male) for p in self.professions]
        title_texts = keys
        fields = [split_role(key) for key in keys]
        field_texts = [field or key for (field, _), key in zip(fields, keys)]
        code_list = [code_texts.get(code, "") for code in self.codes]
        self.title_vectors, self.code_vectors, self.field_vectors = self._vectors(
            {"titles": title_texts, "codes": code_list, "fields": field_texts}, cache_dir)
        # The lexical model learns from every reading of every title and from each code's own title (its
        # activities too would add 0.01 at 5 digits on the held-out set, for four times the training time).
        # A title model (ty_resources.title_model) learns from these plus the BA's own labels.
        examples = [(key, p.kldb_code) for p in self.professions for key in self.readings[p.berufenet_id] if key]
        examples += [(text.split("\n", 1)[0].casefold(), code) for code, text in zip(self.codes, code_list) if text]
        self.examples = examples
        self.code_model = code_model or CodeModel.cached(examples, self.codes, cache_dir)
        self.code_model_version = code_model_version if code_model is not None else CODE_MODEL_VERSION
        # How often each role word goes with each level (5th digit) and with supervision (4th digit 9), with
        # add-one smoothing: 'meister' is mostly level 3 and supervisory, 'helfer' level 1.
        levels = np.array([p.level - 1 for p in self.professions])
        supervisor = np.array([int(p.is_supervisor) for p in self.professions])
        self._level_index, self._supervisor_index = levels, supervisor
        counts: dict[str, np.ndarray] = {}
        for (_, role), level, sup in zip(fields, levels, supervisor):
            row = counts.setdefault(role, np.ones(6))
            row[level] += 1
            row[4 + sup] += 1
        self.role_log_prior = {
            role: np.concatenate([np.log(c[:4] / c[:4].sum()), np.log(c[4:] / c[4:].sum())])
            for role, c in counts.items()
        }

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue, embedder: Embedder, cache_dir: Path | None = None
                       ) -> ProfessionIndex:
        """The index of a catalogue file (``tyctl classify``, the benchmarks), without a database."""
        return cls(catalogue.professions, catalogue.code_texts(), embedder, cache_dir=cache_dir)

    def with_code_model(self, model: CodeModel, version: str) -> ProfessionIndex:
        """This index with another lexical model (a title model being evaluated); everything else shared."""
        other = copy.copy(self)
        other.code_model, other.code_model_version = model, version
        return other

    def _vectors(self, texts: dict[str, list[str]], cache_dir: Path | None) -> tuple[np.ndarray, ...]:
        """The catalogue's vectors, from ``cache_dir`` when this model embedded these very texts before
        (18,838 titles cost ~2.5 min on one GPU with bge-m3, ~4 s locally)."""
        parts = [self.embedder.model, str(self.embedder.dimension)]  # a model re-pulled under its name may change
        for name, items in texts.items():
            parts += ["\x1d" + name, *items]
        digest = hashlib.sha256("\x1e".join(parts).encode())
        path = cache_dir / f"catalogue-index-{digest.hexdigest()[:24]}.npz" if cache_dir else None
        with cache_lock(path):
            cached = cached_arrays(path)
            if cached is not None and all(name in cached for name in texts):
                return tuple(cached[name] for name in texts)
            vectors = dict(zip(texts, embed_distinct(self.embedder, list(texts.values()))))
            store_arrays(path, vectors)
            return tuple(vectors.values())

    def _role_prior(self, role: str) -> np.ndarray:
        """Per catalogue title: log P(its level | role) + log P(its supervision | role)."""
        prior = self.role_log_prior.get(role)
        if prior is None:
            return np.zeros(len(self.professions))
        return prior[self._level_index] + prior[4 + self._supervisor_index]

    @cached_property
    def by_id(self) -> dict[str, Profession]:
        return {p.berufenet_id: p for p in self.professions}

    @cached_property
    def by_name(self) -> dict[str, Profession]:
        """Titles by their printed name (the lowest id where two share one): what the BA's ``beruf`` names."""
        names: dict[str, Profession] = {}
        for p in sorted(self.professions, key=lambda p: p.berufenet_id):
            names.setdefault(p.name, p)
        return names

    def exact_match(self, key: str) -> list[Profession]:
        return [self.professions[i] for i in self.exact.get(key, [])]

    def typo_match(self, key: str, candidates: Sequence[Candidate]) -> tuple[Candidate, Profession] | None:
        """The best-ranked candidate one edit from ``key`` (any of its readings), when every candidate that is
        one edit away belongs to the same KldB code and the key has at least TYPO_MIN_CHARS characters (one
        edit turns a short word into another: 'koch', 'loch'); else None."""
        if len(key) < TYPO_MIN_CHARS:
            return None
        near = [c for c in candidates if any(one_edit_apart(key, r) for r in self.readings[c.berufenet_id])]
        if not near or len({c.kldb_code for c in near}) > 1:
            return None
        return near[0], self.by_id[near[0].berufenet_id]

    def names_leadership(self, words: Sequence[str]) -> bool:
        """Whether a word says the job leads others: ends in a word of :data:`LEAD_WORDS` and is no reading of
        a title that does not ('Hausmeister/in' leads nobody)."""
        return any(word.endswith(LEAD_WORDS) and not word.endswith(NOT_LEAD_WORDS) and not any(
            not self._supervisor_index[row] for row in self.exact.get(word, ())) for word in words)

    def contained(self, text: str) -> dict[int, float]:
        """Catalogue titles (by row) with a reading that stands in ``text`` as whole words (all of it, too: a key
        the vocabulary turned into a reading), and the share of its words the longest such reading covers.
        Supervisory titles (4th digit 9) only when the text has a word of leadership: 'Leitende/r
        Hausmeister/in' is no reading of 'hausmeister wohnanlage'."""
        words = text.split()
        found: dict[int, float] = {}
        lead = self.names_leadership(words)
        for start in range(len(words)):
            for end in range(start + 1, min(len(words), start + CONTAINED_MAX_WORDS) + 1):
                for row in self.exact.get(" ".join(words[start:end]), ()):
                    if self._supervisor_index[row] and not lead:
                        continue
                    found[row] = max(found.get(row, 0.0), (end - start) / len(words))
        return found

    def search(self, texts: Sequence[str], k: int = 10, chunk: int = 512) -> list[list[Candidate]]:
        """Top-k candidates per text (a title key).

        Ranked by the title's similarity to the catalogue titles and to their code's text, plus the similarity
        of its field words ('saatgut' in 'meister saatgut') to theirs and to the code's text, plus how well
        the catalogue title's level and supervision fit the title's role word, plus the lexical model's score
        of the catalogue title's code. ``score`` is the first part alone, scaled to [0, 1]: what
        TY_ACCEPT_SCORE and TY_REJECT_SCORE are compared with. What is searched for a key is its
        :meth:`~ty_resources.vocabulary.Vocabulary.search_key`; a catalogue reading that stands in it as
        whole words adds to its title's rank (:meth:`contained`)."""
        results: list[list[Candidate]] = []
        for start in range(0, len(texts), chunk):
            part = [self.vocabulary.search_key(text) for text in texts[start : start + chunk]]
            splits = [split_role(text) for text in part]
            queries, fields = embed_distinct(self.embedder, [part, [field or text for (field, _), text in
                                                                   zip(splits, part)]])
            title_sim = queries @ self.title_vectors.T
            code_sim = queries @ self.code_vectors.T
            fused = title_sim + self.code_weight * code_sim[:, self.code_of]
            model = self.code_model.scores(part)
            rank = (fused + self.field_weight * (fields @ self.field_vectors.T)
                    + self.field_code_weight * (fields @ self.code_vectors.T)[:, self.code_of]
                    + self.model_weight * model[:, self.code_of])
            contained = [self.contained(text) for text in part]
            for row, (_, role) in enumerate(splits):
                rank[row] += self.role_weight * self._role_prior(role)
                if contained[row]:
                    rows = np.fromiter(contained[row], dtype=np.int64)
                    rank[row, rows] += self.contained_weight * np.fromiter(contained[row].values(), dtype=np.float64)
            rank = np.round(rank, 9)  # the order must not hang on the last bits of a BLAS sum
            top = np.argpartition(-rank, min(k, rank.shape[1] - 1), axis=1)[:, :k]
            for row, idx in enumerate(top):
                ranked = idx[np.argsort(-rank[row, idx], kind="stable")]
                results.append([
                    # Rounded: BLAS sums differ in the last bits with the batch's shape; in float64
                    # that is far below the 4th decimal, so a title's verdict does not depend on its batch.
                    Candidate(self.professions[i].berufenet_id, self.professions[i].name,
                              self.professions[i].kldb_code, round(float(fused[row, i]) / (1 + self.code_weight), 4),
                              round(float(title_sim[row, i]), 4), round(float(code_sim[row, self.code_of[i]]), 4),
                              round(float(model[row, self.code_of[i]]), 4), round(contained[row].get(i, 0.0), 4),
                              round(float(rank[row, i]), 4))
                    for i in ranked
                ])
        return results


_INDEX_CACHE: dict[tuple[str, str, int, str], ProfessionIndex] = {}
_INDEX_LOCK = threading.Lock()


def load_index(conn: psycopg.Connection, embedder: Embedder, cache_dir: Path | None = None, *,
               end_reads: Callable[[], None] | None = None) -> tuple[ProfessionIndex, str]:
    """The index of the database's catalogue and its version, built once per process for a catalogue version,
    embedding model and lexical model (the pipeline labels seven partitions in one process; the web app serves
    many requests), its vectors from ``cache_dir`` when this model embedded the same texts before. The lexical
    model is the title model in use (:func:`~ty_resources.title_model.in_use_version`), else the catalogue's.

    ``end_reads`` is called once everything is read and before an index is built (embedding the catalogue takes
    minutes the first time): the pipeline commits there, so no transaction idles through the build."""
    version = current_version(conn)
    if version is None:
        raise CatalogueMissing("the profession catalogue is empty: materialise berufenet_catalogue first")
    model_version = in_use_version(conn, version)
    cache_key = (version, embedder.model, embedder.dimension, model_version)
    with _INDEX_LOCK:
        if cache_key not in _INDEX_CACHE:
            professions = load_professions(conn)
            model = None
            if model_version != CODE_MODEL_VERSION:
                try:
                    model = load_model(conn, model_version, sorted({p.kldb_code for p in professions}))
                except ValueError as exc:  # gone since (a newer one replaced it) or damaged: the catalogue's own
                    log.warning("title model %s not used: %s", model_version, exc)
                    model_version = CODE_MODEL_VERSION
                    cache_key = (version, embedder.model, embedder.dimension, model_version)
            if cache_key not in _INDEX_CACHE:
                code_texts = load_code_texts(conn)
                if end_reads is not None:
                    end_reads()
                _INDEX_CACHE.clear()
                _INDEX_CACHE[cache_key] = ProfessionIndex(professions, code_texts, embedder,
                                                          cache_dir=cache_dir, code_model=model,
                                                          code_model_version=model_version)
        index = _INDEX_CACHE[cache_key]
    index.embedder = embedder  # this caller's client (its counters), same model
    return index, version


def decision_version(embedder_model: str, code_model_version: str, vocabulary: Vocabulary,
                     confidence: ConfidenceModel | None, accept: float, reject: float, accept_confidence: float,
                     reject_confidence: float) -> str:
    """What decides a searched title's label, as a short hash: the embedder, the search's and the lexical
    model's versions (a title model's own), the vocabulary, the confidence model (when it fits the embedder)
    and the thresholds. A label that retrieval decided under another version is revised by the next run that
    sees its title (``revised``)."""
    parts = [embedder_model, SEARCH_VERSION, code_model_version, vocabulary.digest,
             confidence.digest if confidence else "-", f"{CONTAINED_WEIGHT}", f"{accept}", f"{reject}",
             f"{accept_confidence:.6f}", f"{reject_confidence:.6f}"]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def settings_decision_version(settings: Settings, embedder_model: str,
                              code_model_version: str = CODE_MODEL_VERSION) -> str:
    """:func:`decision_version` of the cascade the settings make (``Classifier.from_settings``) with the lexical
    model ``code_model_version``, without building an index: what ``tyctl health`` counts revised labels by."""
    confidence = load_confidence()
    fits = confidence if confidence and confidence.embedder == embedder_model else None
    accept_confidence = fits.threshold(settings.label_precision) if fits else math.inf
    return decision_version(embedder_model, code_model_version, job_board_vocabulary(), fits, settings.accept_score,
                            settings.reject_score, accept_confidence,
                            min(settings.reject_confidence, accept_confidence))


def settings_prompt_versions(settings: Settings) -> dict[str, str | None]:
    """:attr:`Classifier.prompt_versions` of the cascade the settings make (an LLM with OLLAMA_HOST, the web stage
    with it and TY_WEB_SEARCH), without building one: what ``tyctl health`` counts revised and web labels by."""
    llm = bool(settings.ollama_hosts)
    return {"llm_prompt": LABEL_PROMPT.version if llm else None,
            "web_prompt": WEB_PROMPT.version if llm and settings.web_search else None}


def label_schema(candidates: Sequence[Candidate]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "choice": {"type": "string", "enum": [c.berufenet_id for c in candidates] + ["NONE", "UNCERTAIN"]},
            "reason": {"type": "string"},
        },
        "required": ["choice", "reason"],
    }


def label_messages(title: str, candidates: Sequence[Candidate], excerpt: str | None = None) -> list[dict[str, str]]:
    return LABEL_PROMPT.messages(
        title=title, excerpt=f"Description (excerpt): {excerpt}\n" if excerpt else "",
        candidates=_candidate_lines(candidates))


def _candidate_lines(candidates: Sequence[Candidate]) -> str:
    return "\n".join(f"- {c.berufenet_id}: {c.name} (KldB {c.kldb_code})" for c in candidates)


def web_query(title: str) -> str:
    """The web stage's query for a posting title: its cleaned text (no gender marker, place or working time:
    every title with the same words shares one query and its cache entry)."""
    return WEB_QUERY.format(title=normalize_title(title).text or title.strip())


def web_label_schema(candidates: Sequence[Candidate], snippets: int) -> dict[str, Any]:
    schema = label_schema(candidates)
    schema["properties"]["support"] = {"type": "array", "maxItems": snippets,
                                       "items": {"type": "integer", "minimum": 1, "maximum": snippets}}
    schema["required"] = ["choice", "support", "reason"]
    return schema


def web_messages(title: str, candidates: Sequence[Candidate], snippets: Sequence[Snippet]) -> list[dict[str, str]]:
    shown = "\n".join(f"[{n}] {s.title} ({s.url})\n    {s.content}" for n, s in enumerate(snippets, 1))
    return WEB_PROMPT.messages(title=title, snippets=shown, candidates=_candidate_lines(candidates))


def _site(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return ".".join(host.split(".")[-2:])


def _with_reason(reason: str | None, more: str) -> str:
    return f"{reason} | {more}"[:1000] if reason else more[:1000]


class Classifier:
    def __init__(
        self,
        index: ProfessionIndex,
        llm: OllamaClient | None = None,
        *,
        accept: float = 0.85,
        reject: float = 0.55,
        k: int = 10,
        llm_candidates: int = 5,
        confidence: ConfidenceModel | None = None,
        precision: float = 0.97,
        reject_confidence: float = 0.25,
        web: WebSearch | None = None,
    ):
        if not reject <= accept:
            raise ValueError(f"the reject score {reject} must not exceed the accept score {accept}")
        # The confidence model holds for the embedder it was fitted with; with another, the plain scores decide.
        self.confidence = confidence if confidence and confidence.embedder == index.embedder.model else None
        self.accept_confidence = self.confidence.threshold(precision) if self.confidence else math.inf
        self.reject_confidence = min(reject_confidence, self.accept_confidence)
        if self.confidence and reject_confidence > self.accept_confidence:
            log.warning("TY_REJECT_CONFIDENCE %s is above the confidence that gives TY_LABEL_PRECISION %s (%.3f): "
                        "no title waits for the LLM", reject_confidence, precision, self.accept_confidence)
        self.index = index
        self.version = decision_version(index.embedder.model, index.code_model_version, index.vocabulary,
                                        self.confidence, accept, reject, self.accept_confidence,
                                        self.reject_confidence)
        self.llm = llm
        self.accept = accept
        self.reject = reject
        self.k = k
        self.llm_candidates = llm_candidates
        self.llm_calls = 0
        self.web = web if llm is not None else None  # the web stage needs the LLM to read the snippets
        self.web_searches = 0  # queries the search backend answered or failed (cache misses)
        self.web_cache_hits = 0
        self.web_failed = 0  # searches that failed (the titles stay as they were, open for the web stage)
        self.web_settled = 0  # titles the web stage matched

    @classmethod
    def from_settings(cls, index: ProfessionIndex, llm: OllamaClient | None, settings: Settings,
                      web: WebSearch | None = None) -> Classifier:
        """The cascade as the settings tune it (TY_LABEL_PRECISION, TY_REJECT_CONFIDENCE, TY_ACCEPT_SCORE,
        TY_REJECT_SCORE, TY_LABEL_TOP_K) with the confidence model the repository ships: what the pipeline,
        ``tyctl classify`` and the web app each use. ``web``: the web stage's search (WebSearch.from_settings)."""
        return cls(index, llm, accept=settings.accept_score, reject=settings.reject_score, k=settings.label_top_k,
                   confidence=load_confidence(), precision=settings.label_precision,
                   reject_confidence=settings.reject_confidence, web=web)

    @property
    def prompt_versions(self) -> dict[str, str | None]:
        """The versions of the prompts this cascade asks with (None: that stage is off): what the labels asset
        compares stored labels with (ty_resources.labels.OPEN_REASON_SQL); the web stage needs the LLM too."""
        return {"llm_prompt": LABEL_PROMPT.version if self.llm else None,
                "web_prompt": WEB_PROMPT.version if self.llm and self.web else None}

    @property
    def models(self) -> str:
        return self.index.embedder.model + (f" + {self.llm.llm_model}" if self.llm else "")

    def classify(
        self,
        titles: Mapping[str, str],
        excerpts: Mapping[str, str] | None = None,
    ) -> list[Label]:
        """Labels for ``{title_key: example_title}``; ``excerpts``: ``{title_key: description excerpt}``."""
        excerpts = excerpts or {}
        labels: dict[str, Label] = {}
        rest: list[str] = []
        for key, title in titles.items():
            exact = self.index.exact_match(key)
            if exact:
                # Several titles can share a key: the one with the title's degree (or none), then a stable pick.
                degree = degree_of(title)
                exact.sort(key=lambda p: (degree_of(p.name) != degree, p.berufenet_id))
                chosen = exact[0]
                labels[key] = Label(key, title, "matched", chosen.berufenet_id, "exact", 1.0,
                                    candidates=[Candidate(p.berufenet_id, p.name, p.kldb_code, 1.0, 1.0, 0.0)
                                                for p in exact[: self.k]],
                                    model=None, reason=f"exact reading of {chosen.name!r}", confidence=1.0)
            else:
                rest.append(key)
        band: list[str] = []
        # The key is what is searched, not the example title: every title with this key, on any day, gets
        # the same candidates and scores (and the key is already the gender-neutral reading).
        # The confidence reads the top CONFIDENCE_CANDIDATES, as it was fitted, whatever TY_LABEL_TOP_K keeps.
        found = self.index.search(rest, max(self.k, CONFIDENCE_CANDIDATES) if self.confidence else self.k)
        for key, ranked in zip(rest, found):
            candidates = ranked[: self.k]
            best = candidates[0]
            confidence = self.confidence.confidence(ranked[:CONFIDENCE_CANDIDATES]) if self.confidence else None
            label = Label(key, titles[key], "no_match", score=best.score, candidates=candidates,
                          model=self.index.embedder.model, confidence=confidence)
            typo = self.index.typo_match(key, candidates)
            if confidence is None:  # no model for this embedder: the plain score thresholds
                accept, wait = best.score >= self.accept, best.score >= self.reject
            else:
                accept, wait = confidence >= self.accept_confidence, confidence >= self.reject_confidence
            if typo is not None:
                near, profession = typo
                label.status, label.berufenet_id, label.method = "matched", near.berufenet_id, "typo"
                label.score = near.score
                label.reason = f"one edit from a reading of {profession.name!r}"
            elif accept:
                label.status, label.berufenet_id, label.method = "matched", best.berufenet_id, "retrieval"
            elif wait:
                label.status = "pending_llm"
                band.append(key)
            labels[key] = label
        if self.llm is not None:
            self._ask(labels, band, excerpts={}, method="llm")
            second_look = [k for k, lab in labels.items() if lab.status in {"no_match", "llm_no", "llm_uncertain"}
                           and excerpts.get(k) and lab.candidates]
            self._ask(labels, second_look, excerpts=excerpts, method="enriched")
            self.web_look(labels.values())
        return [labels[key] for key in titles]

    def web_look(self, labels: Iterable[Label]) -> None:
        """The web stage on ``labels`` (in place): those still ``no_match``, ``llm_no`` or ``llm_uncertain`` with
        candidates; nothing without an LLM and a web search. :meth:`classify` ends with it; the quality
        benchmark calls it on the labels the offline cascade left ``no_match``."""
        if self.web is None or self.llm is None:
            return
        todo = {lab.title_key: lab for lab in labels if lab.status in SECOND_LOOK and lab.candidates}
        self._web_stage(todo, list(todo))

    def web_candidates(self, label: Label, snippets: Sequence[Snippet]) -> list[Candidate]:
        """The candidates the web stage shows: the label's first ``llm_candidates``, then up to
        WEB_EXTRA_CANDIDATES catalogue titles that the snippets name (a reading standing in a snippet's title or
        text, as :meth:`ProfessionIndex.contained` finds it), those named by the most snippets first. An extra
        one has no retrieval score (0)."""
        shown = list(label.candidates[: self.llm_candidates])
        have = {c.berufenet_id for c in shown}
        named: Counter[int] = Counter()
        for snippet in snippets:
            named.update(self.index.contained(reading_key(f"{snippet.title} {snippet.content}")).keys())
        extras = sorted(named, key=lambda row: (-named[row], self.index.professions[row].berufenet_id))
        for row in extras:
            p = self.index.professions[row]
            if len(shown) >= self.llm_candidates + WEB_EXTRA_CANDIDATES:
                break
            if p.berufenet_id not in have:
                have.add(p.berufenet_id)
                shown.append(Candidate(p.berufenet_id, p.name, p.kldb_code, 0.0, 0.0, 0.0))
        return shown

    def _web_stage(self, labels: dict[str, Label], keys: list[str]) -> None:
        if not keys or self.web is None or self.llm is None:
            return
        outcomes: list[SearchOutcome] = self.web.search_many([web_query(labels[k].example_title) for k in keys])
        asked: list[tuple[str, list[Candidate], tuple[Snippet, ...]]] = []
        for key, outcome in zip(keys, outcomes):
            label = labels[key]
            evidence: dict[str, Any] = {"query": outcome.query, "backend": outcome.backend}
            if outcome.cached:
                self.web_cache_hits += 1
            else:
                self.web_searches += 1
            if not outcome.ok:
                # The label stays as it was; the error says why, and keeps the title open for the web stage.
                self.web_failed += 1
                label.evidence = {**evidence, "error": outcome.error, "attempts": outcome.attempts}
                label.reason = _with_reason(label.reason, f"web stage: search failed: {outcome.error}")
                continue
            label.evidence = {**evidence, "cached": outcome.cached, "urls": [s.url for s in outcome.snippets]}
            if not outcome.snippets:
                label.reason = _with_reason(label.reason, "web stage: the search found nothing")
                continue
            shown = self.web_candidates(label, outcome.snippets)
            label.evidence["candidates"] = [c.berufenet_id for c in shown]
            asked.append((key, shown, outcome.snippets))
        if not asked:
            return
        self.llm_calls += len(asked)
        answers = self.llm.chat_json_many([
            (web_messages(labels[key].example_title, shown, snippets), web_label_schema(shown, len(snippets)))
            for key, shown, snippets in asked])
        for (key, shown, snippets), answer in zip(asked, answers):
            label = labels[key]
            if isinstance(answer, OllamaError):
                label.status, label.reason = "error", f"web stage: {answer}"[:1000]
                continue
            label.model, label.prompt_version = self.models, WEB_PROMPT.version
            choice, reason = answer["choice"], answer.get("reason", "")
            support = sorted({n for n in answer.get("support", []) if 1 <= n <= len(snippets)})
            assert label.evidence is not None
            label.evidence["support"] = [{"n": n, "url": snippets[n - 1].url} for n in support]
            label.status, label.berufenet_id, label.method, label.reason = "llm_no", None, None, reason[:1000]
            if choice == "UNCERTAIN":
                label.status = "llm_uncertain"
            elif choice != "NONE" and not support:  # a choice no snippet supports is not evidence
                label.status, label.reason = "llm_uncertain", f"chose {choice} citing no snippet: {reason}"[:1000]
            elif choice != "NONE" and not self._web_supported(choice, label, [snippets[n - 1] for n in support]):
                label.status = "llm_uncertain"
                label.reason = (f"chose {choice}, which only the snippets name, with fewer than {WEB_SNIPPET_SITES} "
                                f"cited snippets from different sites naming it: {reason}")[:1000]
            elif choice != "NONE":
                chosen = next(c for c in shown if c.berufenet_id == choice)
                retrieved = next((c for c in label.candidates if c.berufenet_id == choice), None)
                label.status, label.berufenet_id, label.method = "matched", choice, "web"
                label.score = retrieved.score if retrieved else None
                label.evidence["chosen"] = {"berufenet_id": chosen.berufenet_id, "name": chosen.name,
                                            "from": "retrieval" if retrieved else "snippets"}
                self.web_settled += 1

    def _web_supported(self, choice: str, label: Label, cited: Sequence[Snippet]) -> bool:
        """A candidate of the title's own retrieval, or one that at least WEB_SNIPPET_SITES of the cited snippets,
        from as many sites, name (as :meth:`web_candidates` finds names): one SEO page or job-board ad naming a
        catalogue title must not label every posting with that title."""
        if any(c.berufenet_id == choice for c in label.candidates):
            return True
        sites = set()
        for snippet in cited:
            rows = self.index.contained(reading_key(f"{snippet.title} {snippet.content}"))
            if any(self.index.professions[row].berufenet_id == choice for row in rows):
                sites.add(_site(snippet.url))
        return len(sites) >= WEB_SNIPPET_SITES

    def _ask(self, labels: dict[str, Label], keys: list[str], excerpts: Mapping[str, str], method: str) -> None:
        if not keys or self.llm is None:
            return
        requests = []
        for key in keys:
            shown = labels[key].candidates[: self.llm_candidates]
            requests.append((label_messages(labels[key].example_title, shown, excerpts.get(key)), label_schema(shown)))
        self.llm_calls += len(requests)
        answers = self.llm.chat_json_many(requests)
        for key, answer in zip(keys, answers):
            label = labels[key]
            if isinstance(answer, OllamaError):
                # Open again, counted, retried by the next run: a failed look must not settle a title.
                label.status, label.reason = "error", f"{method} stage: {answer}"[:1000]
                continue
            label.model, label.prompt_version = self.models, LABEL_PROMPT.version
            choice, label.reason = answer["choice"], answer.get("reason", "")[:1000]
            if choice == "NONE":
                label.status = "llm_no"
            elif choice == "UNCERTAIN":
                label.status = "llm_uncertain"
            else:
                chosen = next(c for c in label.candidates if c.berufenet_id == choice)
                label.status, label.berufenet_id, label.method, label.score = "matched", choice, method, chosen.score


# --------------------------------------------------------------------- tyctl classify


@dataclass(frozen=True)
class TitleRequest:
    """One line of ``tyctl classify``'s input: a title, or JSON with ``title`` and optional ``description`` and
    ``beruf``."""

    title: str
    description: str | None = None
    beruf: str | None = None

    @classmethod
    def parse(cls, line: str) -> TitleRequest:
        """A plain line is the title; a line starting with ``{`` is JSON. Raises ValueError saying what is wrong."""
        text = line.strip()
        if not text.startswith("{"):
            if not text:
                raise ValueError("empty line")
            return cls(text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("a JSON line must be an object")
        fields: dict[str, str | None] = {}
        for name in ("title", "description", "beruf"):
            value = data.get(name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"'{name}' must be a string, not {type(value).__name__}")
            fields[name] = value.strip() if value else None
        title = fields["title"]
        if not title:
            raise ValueError("'title' is missing or empty")
        return cls(title, fields["description"], fields["beruf"])


@dataclass(frozen=True)
class LabelledTitle:
    """A title as given, its normalised form, its label, and the label's catalogue title (None unless the
    label chose one): what ``tyctl classify`` prints and the web app stores and shows."""

    title: str
    normalized: NormalizedTitle
    label: Label
    profession: Profession | None = None

    @property
    def key(self) -> str:
        return self.normalized.key

    @property
    def status(self) -> str:
        return self.label.status

    @property
    def score(self) -> float | None:
        return None if self.label.score is None else float(self.label.score)

    @property
    def candidates(self) -> list[Candidate]:
        return self.label.candidates

    @property
    def confidence(self) -> float | None:
        """How likely the first candidate is right (None: no confidence model for this embedder)."""
        return None if self.label.confidence is None else round(float(self.label.confidence), 4)

    @property
    def suggestion(self) -> Candidate | None:
        """The first candidate of a title that is not ``matched``: what it most likely is, not its label."""
        return self.candidates[0] if self.status != "matched" and self.candidates else None

    @property
    def berufenet_id(self) -> str | None:
        return self.profession.berufenet_id if self.profession else None

    @property
    def kldb_code(self) -> str | None:
        return self.profession.kldb_code if self.profession else None

    @property
    def name(self) -> str | None:
        return self.profession.name if self.profession else None

    @property
    def level(self) -> int | None:
        return self.profession.level if self.profession else None

    @classmethod
    def unlabelled(cls, title: str, status: str, reason: str | None = None) -> LabelledTitle:
        """A title that could not be classified at all (``unclassified``: no catalogue; ``error``)."""
        normalized = normalize_title(title)
        return cls(title, normalized, Label(normalized.key, title, status, reason=reason))


def classify_titles(classifier: Classifier, titles: Sequence[str], excerpts: Sequence[str | None] | None = None
                    ) -> list[LabelledTitle]:
    """Each title labelled, in order; titles with the same key are classified once (with the first excerpt
    given for that key). What the pipeline's callers outside Dagster (``tyctl classify``, the web app) call."""
    normalized = [normalize_title(t) for t in titles]
    examples: dict[str, str] = {}
    key_excerpts: dict[str, str] = {}
    for i, (title, norm) in enumerate(zip(titles, normalized)):
        examples.setdefault(norm.key, title)
        excerpt = excerpts[i] if excerpts else None
        if excerpt and norm.key not in key_excerpts:
            key_excerpts[norm.key] = excerpt
    labels = dict(zip(examples, classifier.classify(examples, key_excerpts)))
    by_id = classifier.index.by_id
    return [LabelledTitle(title, norm, labels[norm.key], by_id.get(labels[norm.key].berufenet_id or ""))
            for title, norm in zip(titles, normalized)]


def label_records(
    classifier: Classifier, requests: Sequence[TitleRequest], *, excerpt_chars: int = 500, candidates: int = 5
) -> list[dict[str, Any]]:
    """``tyctl classify``'s output for a batch: one JSON-ready record per request, in order.

    Titles with the same key are classified once. A ``beruf`` naming an active catalogue title exactly takes
    that title (method ``beruf``), as in the pipeline; the title's own candidates are still reported."""
    index = classifier.index
    labelled = classify_titles(classifier, [r.title for r in requests],
                               [r.description[:excerpt_chars] if r.description else None for r in requests])
    records = []
    for request, item in zip(requests, labelled):
        label = item.label
        status, method, score, profession = label.status, label.method, label.score, item.profession
        beruf = index.by_name.get(request.beruf or "")
        suggestion = item.suggestion
        if beruf is not None:
            status, method, score, profession, suggestion = "matched", "beruf", 1.0, beruf, None
        records.append({
            "title": request.title,
            "normalized": item.normalized.text,
            "key": item.key,
            "seniority": item.normalized.seniority,
            "status": status,
            "berufenet_id": profession.berufenet_id if profession else None,
            "name": profession.name if profession else None,
            "kldb": profession.kldb_code if profession else None,
            "level": profession.level if profession else None,
            "score": score,
            "confidence": 1.0 if beruf is not None else item.confidence,
            "suggestion": {"berufenet_id": suggestion.berufenet_id, "name": suggestion.name,
                           "kldb": suggestion.kldb_code} if suggestion else None,
            "method": method,
            "reason": label.reason if beruf is None else f"the BA's beruf {request.beruf!r} is a catalogue title",
            "evidence": label.evidence,  # the web stage's query, URLs and supporting snippets (None: it did not run)
            "candidates": [{"berufenet_id": c.berufenet_id, "kldb": c.kldb_code, "name": c.name, "score": c.score}
                           for c in label.candidates[:candidates]],
        })
    return records
