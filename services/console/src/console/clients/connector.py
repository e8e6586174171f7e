"""The xero-connector's API: connections, settings, mappings and the live Xero choices."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from console.clients.base import ServiceClient

ConnectionStatus = Literal["connected", "expired", "disconnected"]


class OrgSummary(BaseModel):
    org_id: str
    status: ConnectionStatus
    tenant_name: str | None = None
    connected_at: datetime | None = None
    waiting: int = 0


class Orgs(BaseModel):
    items: list[OrgSummary]


class Connection(BaseModel):
    status: ConnectionStatus
    tenant_id: str | None = None
    tenant_name: str | None = None
    connected_at: datetime | None = None
    reason: str | None = None
    waiting: int = 0


class Authorize(BaseModel):
    authorize_url: str


class OrgSettings(BaseModel):
    sync_mode: Literal["automatic", "manual"] = "automatic"
    auto_create_contacts: bool = False
    invoice_status: Literal["DRAFT", "AUTHORISED"] = "AUTHORISED"
    default_account_code: str | None = None


class Mappings(BaseModel):
    accounts: dict[str, str] = Field(default_factory=dict)
    tax_rates: dict[str, str] = Field(default_factory=dict)
    currencies: dict[str, str] = Field(default_factory=dict)


class Problem(BaseModel):
    kind: str = ""
    error_code: str = ""
    field: str = ""
    code: str = ""
    message: str
    action: str = ""


class Check(BaseModel):
    ok: bool
    problems: list[Problem]


class Account(BaseModel):
    code: str
    name: str
    type: str = ""


class TaxRate(BaseModel):
    tax_type: str
    name: str
    effective_rate: float | str | None = None


class Currency(BaseModel):
    code: str
    description: str = ""


class Choices(BaseModel):
    accounts: list[Account]
    tax_rates: list[TaxRate]
    currencies: list[Currency]
    base_currency: str | None = None
    fetched_at: datetime | None = None


class SeenValue(BaseModel):
    value: str
    mapped: bool
    last_seen: datetime | None = None


class Seen(BaseModel):
    revenue_categories: list[SeenValue] = Field(default_factory=list)
    tax_codes: list[SeenValue] = Field(default_factory=list)
    currencies: list[SeenValue] = Field(default_factory=list)


class ConnectorClient(ServiceClient):
    service = "xero-connector"

    async def orgs(self) -> list[OrgSummary]:
        return (await self.get("/v1/orgs", Orgs)).items

    async def connection(self, org_id: str) -> Connection:
        return await self.get(f"/v1/orgs/{org_id}/connection", Connection)

    async def connect(self, org_id: str, return_to: str) -> str:
        body = {"return_to": return_to}
        return (
            await self.call("POST", f"/v1/orgs/{org_id}/connection", Authorize, body)
        ).authorize_url

    async def disconnect(self, org_id: str) -> Connection:
        return await self.call("DELETE", f"/v1/orgs/{org_id}/connection", Connection)

    async def reset(self, org_id: str) -> Connection:
        return await self.call("POST", f"/v1/orgs/{org_id}/reset", Connection)

    async def settings(self, org_id: str) -> OrgSettings:
        return await self.get(f"/v1/orgs/{org_id}/settings", OrgSettings)

    async def put_settings(self, org_id: str, settings: OrgSettings) -> OrgSettings:
        body = settings.model_dump()
        return await self.call("PUT", f"/v1/orgs/{org_id}/settings", OrgSettings, body)

    async def mappings(self, org_id: str) -> Mappings:
        return await self.get(f"/v1/orgs/{org_id}/mappings", Mappings)

    async def put_mappings(self, org_id: str, mappings: Mappings) -> Mappings:
        body = mappings.model_dump()
        return await self.call("PUT", f"/v1/orgs/{org_id}/mappings", Mappings, body)

    async def check(self, org_id: str, proposal: Mappings | None = None) -> Check:
        body = proposal.model_dump() if proposal is not None else None
        return await self.call("POST", f"/v1/orgs/{org_id}/mappings/check", Check, body)

    async def choices(self, org_id: str, refresh: bool = False) -> Choices:
        return await self.get(
            f"/v1/orgs/{org_id}/xero/choices", Choices, refresh=str(refresh).lower()
        )

    async def seen(self, org_id: str) -> Seen:
        return await self.get(f"/v1/orgs/{org_id}/mappings/seen", Seen)
