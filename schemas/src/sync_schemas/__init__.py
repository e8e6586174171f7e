"""The event contract shared by every service: models, topics, error codes, envelope.

This package imports no service; services import it.
"""

from sync_schemas.envelope import (
    CloudEvent,
    EnvelopeError,
    InvalidAttribute,
    KafkaRecord,
    MalformedPayload,
    MissingAttribute,
    SchemaViolation,
    UnknownEventType,
    decode,
    encode,
    new_event,
)
from sync_schemas.errors import ErrorCode
from sync_schemas.events import (
    ConnectionStatus,
    EventType,
    InvoiceSyncFailed,
    InvoiceSyncRequested,
    InvoiceSyncSucceeded,
    SyncOutcome,
    SyncReason,
    XeroConnectionChanged,
)
from sync_schemas.invoice import (
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineAmountType,
)

__all__ = [
    "CloudEvent",
    "ConnectionStatus",
    "Customer",
    "EnvelopeError",
    "ErrorCode",
    "EventType",
    "InvalidAttribute",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoiceSyncFailed",
    "InvoiceSyncRequested",
    "InvoiceSyncSucceeded",
    "KafkaRecord",
    "LineAmountType",
    "MalformedPayload",
    "MissingAttribute",
    "SchemaViolation",
    "SyncOutcome",
    "SyncReason",
    "UnknownEventType",
    "XeroConnectionChanged",
    "decode",
    "encode",
    "new_event",
]
