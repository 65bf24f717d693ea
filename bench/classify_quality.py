"""Evaluation of the label cascade on two sets built from the catalogue.

- *seen*: SEEN catalogue titles (seeded sample) written as postings write them,
  with the snapshot generator's own noise (gender markers, seniority, place,
  working time, shift words, female forms, typos; no vague titles).
- *seen, shortened*: the same titles with the generator's lossy shortenings too
  (the degree in brackets dropped, the specialisation after ' - ' cut off:
  'Meister/in - Gerberhandwerk' -> 'Meister (m/w/d)'). Those no longer name
  their own profession, so this is reported beside the targets, not in them.
- *held out*: HELD_OUT titles, the same noise, classified by an index built
  without any of the HELD_OUT catalogue entries (their vectors, exact readings
  and the lexical model's training data), so the answer must come from the
  other titles and the codes' own texts.

Offline (local embedder, no LLM) and with the scripted-LLM test server (its
model "knows" the truth for a share of the titles it is asked about: a stand-in
for a model that is right that often; see LLM_ACCURACY).

Reported: top-1 accuracy at the 5-digit KldB code (acc5) and the 3-digit group
(acc3) — the label if matched, else the best candidate —, coverage (share
matched) and precision (share of matched that are right at 5 digits). The
baseline is a plain character-n-gram (3-5, word bounded) TF-IDF nearest
neighbour over the catalogue names without the held-out ones (scikit-learn), on the same held-out set.

Besides, the sets nobody here generated (``bench/data``, written by hand): job-board titles as employers
write them and free-text self-descriptions, each with the codes a coder accepts, in a *tune* part and a
*holdout* part that stays out of every tuning decision. Offline cascade with the full catalogue, and the
same TF-IDF nearest neighbour over all catalogue names; a guess is right when its code (acc5) or its group
(acc3) is among the accepted ones.

The web stage (ty_resources/classifier.py, stage 5): every title of these sets (the generated ones and the
hand-written tune and holdout parts) that the offline cascade left ``no_match`` is searched for on the local
SearXNG (ty_testing/searx_server.py: realistic snippets built from the catalogue around the title's true code,
with its documented share of misleading and empty answers, seeded) and decided by a stand-in for the LLM that
knows no truth: it picks the candidate that at least WEB_MIN_NAMED snippets name (most first), else NONE
(ty_testing.searx_server.snippet_vote_script). So the numbers measure the stage's plumbing and its evidence (do
the snippets, the extra candidates they bring and the rule "a match cites snippets" settle titles, and how often
rightly), not a model's judgement. Reported per set: the no_match titles, how many the stage matched, and the
share of those right at 5 digits. The offline cascade leaves few titles no_match (its band waits for an LLM as
pending_llm), so a second figure takes every title it leaves unmatched (no_match and pending_llm, the latter as
if the LLM stages had answered NONE: no oracle there either) through the web stage.
"""

from __future__ import annotations

import csv
import dataclasses
import random
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np

from bench.common import scripted_llm
from ty_resources.classifier import Classifier, Label, ProfessionIndex, classify_titles
from ty_resources.embedders import LocalEmbedder
from ty_resources.germany import BERLIN
from ty_resources.kldb import Catalogue, Profession, read_kldb
from ty_resources.ollama import OllamaClient
from ty_resources.sample import generate_snapshot, noisy_titles
from ty_resources.settings import Settings, get_settings
from ty_resources.title_model import Pair, Split, train
from ty_resources.titles import normalize_title, title_key
from ty_resources.websearch import WebSearch
from ty_testing.ollama_server import CapacityModel, OllamaTestServer
from ty_testing.searx_server import SearxTestServer, query_title, snippet_vote_script

DATA_DIR = Path(__file__).resolve().parent / "data"
SEEN = 3000
HELD_OUT = 1500
LLM_ACCURACY = 0.9
WEB_MIN_NAMED = 2  # snippets that must name a candidate before the web stage's stand-in picks it
WEB_SEED = 2026


def evaluate(labels: Sequence[Label], truth: Sequence[Profession], by_id: dict[str, Profession]) -> dict[str, float]:
    hits5 = hits3 = matched = matched_right = 0
    for label, true in zip(labels, truth):
        guess = label.berufenet_id or (label.candidates[0].berufenet_id if label.candidates else None)
        code = by_id[guess].kldb_code if guess else ""
        hits5 += code == true.kldb_code
        hits3 += code[:3] == true.kldb_code[:3]
        if label.status == "matched":
            matched += 1
            matched_right += code == true.kldb_code
    n = len(truth)
    return {"acc5": hits5 / n, "acc3": hits3 / n, "coverage": matched / n,
            "precision": matched_right / matched if matched else 0.0}


def run_set(classifier: Classifier, titles: list[str], truth: list[Profession], by_id: dict[str, Profession],
            keep: list[Label] | None = None) -> dict[str, float]:
    # One title per key: two noisy titles can share a key; classify each example on its own.
    labels = [classifier.classify({normalize_title(title).key: title})[0] for title in titles]
    if keep is not None:
        keep += labels
    return evaluate(labels, truth, by_id)


def tfidf_guesses(professions: list[Profession], titles: list[str]) -> list[Profession]:
    """The plain baseline: each title's nearest catalogue name by character n-gram TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True)
    catalogue = vectorizer.fit_transform([p.name for p in professions])
    sims = (vectorizer.transform(titles) @ catalogue.T).toarray()
    return [professions[int(np.argmax(row))] for row in sims]


def tfidf_baseline(professions: list[Profession], titles: list[str], truth: list[Profession]) -> dict[str, float]:
    held = {p.berufenet_id for p in truth}
    guesses = tfidf_guesses([p for p in professions if p.berufenet_id not in held], titles)
    hits5 = sum(guess.kldb_code == true.kldb_code for guess, true in zip(guesses, truth))
    hits3 = sum(guess.kldb_code[:3] == true.kldb_code[:3] for guess, true in zip(guesses, truth))
    return {"acc5": hits5 / len(truth), "acc3": hits3 / len(truth)}


# ------------------------------------------------------------------ the hand-written sets

HAND_SETS = {"job_board": DATA_DIR / "job_board_titles.tsv", "self_described": DATA_DIR / "self_descriptions.tsv"}


def read_hand_set(path: Path) -> list[tuple[str, set[str], str]]:
    """(text, accepted 5-digit codes, split) per row of a hand-written set."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], set(row["codes"].split(";")), row["split"]) for row in rows]


def read_hand_set_ordered(path: Path) -> list[tuple[str, list[str], str]]:
    """:func:`read_hand_set` with the accepted codes in the file's order (most plausible first)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [(row["text"], row["codes"].split(";"), row["split"]) for row in rows]


def hand_scores(codes: Sequence[str | None], matched: Sequence[bool], accepted: Sequence[set[str]]
                ) -> dict[str, float]:
    """acc5 / acc3 of the guesses against the accepted codes; coverage and precision where ``matched``."""
    n = len(accepted)
    right5 = [code in ok for code, ok in zip(codes, accepted)]
    right3 = [bool(code) and code[:3] in {c[:3] for c in ok} for code, ok in zip(codes, accepted)]
    n_matched = sum(matched)
    return {"n": n, "acc5": sum(right5) / n, "acc3": sum(right3) / n, "coverage": n_matched / n,
            "precision": sum(r for r, m in zip(right5, matched) if m) / n_matched if n_matched else 0.0}


def run_hand_sets(classifier: Classifier, professions: list[Profession], by_id: dict[str, Profession],
                  keep: dict[str, list[Label]] | None = None) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, path in HAND_SETS.items():
        rows = read_hand_set(path)
        for split in ("tune", "holdout"):
            part = [row for row in rows if row[2] == split]
            texts, accepted = [row[0] for row in part], [row[1] for row in part]
            labels = classify_titles(classifier, texts)
            if keep is not None:
                keep[f"{name}_{split}"] = [item.label for item in labels]
            guesses = [item.profession or item.suggestion for item in labels]
            results[f"{name}_{split}"] = hand_scores(
                [g.kldb_code if g else None for g in guesses], [item.status == "matched" for item in labels],
                accepted)
            baseline = tfidf_guesses(professions, texts)
            results[f"{name}_{split}_tfidf"] = hand_scores([p.kldb_code for p in baseline], [False] * len(part),
                                                           accepted)
    return results


# ------------------------------------------------------------------ the web stage


@dataclasses.dataclass(frozen=True)
class WebSet:
    """A set's labels from the offline cascade, the codes accepted for each, and the classifier (its index) that
    made them."""

    labels: list[Label]
    accepted: list[list[str]]  # per label, the accepted 5-digit codes, most plausible first
    classifier: Classifier


def web_stage_scores(web_set: WebSet, classifier: Classifier, server: SearxTestServer, statuses: tuple[str, ...]
                     ) -> dict[str, float]:
    """The web stage on copies of the set's labels of ``statuses`` (pending_llm taken as the LLM's NONE): how
    many it matched, how many rightly."""
    todo = [(dataclasses.replace(label, status="llm_no" if label.status == "pending_llm" else label.status), codes)
            for label, codes in zip(web_set.labels, web_set.accepted)
            if label.status in statuses and label.candidates]
    server.truth = {query_title(label.example_title): codes[0] for label, codes in todo}
    settled = right = 0
    for label, codes in todo:
        classifier.web_look([label])
        if label.status == "matched":
            settled += 1
            right += classifier.index.by_id[label.berufenet_id or ""].kldb_code in codes
    return {"n": len(web_set.labels), "no_match": len(todo), "settled": settled, "right": right,
            "share": settled / len(todo) if todo else 0.0, "precision": right / settled if settled else 0.0}


def run_web_stage(catalogue: Catalogue, sets: dict[str, WebSet], settings: Settings
                  ) -> dict[str, dict[str, dict[str, float]]]:
    """Per set: the web stage on its ``no_match`` titles, and on all it left unmatched (``open``)."""
    script = snippet_vote_script(catalogue.professions, min_named=WEB_MIN_NAMED)
    results: dict[str, dict[str, dict[str, float]]] = {"no_match": {}, "open": {}}
    with OllamaTestServer(dimension=16, capacity=CapacityModel(time_scale=0), chat_script=script) as llm, \
            SearxTestServer(catalogue=catalogue, seed=WEB_SEED) as searx:
        client = OllamaClient([llm.url])
        web = WebSearch(searx.url, per_s=1000, results=settings.web_search_results)
        for name, web_set in sets.items():
            classifier = Classifier.from_settings(web_set.classifier.index, client, settings, web=web)
            results["no_match"][name] = web_stage_scores(web_set, classifier, searx, ("no_match",))
            results["open"][name] = web_stage_scores(web_set, classifier, searx, ("no_match", "pending_llm"))
    return results


def demo_title_model(catalogue: Catalogue, index: ProfessionIndex, settings: Settings
                     ) -> tuple[ProfessionIndex, int]:
    """``index`` with the title model that ``make run`` learns from the demo snapshot's ``beruf`` fields (the
    pairs as ty_resources/title_model_pairs.sql takes them from the postings, trained as the asset trains), and
    how many title keys it learnt from."""
    snapshot = generate_snapshot(catalogue, seed=settings.sample_seed, days=settings.sample_days,
                                 postings=settings.sample_postings, beruf_share=settings.sample_beruf_share,
                                 end_date=datetime.now(BERLIN).date())
    counts: Counter[tuple[str, str, str]] = Counter()
    titles: dict[str, str] = {}
    for item in snapshot.postings.values():  # one row per refnr, as in the postings table
        title = (item.get("titel") or "").strip()
        profession = index.by_name.get(item.get("beruf") or "")
        if title and profession is not None and title_key(title):
            key = title_key(title)
            counts[(key, profession.berufenet_id, profession.kldb_code)] += 1
            titles[key] = min(titles.get(key, title), title)
    pairs = sorted((Pair(key, titles[key], berufenet_id, code, n) for (key, berufenet_id, code), n in counts.items()),
                   key=lambda p: (-p.postings, p.title_key, p.berufenet_id))
    split = Split.of(pairs, index.vocabulary.search_key, lambda text: bool(index.exact_match(text)),
                     settings.title_model_max_pairs, settings.title_model_eval_pairs)
    model = train(index.examples, index.codes, split, index.vocabulary.search_key)
    return index.with_code_model(model, split.version("bench")), len(split.train)


def main() -> int:
    settings = get_settings()
    catalogue = read_kldb()
    professions = catalogue.professions
    by_id = {p.berufenet_id: p for p in professions}
    rng = random.Random(2026)
    seen_truth = rng.sample(professions, SEEN)
    held_truth = rng.sample(professions, HELD_OUT)
    seen_titles = [t for t, _ in noisy_titles(catalogue, seen_truth, seed=11)]
    shortened_titles = [t for t, _ in noisy_titles(catalogue, seen_truth, seed=11, lossy=True)]
    held_titles = [t for t, _ in noisy_titles(catalogue, held_truth, seed=12)]
    code_texts = catalogue.code_texts()
    embedder = LocalEmbedder(dimension=settings.local_embed_dimension)
    cache_dir = settings.resolved_cache_dir
    index = ProfessionIndex(professions, code_texts, embedder, cache_dir=cache_dir)
    held_ids = {p.berufenet_id for p in held_truth}
    held_index = ProfessionIndex([p for p in professions if p.berufenet_id not in held_ids], code_texts, embedder,
                                 cache_dir=cache_dir)
    offline, held_offline = Classifier.from_settings(index, None, settings), Classifier.from_settings(
        held_index, None, settings)
    kept: dict[str, list[Label]] = {"seen": [], "seen_shortened": [], "held_out": []}
    results = {
        "seen": run_set(offline, seen_titles, seen_truth, by_id, kept["seen"]),
        "seen_shortened": run_set(offline, shortened_titles, seen_truth, by_id, kept["seen_shortened"]),
        "held_out": run_set(held_offline, held_titles, held_truth, by_id, kept["held_out"]),
    }

    truth_of = {t: p for t, p in zip(seen_titles + held_titles, seen_truth + held_truth)}

    script = scripted_llm(truth_of, by_id, LLM_ACCURACY)
    with OllamaTestServer(dimension=16, capacity=CapacityModel(time_scale=0), chat_script=script) as server:
        client = OllamaClient([server.url])
        results["seen_llm"] = run_set(Classifier.from_settings(index, client, settings), seen_titles, seen_truth,
                                      by_id)
        results["held_out_llm"] = run_set(Classifier.from_settings(held_index, client, settings), held_titles,
                                          held_truth, by_id)
    baseline = tfidf_baseline(professions, held_titles, held_truth)
    hand_kept: dict[str, list[Label]] = {}
    hand = run_hand_sets(offline, professions, by_id, hand_kept)
    web_sets = {name: WebSet(kept[name], [[p.kldb_code] for p in truth], classifier) for name, truth, classifier in (
        ("seen", seen_truth, offline), ("seen_shortened", seen_truth, offline), ("held_out", held_truth, held_offline))}
    for name, path in HAND_SETS.items():
        codes = {text: row_codes for text, row_codes, _ in read_hand_set_ordered(path)}
        for split in ("tune", "holdout"):
            labels = hand_kept[f"{name}_{split}"]
            web_sets[f"{name}_{split}"] = WebSet(labels, [codes[label.example_title] for label in labels], offline)
    web_results = run_web_stage(catalogue, web_sets, settings)
    learnt_index, learnt_keys = demo_title_model(catalogue, index, settings)
    learnt = run_hand_sets(Classifier.from_settings(learnt_index, None, settings), professions, by_id)

    print(f"accept at confidence {offline.accept_confidence:.3f} (TY_LABEL_PRECISION={settings.label_precision}), "
          f"no_match below {settings.reject_confidence}; seen n={SEEN}, held out n={HELD_OUT}")
    print(f"{'set':<16}{'acc5':>8}{'acc3':>8}{'coverage':>10}{'precision':>11}")
    for name, r in results.items():
        print(f"{name:<16}{r['acc5']:8.3f}{r['acc3']:8.3f}{r['coverage']:10.3f}{r['precision']:11.3f}")
    print(f"{'tfidf NN':<16}{baseline['acc5']:8.3f}{baseline['acc3']:8.3f}   (held out, baseline)")
    print("\nhand-written sets (bench/data), offline cascade vs TF-IDF nearest neighbour over all names:")
    print(f"{'set':<30}{'n':>6}{'acc5':>8}{'acc3':>8}{'coverage':>10}{'precision':>11}")
    for name, r in hand.items():
        shown = f"{r['coverage']:10.3f}{r['precision']:11.3f}" if not name.endswith("_tfidf") else ""
        print(f"{name:<30}{r['n']:6d}{r['acc5']:8.3f}{r['acc3']:8.3f}{shown}")
    print(f"\nthe same with the title model learnt from the demo snapshot's `beruf` ({learnt_keys:,} title keys):")
    for name, r in learnt.items():
        if not name.endswith("_tfidf"):
            print(f"{name:<30}{r['n']:6d}{r['acc5']:8.3f}{r['acc3']:8.3f}{r['coverage']:10.3f}{r['precision']:11.3f}")
    print("\nthe web stage on the titles the offline cascade left no_match, and on all it left unmatched "
          f"(no_match and pending_llm; local SearXNG, seed {WEB_SEED}; stand-in LLM: the candidate >= "
          f"{WEB_MIN_NAMED} snippets name, no oracle):")
    print(f"{'set':<24}{'n':>6}{'no_match':>10}{'settled':>9}{'precision':>11}{'unmatched':>11}{'settled':>9}"
          f"{'precision':>11}")
    for name, r in web_results["no_match"].items():
        o = web_results["open"][name]
        print(f"{name:<24}{r['n']:6d}{r['no_match']:10d}{r['settled']:9d}{r['precision']:11.3f}"
              f"{o['no_match']:11d}{o['settled']:9d}{o['precision']:11.3f}")
    totals = {kind: {field: sum(r[field] for r in per_set.values()) for field in ("no_match", "settled", "right")}
              for kind, per_set in web_results.items()}
    web_no_match, web_settled, web_right = (totals["no_match"][f] for f in ("no_match", "settled", "right"))
    web_open, web_open_settled, web_open_right = (totals["open"][f] for f in ("no_match", "settled", "right"))
    print(f"{'all':<24}{'':6}{web_no_match:10d}{web_settled:9d}{web_right / max(web_settled, 1):11.3f}"
          f"{web_open:11d}{web_open_settled:9d}{web_open_right / max(web_open_settled, 1):11.3f}")
    web_board = web_results["open"]["job_board_holdout"]
    s, h = results["seen"], results["held_out"]
    jb, sd = hand["job_board_holdout"], hand["self_described_holdout"]
    print(f"BENCH classify-quality seen_acc5={s['acc5']:.3f} heldout_acc5={h['acc5']:.3f} "
          f"heldout_acc3={h['acc3']:.3f} coverage={s['coverage']:.3f} precision={s['precision']:.3f} "
          f"baseline_heldout_acc5={baseline['acc5']:.3f} board_holdout_acc5={jb['acc5']:.3f} "
          f"board_holdout_coverage={jb['coverage']:.3f} board_holdout_precision={jb['precision']:.3f} "
          f"board_holdout_tfidf_acc5={hand['job_board_holdout_tfidf']['acc5']:.3f} "
          f"self_holdout_acc3={sd['acc3']:.3f} "
          f"learnt_board_holdout_acc5={learnt['job_board_holdout']['acc5']:.3f} "
          f"learnt_board_holdout_coverage={learnt['job_board_holdout']['coverage']:.3f} "
          f"web_no_match={web_no_match} web_settled={web_settled} "
          f"web_precision={web_right / web_settled if web_settled else 0.0:.3f} "
          f"web_open={web_open} web_open_settled={web_open_settled} "
          f"web_open_precision={web_open_right / web_open_settled if web_open_settled else 0.0:.3f} "
          f"web_board_holdout_open={web_board['no_match']} web_board_holdout_settled={web_board['settled']} "
          f"web_board_holdout_precision={web_board['precision']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
