"""The connector's own records: a connection with its tokens, an organisation's settings and
mappings, and a pending authorization. Pure: no I/O."""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sync_schemas import ConnectionStatus, Invoice

# -- Settings and mappings (the API's bodies, stored as they are) -------------------------------


class SyncMode(StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class XeroInvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    AUTHORISED = "AUTHORISED"


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AccountCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
TaxType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class OrgSettings(BaseModel):
    """What a new organisation gets is the defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sync_mode: SyncMode = SyncMode.AUTOMATIC
    auto_create_contacts: bool = False
    invoice_status: XeroInvoiceStatus = XeroInvoiceStatus.AUTHORISED
    default_account_code: AccountCode | None = None


class Mappings(BaseModel):
    """Upstream codes to Xero codes. An invoice currency without an entry is sent as is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accounts: dict[Code, AccountCode] = Field(
        default_factory=dict, description="revenue category -> Xero AccountCode"
    )
    tax_rates: dict[Code, TaxType] = Field(
        default_factory=dict, description="tax code -> Xero TaxType"
    )
    currencies: dict[CurrencyCode, CurrencyCode] = Field(
        default_factory=dict, description="invoice currency -> Xero CurrencyCode"
    )

    def xero_currency(self, invoice_currency: str) -> str:
        return self.currencies.get(invoice_currency, invoice_currency)


@dataclass(frozen=True, slots=True)
class Used:
    """The upstream codes a batch of invoices used: their currencies, and their lines'
    revenue categories and tax codes. Recorded once per batch and organisation, so the
    console can show what needs a mapping."""

    currencies: frozenset[str] = frozenset()
    revenue_categories: frozenset[str] = frozenset()
    tax_codes: frozenset[str] = frozenset()

    @classmethod
    def by(cls, invoices: Iterable[Invoice]) -> "Used":
        invoices = list(invoices)
        lines = [line for invoice in invoices for line in invoice.lines]
        return cls(
            currencies=frozenset(i.currency for i in invoices),
            revenue_categories=frozenset(
                line.revenue_category for line in lines if line.revenue_category
            ),
            tax_codes=frozenset(line.tax_code for line in lines if line.tax_code),
        )


@dataclass(frozen=True, slots=True)
class LastSeen:
    """When each code was last used by an invoice the connector processed."""

    currencies: dict[str, datetime] = field(default_factory=dict)
    revenue_categories: dict[str, datetime] = field(default_factory=dict)
    tax_codes: dict[str, datetime] = field(default_factory=dict)


# -- Connections --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenPair:
    """A connection's secrets. Never logged, never returned by the API."""

    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return "TokenPair(***)"


@dataclass(frozen=True, slots=True)
class Connection:
    """An organisation's link to one Xero tenant.

    ``generation`` grows with every token write; it names the token set a refresh replaces.
    """

    org_id: str
    status: ConnectionStatus
    generation: int
    written_at: datetime  # the last write: a status change or a token write
    reason: str
    tenant_id: str | None = None
    tenant_name: str | None = None
    xero_connection_id: str | None = None
    connected_at: datetime | None = None
    access_expires_at: datetime | None = None
    tokens: TokenPair | None = None

    def with_status(self, status: ConnectionStatus, reason: str, at: datetime) -> "Connection":
        """The same connection, tokens dropped unless it stays connected."""
        keep = status is ConnectionStatus.CONNECTED
        return replace(
            self,
            status=status,
            reason=reason,
            written_at=at,
            tokens=self.tokens if keep else None,
            access_expires_at=self.access_expires_at if keep else None,
        )


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """A ``state`` handed out with an authorize URL, bound to one organisation."""

    state: str
    org_id: str
    code_verifier: str
    redirect_uri: str
    expires_at: datetime
    # Where the callback sends the browser back to (the operator console), if anywhere.
    return_to: str | None = None

    def __repr__(self) -> str:
        return f"PendingAuthorization(org_id={self.org_id!r}, expires_at={self.expires_at!r})"


# -- The pipeline's records ---------------------------------------------------------------------


# A link stored before links had a tenant: trusted for the connected tenant until its next
# write stamps it (Reset forgets it like any other).
LEGACY_TENANT = "*"


@dataclass(frozen=True, slots=True)
class Link:
    """An invoice's Xero InvoiceID in one tenant, with what was last written there."""

    tenant_id: str
    xero_invoice_id: str
    version: int  # the invoice version last written to (or adopted in) Xero
    payload_hash: str  # of that write; "" for an adopted invoice (the next sync writes)
    xero_status: str  # the Xero status it had after that write


@dataclass(frozen=True, slots=True)
class Intent:
    """What this integration sent to one tenant to create an invoice, stored before the
    create: every InvoiceNumber and source ``Url`` it ever carried. A Xero invoice is proof of
    our own create only when it is ACCREC, carries one of these numbers and one of these Urls."""

    numbers: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def proves(self, number: str, url: str | None) -> bool:
        return number.casefold() in {n.casefold() for n in self.numbers} and url in self.urls

    def adding(self, other: "Intent") -> "Intent":
        """Both intents' numbers and Urls, each once, these first."""
        return Intent(
            tuple(dict.fromkeys((*self.numbers, *other.numbers))),
            tuple(dict.fromkeys((*self.urls, *other.urls))),
        )


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    """What the connector knows of one invoice (``_id`` = ``{org_id}/{invoice_id}``).

    ``high_water`` is the newest version that got any outcome: nothing older is ever written.
    The link and the intents belong to Xero tenants; only the current tenant's are trusted.
    """

    org_id: str
    invoice_id: str
    high_water: int = 0
    link: Link | None = None
    intents: dict[str, Intent] = field(default_factory=dict)  # by tenant id
    number: str | None = None  # the InvoiceNumber of the newest create attempted

    def link_in(self, tenant_id: str) -> Link | None:
        if self.link is None or self.link.tenant_id not in (tenant_id, LEGACY_TENANT):
            return None
        return self.link

    def intent_in(self, tenant_id: str) -> Intent:
        return self.intents.get(tenant_id, Intent())


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    """A sync to request again once ``due_at`` has passed (Xero's daily limit was spent, or
    Xero stayed unavailable through every retry of its calls), or, ``parked``, once the
    organisation is connected again (it failed on ``connection_expired`` / ``not_connected``:
    due at ``PARKED_UNTIL`` until a Connect makes it due at once)."""

    org_id: str
    invoice_id: str
    due_at: datetime
    attempt: int
    batch_id: str | None
    invoice: dict[str, object]  # the Invoice as JSON
    parked: bool = False


PARKED_UNTIL = datetime(2999, 1, 1, tzinfo=UTC)
