"""The API's response bodies (request bodies are the domain's OrgSettings and Mappings)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sync_schemas import ConnectionStatus
from xero_connector.checks import Problem
from xero_connector.choices import Choices, decimal_text
from xero_connector.domain import Connection
from xero_connector.orgs import OrgSummary
from xero_connector.seen import Seen, SeenCodes


class ConnectionOut(BaseModel):
    """A connection's status: never a token."""

    status: ConnectionStatus
    tenant_id: str | None = None
    tenant_name: str | None = None
    connected_at: datetime | None = None
    access_token_expires_at: datetime | None = None
    reason: str | None = None
    waiting: int = Field(
        default=0, ge=0, description="Invoices parked until the organisation is connected again"
    )

    @classmethod
    def of(cls, connection: Connection | None, waiting: int = 0) -> "ConnectionOut":
        if connection is None:
            return cls(status=ConnectionStatus.DISCONNECTED, waiting=waiting)
        connected = connection.status is ConnectionStatus.CONNECTED
        return cls(
            waiting=waiting,
            status=connection.status,
            tenant_id=connection.tenant_id,
            tenant_name=connection.tenant_name,
            connected_at=connection.connected_at,
            access_token_expires_at=connection.access_expires_at if connected else None,
            reason=connection.reason,
        )


class OrgOut(BaseModel):
    """One organisation the connector knows."""

    org_id: str
    status: ConnectionStatus
    tenant_name: str | None
    connected_at: datetime | None
    waiting: int = Field(
        ge=0, description="Invoices parked until the organisation is connected again"
    )

    @classmethod
    def of(cls, summary: OrgSummary) -> "OrgOut":
        return cls(
            org_id=summary.org_id,
            status=summary.status,
            tenant_name=summary.tenant_name,
            connected_at=summary.connected_at,
            waiting=summary.waiting,
        )


class OrgsOut(BaseModel):
    items: list[OrgOut]


class ConnectIn(BaseModel):
    """Optional body of Connect / Reconnect (none: as before). An unknown field is refused
    like in every other body of this API."""

    model_config = ConfigDict(extra="forbid")

    return_to: str | None = Field(
        default=None,
        max_length=2048,
        description="Absolute URL on the operator console (XERO_CONNECTOR_CONSOLE_ORIGINS) the "
        "callback sends the browser back to: 303 with xero=connected&org_id=..., or "
        "xero=error&org_id=...&reason=<error code>",
    )


class AuthorizeOut(BaseModel):
    authorize_url: str


class ConnectedOut(BaseModel):
    org_id: str
    status: ConnectionStatus
    tenant_id: str | None
    tenant_name: str | None


class ProblemOut(BaseModel):
    kind: str
    error_code: str
    field: str
    code: str
    message: str
    action: str

    @classmethod
    def of(cls, problem: Problem) -> "ProblemOut":
        return cls(**problem.as_dict())


class CheckOut(BaseModel):
    ok: bool
    problems: list[ProblemOut]


class LinkIn(BaseModel):
    """The Xero invoice to adopt for this invoice."""

    xero_invoice_id: str = Field(
        min_length=36, max_length=36, pattern=r"^[0-9a-fA-F-]{36}$", description="Xero InvoiceID"
    )


class LinkOut(BaseModel):
    org_id: str
    invoice_id: str
    xero_invoice_id: str
    xero_invoice_number: str
    xero_status: str


class AccountChoice(BaseModel):
    code: str = Field(description="Xero AccountCode")
    name: str
    type: str = Field(description="Xero account Type (REVENUE, SALES, OTHERINCOME)")


class TaxRateChoice(BaseModel):
    tax_type: str = Field(description="Xero TaxType")
    name: str
    effective_rate: str = Field(description="Percent, as a decimal string", examples=["15.0000"])


class CurrencyChoice(BaseModel):
    code: str
    description: str


class ChoicesOut(BaseModel):
    """What a mapping may name in the live organisation."""

    accounts: list[AccountChoice] = Field(
        description="ACTIVE accounts of Class REVENUE that have a Code"
    )
    tax_rates: list[TaxRateChoice] = Field(description="ACTIVE tax rates that can apply to revenue")
    currencies: list[CurrencyChoice] = Field(
        description="The enabled currencies, the base currency included"
    )
    base_currency: str | None
    fetched_at: datetime = Field(description="When these were read from Xero")

    @classmethod
    def of(cls, choices: Choices) -> "ChoicesOut":
        return cls(
            accounts=[
                AccountChoice(code=a.code, name=a.name, type=a.type) for a in choices.accounts
            ],
            tax_rates=[
                TaxRateChoice(
                    tax_type=r.tax_type, name=r.name, effective_rate=decimal_text(r.effective_rate)
                )
                for r in choices.tax_rates
            ],
            currencies=[
                CurrencyChoice(code=c.code, description=c.description) for c in choices.currencies
            ],
            base_currency=choices.base_currency,
            fetched_at=choices.fetched_at,
        )


class SeenOut(BaseModel):
    value: str = Field(description="The upstream code as invoices carry it")
    mapped: bool
    last_seen: datetime

    @classmethod
    def of(cls, seen: Seen) -> "SeenOut":
        return cls(value=seen.value, mapped=seen.mapped, last_seen=seen.last_seen)


class SeenCodesOut(BaseModel):
    """What recent invoices used; each list unmapped first, then by value."""

    revenue_categories: list[SeenOut] = Field(
        description="mapped: an account mapping, or the organisation has a default account"
    )
    tax_codes: list[SeenOut] = Field(description="mapped: a tax_rates mapping")
    currencies: list[SeenOut] = Field(
        description="mapped: an explicit currencies mapping (a currency without one is sent "
        "as it is; whether Xero has it enabled is the mapping check's to say)"
    )

    @classmethod
    def of(cls, seen: SeenCodes) -> "SeenCodesOut":
        return cls(
            revenue_categories=[SeenOut.of(s) for s in seen.revenue_categories],
            tax_codes=[SeenOut.of(s) for s in seen.tax_codes],
            currencies=[SeenOut.of(s) for s in seen.currencies],
        )
