"""The control API on one organisation's records (not part of Xero): read every invoice, and do
what people or other apps do in Xero behind the connector's back — type invoices and contacts
in, pay invoices.

Writes go through the same rules as the Accounting API (``invoices.write``, ``contacts.write``)
but bypass OAuth, rate limits, faults and the request log.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from . import contacts, invoices, listing
from .batch import ElementResult
from .deps import SandboxDep
from .errors import PostDataInvalid
from .gateway import XeroJSONResponse
from .model import Org
from .payments import PaymentRefused, pay
from .query import unit_decimal_places
from .sandbox import Sandbox
from .xero_json import api_exception, parse_elements

router = APIRouter(prefix="/_sandbox/orgs/{tenant_id}", tags=["sandbox control"])

_UNKNOWN_TENANT: dict[int | str, dict[str, Any]] = {404: {"description": "No such tenant"}}
_WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    **_UNKNOWN_TENANT,
    400: {"description": "Unreadable body (Xero's PostDataInvalidException)"},
}


class PaymentIn(BaseModel):
    Amount: Decimal | None = None  # default: the whole AmountDue


def _org(sandbox: Sandbox, tenant_id: str) -> Org:
    org = sandbox.orgs.get(tenant_id)
    if org is None:
        raise HTTPException(404, "unknown tenant")
    return org


def _answer(plural: str, results: list[ElementResult]) -> XeroJSONResponse:
    """Every element, as ``summarizeErrors=false`` answers them; failed ones echo Decimals."""
    return XeroJSONResponse({plural: [result.body for result in results]})


def _unreadable() -> XeroJSONResponse:
    body = api_exception(14, "PostDataInvalidException", "Invalid Json data")
    return XeroJSONResponse(body, status_code=400)


@router.get("/invoices", responses=_UNKNOWN_TENANT)
async def org_invoices(tenant_id: str, request: Request, sandbox: SandboxDep) -> dict[str, Any]:
    """Every invoice of the org, whatever its status (``?unitdp=4`` as on GET /Invoices)."""
    org = _org(sandbox, tenant_id)
    unit_dp = unit_decimal_places(request.query_params)
    items = [listing.invoice_json(org, invoice, unit_dp) for invoice in org.invoices.values()]
    return {"tenant_id": tenant_id, "count": len(items), "Invoices": items}


@router.post("/invoices", responses=_WRITE_ANSWERS)
async def type_invoices(tenant_id: str, request: Request, sandbox: SandboxDep) -> XeroJSONResponse:
    """``{"Invoices": [...]}`` created exactly as a PUT /Invoices from another app would."""
    body = await request.body()
    org = _org(sandbox, tenant_id)
    unit_dp = unit_decimal_places(request.query_params)
    try:
        elements = parse_elements(body, "Invoices")
        results = invoices.write(
            org, elements, allow_update=False, now=sandbox.clock(), unit_dp=unit_dp
        )
    except PostDataInvalid:
        return _unreadable()
    return _answer("Invoices", results)


@router.post("/contacts", responses=_WRITE_ANSWERS)
async def type_contacts(tenant_id: str, request: Request, sandbox: SandboxDep) -> XeroJSONResponse:
    """``{"Contacts": [...]}`` created exactly as a PUT /Contacts from another app would."""
    body = await request.body()
    org = _org(sandbox, tenant_id)
    try:
        elements = parse_elements(body, "Contacts")
        results = contacts.write(org, elements, allow_update=False, now=sandbox.clock())
    except PostDataInvalid:
        return _unreadable()
    return _answer("Contacts", results)


@router.post(
    "/invoices/{invoice_key}/payments",
    responses={
        404: {"description": "No such tenant or invoice"},
        400: {"description": "Not AUTHORISED, or the amount is not in (0, AmountDue]"},
    },
)
async def pay_invoice(
    tenant_id: str, invoice_key: str, sandbox: SandboxDep, spec: PaymentIn | None = None
) -> dict[str, Any]:
    """Pay an AUTHORISED invoice (by InvoiceID or InvoiceNumber); PAID once nothing is due."""
    org = _org(sandbox, tenant_id)
    invoice = listing.find_invoice(org, invoice_key)
    if invoice is None:
        raise HTTPException(404, "unknown invoice")
    try:
        paid = pay(invoice, spec.Amount if spec else None, sandbox.clock())
    except PaymentRefused as refused:
        raise HTTPException(400, str(refused)) from refused
    org.invoices[paid.invoice_id] = paid
    return {"Invoices": [listing.invoice_json(org, paid)]}
