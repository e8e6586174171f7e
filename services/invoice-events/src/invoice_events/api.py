"""Thin HTTP routes of docs/contract.md's "invoice-events" section: validate, bind the log
context, call one service method, return its model.

    add_routes(app, settings)     # every route behind ApiKeyAuth (base_app caps the bodies)

Shapes are in api_models.py, the services and ``Idempotency-Key`` in api_deps.py, batch
assembly and the size limit in ingest.py.
"""

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from invoice_events import ingest, metrics
from invoice_events.api_deps import CallerDep, Idempotent, InvoicesDep, Once, RequestsDep
from invoice_events.api_models import (
    Accepted,
    BatchAccepted,
    InvoiceBatch,
    ManualSyncBody,
    Resync,
    ResyncAccepted,
    ResyncPreviewOut,
    SyncRequested,
)
from invoice_events.config import Settings
from invoice_events.ingest import InvoiceTooLarge
from invoice_events.ports import InvoiceQuery, SyncLogError
from invoice_events.resync import UnknownInvoice
from service_kit.errors import RetryLater
from service_kit.http import ApiError, ApiKeyAuth, answer_unavailable, error_response
from service_kit.openapi import error_responses
from sync_schemas import Invoice
from sync_schemas.invoice import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN

log = structlog.get_logger(__name__)

PathId = Annotated[
    str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN)
]

router = APIRouter(prefix="/v1", tags=["invoices"])


# 409: a request with the same Idempotency-Key is still being handled.
@router.post("/invoices", status_code=202, response_model=Accepted, responses=error_responses(409))
async def ingest_invoice(
    invoice: Invoice,
    invoices: InvoicesDep,
    once: Annotated[Once, Depends(Idempotent("invoices"))],
) -> Accepted:
    """Accept one invoice: first sight publishes ``invoice.created.v1``, a newer version
    ``invoice.updated.v1``; an older or equal version is acknowledged and not republished."""
    ingest.refuse_if_too_large(invoice)

    async def accept() -> Accepted:
        return Accepted.of(await ingest.one(invoices, invoice))

    return await once(invoice, Accepted, accept)


@router.post(
    "/invoices/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=error_responses(409),
)
async def ingest_batch(
    batch: InvoiceBatch,
    invoices: InvoicesDep,
    once: Annotated[Once, Depends(Idempotent("batch"))],
) -> BatchAccepted:
    """Up to 1000 invoices: the valid ones are accepted, each invalid one is reported with
    its index and field errors."""

    async def accept() -> BatchAccepted:
        return BatchAccepted.of(await ingest.batch(invoices, batch.invoices))

    return await once(batch, BatchAccepted, accept)


@router.get(
    "/invoices/{org_id}/{invoice_id}", response_model=Invoice, responses=error_responses(404)
)
async def get_snapshot(org_id: PathId, invoice_id: PathId, invoices: InvoicesDep) -> Invoice:
    """The latest known version of the invoice."""
    invoice = await invoices.snapshot(org_id, invoice_id)
    if invoice is None:
        raise ApiError(404, "not_found", f"no invoice {invoice_id} of {org_id} is known")
    return invoice


@router.post(
    "/invoices/{org_id}/{invoice_id}/sync",
    status_code=202,
    response_model=SyncRequested,
    responses=error_responses(404),
)
async def sync_invoice(
    org_id: PathId,
    invoice_id: PathId,
    requests: RequestsDep,
    who: CallerDep,
    body: ManualSyncBody | None = None,
) -> SyncRequested:
    """Manual sync: publishes ``invoice.sync_requested.v1`` (reason ``manual``) with the
    latest snapshot."""
    requested_by = (body.requested_by if body else None) or who
    with structlog.contextvars.bound_contextvars(org_id=org_id, invoice_id=invoice_id):
        try:
            event = await requests.manual(org_id, invoice_id, requested_by)
        except UnknownInvoice:
            raise ApiError(
                404, "not_found", f"no invoice {invoice_id} of {org_id} is known"
            ) from None
    return SyncRequested(event_id=event.id, type=event.type)


# 502: the sync-log API refused the filter's query.
@router.post(
    "/resync",
    status_code=202,
    response_model=ResyncAccepted,
    responses={
        **error_responses(409, 502),
        200: {"model": ResyncPreviewOut, "description": "A dry run: nothing was published"},
    },
)
async def resync(
    body: Resync,
    requests: RequestsDep,
    who: CallerDep,
    once: Annotated[Once, Depends(Idempotent("resync"))],
) -> ResyncAccepted | Response:
    """One sync request per invoice, by explicit ids or by a filter over the sync log's
    current status per invoice, under a new ``batch_id``. With ``dry_run``, the same
    resolution publishes nothing and answers 200 ``{"count", "sample"}`` (no Idempotency-Key
    is needed or kept: it changes nothing)."""
    selection: list[str] | InvoiceQuery
    if body.filter is not None:
        selection = body.filter.query(body.org_id)
    else:
        selection = body.invoice_ids or []

    with structlog.contextvars.bound_contextvars(org_id=body.org_id):
        if body.dry_run:
            preview = await requests.preview(body.org_id, selection)
            # A JSONResponse: 200 and another shape than the route's declared 202 answer.
            return JSONResponse(ResyncPreviewOut.of(preview).model_dump())

        async def request_all() -> ResyncAccepted:
            batch = await requests.resync(
                body.org_id, selection, requested_by=body.requested_by or who
            )
            return ResyncAccepted.of(batch)

        return await once(body, ResyncAccepted, request_all)


def add_routes(app: FastAPI, settings: Settings) -> None:
    app.include_router(router, dependencies=[Depends(ApiKeyAuth(settings.api_keys))])

    kit_handler = app.exception_handlers[RequestValidationError]

    async def invalid_request(request: Request, exc: Exception) -> Response:
        route = {"/v1/invoices": "single", "/v1/invoices/batch": "batch"}.get(request.url.path)
        if route:
            metrics.INVOICES_REJECTED.labels(route, "invalid").inc()
        response: Response = await kit_handler(request, exc)  # type: ignore[misc]
        return response

    async def sync_log_refused(_: Request, exc: Exception) -> Response:
        log.error("sync_log.refused", error=str(exc))
        return error_response(502, "sync_log_error", "the sync-log API refused the query")

    async def too_large(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvoiceTooLarge)
        return error_response(413, exc.code, str(exc), exc.details)

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(InvoiceTooLarge, too_large)
    app.add_exception_handler(RetryLater, answer_unavailable)
    app.add_exception_handler(SyncLogError, sync_log_refused)
