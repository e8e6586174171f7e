"""Scheduled retries: invoices that failed as ``rate_limited`` or ``xero_unavailable`` are
requested again once their due time has passed, as an ``invoice.sync_requested.v1`` (reason
``resync``) on ``invoices.events``, so they go through the ordinary consumer and its ordering
per organisation. The attempt number travels in the event's typed ``attempt`` field, which
only these retries set: that is what tells an automatic retry from an operator's re-sync
(``requested_by`` is a free label and never changes behaviour).

    loop = RetryLoop(store, publish)
    task = asyncio.create_task(every(30, loop.run_once, name="retries"))
    sweep = ParkedSweep(store, connected)          # parked syncs of a connected organisation
    task = asyncio.create_task(every(10, sweep.run_once, name="parked_sweep"))
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from service_kit.clock import utc_now
from sync_schemas import CloudEvent, EventType, Invoice, InvoiceSyncRequested, SyncReason, new_event
from xero_connector.domain import ScheduledRetry

log = structlog.get_logger(__name__)
RETRY_REQUESTER = "xero-connector"
PARKED_SWEEP_SECONDS = 10.0


class DueRetries(Protocol):
    async def due(self, now: datetime, limit: int = 500) -> list[ScheduledRetry]: ...

    async def done(self, retry: ScheduledRetry) -> None: ...


class Parked(Protocol):
    async def orgs_still_parked(self) -> list[str]: ...

    async def release_parked(self, org_id: str, now: datetime) -> int: ...


class ParkedSweep:
    """Releases what waits on a connection that is back. A Connect releases its organisation's
    parked syncs at once, but a batch that was still failing on the old connection when the
    Connect came parks its invoices after that release; without the sweep they would wait
    for the next Connect. ``connected(org_id)`` says whether the organisation is connected
    now; only syncs still parked (not yet released) are counted."""

    def __init__(self, parked: Parked, connected: Callable[[str], Awaitable[bool]]) -> None:
        self._parked = parked
        self._connected = connected

    async def run_once(self) -> int:
        released = 0
        for org_id in await self._parked.orgs_still_parked():
            if await self._connected(org_id):
                count = await self._parked.release_parked(org_id, utc_now())
                if count:
                    log.warning("retries.parked_after_connect", org_id=org_id, count=count)
                released += count
        return released


class RetryLoop:
    def __init__(
        self,
        store: DueRetries,
        publish: Callable[[CloudEvent[Any]], Awaitable[None]],
    ) -> None:
        self._store = store
        self._publish = publish

    async def run_once(self) -> int:
        due = await self._store.due(utc_now())
        for retry in due:
            request = InvoiceSyncRequested(
                org_id=retry.org_id,
                invoice_id=retry.invoice_id,
                # A parked sync released by a Connect is a new start, not a retry.
                reason=SyncReason.RECONNECT if retry.parked else SyncReason.RESYNC,
                batch_id=retry.batch_id,
                requested_by=RETRY_REQUESTER,
                attempt=None if retry.parked else retry.attempt,
                invoice=Invoice.model_validate(retry.invoice),
            )
            event = new_event(
                EventType.INVOICE_SYNC_REQUESTED,
                request,
                source="/xero-connector/retries",
                subject=retry.org_id,
            )
            await self._publish(event)
            await self._store.done(retry)
        if due:
            log.info("retries.requested", count=len(due))
        return len(due)
