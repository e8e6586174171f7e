"""The sync core's records: what it is asked, what it decides, what comes out. Pure data."""

from dataclasses import dataclass
from decimal import Decimal

from sync_schemas import ErrorCode, EventType, Invoice, SyncOutcome
from xero_connector.ports import Payload


@dataclass(frozen=True, slots=True)
class SyncAsk:
    """One consumed event that asks for an invoice to be in Xero. ``attempt`` is above 1
    only for the connector's own scheduled retries (the event's typed ``attempt`` field)."""

    event_id: str
    event_type: EventType
    invoice: Invoice
    batch_id: str | None = None
    attempt: int = 1


@dataclass
class Target:
    """An invoice's newest version in the batch, with every event that asked for it."""

    invoice: Invoice
    asks: list[SyncAsk]

    @property
    def invoice_id(self) -> str:
        return self.invoice.invoice_id

    @property
    def version(self) -> int:
        return self.invoice.version

    @property
    def attempt(self) -> int:
        """The try of the newest version (an older version's retries count for nothing)."""
        return max(r.attempt for r in self.asks if r.invoice.version == self.version)


@dataclass(frozen=True, slots=True)
class SyncResult:
    """How one invoice's sync ended, before it becomes a result event: a success (its
    ``outcome`` set: created, updated or unchanged) or a failure (``code``)."""

    xero_id: str | None = None
    outcome: SyncOutcome | None = None
    code: ErrorCode | None = None
    message: str = ""
    xero_messages: tuple[str, ...] = ()
    retry_after: float | None = None  # set: a retry is scheduled this many seconds from now
    total: Decimal | None = None  # Xero's Total after a write


def succeeded(
    xero_id: str,
    outcome: SyncOutcome,
    *,
    message: str = "",
    total: Decimal | None = None,
) -> SyncResult:
    return SyncResult(xero_id=xero_id, outcome=outcome, message=message, total=total)


def failed(code: ErrorCode, message: str, xero_messages: tuple[str, ...] = ()) -> SyncResult:
    return SyncResult(code=code, message=message, xero_messages=tuple(xero_messages))


@dataclass
class Write:
    """One element to send: a create (no ``xero_id``), an update or a cancel by InvoiceID."""

    target: Target
    payload: Payload
    digest: str
    xero_id: str | None = None
    cancel: bool = False

    @property
    def invoice_id(self) -> str:
        return self.target.invoice_id

    def element(self) -> Payload:
        if self.xero_id is None:
            return self.payload
        return {**self.payload, "InvoiceID": self.xero_id}
