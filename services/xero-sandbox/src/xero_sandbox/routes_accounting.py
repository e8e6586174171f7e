"""The Accounting API under ``/api.xro/2.0``: thin routes over the gateway and the domain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from . import contacts, invoices, listing, render
from .batch import ElementResult, batch_response
from .deps import GatewayDep
from .errors import ACCOUNTING_ERRORS, NotFound
from .gateway import Reply
from .model import Org
from .query import matches, parse_where, unit_decimal_places
from .xero_json import JsonDict, envelope, parse_elements

router = APIRouter(prefix="/api.xro/2.0", tags=["accounting"], responses=ACCOUNTING_ERRORS)

Writer = Callable[..., list[ElementResult]]


def _ok(
    request: Request, plural: str, items: list[JsonDict], extra: JsonDict | None = None
) -> Reply:
    sandbox = request.app.state.sandbox
    body = envelope(plural, items, sandbox.settings.provider_name, sandbox.clock())
    if extra:
        body.update(extra)
    return Reply(200, body)


def _summarize(params: Mapping[str, str]) -> bool:
    return params.get("summarizeErrors", "true").casefold() != "false"


def _write(
    request: Request, plural: str, writer: Writer, *, allow_update: bool, path_id: str | None = None
) -> Callable[[Org, bytes], Reply]:
    id_field = plural[:-1] + "ID"

    def handle(org: Org, body: bytes) -> Reply:
        elements = parse_elements(body, plural)
        if path_id is not None:
            elements = [
                {**element, id_field: path_id} if isinstance(element, dict) else element
                for element in elements
            ]
        now = request.app.state.sandbox.clock()
        results = writer(org, elements, allow_update=allow_update, now=now)
        status, payload = batch_response(results, _summarize(request.query_params))
        if status != 200:
            return Reply(status, payload)
        assert isinstance(payload, list)
        return _ok(request, plural, payload)

    return handle


def _filtered(
    items: list[Any], params: Mapping[str, str], getters: Mapping[str, Callable[[Any], object]]
) -> list[Any]:
    clauses = parse_where(params.get("where"), getters)
    return [item for item in items if matches(clauses, getters, item)]


@router.get("/Organisation")
async def get_organisation(request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        return _ok(request, "Organisations", [render.organisation(org)])

    return await gateway.run(request, handle)


@router.get("/Currencies")
async def get_currencies(request: Request, gateway: GatewayDep) -> Response:
    getters = {"Code": lambda item: item[0], "Description": lambda item: item[1]}

    def handle(org: Org, _: bytes) -> Reply:
        chosen = _filtered(list(org.currencies.items()), request.query_params, getters)
        return _ok(request, "Currencies", [render.currency(code, name) for code, name in chosen])

    return await gateway.run(request, handle)


_TAX_RATE_FIELDS: dict[str, Callable[[Any], object]] = {
    "TaxType": lambda rate: rate.tax_type,
    "Name": lambda rate: rate.name,
    "Status": lambda rate: rate.status,
    "CanApplyToRevenue": lambda rate: rate.can_apply_to_revenue,
}


@router.get("/TaxRates")
async def get_tax_rates(request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        params = request.query_params
        chosen = _filtered(list(org.tax_rates.values()), params, _TAX_RATE_FIELDS)
        if params.get("TaxType"):
            chosen = [rate for rate in chosen if rate.tax_type == params["TaxType"]]
        return _ok(request, "TaxRates", [render.tax_rate(rate) for rate in chosen])

    return await gateway.run(request, handle)


@router.get("/TaxRates/{tax_type}")
async def get_tax_rate(tax_type: str, request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        rate = org.tax_rates.get(tax_type)
        if rate is None:
            raise NotFound
        return _ok(request, "TaxRates", [render.tax_rate(rate)])

    return await gateway.run(request, handle)


_ACCOUNT_FIELDS: dict[str, Callable[[Any], object]] = {
    "AccountID": lambda account: account.account_id,
    "Code": lambda account: account.code,
    "Name": lambda account: account.name,
    "Type": lambda account: account.type,
    "Status": lambda account: account.status,
    "Class": lambda account: account.klass,
}


@router.get("/Accounts")
async def get_accounts(request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        chosen = _filtered(list(org.accounts.values()), request.query_params, _ACCOUNT_FIELDS)
        return _ok(request, "Accounts", [render.account(a, org.created_at) for a in chosen])

    return await gateway.run(request, handle)


@router.get("/Accounts/{account_id}")
async def get_account(account_id: str, request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        found = [a for a in org.accounts.values() if a.account_id == account_id]
        if not found:
            raise NotFound
        return _ok(request, "Accounts", [render.account(found[0], org.created_at)])

    return await gateway.run(request, handle)


@router.get("/Contacts")
async def get_contacts(request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        items, pagination = listing.list_contacts(org, request.query_params)
        return _ok(request, "Contacts", items, {"pagination": pagination} if pagination else None)

    return await gateway.run(request, handle)


@router.get("/Contacts/{key}")
async def get_contact(key: str, request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        found = contacts.by_id_or_number(org, key)
        if found is None:
            raise NotFound
        return _ok(request, "Contacts", [render.contact(found)])

    return await gateway.run(request, handle)


@router.put("/Contacts")
async def put_contacts(request: Request, gateway: GatewayDep) -> Response:
    handler = _write(request, "Contacts", contacts.write, allow_update=False)
    return await gateway.run(request, handler, write=True)


@router.post("/Contacts")
async def post_contacts(request: Request, gateway: GatewayDep) -> Response:
    handler = _write(request, "Contacts", contacts.write, allow_update=True)
    return await gateway.run(request, handler, write=True)


@router.post("/Contacts/{contact_id}")
async def post_contact(contact_id: str, request: Request, gateway: GatewayDep) -> Response:
    handler = _write(request, "Contacts", contacts.write, allow_update=True, path_id=contact_id)
    return await gateway.run(request, handler, write=True)


@router.get("/Invoices")
async def get_invoices(request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        items, pagination = listing.list_invoices(org, request.query_params)
        return _ok(request, "Invoices", items, {"pagination": pagination} if pagination else None)

    return await gateway.run(request, handle)


@router.get("/Invoices/{key}")
async def get_invoice(key: str, request: Request, gateway: GatewayDep) -> Response:
    def handle(org: Org, _: bytes) -> Reply:
        found = listing.find_invoice(org, key)
        if found is None:
            raise NotFound
        unit_dp = unit_decimal_places(request.query_params)
        return _ok(request, "Invoices", [listing.invoice_json(org, found, unit_dp)])

    return await gateway.run(request, handle)


def _invoice_writer(request: Request) -> Writer:
    """Invoice writes round UnitAmount to the request's ``unitdp``."""
    return partial(invoices.write, unit_dp=unit_decimal_places(request.query_params))


@router.put("/Invoices")
async def put_invoices(request: Request, gateway: GatewayDep) -> Response:
    handler = _write(request, "Invoices", _invoice_writer(request), allow_update=False)
    return await gateway.run(request, handler, write=True)


@router.post("/Invoices")
async def post_invoices(request: Request, gateway: GatewayDep) -> Response:
    handler = _write(request, "Invoices", _invoice_writer(request), allow_update=True)
    return await gateway.run(request, handler, write=True)


@router.post("/Invoices/{invoice_id}")
async def post_invoice(invoice_id: str, request: Request, gateway: GatewayDep) -> Response:
    writer = _invoice_writer(request)
    handler = _write(request, "Invoices", writer, allow_update=True, path_id=invoice_id)
    return await gateway.run(request, handler, write=True)
