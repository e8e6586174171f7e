"""Event payloads (the CloudEvents ``data``) and the registry of event types.

Events are past tense except ``invoice.sync_requested.v1``, a request. A type's name carries
its version: within a version producers may only add optional fields.
"""

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, Field

from sync_schemas import topics
from sync_schemas.errors import ErrorCode
from sync_schemas.invoice import ContractModel, DecimalString, Identifier, Invoice, Version


class SyncReason(StrEnum):
    MANUAL = "manual"
    RESYNC = "resync"
    RECONNECT = "reconnect"


class SyncOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    EXPIRED = "expired"
    DISCONNECTED = "disconnected"


class InvoiceSyncRequested(ContractModel):
    """A manual, bulk or post-reconnect request to sync one invoice now."""

    org_id: Identifier
    invoice_id: Identifier
    reason: SyncReason
    batch_id: str | None = None
    requested_by: str | None = Field(
        default=None, description="A free label (who asked); it never changes behaviour."
    )
    attempt: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Set only by the connector's own scheduled retries: the 1-based try of "
        "this invoice's sync. Absent on upstream, operator and reconnect requests.",
    )
    invoice: Invoice


class InvoiceSyncSucceeded(ContractModel):
    org_id: Identifier
    invoice_id: Identifier
    invoice_number: str
    version: Version
    xero_invoice_id: str
    outcome: SyncOutcome
    attempt: int = Field(ge=1)
    batch_id: str | None = None
    cause_event_id: str
    duration_ms: int = Field(ge=0)
    xero_total: DecimalString | None = Field(
        default=None, description="The invoice's Total as Xero computed it (absent when unknown)"
    )
    message: str | None = Field(
        default=None,
        description="What happened when it is not plain, e.g. a void of an invoice that never "
        "reached Xero (nothing to void), or a request superseded by a newer version",
    )


class InvoiceSyncFailed(ContractModel):
    org_id: Identifier
    invoice_id: Identifier
    invoice_number: str
    version: Version
    error_code: ErrorCode
    message: str
    xero_messages: list[str] = Field(default_factory=list)
    retryable: bool
    remediation: str
    attempt: int = Field(ge=1)
    batch_id: str | None = None
    cause_event_id: str


class XeroConnectionChanged(ContractModel):
    org_id: Identifier
    status: ConnectionStatus
    tenant_id: str | None = None
    tenant_name: str | None = None
    reason: str


class EventType(StrEnum):
    """The CloudEvents ``type`` values of the contract."""

    INVOICE_CREATED = "invoice.created.v1"
    INVOICE_UPDATED = "invoice.updated.v1"
    INVOICE_SYNC_REQUESTED = "invoice.sync_requested.v1"
    INVOICE_SYNC_SUCCEEDED = "invoice.sync_succeeded.v1"
    INVOICE_SYNC_FAILED = "invoice.sync_failed.v1"
    XERO_CONNECTION_CHANGED = "xero.connection_changed.v1"

    @property
    def model(self) -> type[BaseModel]:
        return _MODELS[self]

    @property
    def topic(self) -> str:
        return _TOPICS[self]


EventData = (
    Invoice
    | InvoiceSyncRequested
    | InvoiceSyncSucceeded
    | InvoiceSyncFailed
    | XeroConnectionChanged
)

_MODELS: Final[dict[EventType, type[BaseModel]]] = {
    EventType.INVOICE_CREATED: Invoice,
    EventType.INVOICE_UPDATED: Invoice,
    EventType.INVOICE_SYNC_REQUESTED: InvoiceSyncRequested,
    EventType.INVOICE_SYNC_SUCCEEDED: InvoiceSyncSucceeded,
    EventType.INVOICE_SYNC_FAILED: InvoiceSyncFailed,
    EventType.XERO_CONNECTION_CHANGED: XeroConnectionChanged,
}

_TOPICS: Final[dict[EventType, str]] = {
    EventType.INVOICE_CREATED: topics.INVOICE_EVENTS,
    EventType.INVOICE_UPDATED: topics.INVOICE_EVENTS,
    EventType.INVOICE_SYNC_REQUESTED: topics.INVOICE_EVENTS,
    EventType.INVOICE_SYNC_SUCCEEDED: topics.SYNC_RESULTS,
    EventType.INVOICE_SYNC_FAILED: topics.SYNC_RESULTS,
    EventType.XERO_CONNECTION_CHANGED: topics.CONNECTIONS,
}
