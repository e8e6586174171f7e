"""The sync use case, as a thin orchestrator: invoice events in, one result per event out.
Every decision is the planner's (``sync/planner.py``); this module gathers what it needs
through the ports, in order, and carries it out.

    results = await pipeline.sync(asks)     # [CloudEvent of sync_succeeded | sync_failed]

Per organisation (organisations run concurrently):
1. events of one invoice collapse to its newest version (each event still gets a result);
2. the settings and mappings (one read) and the invoice records, side by side: a version
   older than its record's high-water mark is never written;
3. the connection gives the tenant (``not_connected`` / ``connection_expired`` fail fast),
   then the writer lease (writers.py), held from batch to batch; a lease taken anew reads
   the records again (the writer before may have stored intents while it waited);
4. voids: the Xero invoice's current status decides DELETED, VOIDED, nothing, or a refusal;
5. pre-validation against the mappings and the org's cached Xero settings;
6. contacts for the whole group (batched creates);
7. the writer creates (PUT, after storing the intent), updates and cancels (by InvoiceID),
   each write only while this instance holds the organisation's writer lease (writers.py);
8. every outcome raises the high-water mark and drops older scheduled retries; a failure
   that promises a retry has it stored before the results are returned for publishing.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any, Protocol

import structlog

from service_kit.clock import utc_now
from sync_schemas import CloudEvent, ErrorCode, EventType, SyncOutcome
from xero_connector.contacts import ContactResolver
from xero_connector.domain import (
    PARKED_UNTIL,
    InvoiceRecord,
    Mappings,
    OrgSettings,
    ScheduledRetry,
    SyncMode,
)
from xero_connector.errors import ConnectionExpired, NotConnected
from xero_connector.limiter import DailyLimitSpent
from xero_connector.org_data import OrgDataCache
from xero_connector.ports import InvoiceRecords, RetryStore, XeroAccounting, XeroScope
from xero_connector.sync import planner
from xero_connector.sync.concurrent import alongside, together
from xero_connector.sync.model import SyncAsk, SyncResult, Target, failed
from xero_connector.sync.prepare import Config, Preparer
from xero_connector.sync.results import result
from xero_connector.sync.writer import Writer, unavailable
from xero_connector.writers import WriterLeases
from xero_connector.xero_errors import TenantForbidden, XeroError

log = structlog.get_logger(__name__)
_WAITS_FOR_CONNECTION = frozenset({ErrorCode.CONNECTION_EXPIRED, ErrorCode.NOT_CONNECTED})


class Expiry(Protocol):
    async def mark_expired(self, org_id: str, reason: str, *, generation: int) -> None: ...


class SyncPipeline:
    def __init__(
        self,
        *,
        xero: XeroAccounting,
        tokens: Expiry,
        config: Config,
        org_data: OrgDataCache,
        contacts: ContactResolver,
        records: InvoiceRecords,
        retries: RetryStore,
        writer: Writer,
        url_template: str,
        policy: planner.RetryPolicy | None = None,
        refresh_interval_seconds: float = 30.0,
        batch_deadline_seconds: float = 240.0,
        writers: WriterLeases | None = None,
    ) -> None:
        self.xero = xero
        self._tokens = tokens
        self._config = config
        self._preparer = Preparer(
            xero,
            config,
            org_data,
            contacts,
            url_template,
            refresh_interval_seconds=refresh_interval_seconds,
        )
        self._records = records
        self._retries = retries
        self.writer = writer
        self._policy = policy or planner.RetryPolicy()
        self._deadline_seconds = batch_deadline_seconds
        self._writers = writers

    async def sync(self, asks: Sequence[SyncAsk]) -> list[CloudEvent[Any]]:
        by_org: dict[str, list[SyncAsk]] = {}
        for ask in asks:
            by_org.setdefault(ask.invoice.org_id, []).append(ask)
        started = time.monotonic()
        self.writer.deadline = started + self._deadline_seconds
        tasks = [asyncio.create_task(self._org(org, rs, started)) for org, rs in by_org.items()]
        try:
            groups = await asyncio.gather(*tasks)
        except BaseException:
            # One organisation's failure fails the batch, which is handled again (record by
            # record on a bug, redelivered on an outage): the others must not keep writing
            # meanwhile, or a stale version could land after the newer one.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [event for group in groups for event in group]

    async def answer_bug(self, ask: SyncAsk, message: str) -> CloudEvent[Any]:
        """A valid event whose handling hit a bug is answered ``internal_error`` at its real
        version, and that is an outcome like any other: the high-water mark rises and older
        scheduled retries are dropped (a v1 retry must not resurrect a voided v2)."""
        target = Target(ask.invoice, [ask])
        outcome = failed(ErrorCode.INTERNAL_ERROR, message)
        await self._settle(ask.invoice.org_id, [target], {target.invoice_id: outcome})
        return result(ask, outcome, time.monotonic())

    async def _org(self, org_id: str, asks: list[SyncAsk], started: float) -> list[CloudEvent[Any]]:
        with structlog.contextvars.bound_contextvars(org_id=org_id):
            # Two store reads side by side: a batch's latency is the chain of its round trips.
            # The connection is read only once invoices are known to need it (reading it may
            # refresh the token, or find the connection expired).
            invoice_ids = list(dict.fromkeys(a.invoice.invoice_id for a in asks))
            (settings, mappings), records = await together(
                self._config.settings_and_mappings(org_id),
                self._records.get_many(org_id, invoice_ids),
            )
            if settings.sync_mode is SyncMode.MANUAL:
                asks = [r for r in asks if r.event_type is EventType.INVOICE_SYNC_REQUESTED]
            if not asks:
                return []
            targets = planner.collapse(asks)
            sync_results = await self._outcomes(org_id, settings, mappings, targets, records)
            sync_results = {
                t.invoice_id: planner.plan_retry(
                    t.attempt, sync_results[t.invoice_id], self._policy
                )
                for t in targets
            }
            await self._settle(org_id, targets, sync_results)
            return [
                result(ask, sync_results[t.invoice_id], started) for t in targets for ask in t.asks
            ]

    async def _settle(
        self, org_id: str, targets: list[Target], sync_results: dict[str, SyncResult]
    ) -> None:
        """Every outcome raises the high-water mark and drops older scheduled retries; the
        retries promised are stored before the results go out. The marks (in ``links``) and
        the retries (apart) do not wait on each other."""
        # A link written in this batch raised its invoice's mark already.
        written = (SyncOutcome.CREATED, SyncOutcome.UPDATED)
        marks = {
            t.invoice_id: t.version
            for t in targets
            if sync_results[t.invoice_id].outcome not in written
        }
        now = utc_now()
        due = [
            ScheduledRetry(
                org_id=org_id,
                invoice_id=t.invoice_id,
                due_at=now + timedelta(seconds=retry_after),
                attempt=planner.next_attempt(t.attempt, sync_results[t.invoice_id]),
                batch_id=t.asks[-1].batch_id,
                invoice=t.invoice.model_dump(mode="json"),
            )
            for t in targets
            if (retry_after := sync_results[t.invoice_id].retry_after) is not None
        ]
        # Waiting on the connection: parked until a Connect releases them (service.py), so
        # nothing depends on the sync log having folded these failures.
        due += [
            ScheduledRetry(
                org_id=org_id,
                invoice_id=t.invoice_id,
                due_at=PARKED_UNTIL,
                attempt=t.attempt,
                batch_id=t.asks[-1].batch_id,
                invoice=t.invoice.model_dump(mode="json"),
                parked=True,
            )
            for t in targets
            if sync_results[t.invoice_id].code in _WAITS_FOR_CONNECTION
        ]
        reschedule = self._reschedule(org_id, {t.invoice_id: t.version for t in targets}, due)
        if marks:  # apart, so at once
            await alongside(reschedule, self._records.settle(org_id, marks, {}))
        else:
            await reschedule

    async def _reschedule(
        self, org_id: str, versions: dict[str, int], due: list[ScheduledRetry]
    ) -> None:
        await self._retries.drop_older(org_id, versions)
        if due:
            await self._retries.schedule(due)

    async def _outcomes(
        self,
        org_id: str,
        settings: OrgSettings,
        mappings: Mappings,
        targets: list[Target],
        records: dict[str, InvoiceRecord],
    ) -> dict[str, SyncResult]:
        sync_results: dict[str, SyncResult] = {}
        # The version guard first: a stale ask never waits on Xero.
        live = _guard(org_id, targets, records, sync_results)
        if not live:
            return sync_results
        try:
            scope = await self.xero.scope(org_id)
        except (NotConnected, ConnectionExpired) as error:
            _fail_rest(live, sync_results, failed(error.error_code, str(error)))
            return self._kept(targets, records, sync_results)
        except XeroError as error:
            _fail_rest(live, sync_results, unavailable(error))
            return sync_results
        if self._writers is not None:  # Fenced, when another instance writes it, ends the batch
            held = self._writers.held(org_id)
            scope = replace(scope, epoch=await self._writers.acquire(org_id))
            if scope.epoch != held:
                # Taken just now, perhaps after waiting out another writer: what that one
                # stored meanwhile (intents, links, marks) is read again, or a create it sent
                # under an older number would be sent again under the new one.
                fresh = await self._records.get_many(org_id, [t.invoice_id for t in live])
                records.update(fresh)
                live = _guard(org_id, live, records, sync_results)
                if not live:
                    return sync_results
        try:
            await self._run(scope, settings, mappings, live, records, sync_results)
            for t in targets:  # every invoice gets an answer, whatever happened above
                if t.invoice_id not in sync_results:
                    log.error("sync.no_outcome", invoice_id=t.invoice_id)
                    sync_results[t.invoice_id] = failed(
                        ErrorCode.INTERNAL_ERROR, "no outcome reached"
                    )
        except DailyLimitSpent as error:
            message = f"{error}; retry scheduled in {round(error.retry_after)} s"
            spent = SyncResult(
                code=ErrorCode.RATE_LIMITED, message=message, retry_after=error.retry_after
            )
            _fail_rest(targets, sync_results, spent)
        except TenantForbidden as error:
            await self._tokens.mark_expired(
                org_id, f"Xero refused the tenant: {error.message}", generation=scope.generation
            )
            expired = ConnectionExpired(org_id)
            _fail_rest(targets, sync_results, failed(expired.error_code, str(expired)))
        except (NotConnected, ConnectionExpired) as error:
            _fail_rest(targets, sync_results, failed(error.error_code, str(error)))
        except XeroError as error:  # TenantChanged included: planned for the old tenant
            _fail_rest(targets, sync_results, unavailable(error))
        return self._kept(targets, records, sync_results)

    @staticmethod
    def _kept(
        targets: list[Target],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> dict[str, SyncResult]:
        return {
            t.invoice_id: planner.keep_written(t, records[t.invoice_id], sync_results[t.invoice_id])
            for t in targets
        }

    async def _run(
        self,
        scope: XeroScope,
        settings: OrgSettings,
        mappings: Mappings,
        targets: list[Target],
        records: dict[str, InvoiceRecord],
        sync_results: dict[str, SyncResult],
    ) -> None:
        """Results land in ``sync_results`` as they are reached, so an error later in the batch
        fails only what is left."""
        writes = await self._preparer.writes(
            scope, settings, mappings, targets, records, sync_results
        )
        await self.writer.write(scope, writes, records, sync_results)
        await self._preparer.after(scope, targets, sync_results)


def _guard(
    org_id: str,
    targets: list[Target],
    records: dict[str, InvoiceRecord],
    sync_results: dict[str, SyncResult],
) -> list[Target]:
    """The targets not older than their records' high-water marks; the others' stale
    outcomes go into ``sync_results``."""
    live = []
    for t in targets:
        record = records.setdefault(t.invoice_id, InvoiceRecord(org_id, t.invoice_id))
        stale = planner.guard(t, record, None)
        if stale is None:
            live.append(t)
        else:
            sync_results[t.invoice_id] = stale
    return live


def _fail_rest(
    targets: list[Target], sync_results: dict[str, SyncResult], outcome: SyncResult
) -> None:
    for target in targets:
        sync_results.setdefault(target.invoice_id, outcome)
