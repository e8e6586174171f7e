"""The ``/_sandbox`` control API for tests and benchmarks (not part of Xero): organisations,
limits, faults, observations and reset. One org's records: ``routes_control_org``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .deps import SandboxDep
from .limits import Limits
from .model import Account, TaxRate
from .seed import account_from, tax_rate_from

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


class _XeroCased(BaseModel):
    model_config = ConfigDict(extra="allow")


class TaxRateIn(_XeroCased):
    TaxType: str
    Name: str | None = None
    EffectiveRate: Decimal = Decimal(0)
    Status: str = "ACTIVE"
    CanApplyToRevenue: bool = True
    CanApplyToExpenses: bool = True
    ReportTaxType: str | None = None


class AccountIn(_XeroCased):
    Code: str
    Name: str | None = None
    Type: str = "REVENUE"
    Status: str = "ACTIVE"
    TaxType: str | None = None


class ContactIn(_XeroCased):
    Name: str
    ContactNumber: str | None = None
    EmailAddress: str | None = None


class OrgIn(BaseModel):
    """Every field optional; what is left out gets a plausible NZ default."""

    name: str = "Sandbox Company (NZ)"
    base_currency: str = "NZD"
    currencies: list[str] | None = None
    tax_rates: list[TaxRateIn] | None = None
    accounts: list[AccountIn] | None = None
    contacts: list[ContactIn] = Field(default_factory=list)
    tenant_id: str | None = None


class LimitsIn(BaseModel):
    per_minute: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)
    concurrent: int | None = Field(default=None, ge=0)
    app_per_minute: int | None = Field(default=None, ge=0)
    time_scale: float | None = Field(default=None, gt=0)


class FaultsIn(BaseModel):
    error_rate: float | None = Field(default=None, ge=0, le=1)
    error_status: int | None = Field(default=None, ge=100, le=599)
    latency_ms: int | None = Field(default=None, ge=0)
    tenant_id: str | None = None
    expire_access_tokens: bool = False
    revoke_refresh_tokens: bool = False


@router.post(
    "/orgs",
    status_code=201,
    responses={400: {"description": "The body is not JSON"}, 409: {"description": "Taken"}},
)
async def create_org(spec: OrgIn, sandbox: SandboxDep) -> dict[str, str]:
    if spec.tenant_id and spec.tenant_id in sandbox.orgs:
        raise HTTPException(409, "tenant_id already exists")
    tax_rates: list[TaxRate] | None = None
    if spec.tax_rates is not None:
        tax_rates = [tax_rate_from(rate.model_dump()) for rate in spec.tax_rates]
    accounts: list[Account] | None = None
    if spec.accounts is not None:
        accounts = [account_from(account.model_dump()) for account in spec.accounts]
    org = sandbox.create_org(
        name=spec.name,
        base_currency=spec.base_currency,
        currencies=spec.currencies,
        tax_rates=tax_rates,
        accounts=accounts,
        contact_list=[(c.Name, c.ContactNumber, c.EmailAddress) for c in spec.contacts],
        tenant_id=spec.tenant_id,
    )
    return {"tenant_id": org.tenant_id}


@router.get("/orgs")
async def list_orgs(sandbox: SandboxDep) -> dict[str, Any]:
    return {
        "orgs": [
            {
                "tenant_id": org.tenant_id,
                "name": org.name,
                "base_currency": org.base_currency,
                "contacts": len(org.contacts),
                "invoices": len(org.invoices),
            }
            for org in sandbox.orgs.values()
        ]
    }


def _limits_json(limits: Limits) -> dict[str, Any]:
    return {
        "per_minute": limits.per_minute,
        "per_day": limits.per_day,
        "concurrent": limits.concurrent,
        "app_per_minute": limits.app_per_minute,
        "time_scale": limits.time_scale,
    }


@router.get("/limits")
async def get_limits(sandbox: SandboxDep) -> dict[str, Any]:
    return _limits_json(sandbox.limiter.limits)


@router.put("/limits")
async def put_limits(spec: LimitsIn, sandbox: SandboxDep) -> dict[str, Any]:
    """Fields left out keep their value; any change starts fresh windows."""
    current = sandbox.limiter.limits
    limits = Limits(
        per_minute=current.per_minute if spec.per_minute is None else spec.per_minute,
        per_day=current.per_day if spec.per_day is None else spec.per_day,
        concurrent=current.concurrent if spec.concurrent is None else spec.concurrent,
        app_per_minute=(
            current.app_per_minute if spec.app_per_minute is None else spec.app_per_minute
        ),
        time_scale=current.time_scale if spec.time_scale is None else spec.time_scale,
    )
    sandbox.limiter.configure(limits)
    return _limits_json(limits)


@router.get("/faults")
async def get_faults(sandbox: SandboxDep) -> dict[str, Any]:
    return sandbox.faults.describe()


@router.put("/faults")
async def put_faults(spec: FaultsIn, sandbox: SandboxDep) -> dict[str, Any]:
    if spec.tenant_id and spec.tenant_id not in sandbox.orgs:
        raise HTTPException(404, "unknown tenant")
    if any(v is not None for v in (spec.error_rate, spec.error_status, spec.latency_ms)):
        sandbox.faults.update(
            spec.tenant_id,
            error_rate=spec.error_rate,
            error_status=spec.error_status,
            latency_ms=spec.latency_ms,
        )
    expired = revoked = 0
    if spec.expire_access_tokens:
        expired = sandbox.tokens.expire_access_tokens(spec.tenant_id)
    if spec.revoke_refresh_tokens:
        revoked = sandbox.tokens.revoke_refresh_tokens(spec.tenant_id)
    return {
        **sandbox.faults.describe(),
        "expired_access_tokens": expired,
        "revoked_refresh_tokens": revoked,
    }


@router.get("/requests")
async def requests(sandbox: SandboxDep, limit: int | None = None) -> dict[str, Any]:
    return {"requests": sandbox.log.entries(limit)}


@router.get("/stats")
async def stats(sandbox: SandboxDep) -> dict[str, Any]:
    return sandbox.stats.as_json()


@router.post("/reset")
async def reset(sandbox: SandboxDep) -> dict[str, str]:
    sandbox.reset()
    return {"status": "reset"}
