"""Prometheus metrics of the sync log."""

from prometheus_client import Counter, Histogram

RECORDED = Counter("sync_log_entries_recorded_total", "New log entries stored")
DUPLICATES = Counter(
    "sync_log_entries_duplicate_total", "Entries already stored (redelivered or repeated events)"
)
DEAD_LETTERED = Counter("sync_log_dead_lettered_total", "Records sent to the DLQ by the sync log")
BATCH_SECONDS = Histogram(
    "sync_log_batch_seconds", "Time to record one consumed batch, retries included"
)
RETENTION_DELETED = Counter("sync_log_retention_deleted_total", "Entries deleted by retention")
