"""Kafka topic names. Every event of one organisation is keyed by its ``org_id``."""

from typing import Final

INVOICE_EVENTS: Final = "invoices.events"
SYNC_RESULTS: Final = "invoices.sync-results"
CONNECTIONS: Final = "xero.connections"
INVOICE_EVENTS_DLQ: Final = "invoices.events.dlq"

ALL_TOPICS: Final = (INVOICE_EVENTS, SYNC_RESULTS, CONNECTIONS, INVOICE_EVENTS_DLQ)

DEFAULT_PARTITIONS: Final = 12
