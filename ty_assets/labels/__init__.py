"""BERUFENET labels of the posting titles."""

from ty_assets.labels.assets import berufenet_labels
from ty_assets.labels.checks import label_checks

__all__ = ["berufenet_labels", "label_checks"]
