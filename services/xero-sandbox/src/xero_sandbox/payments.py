"""Paying an invoice, as someone reconciling in Xero would (the sandbox's control API does it;
the connector never pays). A paid invoice is then frozen: see ``invoices.TRANSITIONS``."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from . import messages
from .model import Invoice, Payment
from .totals import ZERO, round2


class PaymentRefused(ValueError):
    """The payment breaks one of Xero's rules; the message is Xero's where known."""


def pay(invoice: Invoice, amount: Decimal | None, now: float) -> Invoice:
    """The invoice with one more payment: the whole AmountDue unless ``amount`` says less.
    Fully paid, it becomes PAID with a ``FullyPaidOnDate``."""
    if invoice.status != "AUTHORISED":
        raise PaymentRefused(messages.PAYMENT_NOT_AUTHORISED)
    due = invoice.amount_due
    paid = due if amount is None else round2(amount)
    if paid <= ZERO:
        raise PaymentRefused(messages.PAYMENT_NOT_POSITIVE)
    if paid > due:
        raise PaymentRefused(messages.PAYMENT_EXCEEDS_DUE)
    today = datetime.fromtimestamp(now, tz=UTC).date()
    payment = Payment(payment_id=str(uuid.uuid4()), date=today, amount=paid)
    settled = paid == due
    return replace(
        invoice,
        payments=(*invoice.payments, payment),
        status="PAID" if settled else invoice.status,
        fully_paid_on=today if settled else None,
        updated_at=now,
    )
