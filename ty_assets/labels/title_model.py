"""``title_model``: the lexical model trained on the catalogue plus the BA's own labels, with the blocking check
that says whether it is used. The rules are in :mod:`ty_resources.title_model`; this module runs them.

The check is evaluated by the asset itself (``check_specs``): only the run that trained a model can judge it,
and it judges by the verdict stored with the model, which is what decides its use (``title_models.accepted``).
A run that trains nothing passes it. The labels depend on the stored verdict, not on the check, so they stay
with the model in use also when ``berufenet_labels`` runs in another job (the daily one)."""

import time
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ty_assets.catalogue import berufenet_catalogue
from ty_assets.metadata import SECONDS
from ty_assets.partitions import TITLE_MODEL_FRESHNESS
from ty_assets.postings import postings
from ty_assets.resources import DatabaseResource, EmbedderResource
from ty_assets.tables import table_metadata
from ty_resources.catalogue import CatalogueMissing
from ty_resources.classifier import Classifier, load_index
from ty_resources.code_model import VERSION as CODE_MODEL_VERSION
from ty_resources.code_model import CodeModel
from ty_resources.settings import get_settings
from ty_resources.title_model import Split, StoredModel, evaluate, latest, load_pairs, store, train, verdict

CHECK = "title_model_not_worse"


@asset(
    deps=[postings, berufenet_catalogue],
    freshness_policy=TITLE_MODEL_FRESHNESS,
    pool="ollama",
    group_name="labels",
    kinds={"postgres", "scikitlearn"},
    owners=["team:data-platform"],
    metadata=table_metadata("title_model"),
    description=(
        "The lexical model of the label cascade trained on the catalogue plus every title key whose postings' BA "
        "`beruf` names a catalogue title (a labelled example of how that profession's titles are written). "
        "Evaluated beside the model in use and the catalogue's own on a fixed held-out fifth of the keys; "
        "berufenet_labels uses the latest model that was not worse. Trains only when "
        "TY_TITLE_MODEL_MIN_NEW_POSTINGS postings with such a `beruf` have come since the latest model, or the "
        "catalogue changed."
    ),
    check_specs=[AssetCheckSpec(
        CHECK, asset="title_model", blocking=True,
        description="The model this run trained is not worse than the model in use nor than the catalogue's own on "
                    "the same held-out titles (first candidate right, settled right, matched wrong), so the labels "
                    "use it; a worse one is stored but not used. Runs that train nothing pass.")],
)
def title_model(context: AssetExecutionContext, database: DatabaseResource, embedder: EmbedderResource
                ) -> MaterializeResult:
    settings = get_settings()
    started = time.perf_counter()
    with database.connection() as conn:
        try:
            index, catalogue_version = load_index(conn, embedder.get_embedder(), settings.resolved_cache_dir,
                                                      end_reads=conn.commit)
        except CatalogueMissing as exc:
            raise Failure(str(exc)) from exc
        search_key = index.vocabulary.search_key
        split = Split.of(load_pairs(conn), search_key, lambda text: bool(index.exact_match(text)),
                         settings.title_model_max_pairs, settings.title_model_eval_pairs)
        last = latest(conn)
        conn.rollback()  # read only: no snapshot held open through the training
    base: dict[str, Any] = {"in_use": index.code_model_version, "labelled_postings": split.labelled_postings,
                            "train_pairs": len(split.train), "held_out_pairs": len(split.held_out)}
    previous = last if last is not None and last.catalogue_version == catalogue_version else None
    new = split.labelled_postings - (previous.labelled_postings if previous else 0)
    due = new >= settings.title_model_min_new_postings
    why = (f"{new} postings with a usable `beruf` since {previous.version if previous else 'the catalogue model'} "
           f"(TY_TITLE_MODEL_MIN_NEW_POSTINGS {settings.title_model_min_new_postings})")
    if not due:
        context.log.info("title_model: not trained: %s", why)
        check: dict[str, Any] = {"trained": False, "in_use": index.code_model_version}
        if last is not None:
            check |= {"latest": last.version, "latest_accepted": last.accepted}
        return MaterializeResult(
            metadata={**base, "trained": False, "reason": why, SECONDS: round(time.perf_counter() - started, 3)},
            data_version=DataVersion(index.code_model_version),
            check_results=[AssetCheckResult(check_name=CHECK, passed=True, metadata=check)])
    version = split.version(catalogue_version)
    context.log.info("title_model: training %s: %s", version, why)
    model = train(index.examples, index.codes, split, search_key)
    trained = time.perf_counter()
    outcomes = {"the model in use": evaluate(Classifier.from_settings(index, None, settings), split.held_out)}
    if index.code_model_version != CODE_MODEL_VERSION:  # and the catalogue's own, so losses cannot add up
        own = CodeModel.cached(index.examples, index.codes, settings.resolved_cache_dir)
        outcomes["the catalogue's model"] = evaluate(
            Classifier.from_settings(index.with_code_model(own, CODE_MODEL_VERSION), None, settings), split.held_out)
    candidate = evaluate(Classifier.from_settings(index.with_code_model(model, version), None, settings),
                         split.held_out)
    accepted, reason = verdict(candidate, outcomes)
    metrics = {"candidate": candidate.metrics().as_json(), "in_use": outcomes["the model in use"].metrics().as_json()}
    if "the catalogue's model" in outcomes:
        metrics["catalogue"] = outcomes["the catalogue's model"].metrics().as_json()
    stored = StoredModel(version, catalogue_version, split.labelled_postings, len(split.train), len(split.held_out),
                         index.code_model_version, metrics, accepted, reason)
    with database.connection() as conn:
        stored = store(conn, model, stored)
        conn.commit()
    evaluation = {f"{who}_{k}": v for who, values in stored.metrics.items() for k, v in values.items()}
    return MaterializeResult(
        metadata={**base, "trained": True, "reason": why, "version": version, "accepted": stored.accepted,
                  **evaluation, "verdict": MetadataValue.text(stored.verdict),
                  "training_seconds": round(trained - started, 1),
                  SECONDS: round(time.perf_counter() - started, 3)},
        data_version=DataVersion(version if stored.accepted else index.code_model_version),
        check_results=[AssetCheckResult(check_name=CHECK, passed=stored.accepted, metadata={
            "trained": True, "latest": version, "in_use": version if stored.accepted else index.code_model_version,
            **evaluation, "verdict": MetadataValue.text(stored.verdict)})])
