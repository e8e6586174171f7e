"""The consumer: every topic the sync log records, in batches, one subscriber.

All four topics are keyed by org_id and have the same partition count, and the range
assignor gives partition N of every topic to the same instance: one organisation's events,
results and dead letters are all recorded by one instance, one batch at a time. Offsets are
committed (ack) only after the batch is stored; a write that keeps failing is nacked, which
rewinds the partitions so the batch is read again.
"""

from typing import Any

import structlog
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import ConnectionFailure, OperationFailure
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

from service_kit.events import INFRASTRUCTURE_ERRORS, Topics, raw_body, readable_headers
from sync_log.config import Settings
from sync_log.metrics import BATCH_SECONDS, DEAD_LETTERED, DUPLICATES, RECORDED
from sync_log.service import BatchResult, SyncLogService

log = structlog.get_logger(__name__)


def subscribe(
    broker: KafkaBroker, names: Topics, service: SyncLogService, settings: Settings
) -> None:
    subscriber = broker.subscriber(
        *names.all(),
        group_id=settings.consumer_group,
        batch=True,
        max_records=settings.consumer_batch_size,
        auto_offset_reset="earliest",
        partition_assignment_strategy=(RangePartitionAssignor,),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=readable_headers,
        decoder=raw_body,
        title="sync-log recorder",
        description="Records invoice events, sync results, connection changes and dead letters.",
    )

    @subscriber
    async def record_batch(body: Any, message: KafkaMessage) -> None:
        records = message.raw_message
        records = records if isinstance(records, tuple) else (records,)
        with BATCH_SECONDS.time():
            try:
                result = await _record_with_retries(service, records, settings)
            except INFRASTRUCTURE_ERRORS:
                raise  # nacked: the batch comes again
            except Exception:
                log.exception("batch failed; recording record by record", count=len(records))
                result = await service.record_isolated(records)
        RECORDED.inc(result.new_entries)
        DUPLICATES.inc(result.observed - result.new_entries)
        DEAD_LETTERED.inc(result.dead_lettered)


async def _record_with_retries(
    service: SyncLogService, records: tuple[Any, ...], settings: Settings
) -> BatchResult:
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((ConnectionFailure, OperationFailure)),
        wait=wait_exponential_jitter(multiplier=0.2, max=5),
        stop=stop_after_delay(settings.write_retry_seconds),
        reraise=True,
    ):
        with attempt:
            if attempt.retry_state.attempt_number > 1:
                log.warning("retrying batch write", attempt=attempt.retry_state.attempt_number)
            return await service.record(records)
    raise AssertionError("unreachable: tenacity reraises the last error")
