"""The consumer: every topic the sync log records, in batches, one subscriber, the shared
loop (``service_kit.consumer``).

All four topics are keyed by org_id and have the same partition count, and the range
assignor gives partition N of every topic to the same instance: one organisation's events,
results and dead letters are all recorded by one instance, one batch at a time. Offsets are
committed (ack) only after the batch is stored; a write that keeps failing for
``write_retry_seconds`` is nacked, which rewinds the partitions so the batch is read again.
Records read from the DLQ are recorded as they are, never decoded nor sent back to the DLQ.
"""

from typing import Any

import structlog
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream.kafka import KafkaBroker

from service_kit.consumer import Ackable, Consumer, DeadLetter, Received, Retry, listen
from service_kit.events import RawRecord, Topics, decode_record
from sync_log.config import Settings
from sync_log.metrics import BATCH_SECONDS, DEAD_LETTERED, DUPLICATES, RECORDED
from sync_log.service import SyncLogService
from sync_schemas import CloudEvent, EnvelopeError

log = structlog.get_logger(__name__)


def subscribe(
    broker: KafkaBroker,
    names: Topics,
    service: SyncLogService,
    settings: Settings,
    dead_letter: DeadLetter,
) -> None:
    def decode(record: RawRecord) -> CloudEvent[Any] | None:
        return None if record.topic == names.dlq else decode_record(record)

    async def record(received: list[Received[CloudEvent[Any] | None]]) -> None:
        result = await service.record(received)
        RECORDED.inc(result.new_entries)
        DUPLICATES.inc(result.observed - result.new_entries)

    async def to_dlq(record: RawRecord, error: EnvelopeError) -> None:
        if record.topic == names.dlq:  # a dead letter that hits a bug: logged, not re-queued
            log.warning("record.dropped", topic=record.topic, offset=record.offset)
            return
        await dead_letter(record, error)

    def count(outcome: str, records: int) -> None:
        if outcome == "dead_lettered":
            DEAD_LETTERED.inc(records)

    consumer = Consumer(
        record,
        to_dlq,
        decode=decode,
        retry=Retry(attempts=None, within_seconds=settings.write_retry_seconds),
        count=count,
    )

    async def timed(message: Ackable) -> None:
        with BATCH_SECONDS.time():
            await consumer.consume(message)

    listen(
        broker,
        timed,
        *names.all(),
        group_id=settings.consumer_group,
        max_records=settings.consumer_batch_size,
        partition_assignment_strategy=(RangePartitionAssignor,),
        title="sync-log recorder",
        description="Records invoice events, sync results, connection changes and dead letters.",
    )
