"""Prometheus metrics of the connector (served at /metrics by service-kit)."""

from prometheus_client import Counter, Histogram

XERO_CALLS = Counter(
    "xero_calls_total", "Calls to Xero by endpoint and HTTP status", ["endpoint", "status"]
)
XERO_LATENCY = Histogram("xero_call_duration_seconds", "Latency of calls to Xero", ["endpoint"])
TOKEN_REFRESHES = Counter(
    "xero_token_refreshes_total", "Access-token refreshes at Xero by outcome", ["outcome"]
)
