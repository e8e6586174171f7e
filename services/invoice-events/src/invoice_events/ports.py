"""What the service needs from the outside world. Adapters implement these; unit tests use
small in-memory fakes.

Errors: every adapter raises a subclass of :class:`service_kit.errors.RetryLater` when its
server cannot be reached (retrying later may work) and translates everything else at its
boundary.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from invoice_events.decisions import KeyRecord, Snapshot, StoredResponse
from sync_schemas import CloudEvent, SyncReason


class SyncLogError(Exception):
    """The sync-log API refused a query (a 4xx): retrying the same query will not help."""


Key = tuple[str, str]
"""(org_id, invoice_id)"""

Mark = tuple[str, str, str]
"""(org_id, invoice_id, event_id): that event is on Kafka."""


class SnapshotStore(Protocol):
    async def get(self, org_id: str, invoice_id: str) -> Snapshot | None: ...

    async def get_by_keys(self, keys: Sequence[Key]) -> dict[Key, Snapshot]:
        """The known snapshots among ``keys``."""
        ...

    async def insert(self, snapshot: Snapshot) -> bool:
        """Store a first snapshot; False when one exists already."""
        ...

    async def insert_many(self, snapshots: Sequence[Snapshot]) -> list[bool]:
        """Store first snapshots; for each, False when one existed already."""
        ...

    async def replace_if(self, expected_claim: str, snapshot: Snapshot) -> bool:
        """Compare-and-set on the claim token; False when someone else changed it first."""
        ...

    async def mark_published(self, marks: Sequence[Mark]) -> None:
        """These events are on Kafka: their snapshots, if still pending with that event id,
        are published."""
        ...

    async def stale_pending(self, claimed_before: datetime, limit: int) -> list[Snapshot]:
        """Pending snapshots claimed at or before ``claimed_before``."""
        ...


class IdempotencyStore(Protocol):
    async def get(self, key_id: str) -> KeyRecord | None: ...

    async def insert(self, record: KeyRecord) -> bool:
        """False when the key is taken."""
        ...

    async def replace_if(self, expected_claim: str, record: KeyRecord) -> bool: ...

    async def complete(self, key_id: str, claim: str, response: StoredResponse) -> None: ...

    async def release(self, key_id: str, claim: str) -> None:
        """Forget a key whose request failed, so that a retry runs it again."""
        ...

    async def purge(self, created_before: datetime) -> int: ...


class EventPublisher(Protocol):
    async def publish(self, event: CloudEvent[Any]) -> None:
        """Return only once Kafka acknowledged the event (acks=all)."""
        ...


@dataclass(frozen=True, slots=True)
class InvoiceQuery:
    """A filter over the sync log's current status per invoice."""

    org_id: str
    status: str = "failed"
    error_code: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    error_codes: tuple[str, ...] = ()  # any of, beside ``error_code``
    invoice_number: str | None = None  # exact

    @property
    def codes(self) -> tuple[str, ...]:
        """Every error code asked for (any of); empty: any code, or none."""
        wanted = ((self.error_code,) if self.error_code else ()) + self.error_codes
        return tuple(dict.fromkeys(wanted))


class SyncLog(Protocol):
    def invoice_ids(self, query: InvoiceQuery) -> AsyncIterator[str]:
        """Every matching invoice id, following the cursor through all pages."""
        ...


@dataclass(frozen=True, slots=True)
class ResyncBatch:
    batch_id: str
    org_id: str
    reason: SyncReason
    requested_by: str | None
    created_at: datetime
    invoice_ids: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    complete: bool = False


@dataclass(frozen=True, slots=True)
class ResyncPreview:
    """What a resync would request, without requesting it (a dry run)."""

    count: int
    sample: list[str]  # the first invoice ids, in the order a real run would send them


class BatchStore(Protocol):
    async def get(self, batch_id: str) -> ResyncBatch | None: ...

    async def save(self, batch: ResyncBatch) -> None: ...
