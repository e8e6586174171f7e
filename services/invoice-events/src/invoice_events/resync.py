"""Sync requests: manual sync of one invoice and bulk resync. (The re-sync after Reconnect is
the connector's: it parks what waits on the connection and releases it on Connect.)

    requests = SyncRequests(snapshots, publisher, batches, sync_log)
    event = await requests.manual("org_acme", "inv_1", requested_by="ops@acme.example")
    query = InvoiceQuery("org_acme", "failed", "tax_rate_unmapped")
    batch = await requests.resync("org_acme", query)             # by filter, or a list of ids
    preview = await requests.preview("org_acme", query)          # the same, publishing nothing

Every request carries the invoice's latest snapshot. A batch's event ids are derived from
``batch_id`` and the invoice id, so retrying a half-published batch republishes the same
events, which consumers deduplicate.
"""

import uuid
from collections.abc import Sequence
from dataclasses import replace

import structlog

from invoice_events import metrics
from invoice_events.decisions import Snapshot
from invoice_events.ports import (
    BatchStore,
    EventPublisher,
    InvoiceQuery,
    ResyncBatch,
    ResyncPreview,
    SnapshotStore,
    SyncLog,
)
from invoice_events.service import SOURCE, bounded_gather
from service_kit.clock import Clock, utc_now
from sync_schemas import (
    CloudEvent,
    EventType,
    InvoiceSyncRequested,
    SyncReason,
    new_event,
)

_NAMESPACE = uuid.UUID("5f0b7a52-3c1e-4d43-9a55-2f1d0c7e9b61")
_CHUNK = 500  # invoice ids per snapshot query
PREVIEW_SAMPLE = 20

log = structlog.get_logger(__name__)


class UnknownInvoice(LookupError):
    """No snapshot of the invoice is known."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


class SyncRequests:
    def __init__(
        self,
        snapshots: SnapshotStore,
        publisher: EventPublisher,
        batches: BatchStore,
        sync_log: SyncLog,
        *,
        concurrency: int = 64,
        clock: Clock = utc_now,
    ) -> None:
        self._snapshots = snapshots
        self._publisher = publisher
        self._batches = batches
        self._sync_log = sync_log
        self._concurrency = concurrency
        self._clock = clock

    async def manual(
        self, org_id: str, invoice_id: str, requested_by: str | None
    ) -> CloudEvent[InvoiceSyncRequested]:
        snapshot = await self._snapshots.get(org_id, invoice_id)
        if snapshot is None:
            raise UnknownInvoice(invoice_id)
        event = _request(snapshot, SyncReason.MANUAL, None, requested_by, str(uuid.uuid4()))
        await self._publish(event)
        log.info("sync.requested", event_id=event.id, reason="manual", requested_by=requested_by)
        return event

    async def resync(
        self,
        org_id: str,
        selection: Sequence[str] | InvoiceQuery,
        *,
        requested_by: str | None = None,
    ) -> ResyncBatch:
        """One sync request per selected invoice, under a new batch id."""
        ids = await self._resolve(selection)
        return await self._run_batch(
            org_id, ids, str(uuid.uuid4()), SyncReason.RESYNC, requested_by
        )

    async def preview(
        self, org_id: str, selection: Sequence[str] | InvoiceQuery, *, sample: int = PREVIEW_SAMPLE
    ) -> ResyncPreview:
        """What ``resync`` would request, resolved the same way (the filter through the sync
        log, then only the invoices with a known snapshot), publishing and storing nothing."""
        ids = await self._resolve(selection)
        known = await self._known(org_id, ids)
        requested = [i for i in ids if i in known]
        return ResyncPreview(count=len(requested), sample=requested[:sample])

    async def _resolve(
        self, selection: Sequence[str] | InvoiceQuery | list[InvoiceQuery]
    ) -> list[str]:
        if isinstance(selection, InvoiceQuery):
            selection = [selection]
        ids: dict[str, None] = {}  # ordered and deduplicated
        for item in selection:
            if isinstance(item, InvoiceQuery):
                async for invoice_id in self._sync_log.invoice_ids(item):
                    ids[invoice_id] = None
            else:
                ids[item] = None
        return list(ids)

    async def _run_batch(
        self,
        org_id: str,
        invoice_ids: list[str],
        batch_id: str,
        reason: SyncReason,
        requested_by: str | None,
    ) -> ResyncBatch:
        with structlog.contextvars.bound_contextvars(org_id=org_id, batch_id=batch_id):
            known = await self._known(org_id, invoice_ids)
            batch = ResyncBatch(
                batch_id=batch_id,
                org_id=org_id,
                reason=reason,
                requested_by=requested_by,
                created_at=self._clock(),
                invoice_ids=[i for i in invoice_ids if i in known],
                not_found=[i for i in invoice_ids if i not in known],
            )
            await self._batches.save(batch)
            events = [
                _request(known[i], reason, batch_id, requested_by, derived_id(batch_id, i))
                for i in batch.invoice_ids
            ]
            failures = [
                e
                for e in await bounded_gather(events, self._publish, self._concurrency)
                if isinstance(e, Exception)
            ]
            if failures:
                raise failures[0]
            complete = replace(batch, complete=True)
            await self._batches.save(complete)
            log.info(
                "resync.published",
                reason=reason.value,
                count=len(events),
                not_found=len(batch.not_found),
            )
            return complete

    async def _known(self, org_id: str, invoice_ids: list[str]) -> dict[str, Snapshot]:
        """The latest snapshot of each invoice that has one."""
        known: dict[str, Snapshot] = {}
        for start in range(0, len(invoice_ids), _CHUNK):
            chunk = invoice_ids[start : start + _CHUNK]
            found = await self._snapshots.get_by_keys([(org_id, i) for i in chunk])
            known.update((invoice_id, snapshot) for (_, invoice_id), snapshot in found.items())
        return known

    async def _publish(self, event: CloudEvent[InvoiceSyncRequested]) -> None:
        await self._publisher.publish(event)
        metrics.EVENTS_PUBLISHED.labels(event.type.value).inc()


def _request(
    snapshot: Snapshot,
    reason: SyncReason,
    batch_id: str | None,
    requested_by: str | None,
    event_id: str,
) -> CloudEvent[InvoiceSyncRequested]:
    invoice = snapshot.invoice
    data = InvoiceSyncRequested(
        org_id=invoice.org_id,
        invoice_id=invoice.invoice_id,
        reason=reason,
        batch_id=batch_id,
        requested_by=requested_by,
        invoice=invoice,
    )
    return new_event(EventType.INVOICE_SYNC_REQUESTED, data, source=SOURCE, event_id=event_id)
