"""Prometheus counters of the service (served by service-kit's ``/metrics``)."""

from prometheus_client import Counter

INVOICES_ACCEPTED = Counter(
    "invoice_events_invoices_accepted_total",
    "Invoices accepted over HTTP, by route and outcome (published, in_flight, duplicate, stale)",
    ["route", "outcome"],
)
INVOICES_REJECTED = Counter(
    "invoice_events_invoices_rejected_total",
    "Invoices refused over HTTP, by route and reason",
    ["route", "reason"],
)
EVENTS_PUBLISHED = Counter(
    "invoice_events_events_published_total", "Events published to Kafka, by type", ["type"]
)
RECORDS_CONSUMED = Counter(
    "invoice_events_records_consumed_total",
    "Kafka records handled, by topic and result (applied, ignored, dead_lettered, redelivered)",
    ["topic", "result"],
)
