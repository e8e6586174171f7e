"""The sync core's decisions, as pure functions of what is known (no I/O: tested by tables in
tests/unit/xero_connector/test_planner.py). The orchestrator (``sync/pipeline.py``) gathers
the inputs through the ports and carries the decisions out.

    targets = collapse(asks)                       # newest version per invoice
    guard(target, record, tenant_id)                   # stale: an outcome, nothing written
    cancel_status(link, xero_invoice)                  # DELETED / VOIDED / nothing / refusal
    owner = ownership(number, intent, found)           # Adopt(...) | Taken(...) | None
    planned = plan_retries(target, outcome, policy)    # the retry promised in the message
"""

from dataclasses import dataclass, replace
from urllib.parse import quote

from sync_schemas import ErrorCode, SyncOutcome
from xero_connector.domain import Intent, InvoiceRecord, Link
from xero_connector.mapping import classify, is_duplicate_number
from xero_connector.sync.model import SyncAsk, SyncResult, Target, Write, failed, succeeded
from xero_connector.xero_models import WrittenInvoice, XeroInvoice

CANCEL_STATUS = {"DRAFT": "DELETED", "SUBMITTED": "DELETED", "AUTHORISED": "VOIDED"}
CANCELLED = frozenset({"VOIDED", "DELETED"})


def collapse(asks: list[SyncAsk]) -> list[Target]:
    """Several events of one invoice become one target: its newest version, answered once
    per event. Order of first appearance is kept."""
    targets: dict[str, Target] = {}
    for ask in asks:
        target = targets.get(ask.invoice.invoice_id)
        if target is None:
            targets[ask.invoice.invoice_id] = Target(ask.invoice, [ask])
            continue
        target.asks.append(ask)
        if ask.invoice.version >= target.invoice.version:
            target.invoice = ask.invoice
    return list(targets.values())


def source_url(template: str, org_id: str, invoice_id: str) -> str:
    return template.format(org_id=quote(org_id, safe=""), invoice_id=quote(invoice_id, safe=""))


# -- before Xero ----------------------------------------------------------------------------


def guard(target: Target, record: InvoiceRecord, tenant_id: str | None) -> SyncResult | None:
    """The high-water mark: a version older than one that already had an outcome is never
    written (a late event, or a retry scheduled before upstream moved on). Decided before
    the connection is even looked at; ``tenant_id``, when known, names the Xero invoice."""
    newest = max(record.high_water, record.link.version if record.link else 0)
    if target.version >= newest:
        return None
    why = f"version {target.version} is older than version {newest}, which is handled already"
    link = record.link_in(tenant_id) if tenant_id else None
    return succeeded(link.xero_invoice_id if link else "", SyncOutcome.UNCHANGED, message=why)


# Causes outside the invoice: the connection, the day's budget, the organisation's mapping.
_CIRCUMSTANTIAL = frozenset(
    {
        ErrorCode.NOT_CONNECTED,
        ErrorCode.CONNECTION_EXPIRED,
        ErrorCode.RATE_LIMITED,
        ErrorCode.TAX_RATE_UNMAPPED,
        ErrorCode.TAX_RATE_INVALID,
        ErrorCode.ACCOUNT_UNMAPPED,
        ErrorCode.ACCOUNT_INVALID,
        ErrorCode.CURRENCY_NOT_ENABLED,
    }
)


def keep_written(target: Target, record: InvoiceRecord, outcome: SyncResult) -> SyncResult:
    """A re-sync of an invoice already in Xero at this very version never turns it failed
    for a cause outside the invoice (the connection, the day's budget, a mapping changed
    since): nothing would be written, and Xero still holds what was synced."""
    link = record.link
    if outcome.code not in _CIRCUMSTANTIAL or link is None or link.version != target.version:
        return outcome
    why = f"already in Xero at version {target.version}; not checked again: {outcome.message}"
    return succeeded(link.xero_invoice_id, SyncOutcome.UNCHANGED, message=why)


def unchanged(link: Link | None, digest: str) -> SyncResult | None:
    if link is not None and link.payload_hash == digest:
        return succeeded(link.xero_invoice_id, SyncOutcome.UNCHANGED)
    return None


def cancel_status(link: Link | None, current: XeroInvoice | None) -> str | SyncResult:
    """Void upstream → Xero deletes a DRAFT or SUBMITTED invoice and voids an AUTHORISED one;
    a PAID one cannot be cancelled until its payments are removed (XERO.md, "Cancelling")."""
    if current is None:
        if link is None:
            return succeeded(
                "", SyncOutcome.UNCHANGED, message="nothing to void: it never reached Xero"
            )
        return failed(
            ErrorCode.XERO_VALIDATION,
            f"Xero invoice {link.xero_invoice_id} is no longer in Xero: nothing to void",
        )
    if current.status in CANCELLED:
        return succeeded(
            current.invoice_id, SyncOutcome.UNCHANGED, message=f"already {current.status} in Xero"
        )
    status = CANCEL_STATUS.get(current.status)
    if status is None:
        return failed(
            ErrorCode.XERO_VALIDATION,
            f"Xero invoice {current.number} is {current.status}: Xero cannot void it until its "
            "payments (or allocated credit notes) are removed in Xero; then re-sync",
        )
    return status


# -- ownership --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Adopt:
    """A Xero invoice this integration created (an earlier create whose answer was lost)."""

    invoice: XeroInvoice


@dataclass(frozen=True, slots=True)
class Taken:
    """The number is held by a sales invoice this integration did not create."""

    invoice: XeroInvoice


def ownership(number: str, intent: Intent, found: list[XeroInvoice]) -> Adopt | Taken | None:
    """Which Xero invoice holds this invoice's numbers, and whether it is ours. Ours needs
    proof: ACCREC (bills repeat numbers), one of the numbers our creates carried and one of
    the source Urls we wrote. Anything else holding the current number is not ours to touch."""
    numbers = {n.casefold() for n in (*intent.numbers, number)}
    sales = [
        f
        for f in found
        if f.type == "ACCREC" and f.status != "DELETED" and f.number.casefold() in numbers
    ]
    ours = [f for f in sales if intent.proves(f.number, f.url)]
    if ours:
        live = [f for f in ours if f.status not in CANCELLED]
        return Adopt((live or ours)[0])
    holder = next((f for f in sales if f.number.casefold() == number.casefold()), None)
    return Taken(holder) if holder is not None else None


def number_taken(number: str, holder: XeroInvoice) -> SyncResult:
    return failed(
        ErrorCode.INVOICE_NUMBER_TAKEN,
        f"invoice number {number} is already used in Xero by invoice {holder.invoice_id} "
        f"({holder.status}), which this integration did not create; nothing was written",
    )


# -- after a write ----------------------------------------------------------------------------


def written(write: Write, element: WrittenInvoice) -> SyncResult | None:
    """The outcome of one element; None for a create refused as a duplicate number (look it
    up: it may be ours from a write whose answer was lost)."""
    if element.invoice is not None:
        if write.cancel:
            kind = SyncOutcome.UPDATED
        else:
            kind = SyncOutcome.UPDATED if write.xero_id else SyncOutcome.CREATED
        return succeeded(element.invoice.invoice_id, kind, total=element.invoice.total)
    if write.xero_id is None and is_duplicate_number(element.messages):
        return None
    number = write.target.invoice.invoice_number
    return failed(classify(element.messages), f"Xero refused invoice {number}", element.messages)


def link_after(write: Write, element: WrittenInvoice, tenant_id: str) -> Link | None:
    if element.invoice is None:
        return None
    return Link(
        tenant_id=tenant_id,
        xero_invoice_id=element.invoice.invoice_id,
        version=write.target.version,
        payload_hash=write.digest,
        xero_status=element.invoice.status,
    )


# -- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    unavailable_retries: int = 3
    unavailable_retry_seconds: float = 60.0


def plan_retry(attempt: int, outcome: SyncResult, policy: RetryPolicy) -> SyncResult:
    """Xero being away is usually brief: ``xero_unavailable`` is tried again by itself after
    ``unavailable_retry_seconds``, then twice that, ``unavailable_retries`` times; after that it
    waits for an operator's re-sync. ``rate_limited`` already carries its delay (the reset)."""
    if outcome.code is not ErrorCode.XERO_UNAVAILABLE:
        return outcome
    if attempt > policy.unavailable_retries:
        note = f"; no automatic retry left after {attempt} attempts"
        return replace(outcome, message=outcome.message + note, retry_after=None)
    delay = policy.unavailable_retry_seconds * 2 ** (attempt - 1)
    note = f"; retry {attempt} of {policy.unavailable_retries} scheduled in {delay:g} s"
    return replace(outcome, message=outcome.message + note, retry_after=delay)


def next_attempt(attempt: int, outcome: SyncResult) -> int:
    """The attempt number a scheduled retry carries: only tries that found Xero away count
    against ``unavailable_retries``; waiting out the daily limit (however many resets it
    takes) or the connection uses none of them."""
    return attempt + 1 if outcome.code is ErrorCode.XERO_UNAVAILABLE else attempt
