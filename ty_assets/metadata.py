"""Metadata keys that more than the writing asset reads: ``tyctl health`` measures throughput from them.

An asset writes these entries with the constants below, and :mod:`ty_assets.health` reads them with the same
constants, so renaming one cannot silently break the report.
"""

SECONDS = "seconds"  # the asset's own work time, in seconds (float)
MODEL = "model"  # the embedding model whose vectors a materialization wrote

# The items one materialization processed, in the unit of the asset's backlog:
DESCRIPTIONS_FETCHED = "todo"  # posting_descriptions: postings whose details were asked for
LABELS_CLASSIFIED = "classified"  # berufenet_labels: title keys classified
EMBEDDINGS_WRITTEN = "embedded"  # posting_embeddings: postings embedded (new or changed text)
