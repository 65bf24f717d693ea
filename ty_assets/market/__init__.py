"""Market views: demand per day, profession similarity (and the ``domains`` view of sql/007_market.sql)."""

from ty_assets.market.assets import (
    demand_checks,
    demand_snapshot,
    market_checks,
    profession_similarity,
    similarity_checks,
)

__all__ = ["demand_checks", "demand_snapshot", "market_checks", "profession_similarity", "similarity_checks"]
