"""The sync log's pure core: what each consumed record means, and how an invoice's current
status follows from what has been observed.

An invoice's status is the outcome of its newest version. Within one version causes come
first, whatever the clocks say: an outcome beats the event that caused it (its
``cause_event_id``), read before or after it, and a request that an outcome already answered
never makes the invoice pending again (a producer clock ahead of the connector's, or an
event dated only by its Kafka record, must not leave it pending). Otherwise the later
observation wins, by event time, and an outcome beats a request of the same millisecond.
``apply`` is idempotent, so replaying a batch after a crash changes nothing.
"""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from service_kit.keys import invoice_key
from sync_schemas import (
    CloudEvent,
    ConnectionStatus,
    ErrorCode,
    EventType,
    Invoice,
    InvoiceSyncFailed,
    InvoiceSyncRequested,
    InvoiceSyncSucceeded,
    XeroConnectionChanged,
)


class Status(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"


def to_millis(moment: datetime) -> datetime:
    """MongoDB stores milliseconds; compare and page on what is stored."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class LastError:
    error_code: str
    message: str
    xero_messages: tuple[str, ...]
    remediation: str
    occurred_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "error_code": self.error_code,
            "message": self.message,
            "xero_messages": list(self.xero_messages),
            "remediation": self.remediation,
            "occurred_at": self.occurred_at,
        }


@dataclass(frozen=True, slots=True)
class Observation:
    """One recorded event or outcome: a sync-log entry."""

    event_id: str
    type: str
    occurred_at: datetime
    org_id: str | None
    invoice_id: str | None
    invoice_number: str | None
    version: int
    status: Status
    error: LastError | None = None
    xero_invoice_id: str | None = None
    outcome: str | None = None
    batch_id: str | None = None
    reason: str | None = None
    cause_event_id: str | None = None  # of an outcome: the request it answers

    def entry(self) -> dict[str, Any]:
        """The log entry document; ``_id`` is the event id, so a replay is stored once."""
        doc: dict[str, Any] = {
            "_id": self.event_id,
            "type": self.type,
            "occurred_at": self.occurred_at,
            "org_id": self.org_id,
            "invoice_id": self.invoice_id,
            "invoice_number": self.invoice_number,
            "version": self.version,
            "status": self.status.value,
        }
        if self.error is not None:
            doc |= {k: v for k, v in self.error.as_dict().items() if k != "occurred_at"}
        optional = {
            "xero_invoice_id": self.xero_invoice_id,
            "outcome": self.outcome,
            "batch_id": self.batch_id,
            "reason": self.reason,
            "cause_event_id": self.cause_event_id,
        }
        return doc | {k: v for k, v in optional.items() if v is not None}


@dataclass(frozen=True, slots=True)
class InvoiceState:
    """The current status of one invoice."""

    org_id: str
    invoice_id: str
    invoice_number: str | None
    version: int
    status: Status
    status_at: datetime
    xero_invoice_id: str | None = None
    last_error: LastError | None = None
    batch_ids: tuple[str, ...] = field(default=())
    status_event_id: str | None = None  # the observation that set the status
    answered: tuple[str, ...] = field(default=())  # requests of this version with an outcome
    revision: int = 0  # the stored revision this state was read at (0: not stored yet)

    @property
    def key(self) -> str:
        return invoice_key(self.org_id, self.invoice_id)

    @property
    def error_code(self) -> str | None:
        return (
            self.last_error.error_code if self.status is Status.FAILED and self.last_error else None
        )


def apply(state: InvoiceState | None, obs: Observation) -> InvoiceState | None:
    """The invoice's state after ``obs``; None when ``obs`` is not about an invoice."""
    if obs.org_id is None or obs.invoice_id is None:
        return None
    if state is None:
        return _state_from(obs)
    batch_ids = state.batch_ids
    if obs.batch_id and obs.batch_id not in batch_ids:
        batch_ids = (*batch_ids, obs.batch_id)
    answered = state.answered if obs.version == state.version else ()
    if obs.cause_event_id and obs.version >= state.version:
        answered = (*answered, obs.cause_event_id)[-_ANSWERED:]
    if not _wins(state, obs):
        return replace(state, batch_ids=batch_ids, answered=answered)
    return replace(
        state,
        invoice_number=obs.invoice_number or state.invoice_number,
        version=obs.version,
        status=obs.status,
        status_at=obs.occurred_at,
        xero_invoice_id=obs.xero_invoice_id or state.xero_invoice_id,
        last_error=_next_error(state.last_error, obs),
        batch_ids=batch_ids,
        status_event_id=obs.event_id,
        answered=answered,
    )


# How many answered requests of the current version an invoice remembers.
_ANSWERED = 20


def _wins(state: InvoiceState, obs: Observation) -> bool:
    """Whether ``obs`` sets the status: a newer version does; within one version causes
    come first (see the module docstring), then time, then outcomes over requests."""
    if obs.version != state.version:
        return obs.version > state.version
    if obs.cause_event_id is not None and obs.cause_event_id == state.status_event_id:
        return True  # the outcome of the very request that made it pending
    if obs.status is Status.PENDING and obs.event_id in state.answered:
        return False  # a request whose outcome is already known
    return (obs.occurred_at, _RANK[obs.status]) >= (state.status_at, _RANK[state.status])


# Within one version and millisecond an outcome outranks a pending request: the request that
# caused it may be read after it.
_RANK = {Status.PENDING: 0, Status.FAILED: 1, Status.SYNCED: 1}


def _state_from(obs: Observation) -> InvoiceState:
    assert obs.org_id is not None and obs.invoice_id is not None
    return InvoiceState(
        org_id=obs.org_id,
        invoice_id=obs.invoice_id,
        invoice_number=obs.invoice_number,
        version=obs.version,
        status=obs.status,
        status_at=obs.occurred_at,
        xero_invoice_id=obs.xero_invoice_id,
        last_error=obs.error,
        batch_ids=(obs.batch_id,) if obs.batch_id else (),
        status_event_id=obs.event_id,
        answered=(obs.cause_event_id,) if obs.cause_event_id else (),
    )


def _next_error(previous: LastError | None, obs: Observation) -> LastError | None:
    if obs.status is Status.FAILED:
        return obs.error
    if obs.status is Status.SYNCED:
        return None
    return previous  # pending again: keep what failed last until there is a new outcome


# -- observing events -------------------------------------------------------------------------


def observe(event: CloudEvent[Any]) -> Observation | None:
    """The observation an invoice event or sync result makes; None for connection events."""
    data = event.data
    at = to_millis(event.time)
    base: dict[str, Any] = {"event_id": event.id, "type": event.type.value, "occurred_at": at}
    if isinstance(data, Invoice):
        return Observation(**base, **_invoice_fields(data), status=Status.PENDING)
    if isinstance(data, InvoiceSyncRequested):
        return Observation(
            **base,
            **_invoice_fields(data.invoice),
            status=Status.PENDING,
            batch_id=data.batch_id,
            reason=data.reason.value,
        )
    if isinstance(data, InvoiceSyncSucceeded):
        return Observation(
            **base,
            **_invoice_fields(data),
            status=Status.SYNCED,
            xero_invoice_id=data.xero_invoice_id,
            outcome=data.outcome.value,
            batch_id=data.batch_id,
            cause_event_id=data.cause_event_id,
        )
    if isinstance(data, InvoiceSyncFailed):
        error = LastError(
            error_code=data.error_code.value,
            message=data.message,
            xero_messages=tuple(data.xero_messages),
            remediation=data.remediation,
            occurred_at=at,
        )
        return Observation(
            **base,
            **_invoice_fields(data),
            status=Status.FAILED,
            error=error,
            batch_id=data.batch_id,
            cause_event_id=data.cause_event_id,
        )
    return None


def _invoice_fields(about: Invoice | InvoiceSyncSucceeded | InvoiceSyncFailed) -> dict[str, Any]:
    """Which invoice, and which version of it, an event is about."""
    return {
        "org_id": about.org_id,
        "invoice_id": about.invoice_id,
        "invoice_number": about.invoice_number,
        "version": about.version,
    }


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    org_id: str
    status: ConnectionStatus
    tenant_id: str | None
    tenant_name: str | None
    reason: str
    occurred_at: datetime
    event_id: str


def observe_connection(event: CloudEvent[Any]) -> ConnectionChange | None:
    if event.type is not EventType.XERO_CONNECTION_CHANGED:
        return None
    data: XeroConnectionChanged = event.data
    return ConnectionChange(
        org_id=data.org_id,
        status=data.status,
        tenant_id=data.tenant_id,
        tenant_name=data.tenant_name,
        reason=data.reason,
        occurred_at=to_millis(event.time),
        event_id=event.id,
    )


def observe_dead_letter(
    key: bytes | None, value: bytes | None, headers: dict[str, str], received_at: datetime
) -> Observation:
    """A record some consumer could not decode, as an ``invalid_event`` failure.

    The DLQ may hold the same source record more than once (every consumer of the source
    topic dead-letters it); its source coordinates make one id for all copies.
    """
    source = (
        f"{headers.get('dlq_source_topic', '?')}:{headers.get('dlq_partition', '?')}"
        f":{headers.get('dlq_offset', '?')}"
    )
    payload = _best_effort_json(value)
    org_id = _text(payload.get("org_id")) or (key.decode(errors="replace") if key else None)
    invoice_id = _text(payload.get("invoice_id"))
    reason = headers.get("dlq_reason", "invalid_event")
    message = f"{reason}: {headers.get('dlq_error', 'the event could not be decoded')}"
    at = to_millis(received_at)
    return Observation(
        event_id=f"dlq:{source}",
        type=headers.get("ce_type", "unknown"),
        occurred_at=at,
        org_id=org_id,
        invoice_id=invoice_id,
        invoice_number=_text(payload.get("invoice_number")),
        version=0,  # never newer than a valid version of the same invoice
        status=Status.FAILED,
        error=LastError(
            error_code=ErrorCode.INVALID_EVENT.value,
            message=message[:2000],
            xero_messages=(),
            remediation=ErrorCode.INVALID_EVENT.remediation(org_id or "?"),
            occurred_at=at,
        ),
    )


def _best_effort_json(value: bytes | None) -> dict[str, Any]:
    try:
        parsed = json.loads(value or b"")
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _text(value: object) -> str | None:
    return value[:255] if isinstance(value, str) and value else None
