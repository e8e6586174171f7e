"""Deletes log entries older than the retention age. A periodic job, because the local
MongoDB-wire server has no TTL indexes."""

from datetime import timedelta

import structlog

from service_kit.clock import Clock
from sync_log.adapters.mongo import MongoSyncLog
from sync_log.metrics import RETENTION_DELETED

log = structlog.get_logger(__name__)


async def purge_once(store: MongoSyncLog, retention_days: float, clock: Clock) -> int:
    cutoff = clock() - timedelta(days=retention_days)
    deleted = await store.delete_entries_before(cutoff)
    RETENTION_DELETED.inc(deleted)
    if deleted:
        log.info("retention deleted entries", deleted=deleted, cutoff=cutoff.isoformat())
    return deleted
