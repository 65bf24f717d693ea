"""The lexical model learnt from the BA's own labels: the ``title_model`` asset's rules. No Dagster here.

Many postings carry ``beruf``, the profession the employer chose in the BA's system. Where it names an active
catalogue title exactly (the rule by which a posting takes ``label_source = 'beruf'``), the posting's title key
and that title are a labelled example of how the profession's titles are written. A title model is the
lexical model of the cascade (:class:`~ty_resources.code_model.CodeModel`) trained on the catalogue's readings
plus these pairs.

- **Pairs**: per title key over every posting ever stored (withdrawn ones too: how a title was written does
  not expire), the catalogue title most of its postings named; one posting with a wrong ``beruf`` does not
  outvote the others. The most frequent keys first, up to ``TY_TITLE_MODEL_MAX_PAIRS``.
- **Held out**: a fixed fifth of the keys, by a hash of what the cascade searches for the key (two keys that
  search alike, ``erzieher kita`` and ``erzieher kita jobrad``, fall on the same side), is never trained on.
  Keys that are a catalogue reading, as written or as searched, are left out of the evaluation (the exact
  stage decides them whatever the model); of the rest the most frequent, up to ``TY_TITLE_MODEL_EVAL_PAIRS``.
- **Accepted** only when, on those pairs, it is not worse than the model in use *and* than the catalogue's
  own model (so small losses cannot add up over many models): :func:`verdict` compares title by title.
  Otherwise it is stored but not used, and the asset's blocking check ``title_model_not_worse`` fails.
- **Used**: every process loads the latest accepted model of the catalogue version (:func:`in_use_version`);
  its version is part of the labels' decision version, so a new model re-opens (``revised``) only the labels
  retrieval decided. Stored in PostgreSQL (``title_models``), so every process on every host uses the same
  model; the weights of superseded models are dropped, their evaluation kept.
"""

from __future__ import annotations

import hashlib
import io
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel
from ty_resources.sqlfiles import sql_file

HELD_OUT_EVERY = 5  # one searched text in five is held out (by its hash)
TOLERANCE = 0.005  # a new model may lose this share of the held-out titles on any measure ...
Z = 1.645  # ... or what chance alone moves a paired count by (one-sided 95 %), whichever is more
MIN_HELD_OUT = 50  # fewer searched held-out pairs cannot tell a model from another: none is accepted
MAX_FEATURES = 80_000  # n-grams a title model keeps (the catalogue alone has ~40,000): posting titles are unbounded
# Characters of an example's searched text it learns from. Job titles are far shorter; a title is external input
# of any length, and the n-grams of 200 hostile titles of 50 KB took 80 s and 2.2 GB to train on (200 chars each:
# 3.3 s, 0.2 GB).
MAX_TRAIN_CHARS = 200
STORE_LOCK = int.from_bytes(hashlib.sha256(b"ty-title-models").digest()[:8], "big", signed=True)

PAIRS_SQL = sql_file(__file__, "title_model_pairs.sql")
INSERT_SQL = sql_file(__file__, "title_model_insert.sql")
PRUNE_SQL = sql_file(__file__, "title_model_prune.sql")
IN_USE_SQL = """
SELECT version FROM title_models WHERE accepted AND catalogue_version = %s AND model IS NOT NULL
ORDER BY trained_at DESC, version LIMIT 1
"""


@dataclass(frozen=True)
class Pair:
    """A title key and the catalogue title the BA's ``beruf`` of its postings named."""

    title_key: str
    example_title: str
    berufenet_id: str
    kldb_code: str
    postings: int


def load_pairs(conn: psycopg.Connection) -> list[Pair]:
    """Every (key, title) pair, the most postings first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [Pair(**row) for row in cur.execute(PAIRS_SQL)]


def held_out(searched: str) -> bool:
    """Whether a key whose searched text is ``searched`` belongs to the held-out fifth: fixed by that text alone,
    so it is never trained on, on any day."""
    return zlib.crc32(searched.encode()) % HELD_OUT_EVERY == 0


@dataclass(frozen=True)
class Split:
    train: list[Pair]  # one per training key: the title most of its postings named
    held_out: list[Pair]  # the same for the held-out keys that are evaluated
    labelled_postings: int  # postings behind all pairs: what new evidence is counted in (a new posting of a
    # known key can change its majority title)

    @classmethod
    def of(cls, pairs: Sequence[Pair], search_key: Callable[[str], str], is_reading: Callable[[str], bool],
           max_pairs: int, eval_pairs: int) -> Split:
        """``pairs`` as :func:`load_pairs` orders them; ``search_key``: what the cascade searches for a key;
        ``is_reading``: whether a text is a catalogue reading."""
        train: list[Pair] = []
        evaluated: list[Pair] = []
        seen: set[str] = set()
        for pair in pairs:  # the most postings first: a key's first pair is its majority title
            if pair.title_key in seen:
                continue
            seen.add(pair.title_key)
            searched = search_key(pair.title_key)
            if not held_out(searched):
                train.append(pair)
            elif not (is_reading(pair.title_key) or is_reading(searched)):
                evaluated.append(pair)
        return cls(train[:max_pairs], evaluated[:eval_pairs], sum(p.postings for p in pairs))

    def version(self, catalogue_version: str) -> str:
        """The model's version: a hash of what it learns from."""
        digest = hashlib.sha256("\x1e".join([CODE_MODEL_VERSION, catalogue_version, *sorted(
            f"{p.title_key}\x1f{p.kldb_code}" for p in self.train)]).encode()).hexdigest()
        return f"title-model-{digest[:12]}"


def train(catalogue_examples: Sequence[tuple[str, str]], codes: Sequence[str], split: Split,
          search_key: Callable[[str], str]) -> CodeModel:
    """The lexical model of the catalogue's examples plus the training pairs, each as the cascade searches it
    (its first :data:`MAX_TRAIN_CHARS` characters)."""
    examples = [*catalogue_examples, *((search_key(p.title_key)[:MAX_TRAIN_CHARS], p.kldb_code) for p in split.train)]
    return CodeModel.train(examples, codes, max_features=MAX_FEATURES)


@dataclass(frozen=True)
class Metrics:
    pairs: int
    accuracy: float  # the first candidate's 5-digit code is the BA's
    coverage: float  # share settled as `matched` offline
    precision: float  # of those, share with the BA's 5-digit code
    settled_right: float  # share matched with the BA's 5-digit code (coverage x precision)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """A model's result on each held-out pair, in order."""

    right: tuple[bool, ...]  # the first candidate's 5-digit code is the BA's
    matched: tuple[bool, ...]  # settled as `matched` offline

    @property
    def settled_right(self) -> tuple[bool, ...]:
        return tuple(r and m for r, m in zip(self.right, self.matched))

    @property
    def matched_wrong(self) -> tuple[bool, ...]:
        return tuple(m and not r for r, m in zip(self.right, self.matched))

    def metrics(self) -> Metrics:
        n, matched, settled = len(self.right), sum(self.matched), sum(self.settled_right)
        return Metrics(n, round(sum(self.right) / n, 4) if n else 0.0, round(matched / n, 4) if n else 0.0,
                       round(settled / matched, 4) if matched else 1.0, round(settled / n, 4) if n else 0.0)


def evaluate(classifier: Any, pairs: Sequence[Pair]) -> Outcome:
    """``classifier`` (a :class:`~ty_resources.classifier.Classifier` without an LLM) on the held-out pairs; a
    matched title's code is its first candidate's (the cascade matches the first candidate or an exact one)."""
    labels = classifier.classify({p.title_key: p.example_title for p in pairs})
    codes = {c.berufenet_id: c.kldb_code for lab in labels for c in lab.candidates}
    chosen = [codes.get(lab.berufenet_id) if lab.status == "matched" else
              (lab.candidates[0].kldb_code if lab.candidates else None) for lab in labels]
    return Outcome(tuple(code == p.kldb_code for code, p in zip(chosen, pairs)),
                   tuple(lab.status == "matched" for lab in labels))


def _loss(candidate: Sequence[bool], reference: Sequence[bool], higher_is_better: bool = True) -> tuple[int, float]:
    """Titles the candidate does worse on than the reference, net, and the most that may be (the larger of
    :data:`TOLERANCE` of the pairs and :data:`Z` standard deviations of a sign test on the titles they differ on)."""
    worse = sum(r and not c for c, r in zip(candidate, reference))
    better = sum(c and not r for c, r in zip(candidate, reference))
    net = worse - better if higher_is_better else better - worse
    return net, max(TOLERANCE * len(candidate), Z * math.sqrt(worse + better))


def verdict(candidate: Outcome, references: dict[str, Outcome]) -> tuple[bool, str]:
    """Whether ``candidate`` may be used, and why: against each reference (the model in use, the catalogue's
    own), on the same held-out pairs, it may lose no more titles than :func:`_loss` allows on any of: the first
    candidate right, settled right (``matched`` and right: a model that ranks alike but is less sure sends titles
    to the LLM), and matched wrong (the precision of ``matched``)."""
    n = len(candidate.right)
    if n < MIN_HELD_OUT:
        return False, f"{n} held-out pairs to evaluate it on: too few to tell (at least {MIN_HELD_OUT})"
    m = candidate.metrics()
    summary = (f"top-1 accuracy {m.accuracy:.4f}, coverage {m.coverage:.4f} at precision {m.precision:.4f} on "
               f"{n} held-out pairs")
    for name, reference in references.items():
        for measure, ours, theirs, higher in (
                ("first candidates right", candidate.right, reference.right, True),
                ("titles settled right", candidate.settled_right, reference.settled_right, True),
                ("titles matched wrong", candidate.matched_wrong, reference.matched_wrong, False)):
            net, allowed = _loss(ours, theirs, higher)
            if net > allowed:
                r = reference.metrics()
                return False, (f"{net} {measure} fewer than {name} " if higher else
                               f"{net} {measure} more than {name} ") + (
                    f"(at most {allowed:.1f} allowed): {summary}; {name}: top-1 accuracy {r.accuracy:.4f}, "
                    f"coverage {r.coverage:.4f} at precision {r.precision:.4f}")
    return True, f"not worse than {' or '.join(references)}: {summary}"


@dataclass(frozen=True)
class StoredModel:
    version: str
    catalogue_version: str
    labelled_postings: int
    train_pairs: int
    held_out_pairs: int
    compared_with: str
    metrics: dict[str, Any]
    accepted: bool
    verdict: str


def latest(conn: psycopg.Connection) -> StoredModel | None:
    """The model trained last (accepted or not), without its weights."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT version, catalogue_version, labelled_postings, train_pairs, held_out_pairs, compared_with, metrics,"
            " accepted, verdict FROM title_models ORDER BY trained_at DESC, version LIMIT 1").fetchone()
    return StoredModel(**row) if row else None


def in_use_version(conn: psycopg.Connection, catalogue_version: str) -> str:
    """The version of the lexical model the labels use: the latest accepted title model of this catalogue
    version, else the catalogue's own model (:data:`~ty_resources.code_model.VERSION`)."""
    row = conn.execute(IN_USE_SQL, (catalogue_version,)).fetchone()
    return row[0] if row else CODE_MODEL_VERSION


def load_model(conn: psycopg.Connection, version: str, codes: Sequence[str]) -> CodeModel:
    """The stored weights of ``version`` as a model scoring ``codes`` (ValueError when they are gone or do not
    fit ``codes``)."""
    row = conn.execute("SELECT model FROM title_models WHERE version = %s", (version,), binary=True).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"the weights of {version} are not stored")
    try:
        with np.load(io.BytesIO(row[0]), allow_pickle=False) as stored:
            return CodeModel.from_arrays(codes, {name: stored[name] for name in stored.files})
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"the weights of {version} do not load: {exc}") from exc


def store(conn: psycopg.Connection, model: CodeModel, stored: StoredModel) -> StoredModel:
    """Keep ``model`` with its evaluation, and drop the weights no process will load (:data:`PRUNE_SQL`). One
    store at a time (an advisory lock); a model accepted against a model in use that another run has replaced
    meanwhile is kept unaccepted (it was not compared with the new one; the next run compares). Returns what
    was stored. The caller commits."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (STORE_LOCK,))
    current = in_use_version(conn, stored.catalogue_version)
    if stored.accepted and current != stored.compared_with:
        stored = replace(stored, accepted=False, verdict=(
            f"not compared with {current}, which came into use while it trained; the next run compares"))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **model.arrays())
    conn.execute(INSERT_SQL, asdict(stored) | {"metrics": Jsonb(stored.metrics), "model": buffer.getvalue()})
    conn.execute(PRUNE_SQL, {"keep": stored.version})
    return stored
