"""Deletes log entries older than the retention age. A periodic job, because the local
MongoDB-wire server has no TTL indexes."""

import asyncio
from datetime import timedelta

import structlog

from sync_log.adapters.mongo import MongoSyncLog
from sync_log.metrics import RETENTION_DELETED
from sync_log.ports import Clock

log = structlog.get_logger(__name__)


async def purge_once(store: MongoSyncLog, retention_days: float, clock: Clock) -> int:
    cutoff = clock() - timedelta(days=retention_days)
    deleted = await store.delete_entries_before(cutoff)
    RETENTION_DELETED.inc(deleted)
    if deleted:
        log.info("retention deleted entries", deleted=deleted, cutoff=cutoff.isoformat())
    return deleted


async def run_retention(
    store: MongoSyncLog, retention_days: float, interval_s: float, clock: Clock
) -> None:
    while True:
        try:
            await purge_once(store, retention_days, clock)
        except Exception:  # a failed run must not end the job; the next one retries
            log.exception("retention run failed")
        await asyncio.sleep(interval_s)
