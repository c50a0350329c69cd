"""Event sources of template.yaml, run locally the way the Lambda service runs them.

- SQS: an event source mapping (batches, partial batch responses, up to
  MaximumConcurrency invocations at once, FIFO message groups one batch at a time).
- DynamoDB streams: a shard poller with FilterCriteria, batches, partial batch responses,
  retries, bisection and the on-failure destination.
- TTL: moto never expires items, so a sweeper deletes items past their TTL attribute and
  marks the REMOVE stream records it causes as the DynamoDB service's own, as AWS does.
- Schedules: `rate(...)` rules fire the EventBridge "Scheduled Event".
"""

from local.sources.base import EventSource, MappedSource
from local.sources.filters import filter_patterns, matches
from local.sources.schedules import Schedule, parse_rate, scheduled_event
from local.sources.sqs import SqsPoller, sqs_record
from local.sources.streams import StreamPoller, stream_record
from local.sources.ttl import TTL_IDENTITY, TtlDeletes, TtlSweeper

__all__ = [
    "TTL_IDENTITY",
    "EventSource",
    "MappedSource",
    "Schedule",
    "SqsPoller",
    "StreamPoller",
    "TtlDeletes",
    "TtlSweeper",
    "filter_patterns",
    "matches",
    "parse_rate",
    "scheduled_event",
    "sqs_record",
    "stream_record",
]
