"""The sync use case: invoice events in, one result per event out, no duplicate in Xero.

    results = await pipeline.sync(requests)     # [CloudEvent of sync_succeeded | sync_failed]

Per organisation (organisations run concurrently, an organisation's chunks one after another):
1. several events of one invoice collapse to its newest version (each event gets a result);
2. the connection is checked first: ``not_connected`` / ``connection_expired`` fail fast;
3. pre-validation against the mappings and the cached Xero settings (refreshed once when it
   would reject an invoice on their account);
4. links are read: a version older than the one synced is ``unchanged`` (never written over
   a newer one); the same payload hash is ``unchanged``;
5. contacts are resolved for the whole group (batched creates);
6. chunks of up to ``chunk_size`` go in one ``POST /Invoices?summarizeErrors=false`` with an
   Idempotency-Key derived from the chunk's content: linked invoices are updated by
   InvoiceID, the others created. An element refused as a duplicate number, and every
   invoice of a write whose outcome is unknown (timeout after sending, 5xx), is looked up by
   InvoiceNumber and linked before it is sent again, so a create is never repeated;
7. links are stored, then the results are returned for publishing;
8. an invoice that failed as ``rate_limited`` is scheduled again after the daily reset, one
   that failed as ``xero_unavailable`` after a delay that doubles with each attempt, up to
   ``unavailable_retries`` times (``retries.RetryLoop`` requests them when due).
"""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import structlog

from sync_schemas import (
    CloudEvent,
    ErrorCode,
    EventType,
    Invoice,
    InvoiceSyncFailed,
    InvoiceSyncSucceeded,
    SyncOutcome,
    new_event,
)
from xero_connector.contacts import ContactResolver
from xero_connector.domain import Link, Mappings, OrgSettings, ScheduledRetry, SyncMode
from xero_connector.errors import ConnectionExpired, NotConnected
from xero_connector.gateway import XeroGateway
from xero_connector.limiter import DailyLimitSpent
from xero_connector.mapping import (
    NIL_GUID,
    OrgFacts,
    Payload,
    Rejection,
    classify,
    element_failed,
    element_messages,
    idempotency_key,
    is_duplicate_number,
    payload_hash,
    prevalidate,
    to_xero,
)
from xero_connector.metrics import BATCH_SIZE, INVOICES_FAILED, INVOICES_SYNCED
from xero_connector.xero_errors import (
    TenantForbidden,
    XeroBadRequest,
    XeroError,
    XeroUnavailable,
    XeroValidationError,
)

log = structlog.get_logger(__name__)
SOURCE = "/xero-connector"
_CACHE_CODES = frozenset(
    {ErrorCode.CURRENCY_NOT_ENABLED, ErrorCode.TAX_RATE_INVALID, ErrorCode.ACCOUNT_INVALID}
)
Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """One consumed event that asks for an invoice to be in Xero."""

    event_id: str
    event_type: EventType
    invoice: Invoice
    batch_id: str | None = None
    attempt: int = 1


class Tokens(Protocol):
    async def access(self, org_id: str, *, rejected: str | None = None) -> Any: ...

    async def mark_expired(self, org_id: str, reason: str) -> None: ...


class Config(Protocol):
    async def settings(self, org_id: str) -> OrgSettings: ...

    async def mappings(self, org_id: str) -> Mappings: ...

    async def record_currencies(self, org_id: str, codes: Any) -> None: ...


class OrgDataSource(Protocol):
    async def get(self, org_id: str, *, fresh: bool = False) -> Any: ...


class LinkStore(Protocol):
    async def get_many(self, org_id: str, invoice_ids: Sequence[str]) -> dict[str, Link]: ...

    async def put_many(self, links: Sequence[Link]) -> None: ...


class RetryStore(Protocol):
    async def schedule(self, retries: Sequence[ScheduledRetry]) -> None: ...


@dataclass
class _Target:
    """An invoice's newest version in the batch, with every event that asked for it."""

    invoice: Invoice
    requests: list[SyncRequest]
    link: Link | None = None
    payload: Payload | None = None
    digest: str = ""
    xero_id: str | None = None  # known InvoiceID (link or lookup)


@dataclass
class _Outcome:
    xero_id: str | None = None
    outcome: SyncOutcome | None = None
    code: ErrorCode | None = None
    message: str = ""
    xero_messages: list[str] = field(default_factory=list)
    retry_after: float | None = None


class SyncPipeline:
    def __init__(
        self,
        *,
        tokens: Tokens,
        config: Config,
        org_data: OrgDataSource,
        gateway: XeroGateway,
        contacts: ContactResolver,
        links: LinkStore,
        retries: RetryStore,
        chunk_size: int = 50,
        lookup: Literal["on_doubt", "always"] = "on_doubt",
        write_attempts: int = 4,
        backoff_s: float = 0.5,
        unavailable_retries: int = 3,
        unavailable_retry_s: float = 60.0,
        refresh_interval_s: float = 30.0,
    ) -> None:
        self._tokens = tokens
        self._config = config
        self._org_data = org_data
        self._gateway = gateway
        self._contacts = contacts
        self._links = links
        self._retries = retries
        self.chunk_size = chunk_size
        self._lookup_always = lookup == "always"
        self._write_attempts = write_attempts
        self._backoff = backoff_s
        self._unavailable_retries = unavailable_retries
        self._unavailable_retry_s = unavailable_retry_s
        self._refresh_interval = refresh_interval_s
        self._refreshed_at: dict[str, float] = {}
        self.after_write: Hook | None = None  # a test seam: "Xero accepted, nothing stored yet"

    # -- entry --------------------------------------------------------------------------------

    async def sync(self, requests: Sequence[SyncRequest]) -> list[CloudEvent[Any]]:
        by_org: dict[str, list[SyncRequest]] = {}
        for request in requests:
            by_org.setdefault(request.invoice.org_id, []).append(request)
        started = time.monotonic()
        groups = await asyncio.gather(*(self._org(org, rs, started) for org, rs in by_org.items()))
        return [event for group in groups for event in group]

    async def _org(
        self, org_id: str, requests: list[SyncRequest], started: float
    ) -> list[CloudEvent[Any]]:
        with structlog.contextvars.bound_contextvars(org_id=org_id):
            settings = await self._config.settings(org_id)
            if settings.sync_mode is SyncMode.MANUAL:
                requests = [r for r in requests if r.event_type is EventType.INVOICE_SYNC_REQUESTED]
            if not requests:
                return []
            targets = _collapse(requests)
            outcomes = await self._org_outcomes(org_id, settings, targets)
            self._plan_unavailable_retries(targets, outcomes)
            await self._schedule(org_id, targets, outcomes)
            return [
                _result(target, request, outcomes[target.invoice.invoice_id], started, org_id)
                for target in targets
                for request in target.requests
            ]

    def _plan_unavailable_retries(
        self, targets: list[_Target], outcomes: dict[str, _Outcome]
    ) -> None:
        """Xero being away is usually brief: such an invoice is tried again by itself after
        ``unavailable_retry_s``, then twice that, and so on, ``unavailable_retries`` times;
        after that it waits for an operator's re-sync."""
        for target in targets:
            outcome = outcomes[target.invoice.invoice_id]
            if outcome.code is not ErrorCode.XERO_UNAVAILABLE:
                continue
            attempt = max(r.attempt for r in target.requests)
            if attempt > self._unavailable_retries:
                note = f"; no automatic retry left after {attempt} attempts"
                outcomes[target.invoice.invoice_id] = replace(
                    outcome, message=outcome.message + note
                )
                continue
            delay = self._unavailable_retry_s * 2 ** (attempt - 1)
            note = f"; retry {attempt} of {self._unavailable_retries} scheduled in {delay:g} s"
            outcomes[target.invoice.invoice_id] = replace(
                outcome, message=outcome.message + note, retry_after=delay
            )

    async def _schedule(
        self, org_id: str, targets: list[_Target], outcomes: dict[str, _Outcome]
    ) -> None:
        """Stored before the results are published, so a failure that promises a retry has
        one."""
        now = datetime.now(UTC)
        due = [
            ScheduledRetry(
                org_id=org_id,
                invoice_id=t.invoice.invoice_id,
                due_at=now + timedelta(seconds=outcome.retry_after),
                attempt=max(r.attempt for r in t.requests) + 1,
                batch_id=t.requests[-1].batch_id,
                invoice=t.invoice.model_dump(mode="json"),
            )
            for t in targets
            if (outcome := outcomes[t.invoice.invoice_id]).retry_after is not None
        ]
        if due:
            await self._retries.schedule(due)

    async def _org_outcomes(
        self, org_id: str, settings: OrgSettings, targets: list[_Target]
    ) -> dict[str, _Outcome]:
        outcomes: dict[str, _Outcome] = {}
        try:
            access = await self._tokens.access(org_id)
        except (NotConnected, ConnectionExpired) as error:
            return {t.invoice.invoice_id: _fail(error.error_code, str(error)) for t in targets}
        except XeroError as error:
            return {t.invoice.invoice_id: _unavailable(error) for t in targets}
        try:
            await self._prepare(org_id, access.tenant_id, settings, targets, outcomes)
            pending = [t for t in targets if t.invoice.invoice_id not in outcomes]
            for start in range(0, len(pending), self.chunk_size):
                chunk = pending[start : start + self.chunk_size]
                outcomes.update(await self._write(org_id, access.tenant_id, chunk))
        except DailyLimitSpent as error:
            self._fail_rest(targets, outcomes, _rate_limited(error))
        except TenantForbidden as error:
            await self._tokens.mark_expired(org_id, f"Xero refused the tenant: {error.message}")
            failure = _fail(ErrorCode.CONNECTION_EXPIRED, str(ConnectionExpired(org_id)))
            self._fail_rest(targets, outcomes, failure)
        except (NotConnected, ConnectionExpired) as error:
            self._fail_rest(targets, outcomes, _fail(error.error_code, str(error)))
        except XeroError as error:
            self._fail_rest(targets, outcomes, _unavailable(error))
        return outcomes

    @staticmethod
    def _fail_rest(
        targets: list[_Target], outcomes: dict[str, _Outcome], failure: _Outcome
    ) -> None:
        for target in targets:
            outcomes.setdefault(target.invoice.invoice_id, failure)

    # -- before Xero --------------------------------------------------------------------------

    async def _facts(self, org_id: str, *, fresh: bool) -> OrgFacts:
        data = await self._org_data.get(org_id, fresh=fresh)
        if fresh:
            self._refreshed_at[org_id] = time.monotonic()
        return OrgFacts.of(data.currency_codes, data.tax_rates, data.accounts)

    async def _prepare(
        self,
        org_id: str,
        tenant_id: str,
        settings: OrgSettings,
        targets: list[_Target],
        outcomes: dict[str, _Outcome],
    ) -> None:
        mappings = await self._config.mappings(org_id)
        facts = await self._facts(org_id, fresh=False)
        rejections = {
            t.invoice.invoice_id: prevalidate(t.invoice, settings, mappings, facts) for t in targets
        }
        if any(r is not None and r.code in _CACHE_CODES for r in rejections.values()):
            last = self._refreshed_at.get(org_id, 0.0)
            if time.monotonic() - last > self._refresh_interval:  # maybe stale: ask Xero once
                facts = await self._facts(org_id, fresh=True)
                rejections = {
                    t.invoice.invoice_id: prevalidate(t.invoice, settings, mappings, facts)
                    for t in targets
                }
        for target in targets:
            rejection = rejections[target.invoice.invoice_id]
            if rejection is not None:
                outcomes[target.invoice.invoice_id] = _rejected(rejection)
        await self._config.record_currencies(org_id, {t.invoice.currency for t in targets})

        live = [t for t in targets if t.invoice.invoice_id not in outcomes]
        links = await self._links.get_many(org_id, [t.invoice.invoice_id for t in live])
        for target in live:
            target.link = links.get(target.invoice.invoice_id)
            if target.link is not None:
                target.xero_id = target.link.xero_invoice_id
                if target.link.version > target.invoice.version:
                    # Never write an older version over a newer one.
                    outcomes[target.invoice.invoice_id] = _Outcome(
                        target.xero_id, SyncOutcome.UNCHANGED
                    )

        live = [t for t in targets if t.invoice.invoice_id not in outcomes]
        customers = [t.invoice.customer for t in live]
        contact_ids, unresolved = await self._contacts.resolve(
            org_id, tenant_id, customers, auto_create=settings.auto_create_contacts
        )
        for target in live:
            customer = target.invoice.customer.id
            if customer not in contact_ids:
                why = unresolved.get(customer)
                outcomes[target.invoice.invoice_id] = _fail(
                    ErrorCode.CONTACT_MISSING,
                    why.message if why else f"customer {customer} has no Xero contact",
                    list(why.xero_messages) if why else [],
                )
                continue
            target.payload = to_xero(
                target.invoice, settings, mappings, contact_ids[customer], target.xero_id
            )
            target.digest = payload_hash(target.payload)
            link = target.link
            if link is not None and link.payload_hash == target.digest:
                outcomes[target.invoice.invoice_id] = _Outcome(
                    link.xero_invoice_id, SyncOutcome.UNCHANGED
                )

    # -- the write ----------------------------------------------------------------------------

    async def _write(
        self, org_id: str, tenant_id: str, chunk: list[_Target]
    ) -> dict[str, _Outcome]:
        outcomes: dict[str, _Outcome] = {}
        pending = list(chunk)
        doubt = self._lookup_always
        attempts = 0
        while pending:
            if doubt:
                await self._look_up(org_id, tenant_id, [t for t in pending if t.xero_id is None])
                doubt = False
            try:
                elements = await self._post(org_id, tenant_id, pending)
            except XeroUnavailable as error:
                attempts += 1
                if attempts >= self._write_attempts:
                    for target in pending:
                        outcomes[target.invoice.invoice_id] = _unavailable(error)
                    break
                log.warning("xero.write_unknown_outcome", error=str(error), attempt=attempts)
                doubt = True  # Xero may have written it: look before sending again
                await asyncio.sleep(self._backoff * 2**attempts * (0.5 + random.random()))  # noqa: S311
                continue
            except (XeroBadRequest, XeroValidationError) as error:
                outcomes.update(await self._split(org_id, tenant_id, pending, error))
                break
            retry: list[_Target] = []
            for target, element in zip(pending, elements, strict=False):
                messages = element_messages(element)
                if not element_failed(element):
                    outcome = SyncOutcome.UPDATED if target.xero_id else SyncOutcome.CREATED
                    outcomes[target.invoice.invoice_id] = _Outcome(
                        str(element["InvoiceID"]), outcome
                    )
                elif is_duplicate_number(messages) and target.xero_id is None and attempts < 2:
                    retry.append(target)  # made before (a lost answer, a crash): link it
                else:
                    code = classify(messages)
                    if code in _CACHE_CODES:
                        self._refreshed_at.pop(org_id, None)
                    if code is ErrorCode.CONTACT_MISSING:
                        await self._contacts.forget_stored(org_id, target.invoice.customer.id)
                    outcomes[target.invoice.invoice_id] = _fail(
                        code, f"Xero refused invoice {target.invoice.invoice_number}", messages
                    )
            for target in pending[len(elements) :]:
                outcomes[target.invoice.invoice_id] = _fail(
                    ErrorCode.XERO_VALIDATION, "Xero's answer had no element for this invoice"
                )
            pending, doubt = retry, bool(retry)
            attempts += 1 if retry else 0
        return outcomes

    async def _split(
        self, org_id: str, tenant_id: str, pending: list[_Target], error: XeroError
    ) -> dict[str, _Outcome]:
        """A whole request refused (an unreadable element): halve it to find the culprit."""
        if len(pending) == 1:
            messages = getattr(error, "messages", None) or [error.message]
            return {
                pending[0].invoice.invoice_id: _fail(
                    classify(messages), error.message, list(messages)
                )
            }
        half = len(pending) // 2
        first = await self._write(org_id, tenant_id, pending[:half])
        return first | await self._write(org_id, tenant_id, pending[half:])

    async def _post(self, org_id: str, tenant_id: str, targets: list[_Target]) -> list[Payload]:
        payloads = []
        for target in targets:
            assert target.payload is not None
            payload = dict(target.payload)
            if target.xero_id:
                payload["InvoiceID"] = target.xero_id
            payloads.append(payload)
        key = idempotency_key(
            org_id,
            [(t.invoice.invoice_id, t.invoice.version, f"{t.digest}:{t.xero_id}") for t in targets],
        )
        BATCH_SIZE.observe(len(payloads))
        answer = await self._gateway.call(
            org_id,
            tenant_id,
            "POST",
            "/Invoices",
            params={"summarizeErrors": "false"},
            json={"Invoices": payloads},
            headers={"Idempotency-Key": key},
            safe=False,
        )
        if self.after_write is not None:
            await self.after_write()
        elements = (answer.body or {}).get("Invoices") or []
        written = [
            Link(org_id, t.invoice.invoice_id, str(e["InvoiceID"]), t.invoice.version, t.digest)
            for t, e in zip(targets, elements, strict=False)
            if not element_failed(e) and e.get("InvoiceID") and e["InvoiceID"] != NIL_GUID
        ]
        await self._links.put_many(written)
        return [e for e in elements if isinstance(e, dict)]

    async def _look_up(self, org_id: str, tenant_id: str, targets: list[_Target]) -> None:
        """Batched ``GET Invoices?InvoiceNumbers=``: link what Xero already holds."""
        if not targets:
            return
        by_number = {t.invoice.invoice_number.lower(): t for t in targets}
        for start in range(0, len(targets), 25):
            numbers = [t.invoice.invoice_number for t in targets[start : start + 25]]
            answer = await self._gateway.call(
                org_id, tenant_id, "GET", "/Invoices", params={"InvoiceNumbers": ",".join(numbers)}
            )
            for found in (answer.body or {}).get("Invoices") or []:
                target = by_number.get(str(found.get("InvoiceNumber", "")).lower())
                if target is not None and found.get("Status") not in ("DELETED",):
                    target.xero_id = str(found["InvoiceID"])
                    log.info("xero.invoice_found", invoice_id=target.invoice.invoice_id)


# -- helpers ------------------------------------------------------------------------------------


def _collapse(requests: list[SyncRequest]) -> list[_Target]:
    targets: dict[str, _Target] = {}
    for request in requests:
        target = targets.get(request.invoice.invoice_id)
        if target is None:
            targets[request.invoice.invoice_id] = _Target(request.invoice, [request])
            continue
        target.requests.append(request)
        if request.invoice.version >= target.invoice.version:
            target.invoice = request.invoice
    return list(targets.values())


def _fail(code: ErrorCode, message: str, xero_messages: list[str] | None = None) -> _Outcome:
    return _Outcome(code=code, message=message, xero_messages=list(xero_messages or []))


def _rejected(rejection: Rejection) -> _Outcome:
    return _fail(rejection.code, rejection.message, list(rejection.xero_messages))


def _unavailable(error: XeroError) -> _Outcome:
    return _fail(ErrorCode.XERO_UNAVAILABLE, f"Xero is unavailable: {error.message}")


def _rate_limited(error: DailyLimitSpent) -> _Outcome:
    outcome = _fail(
        ErrorCode.RATE_LIMITED,
        f"{error}; retry scheduled in {round(error.retry_after)} s",
    )
    outcome.retry_after = error.retry_after
    return outcome


def _result(
    target: _Target, request: SyncRequest, outcome: _Outcome, started: float, org_id: str
) -> CloudEvent[Any]:
    invoice = request.invoice
    if outcome.code is None:
        assert outcome.outcome is not None and outcome.xero_id is not None
        INVOICES_SYNCED.labels(outcome.outcome.value).inc()
        data: Any = InvoiceSyncSucceeded(
            org_id=org_id,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.invoice_number,
            version=invoice.version,
            xero_invoice_id=outcome.xero_id,
            outcome=outcome.outcome,
            attempt=request.attempt,
            batch_id=request.batch_id,
            cause_event_id=request.event_id,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        kind = EventType.INVOICE_SYNC_SUCCEEDED
    else:
        INVOICES_FAILED.labels(outcome.code.value).inc()
        data = InvoiceSyncFailed(
            org_id=org_id,
            invoice_id=invoice.invoice_id,
            invoice_number=invoice.invoice_number,
            version=invoice.version,
            error_code=outcome.code,
            message=outcome.message,
            xero_messages=outcome.xero_messages,
            retryable=outcome.code.retryable,
            remediation=outcome.code.remediation(org_id),
            attempt=request.attempt,
            batch_id=request.batch_id,
            cause_event_id=request.event_id,
        )
        kind = EventType.INVOICE_SYNC_FAILED
    return new_event(kind, data, source=SOURCE, subject=org_id)
