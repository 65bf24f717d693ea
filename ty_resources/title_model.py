"""The lexical model learnt from the BA's own labels: the ``title_model`` asset's rules. No Dagster here.

Many postings carry ``beruf``, the profession the employer chose in the BA's system. Where it names an active
catalogue title exactly (the rule by which a posting takes ``label_source = 'beruf'``), the posting's title key
and that title are a labelled example of how the profession's titles are written. A title model is the
lexical model of the cascade (:class:`~ty_resources.code_model.CodeModel`) trained on the catalogue's readings
plus these pairs.

- **Pairs**: the distinct (title key, catalogue title) of every posting ever stored, withdrawn ones too (how a
  title was written does not expire), the most frequent first up to ``TY_TITLE_MODEL_MAX_PAIRS``.
- **Held out**: a fixed fifth of the title keys (by a hash of the key, the same every day) is never trained on.
  Each new model is evaluated on them beside the model in use, by the offline cascade as the pipeline runs it
  (:func:`evaluate`): top-1 accuracy at 5 digits, and coverage and precision of ``matched``.
- **Accepted** only when it is not worse than the model in use (:func:`verdict`); else the model in use stays
  and the blocking check ``title_model_not_worse`` fails in the UI. The pipeline's labels use the latest
  accepted model of the catalogue version (:func:`load_in_use`); its version is part of the labels' decision
  version, so a new model re-opens (``revised``) only the labels that retrieval decided.
- **Stored** in PostgreSQL (``title_models``), so every process on every host uses the same model; the
  weights of superseded models are dropped, their evaluation kept.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel
from ty_resources.sqlfiles import sql_file

HELD_OUT_EVERY = 5  # one title key in five is held out (by its hash)
TOLERANCE = 0.005  # a new model may lose at most this much top-1 accuracy and settled-right share ...
PRECISION_TOLERANCE = 0.01  # ... and this much precision of `matched`, unless it stays at the target

PAIRS_SQL = sql_file(__file__, "title_model_pairs.sql")
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
    """Every pair, the most postings first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [Pair(**row) for row in cur.execute(PAIRS_SQL)]


def held_out(title_key: str) -> bool:
    """Whether the key belongs to the held-out fifth: fixed by the key alone, so a key once held out is never
    trained on, on any day."""
    return zlib.crc32(title_key.encode()) % HELD_OUT_EVERY == 0


@dataclass(frozen=True)
class Split:
    train: list[Pair]  # every pair of a training key (a key whose postings named two titles gives two)
    held_out: list[Pair]  # one pair per held-out key: the title most of its postings named

    @classmethod
    def of(cls, pairs: Sequence[Pair], max_pairs: int, eval_pairs: int) -> Split:
        train = [p for p in pairs if not held_out(p.title_key)][:max_pairs]
        truth: dict[str, Pair] = {}
        for pair in pairs:  # the most postings first: the first pair of a key is its majority title
            if held_out(pair.title_key) and pair.title_key not in truth:
                truth[pair.title_key] = pair
        # A fixed sample when there are more than eval_pairs: by the key's hash, not by frequency.
        sample = sorted(truth.values(), key=lambda p: (zlib.crc32(p.title_key.encode(), 1), p.title_key))
        return cls(train, sample[:eval_pairs])

    def version(self, catalogue_version: str) -> str:
        """The model's version: a hash of what it learns from."""
        digest = hashlib.sha256("\x1e".join([CODE_MODEL_VERSION, catalogue_version, *(
            f"{p.title_key}\x1f{p.kldb_code}" for p in sorted(self.train, key=lambda p: (p.title_key, p.kldb_code)))
        ]).encode()).hexdigest()
        return f"title-model-{digest[:12]}"


def train(catalogue_examples: Sequence[tuple[str, str]], codes: Sequence[str], split: Split,
          search_key: Callable[[str], str]) -> CodeModel:
    """The lexical model of the catalogue's examples plus the training pairs, each as the cascade searches it
    (``search_key``)."""
    examples = [*catalogue_examples, *((search_key(p.title_key), p.kldb_code) for p in split.train)]
    return CodeModel.train(examples, codes)


@dataclass(frozen=True)
class Metrics:
    pairs: int
    accuracy: float  # the first candidate's 5-digit code is the BA's
    coverage: float  # share settled as `matched` offline
    precision: float  # of those, share with the BA's 5-digit code
    settled_right: float  # share matched with the BA's 5-digit code (coverage x precision)

    @classmethod
    def of(cls, pairs: Sequence[Pair], first_codes: Sequence[str | None], matched_codes: Sequence[str | None]
           ) -> Metrics:
        n = len(pairs)
        right = sum(code == p.kldb_code for p, code in zip(pairs, first_codes))
        matched = [(p, code) for p, code in zip(pairs, matched_codes) if code is not None]
        matched_right = sum(code == p.kldb_code for p, code in matched)
        return cls(n, round(right / n, 4) if n else 0.0, round(len(matched) / n, 4) if n else 0.0,
                   round(matched_right / len(matched), 4) if matched else 1.0,
                   round(matched_right / n, 4) if n else 0.0)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(classifier: Any, pairs: Sequence[Pair]) -> Metrics:
    """``classifier`` (a :class:`~ty_resources.classifier.Classifier` without an LLM) on the held-out pairs."""
    labels = classifier.classify({p.title_key: p.example_title for p in pairs})
    codes = {c.berufenet_id: c.kldb_code for lab in labels for c in lab.candidates}
    first = [lab.candidates[0].kldb_code if lab.candidates else None for lab in labels]
    matched = [codes.get(lab.berufenet_id) if lab.status == "matched" else None for lab in labels]
    return Metrics.of(pairs, first, matched)


def verdict(candidate: Metrics, in_use: Metrics, target_precision: float) -> tuple[bool, str]:
    """Whether ``candidate`` may replace the model in use, and why. On the same held-out pairs it may lose at
    most :data:`TOLERANCE` (or one pair, where that is more) of top-1 accuracy and of the share it settles
    right offline (``matched`` with the BA's code: a model that ranks alike but is less sure sends titles to
    the LLM), and its precision of ``matched`` may fall by at most :data:`PRECISION_TOLERANCE` unless it stays
    at ``target_precision`` (TY_LABEL_PRECISION)."""
    if candidate.pairs == 0:
        return False, "no held-out pairs to evaluate it on"
    tolerance = max(TOLERANCE, 1 / candidate.pairs)
    summary = (f"top-1 accuracy {candidate.accuracy:.4f} (in use {in_use.accuracy:.4f}), settled right "
               f"{candidate.settled_right:.4f} ({in_use.settled_right:.4f}): coverage {candidate.coverage:.4f} "
               f"({in_use.coverage:.4f}) at precision {candidate.precision:.4f} ({in_use.precision:.4f}), on "
               f"{candidate.pairs} held-out pairs")
    if candidate.accuracy < in_use.accuracy - tolerance:
        return False, f"top-1 accuracy below the model in use by more than {tolerance:.4f}: {summary}"
    if candidate.settled_right < in_use.settled_right - tolerance:
        return False, f"settles fewer titles right than the model in use (by more than {tolerance:.4f}): {summary}"
    if candidate.precision < min(in_use.precision - PRECISION_TOLERANCE, target_precision):
        return False, (f"precision of matched below the model in use by more than {PRECISION_TOLERANCE} and below "
                       f"{target_precision}: {summary}")
    return True, summary


@dataclass(frozen=True)
class StoredModel:
    version: str
    catalogue_version: str
    train_pairs: int
    held_out_pairs: int
    compared_with: str
    metrics: dict[str, Any]
    accepted: bool
    verdict: str

    def candidate(self) -> Metrics:
        return Metrics(**self.metrics["candidate"])

    def in_use(self) -> Metrics:
        return Metrics(**self.metrics["in_use"])


def latest(conn: psycopg.Connection) -> StoredModel | None:
    """The model trained last (accepted or not), without its weights."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT version, catalogue_version, train_pairs, held_out_pairs, compared_with, metrics, accepted,"
            " verdict FROM title_models ORDER BY trained_at DESC, version LIMIT 1").fetchone()
    return StoredModel(**row) if row else None


def in_use_version(conn: psycopg.Connection, catalogue_version: str) -> str:
    """The version of the lexical model the labels use: the latest accepted title model of this catalogue
    version, else the catalogue's own model (:data:`~ty_resources.code_model.VERSION`)."""
    row = conn.execute(IN_USE_SQL, (catalogue_version,)).fetchone()
    return row[0] if row else CODE_MODEL_VERSION


def load_model(conn: psycopg.Connection, version: str, codes: Sequence[str]) -> CodeModel:
    """The stored weights of ``version`` as a model scoring ``codes`` (ValueError when they are gone or do not
    fit ``codes``)."""
    row = conn.execute("SELECT model FROM title_models WHERE version = %s", (version,)).fetchone()
    if row is None or row[0] is None:
        raise ValueError(f"the weights of {version} are not stored")
    try:
        with np.load(io.BytesIO(row[0]), allow_pickle=False) as stored:
            return CodeModel.from_arrays(codes, {name: stored[name] for name in stored.files})
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"the weights of {version} do not load: {exc}") from exc


def store(conn: psycopg.Connection, model: CodeModel, stored: StoredModel) -> None:
    """Keep ``model`` with its evaluation; drop the weights of every model neither in use nor this one (an
    evaluation keeps its row). The caller commits."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **model.arrays())
    values = asdict(stored) | {"metrics": Jsonb(stored.metrics), "model": buffer.getvalue()}
    conn.execute(
        "INSERT INTO title_models (version, catalogue_version, train_pairs, held_out_pairs, compared_with, metrics,"
        " accepted, verdict, model) VALUES (%(version)s, %(catalogue_version)s, %(train_pairs)s,"
        " %(held_out_pairs)s, %(compared_with)s, %(metrics)s, %(accepted)s, %(verdict)s, %(model)s)"
        " ON CONFLICT (version) DO UPDATE SET trained_at = clock_timestamp(), held_out_pairs = excluded.held_out_pairs,"
        " compared_with = excluded.compared_with, metrics = excluded.metrics, accepted = excluded.accepted,"
        " verdict = excluded.verdict, model = excluded.model", values)
    keep = {stored.version, in_use_version(conn, stored.catalogue_version)}
    conn.execute("UPDATE title_models SET model = NULL WHERE model IS NOT NULL AND NOT version = ANY(%s)",
                 (list(keep),))
