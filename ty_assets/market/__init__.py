"""Market views: demand per day, profession similarity (and the ``domains`` view of sql/007_market.sql)."""

from ty_assets.market.assets import demand_snapshot, profession_similarity
from ty_assets.market.checks import demand_checks, market_checks, similarity_checks

__all__ = ["demand_checks", "demand_snapshot", "market_checks", "profession_similarity", "similarity_checks"]
