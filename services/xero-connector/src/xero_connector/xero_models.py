"""Small typed records of what Xero answers, parsed from its JSON. Pure: no I/O.

Codes (TaxType, account Class, currency codes, statuses) stay plain strings: Xero adds new
ones per country and over time, and a strict enum would break on them.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What Xero's ``X-*-Remaining`` headers said on one response (None when absent)."""

    day_remaining: int | None = None
    minute_remaining: int | None = None
    app_minute_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "RateLimits":
        lower = {k.lower(): v for k, v in headers.items()}
        return cls(
            _int(lower.get("x-daylimit-remaining")),
            _int(lower.get("x-minlimit-remaining")),
            _int(lower.get("x-appminlimit-remaining")),
        )


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """A token endpoint answer. Holds secrets: never log or return it."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: str

    def __repr__(self) -> str:  # keeps tokens out of tracebacks and debug output
        return f"TokenGrant(expires_in={self.expires_in}, scope={self.scope!r})"


@dataclass(frozen=True, slots=True)
class XeroConnection:
    """One entry of ``GET /connections``: a tenant the grant reaches."""

    id: str
    tenant_id: str
    tenant_type: str
    tenant_name: str
    auth_event_id: str | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Organisation:
    organisation_id: str
    name: str
    base_currency: str
    country_code: str


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class TaxRate:
    tax_type: str
    name: str
    status: str
    can_apply_to_revenue: bool
    effective_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    code: str
    name: str
    type: str
    klass: str
    status: str
    tax_type: str | None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_xero_utc(value: object) -> datetime | None:
    """``2019-12-07T18:46:19.5165400`` (seven fraction digits, no offset) as UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.rstrip("Z")
    head, _, fraction = text.partition(".")
    try:
        moment = datetime.fromisoformat(head)
    except ValueError:
        return None
    micros = int((fraction + "000000")[:6]) if fraction.isdigit() else 0
    return moment.replace(microsecond=micros, tzinfo=UTC)


def parse_token_grant(body: JsonDict) -> TokenGrant:
    return TokenGrant(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_in=int(body.get("expires_in") or 1800),
        scope=str(body.get("scope") or ""),
    )


def parse_connections(body: object) -> list[XeroConnection]:
    items = body if isinstance(body, list) else []
    return [
        XeroConnection(
            id=str(item.get("id", "")),
            tenant_id=str(item.get("tenantId", "")),
            tenant_type=str(item.get("tenantType") or "ORGANISATION"),
            tenant_name=str(item.get("tenantName") or ""),
            auth_event_id=item.get("authEventId"),
            created_at=parse_xero_utc(item.get("createdDateUtc")),
            updated_at=parse_xero_utc(item.get("updatedDateUtc")),
        )
        for item in items
        if isinstance(item, dict) and item.get("tenantId")
    ]


def _items(body: JsonDict, plural: str) -> list[JsonDict]:
    items = body.get(plural) or []
    return [item for item in items if isinstance(item, dict)]


def parse_organisation(body: JsonDict) -> Organisation:
    items = _items(body, "Organisations")
    if not items:
        raise ValueError("Xero answered no Organisation")
    org = items[0]
    return Organisation(
        organisation_id=str(org.get("OrganisationID", "")),
        name=str(org.get("Name", "")),
        base_currency=str(org.get("BaseCurrency", "")),
        country_code=str(org.get("CountryCode", "")),
    )


def parse_currencies(body: JsonDict) -> list[Currency]:
    return [
        Currency(code=str(item["Code"]), description=str(item.get("Description", "")))
        for item in _items(body, "Currencies")
        if item.get("Code")
    ]


def parse_tax_rates(body: JsonDict) -> list[TaxRate]:
    return [
        TaxRate(
            tax_type=str(item["TaxType"]),
            name=str(item.get("Name", "")),
            status=str(item.get("Status", "")),
            can_apply_to_revenue=bool(item.get("CanApplyToRevenue", True)),
            effective_rate=_decimal(item.get("EffectiveRate")),
        )
        for item in _items(body, "TaxRates")
        if item.get("TaxType")
    ]


def parse_accounts(body: JsonDict) -> list[Account]:
    return [
        Account(
            account_id=str(item.get("AccountID", "")),
            code=str(item["Code"]),
            name=str(item.get("Name", "")),
            type=str(item.get("Type", "")),
            klass=str(item.get("Class", "")),
            status=str(item.get("Status", "")),
            tax_type=item.get("TaxType"),
        )
        for item in _items(body, "Accounts")
        if item.get("Code")  # bank and system accounts may have none; they are never mapped
    ]


# -- Invoices and contacts: what the sync core reads of Xero's answers ------------------------


@dataclass(frozen=True, slots=True)
class XeroInvoice:
    """An invoice as Xero holds it. ``url`` is the link back to its source document, the
    marker this integration writes on every invoice it creates."""

    invoice_id: str
    number: str
    type: str  # ACCREC (sales) | ACCPAY (bills): only ACCREC numbers are unique
    status: str  # DRAFT | SUBMITTED | AUTHORISED | PAID | VOIDED | DELETED
    url: str | None = None
    total: Decimal | None = None
    contact_id: str | None = None


@dataclass(frozen=True, slots=True)
class WrittenInvoice:
    """One element of a write's answer: the invoice Xero saved, or why it refused it."""

    invoice: XeroInvoice | None
    messages: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.invoice is not None


@dataclass(frozen=True, slots=True)
class XeroContact:
    contact_id: str
    name: str
    number: str | None  # ContactNumber: the upstream customer id for contacts we created
    status: str = "ACTIVE"


@dataclass(frozen=True, slots=True)
class WrittenContact:
    contact: XeroContact | None
    messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ContactPage:
    contacts: list[XeroContact]
    page_count: int | None  # Xero's pagination.pageCount, when it sent one


NIL_GUID = "00000000-0000-0000-0000-000000000000"


def _messages(element: JsonDict) -> tuple[str, ...]:
    return tuple(
        str(e["Message"])
        for e in element.get("ValidationErrors") or []
        if isinstance(e, dict) and e.get("Message")
    )


def _failed(element: JsonDict) -> bool:
    return bool(
        element.get("HasErrors")
        or element.get("HasValidationErrors")
        or element.get("StatusAttributeString") == "ERROR"
        or _messages(element)
    )


def parse_invoice(item: JsonDict) -> XeroInvoice:
    contact = item.get("Contact") if isinstance(item.get("Contact"), dict) else {}
    assert isinstance(contact, dict)
    return XeroInvoice(
        invoice_id=str(item.get("InvoiceID", "")),
        number=str(item.get("InvoiceNumber") or ""),
        type=str(item.get("Type") or ""),
        status=str(item.get("Status") or ""),
        url=str(item["Url"]) if item.get("Url") else None,
        total=_decimal(item.get("Total")),
        contact_id=str(contact["ContactID"]) if contact.get("ContactID") else None,
    )


def parse_invoices(body: object) -> list[XeroInvoice]:
    if not isinstance(body, dict):
        return []
    return [parse_invoice(item) for item in _items(body, "Invoices") if item.get("InvoiceID")]


def parse_written_invoices(body: object) -> list[WrittenInvoice]:
    """A ``summarizeErrors=false`` answer, element by element, in the order sent."""
    elements = _items(body, "Invoices") if isinstance(body, dict) else []
    written = []
    for element in elements:
        failed = _failed(element) or element.get("InvoiceID") in (None, "", NIL_GUID)
        if failed:
            messages = _messages(element) or ("Xero saved no invoice for this element",)
            written.append(WrittenInvoice(None, messages))
        else:
            written.append(WrittenInvoice(parse_invoice(element)))
    return written


def parse_contact(item: JsonDict) -> XeroContact:
    return XeroContact(
        contact_id=str(item.get("ContactID", "")),
        name=str(item.get("Name") or ""),
        number=str(item["ContactNumber"]) if item.get("ContactNumber") else None,
        status=str(item.get("ContactStatus") or "ACTIVE"),
    )


def parse_contacts(body: object) -> list[XeroContact]:
    if not isinstance(body, dict):
        return []
    return [
        parse_contact(item)
        for item in _items(body, "Contacts")
        if item.get("ContactID") and item.get("ContactID") != NIL_GUID
    ]


def parse_contact_page(body: object) -> ContactPage:
    pagination = body.get("pagination") if isinstance(body, dict) else None
    count = _int(str(pagination.get("pageCount"))) if isinstance(pagination, dict) else None
    return ContactPage(parse_contacts(body), count)


def parse_written_contacts(body: object) -> list[WrittenContact]:
    elements = _items(body, "Contacts") if isinstance(body, dict) else []
    return [
        WrittenContact(None, _messages(e) or ("Xero saved no contact for this element",))
        if _failed(e) or e.get("ContactID") in (None, "", NIL_GUID)
        else WrittenContact(parse_contact(e))
        for e in elements
    ]
