"""The network-bound assets retry a failed step (RetryPolicy with backoff, TY_RETRY_*), and a failure no retry can
mend is not retried. The policy is made when ty_assets is imported, and the suite runs with TY_RETRY_MAX=0
(tests/conftest.py), so the real policy runs here in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ty_assets.definitions import defs
from ty_testing.ba_server import BaTestServer, Fault

NETWORK_ASSETS = {"postings", "posting_descriptions", "posting_embeddings", "posting_summaries", "berufenet_labels",
                  "profession_similarity"}

RUN = """
import json, sys
from dagster import DagsterInstance, materialize
from ty_assets.market import profession_similarity
from ty_assets.postings import postings
from ty_assets.resources import DatabaseResource, EmbedderResource, OllamaResource, PostingSourceResource
database = DatabaseResource(database_url=sys.argv[1])
out = {}
for name, assets, resources in (
    ("postings", [postings], {"database": database,
                              "source": PostingSourceResource(source="ba", ba_base_url=sys.argv[2])}),
    # no catalogue loaded: a Failure that a retry cannot mend
    ("profession_similarity", [profession_similarity],
     {"database": database, "embedder": EmbedderResource(ollama=OllamaResource(hosts=""))}),
):
    result = materialize(assets, partition_key=sys.argv[3], resources=resources, instance=DagsterInstance.ephemeral(),
                         raise_on_error=False)
    out[name] = {"success": result.success,
                 "events": [e.event_type_value for e in result.all_events if e.step_key == name]}
print(json.dumps(out))
"""


def test_the_network_bound_assets_have_the_retry_policy():
    graph = defs.resolve_asset_graph()
    retried = {key.to_user_string() for key in graph.get_all_asset_keys()
               if graph.get(key).assets_def.op.retry_policy is not None}
    assert retried == NETWORK_ASSETS


def test_a_step_that_fails_once_is_retried_and_a_hopeless_one_is_not(db_url, small_snapshot):
    day = small_snapshot.day_keys[-1]
    env = {**os.environ, "TY_RETRY_MAX": "2", "TY_RETRY_DELAY_S": "0", "TY_BA_MAX_RETRIES": "0",
           "TY_BA_BACKOFF_S": "0.01", "TY_BA_REQUESTS_PER_S": "1000", "TY_BA_PAGE_SIZE": "50",
           "TY_LOG_LEVEL": "WARNING"}
    with BaTestServer(small_snapshot) as server:
        fault = server.add_fault(Fault("503", page=2, count=1))  # the client gives up at once (no retries)
        done = subprocess.run([sys.executable, "-c", RUN, db_url, server.url, day], env=env, capture_output=True,
                              text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    crawl = out["postings"]
    assert fault.served == 1
    assert crawl["success"], crawl
    assert crawl["events"].count("STEP_UP_FOR_RETRY") == 1 and crawl["events"].count("STEP_RESTARTED") == 1
    assert crawl["events"][-1] == "STEP_SUCCESS"
    hopeless = out["profession_similarity"]
    assert not hopeless["success"]
    assert "STEP_UP_FOR_RETRY" not in hopeless["events"] and hopeless["events"][-1] == "STEP_FAILURE"
