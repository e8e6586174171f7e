"""Prometheus metrics of the connector (served at /metrics by service-kit)."""

from prometheus_client import Counter, Gauge, Histogram

XERO_CALLS = Counter(
    "xero_calls_total", "Calls to Xero by endpoint and HTTP status", ["endpoint", "status"]
)
XERO_LATENCY = Histogram("xero_call_duration_seconds", "Latency of calls to Xero", ["endpoint"])
TOKEN_REFRESHES = Counter(
    "xero_token_refreshes_total", "Access-token refreshes at Xero by outcome", ["outcome"]
)

LIMITER_WAITS = Counter("xero_limiter_waits_total", "Calls the client-side limiter held back")
LIMITER_WAIT_SECONDS = Histogram(
    "xero_limiter_wait_seconds", "Time calls waited for the client-side limiter"
)
RATE_LIMITED_RESPONSES = Counter("xero_429_total", "429 answers from Xero by problem", ["problem"])
INVOICES_SYNCED = Counter(
    "invoices_synced_total", "Invoices synced to Xero by outcome", ["outcome"]
)
INVOICES_FAILED = Counter(
    "invoices_failed_total", "Invoices that failed to sync by error code", ["error_code"]
)
BATCH_SIZE = Histogram(
    "xero_invoice_batch_size",
    "Invoices per Xero Invoices write",
    buckets=(1, 2, 5, 10, 20, 30, 40, 50, 100),
)
CONSUMED = Counter("invoice_events_consumed_total", "Invoice events consumed by fate", ["fate"])
ASSIGNED_PARTITIONS = Gauge(
    "invoice_events_assigned_partitions",
    "Partitions of invoices.events assigned to this instance (by the last rebalance)",
)
CONSUMER_LAG = Gauge(
    "invoice_events_consumer_lag", "Records behind the partition's end after a batch", ["partition"]
)
