"""BERUFENET labels of the posting titles, and the lexical model they are found with."""

from ty_assets.labels.assets import berufenet_labels
from ty_assets.labels.checks import label_checks
from ty_assets.labels.title_model import title_model

__all__ = ["berufenet_labels", "label_checks", "title_model"]
