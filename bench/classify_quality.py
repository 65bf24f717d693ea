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
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

import numpy as np

from bench.common import scripted_llm
from ty_resources.classifier import Classifier, Label, ProfessionIndex
from ty_resources.embedders import LocalEmbedder
from ty_resources.kldb import Profession, read_kldb
from ty_resources.ollama import OllamaClient
from ty_resources.sample import noisy_titles
from ty_resources.settings import get_settings
from ty_resources.titles import normalize_title
from ty_testing.ollama_server import CapacityModel, OllamaTestServer

SEEN = 3000
HELD_OUT = 1500
LLM_ACCURACY = 0.9


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


def run_set(classifier: Classifier, titles: list[str], truth: list[Profession], by_id: dict[str, Profession]
            ) -> dict[str, float]:
    # One title per key: two noisy titles can share a key; classify each example on its own.
    labels = [classifier.classify({normalize_title(title).key: title})[0] for title in titles]
    return evaluate(labels, truth, by_id)


def tfidf_baseline(professions: list[Profession], titles: list[str], truth: list[Profession]) -> dict[str, float]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), lowercase=True, sublinear_tf=True)
    held = {p.berufenet_id for p in truth}
    professions = [p for p in professions if p.berufenet_id not in held]
    catalogue = vectorizer.fit_transform([p.name for p in professions])
    queries = vectorizer.transform(titles)
    sims = (queries @ catalogue.T).toarray()
    hits5 = hits3 = 0
    for row, true in enumerate(truth):
        guess = professions[int(np.argmax(sims[row]))]
        hits5 += guess.kldb_code == true.kldb_code
        hits3 += guess.kldb_code[:3] == true.kldb_code[:3]
    return {"acc5": hits5 / len(truth), "acc3": hits3 / len(truth)}


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
    thresholds = {"accept": settings.accept_score, "reject": settings.reject_score}
    offline, held_offline = Classifier(index, **thresholds), Classifier(held_index, **thresholds)
    results = {
        "seen": run_set(offline, seen_titles, seen_truth, by_id),
        "seen_shortened": run_set(offline, shortened_titles, seen_truth, by_id),
        "held_out": run_set(held_offline, held_titles, held_truth, by_id),
    }

    truth_of = {t: p for t, p in zip(seen_titles + held_titles, seen_truth + held_truth)}

    script = scripted_llm(truth_of, by_id, LLM_ACCURACY)
    with OllamaTestServer(dimension=16, capacity=CapacityModel(time_scale=0), chat_script=script) as server:
        client = OllamaClient([server.url])
        results["seen_llm"] = run_set(Classifier(index, client, **thresholds), seen_titles, seen_truth, by_id)
        results["held_out_llm"] = run_set(Classifier(held_index, client, **thresholds), held_titles, held_truth,
                                          by_id)
    baseline = tfidf_baseline(professions, held_titles, held_truth)

    print(f"accept={settings.accept_score} reject={settings.reject_score}; seen n={SEEN}, held out n={HELD_OUT}")
    print(f"{'set':<16}{'acc5':>8}{'acc3':>8}{'coverage':>10}{'precision':>11}")
    for name, r in results.items():
        print(f"{name:<16}{r['acc5']:8.3f}{r['acc3']:8.3f}{r['coverage']:10.3f}{r['precision']:11.3f}")
    print(f"{'tfidf NN':<16}{baseline['acc5']:8.3f}{baseline['acc3']:8.3f}   (held out, baseline)")
    s, h = results["seen"], results["held_out"]
    print(f"BENCH classify-quality seen_acc5={s['acc5']:.3f} heldout_acc5={h['acc5']:.3f} "
          f"heldout_acc3={h['acc3']:.3f} coverage={s['coverage']:.3f} precision={s['precision']:.3f} "
          f"baseline_heldout_acc5={baseline['acc5']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
