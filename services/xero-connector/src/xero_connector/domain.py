"""The connector's own records: a connection with its tokens, an organisation's settings and
mappings, and a pending authorization. Pure: no I/O."""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sync_schemas import ConnectionStatus

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


# -- Connections --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tokens:
    """A connection's secrets. Never logged, never returned by the API."""

    access_token: str
    refresh_token: str

    def __repr__(self) -> str:
        return "Tokens(***)"


@dataclass(frozen=True, slots=True)
class Connection:
    """An organisation's link to one Xero tenant.

    ``generation`` grows with every token write; it names the token set a refresh replaces.
    """

    org_id: str
    status: ConnectionStatus
    generation: int
    updated_at: datetime
    reason: str
    tenant_id: str | None = None
    tenant_name: str | None = None
    xero_connection_id: str | None = None
    connected_at: datetime | None = None
    access_expires_at: datetime | None = None
    tokens: Tokens | None = None

    def with_status(self, status: ConnectionStatus, reason: str, at: datetime) -> "Connection":
        """The same connection, tokens dropped unless it stays connected."""
        keep = status is ConnectionStatus.CONNECTED
        return replace(
            self,
            status=status,
            reason=reason,
            updated_at=at,
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

    def __repr__(self) -> str:
        return f"PendingAuthorization(org_id={self.org_id!r}, expires_at={self.expires_at!r})"


# -- The pipeline's records ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Link:
    """An invoice's Xero InvoiceID, with the version and payload hash last written there."""

    org_id: str
    invoice_id: str
    xero_invoice_id: str
    version: int
    payload_hash: str


@dataclass(frozen=True, slots=True)
class ScheduledRetry:
    """A sync to request again once ``due_at`` has passed (Xero's daily limit was spent, or
    Xero stayed unavailable through every retry of its calls)."""

    org_id: str
    invoice_id: str
    due_at: datetime
    attempt: int
    batch_id: str | None
    invoice: dict[str, object]  # the Invoice as JSON
