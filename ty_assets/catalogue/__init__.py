"""The profession catalogue: KldB 2010 codes and BERUFENET job titles."""

from ty_assets.catalogue.assets import berufenet_catalogue
from ty_assets.catalogue.checks import catalogue_checks

__all__ = ["berufenet_catalogue", "catalogue_checks"]
