"""The in-memory organisation: settings data, contacts and invoices, with the indexes that keep
every write O(batch) (by InvoiceNumber, ContactNumber, lower-case Name and e-mail)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO_GUID = "00000000-0000-0000-0000-000000000000"

_CLASS_BY_TYPE = {
    "REVENUE": "REVENUE",
    "SALES": "REVENUE",
    "OTHERINCOME": "REVENUE",
    "EXPENSE": "EXPENSE",
    "DIRECTCOSTS": "EXPENSE",
    "OVERHEADS": "EXPENSE",
    "DEPRECIATN": "EXPENSE",
    "EQUITY": "EQUITY",
    "CURRLIAB": "LIABILITY",
    "LIABILITY": "LIABILITY",
    "TERMLIAB": "LIABILITY",
    "PAYG": "LIABILITY",
}


@dataclass(slots=True)
class TaxRate:
    tax_type: str
    name: str
    effective_rate: Decimal
    status: str = "ACTIVE"
    can_apply_to_revenue: bool = True
    can_apply_to_expenses: bool = True
    report_tax_type: str | None = None


@dataclass(slots=True)
class Account:
    account_id: str
    code: str
    name: str
    type: str
    status: str = "ACTIVE"
    tax_type: str | None = None
    system_account: str | None = None
    bank_account_number: str | None = None
    currency_code: str | None = None

    @property
    def klass(self) -> str:
        """Xero derives ``Class`` from ``Type``; everything not listed is an asset."""
        return _CLASS_BY_TYPE.get(self.type, "ASSET")


@dataclass(slots=True)
class Contact:
    contact_id: str
    name: str
    updated_at: float
    status: str = "ACTIVE"
    contact_number: str | None = None
    email: str | None = None
    # Optional Xero fields kept verbatim (FirstName, Addresses, ...), echoed back on reads.
    extra: dict[str, Any] = field(default_factory=dict)
    is_customer: bool = False
    is_supplier: bool = False
    seq: int = 0  # creation order, for stable listings and paging


@dataclass(slots=True)
class LineItem:
    line_item_id: str
    description: str | None
    quantity: Decimal | None
    unit_amount: Decimal | None
    account_code: str | None
    tax_type: str | None
    line_amount: Decimal
    tax_amount: Decimal
    discount_rate: Decimal | None = None
    item_code: str | None = None
    given_line_amount: Decimal | None = None
    given_tax_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment applied to an invoice (the sandbox records them through its control API)."""

    payment_id: str
    date: dt.date
    amount: Decimal


@dataclass(slots=True)
class Invoice:
    invoice_id: str
    type: str
    contact_id: str | None
    status: str
    line_amount_types: str
    currency_code: str
    updated_at: float
    invoice_number: str | None = None
    reference: str | None = None
    date: dt.date | None = None
    due_date: dt.date | None = None
    url: str | None = None
    currency_rate: Decimal = Decimal(1)
    line_items: list[LineItem] = field(default_factory=list)
    sub_total: Decimal = Decimal(0)
    total_tax: Decimal = Decimal(0)
    total: Decimal = Decimal(0)
    payments: tuple[Payment, ...] = ()
    fully_paid_on: dt.date | None = None
    seq: int = 0  # creation order, for stable listings and paging

    @property
    def amount_paid(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), Decimal(0))

    @property
    def amount_due(self) -> Decimal:
        if self.status in ("VOIDED", "DELETED"):
            return Decimal(0)
        return self.total - self.amount_paid


@dataclass
class Org:
    tenant_id: str
    name: str
    base_currency: str
    country_code: str
    created_at: float
    short_code: str
    currencies: dict[str, str] = field(default_factory=dict)  # code -> description
    tax_rates: dict[str, TaxRate] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)  # by Code
    contacts: dict[str, Contact] = field(default_factory=dict)  # by ContactID, in order
    invoices: dict[str, Invoice] = field(default_factory=dict)  # by InvoiceID, in order
    contacts_by_number: dict[str, str] = field(default_factory=dict)
    active_contacts_by_name: dict[str, str] = field(default_factory=dict)  # lower-case Name
    contacts_by_email: dict[str, set[str]] = field(default_factory=dict)  # lower-case
    # Sales invoice numbers that are taken (every status but DELETED): the uniqueness rule.
    accrec_by_number: dict[str, str] = field(default_factory=dict)
    # Every invoice by number, whatever its type and status: for GET ?InvoiceNumbers=.
    invoices_by_number: dict[str, set[str]] = field(default_factory=dict)
    invoices_by_contact: dict[str, set[str]] = field(default_factory=dict)
    next_invoice_number: int = 1
    next_seq: int = 1

    def take_seq(self) -> int:
        seq = self.next_seq
        self.next_seq += 1
        return seq
