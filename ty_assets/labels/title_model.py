"""``title_model``: the lexical model trained on the catalogue plus the BA's own labels, and the blocking check
that keeps a worse one out of use. The rules are in :mod:`ty_resources.title_model`; this module runs them."""

import time
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.metadata import SECONDS
from ty_assets.postings import postings
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_resources.catalogue import CatalogueMissing
from ty_resources.classifier import Classifier, load_index
from ty_resources.settings import get_settings
from ty_resources.title_model import (
    Split,
    StoredModel,
    evaluate,
    latest,
    load_pairs,
    store,
    train,
    verdict,
)


def _metrics_metadata(stored: StoredModel) -> dict[str, Any]:
    return {
        **{f"candidate_{k}": v for k, v in stored.metrics["candidate"].items()},
        **{f"in_use_{k}": v for k, v in stored.metrics["in_use"].items()},
        "compared_with": stored.compared_with,
        "verdict": stored.verdict,
    }


@asset(
    deps=[postings, berufenet_catalogue],
    group_name="labels",
    kinds={"postgres", "scikitlearn"},
    owners=["team:data-platform"],
    description=(
        "The lexical model of the label cascade trained on the catalogue plus every posting whose BA `beruf` "
        "names a catalogue title (a labelled example of how that profession's titles are written). Evaluated "
        "beside the model in use on a fixed held-out fifth of the title keys; berufenet_labels uses the latest "
        "model that was not worse (title_model_not_worse). Trains only when TY_TITLE_MODEL_MIN_NEW_PAIRS new "
        "pairs have come since the latest model, or the catalogue changed."
    ),
)
def title_model(context: AssetExecutionContext, database: DatabaseResource, embedder: EmbedderResource
                ) -> MaterializeResult:
    settings = get_settings()
    started = time.perf_counter()
    with database.connection() as conn:
        try:
            index, catalogue_version = load_index(conn, embedder.get_embedder(), settings.resolved_cache_dir)
        except CatalogueMissing as exc:
            raise Failure(str(exc)) from exc
        split = Split.of(load_pairs(conn), settings.title_model_max_pairs, settings.title_model_eval_pairs)
        last = latest(conn)
        conn.rollback()  # read only: no snapshot held open through the training
    base: dict[str, Any] = {"in_use": index.code_model_version, "train_pairs": len(split.train),
            "held_out_pairs": len(split.held_out)}  # evaluated: those that are no catalogue reading
    if last is not None and last.catalogue_version == catalogue_version:
        due = len(split.train) - last.train_pairs >= settings.title_model_min_new_pairs
        why = (f"{len(split.train) - last.train_pairs} new training pairs since {last.version} "
               f"(TY_TITLE_MODEL_MIN_NEW_PAIRS {settings.title_model_min_new_pairs})")
    else:
        due = len(split.train) >= settings.title_model_min_new_pairs
        why = (f"{len(split.train)} training pairs for catalogue {catalogue_version} "
               f"(TY_TITLE_MODEL_MIN_NEW_PAIRS {settings.title_model_min_new_pairs})")
    if not due:
        context.log.info("title_model: not trained: %s", why)
        return MaterializeResult(
            metadata={**base, "trained": False, "reason": why, SECONDS: round(time.perf_counter() - started, 3)},
            data_version=DataVersion(index.code_model_version))
    version = split.version(catalogue_version)
    context.log.info("title_model: training %s: %s", version, why)
    model = train(index.examples, index.codes, split, index.vocabulary.search_key)
    trained = time.perf_counter()
    # Keys that are a catalogue reading are matched exactly whatever the lexical model: they do not tell.
    searched = [p for p in split.held_out if not index.exact_match(p.title_key)]
    in_use = evaluate(Classifier.from_settings(index, None, settings), searched)
    candidate = evaluate(Classifier.from_settings(index.with_code_model(model, version), None, settings), searched)
    accepted, reason = verdict(candidate, in_use, settings.label_precision)
    stored = StoredModel(version, catalogue_version, len(split.train), len(searched), index.code_model_version,
                         {"candidate": candidate.as_json(), "in_use": in_use.as_json()}, accepted, reason)
    with database.connection() as conn:
        store(conn, model, stored)
        conn.commit()
    return MaterializeResult(
        metadata={**base, "trained": True, "reason": why, "version": version, "accepted": accepted,
                  **_metrics_metadata(stored),
                  "training_seconds": round(trained - started, 1),
                  SECONDS: round(time.perf_counter() - started, 3)},
        data_version=DataVersion(version if accepted else index.code_model_version))


@asset_check(
    asset=title_model, blocking=True,
    description="The latest title model is not worse than the model in use on the same held-out pairs "
                "(top-1 accuracy, precision of matched): a worse one is stored but not used, and this check fails "
                "until a better one is trained.",
)
def title_model_not_worse(database: DatabaseResource) -> AssetCheckResult:
    with database.connection() as conn:
        last = latest(conn)
    if last is None:
        return AssetCheckResult(passed=True, metadata={"in_use": "the catalogue's own lexical model",
                                                       "reason": "no title model trained yet"})
    passed, reason = verdict(last.candidate(), last.in_use(), get_settings().label_precision)
    return AssetCheckResult(passed=passed, metadata={
        "latest": last.version, **_metrics_metadata(last), "verdict": MetadataValue.text(reason)})


title_model_checks = [title_model_not_worse]
