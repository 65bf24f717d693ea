"""Partitions of the graph: a partition key is the day postings were fetched (Europe/Berlin)."""

from dagster import DailyPartitionsDefinition

from ty_resources.germany import BERLIN
from ty_resources.settings import get_settings

# end_offset=1: today's partition exists during the day, so the evening schedule
# and `make run` can fill it.
daily_partitions = DailyPartitionsDefinition(
    start_date=get_settings().partitions_start, timezone=BERLIN.key, end_offset=1
)
