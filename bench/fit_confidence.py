"""Fit the label cascade's confidence model (``ty_resources/data/label_confidence.json``) and print its table.

``make fit-confidence``. The model learns, from the *tuning* part of the hand-written sets in ``bench/data``
(job-board titles and self-descriptions), how likely a title's first candidate is right given its signals
(:data:`ty_resources.confidence.FEATURES`), for the offline embedder. The holdout part stays out of it:
``make bench-classify-quality`` reports the model on it. Re-run after changing the search (weights, the
vocabulary, the lexical model): a test fails while the shipped model is not the one this script fits.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.classify_quality import HAND_SETS, read_hand_set
from ty_resources.classifier import Classifier, ProfessionIndex, classify_titles
from ty_resources.confidence import CONFIDENCE_CANDIDATES, CONFIDENCE_FILE, ConfidenceModel, features, fit
from ty_resources.embedders import LocalEmbedder
from ty_resources.kldb import read_kldb
from ty_resources.settings import get_settings

SPLIT = "tune"


def fit_model(index: ProfessionIndex) -> ConfidenceModel:
    texts, accepted = [], []
    for path in HAND_SETS.values():
        for text, codes, split in read_hand_set(path):
            if split == SPLIT:
                texts.append(text)
                accepted.append(codes)
    # The cascade itself says which titles it takes whatever their confidence (exact readings, typos), and
    # gives the others' candidates as the confidence reads them (top CONFIDENCE_CANDIDATES).
    labelled = classify_titles(Classifier(index, k=CONFIDENCE_CANDIDATES), texts)
    always = [item.label.method in ("exact", "typo") for item in labelled]
    rows = [features(item.candidates) for item in labelled]
    right = [(item.profession if taken and item.profession else item.candidates[0]).kldb_code in codes
             for item, taken, codes in zip(labelled, always, accepted)]
    return fit(rows, right, always, index.embedder.model,
               fitted_on=f"bench/data hand-written sets, {SPLIT} part ({len(texts)} titles)")


def model_text(model: ConfidenceModel) -> str:
    """The model as JSON, one table row a line (readable in a diff)."""
    body = model.to_json()
    rows = ",\n  ".join(json.dumps(row) for row in body.pop("table"))
    head = json.dumps(body, ensure_ascii=False, indent=1)[:-2]
    return f'{head},\n "table": [\n  {rows}\n ]\n}}\n'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {CONFIDENCE_FILE.name}")
    args = parser.parse_args()
    settings = get_settings()
    catalogue = read_kldb()
    index = ProfessionIndex.from_catalogue(catalogue, LocalEmbedder(dimension=settings.local_embed_dimension),
                                           cache_dir=settings.resolved_cache_dir)
    model = fit_model(index)
    for precision in (0.90, 0.95, 0.97, 0.98, 0.99):
        print(f"precision {precision:.2f}: accept at confidence {model.threshold(precision):.3f}, "
              f"coverage {model.coverage(precision):.3f} (cross-validated, {model.fitted_on})")
    print("weights: " + ", ".join(f"{n}={c:+.3f}" for n, c in zip(model.names, model.coef)) +
          f", intercept={model.intercept:+.3f}")
    if args.write:
        CONFIDENCE_FILE.write_text(model_text(model), encoding="utf-8")
        print(f"wrote {CONFIDENCE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
