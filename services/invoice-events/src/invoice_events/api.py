"""Thin HTTP routes of CONTRACT.md's "invoice-events API": validate, bind the log context,
call one service method, answer.

    add_routes(app, settings)     # every route behind ApiKeyAuth (base_app caps the bodies)
"""

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from invoice_events import metrics
from invoice_events.config import Settings
from invoice_events.decisions import StoredResponse, key_id, request_hash
from invoice_events.idempotency import IdempotentRequests, KeyInProgress, KeyReused
from invoice_events.ports import InvoiceQuery, SyncLogError
from invoice_events.resync import PREVIEW_SAMPLE, SyncRequests, UnknownInvoice
from invoice_events.service import IngestResult, InvoiceService, result_body
from service_kit.errors import RetryLater
from service_kit.http import ApiError, ApiKeyAuth, answer_unavailable, error_response
from service_kit.openapi import error_responses
from sync_schemas import ErrorCode, EventType, Invoice
from sync_schemas.invoice import IDENTIFIER_MAX_LENGTH, IDENTIFIER_PATTERN, Identifier

MAX_BATCH = 1000
MAX_RESYNC_IDS = 10_000
# An invoice nests four levels deep; a batch item far deeper is hostile, and would fail the
# request's serialisation (pydantic and json stop at a few hundred levels) with a 500.
MAX_ITEM_DEPTH = 32
# An invoice travels as one Kafka record, and again inside a sync request. Kafka takes about
# 1 MiB a record unless told otherwise; a record it refuses would be answered 503 and retried
# for ever, so a larger invoice (10,000 lines, say) is refused up front.
MAX_INVOICE_BYTES = 900_000

log = structlog.get_logger(__name__)

PathId = Annotated[
    str, Path(min_length=1, max_length=IDENTIFIER_MAX_LENGTH, pattern=IDENTIFIER_PATTERN)
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Replays of the same request return the first answer and publish nothing",
    ),
]


def _invoices(request: Request) -> InvoiceService:
    service: InvoiceService = request.app.state.invoices
    return service


def _requests(request: Request) -> SyncRequests:
    service: SyncRequests = request.app.state.sync_requests
    return service


def _idempotency(request: Request) -> IdempotentRequests:
    service: IdempotentRequests = request.app.state.idempotency
    return service


InvoicesDep = Annotated[InvoiceService, Depends(_invoices)]
RequestsDep = Annotated[SyncRequests, Depends(_requests)]
IdempotencyDep = Annotated[IdempotentRequests, Depends(_idempotency)]


class Accepted(BaseModel):
    invoice_id: str
    event_id: str
    type: EventType
    outcome: Literal["published", "in_flight", "duplicate", "stale"] = Field(
        description="published: this request published the event; in_flight, duplicate, stale: "
        "the version was being or had been published, or a newer one is known; event_id and "
        "type then name the event that carries the current snapshot"
    )
    version: int = Field(description="the snapshot's current version")


class InvoiceBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoices: list[Any] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Invoices (see POST /v1/invoices); each is validated on its own",
    )

    @field_validator("invoices")
    @classmethod
    def _not_too_deep(cls, items: list[Any]) -> list[Any]:
        for index, item in enumerate(items):
            if nesting_exceeds(item, MAX_ITEM_DEPTH):
                raise ValueError(f"invoice {index} is nested more than {MAX_ITEM_DEPTH} levels")
        return items


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether JSON ``value`` nests objects and arrays more than ``limit`` levels deep (without
    recursion, so any depth is safe to ask about)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in node)
    return False


class BatchAccepted(BaseModel):
    accepted: int
    results: list[dict[str, Any]] = Field(
        description='in request order: {"index", "invoice_id", "event_id", "type", "outcome", '
        '"version"} or {"index", "invoice_id", "error": {"code", "message", "details"}}'
    )


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requested_by: str | None = Field(default=None, min_length=1, max_length=255)


class SyncRequested(BaseModel):
    event_id: str
    type: EventType


class ResyncFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["failed", "pending", "synced"] = "failed"
    error_code: ErrorCode | None = None
    error_codes: list[ErrorCode] | None = Field(
        default=None,
        min_length=1,
        max_length=len(ErrorCode),
        description="Any of these error codes (with error_code, if given, too)",
    )
    invoice_number: str | None = Field(
        default=None, min_length=1, max_length=255, description="Exactly this invoice number"
    )
    since: datetime | None = None
    until: datetime | None = None

    def query(self, org_id: str) -> InvoiceQuery:
        return InvoiceQuery(
            org_id,
            self.status,
            self.error_code.value if self.error_code else None,
            self.since,
            self.until,
            error_codes=tuple(code.value for code in self.error_codes or ()),
            invoice_number=self.invoice_number,
        )


class Resync(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: Identifier
    invoice_ids: list[Identifier] | None = Field(
        default=None, min_length=1, max_length=MAX_RESYNC_IDS
    )
    filter: ResyncFilter | None = None
    requested_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Who asked (a free label, put on every sync request's requested_by); "
        "default: a fingerprint of the API key",
    )
    dry_run: bool = Field(
        default=False,
        description="Resolve the selection exactly as a real run would, publish nothing, and "
        "answer 200 with the count and a sample",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> "Resync":
        if (self.invoice_ids is None) == (self.filter is None):
            raise ValueError("give exactly one of invoice_ids and filter")
        return self


class ResyncPreviewOut(BaseModel):
    """A dry run: what a real run of the same request would request."""

    count: int = Field(description="How many sync requests a real run would publish")
    sample: list[str] = Field(description=f"The first invoice ids, at most {PREVIEW_SAMPLE}")


class ResyncAccepted(BaseModel):
    batch_id: str
    count: int
    not_found: list[str] = Field(description="ids with no known snapshot: nothing was requested")


router = APIRouter(prefix="/v1", tags=["invoices"])


# 409: a request with the same Idempotency-Key is still being handled.
@router.post("/invoices", status_code=202, response_model=Accepted, responses=error_responses(409))
async def ingest_invoice(
    invoice: Invoice,
    request: Request,
    invoices: InvoicesDep,
    idempotency: IdempotencyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept one invoice: first sight publishes ``invoice.created.v1``, a newer version
    ``invoice.updated.v1``; an older or equal version is acknowledged and not republished."""

    async def handle() -> StoredResponse:
        with structlog.contextvars.bound_contextvars(
            org_id=invoice.org_id, invoice_id=invoice.invoice_id
        ):
            result = await invoices.ingest(invoice)
        metrics.INVOICES_ACCEPTED.labels("single", result.outcome.value).inc()
        return StoredResponse(202, result_body(result))

    if (too_large := _too_large(invoice)) is not None:
        metrics.INVOICES_REJECTED.labels("single", "too_large").inc()
        error = too_large["error"]
        raise ApiError(413, error["code"], error["message"], error["details"])
    payload = invoice.model_dump(mode="json")
    return await _answer(request, idempotency, idempotency_key, "invoices", payload, handle)


@router.post(
    "/invoices/batch",
    status_code=202,
    response_model=BatchAccepted,
    responses=error_responses(409),
)
async def ingest_batch(
    batch: InvoiceBatch,
    request: Request,
    invoices: InvoicesDep,
    idempotency: IdempotencyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Up to 1000 invoices: the valid ones are accepted, each invalid one is reported with
    its index and field errors."""

    async def handle() -> StoredResponse:
        results: list[dict[str, Any] | None] = [None] * len(batch.invoices)
        valid: list[tuple[int, Invoice]] = []
        for index, item in enumerate(batch.invoices):
            try:
                invoice = Invoice.model_validate(item)
            except ValidationError as error:
                results[index] = _invalid(index, item, error)
                metrics.INVOICES_REJECTED.labels("batch", "invalid").inc()
                continue
            if (too_large := _too_large(invoice)) is not None:
                results[index] = {"index": index, "invoice_id": invoice.invoice_id, **too_large}
                metrics.INVOICES_REJECTED.labels("batch", "too_large").inc()
                continue
            valid.append((index, invoice))
        outcomes = await invoices.ingest_many([invoice for _, invoice in valid])
        unavailable: list[RetryLater] = []
        for (index, invoice), outcome in zip(valid, outcomes, strict=True):
            results[index] = _outcome(index, invoice, outcome)
            if isinstance(outcome, RetryLater):
                unavailable.append(outcome)
        accepted = sum(isinstance(outcome, IngestResult) for outcome in outcomes)
        if unavailable and accepted == 0:
            raise unavailable[0]  # nothing went out: answer 503 and let the client retry
        return StoredResponse(202, {"accepted": accepted, "results": results})

    payload = batch.model_dump(mode="json")
    return await _answer(request, idempotency, idempotency_key, "batch", payload, handle)


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
    request: Request,
    requests: RequestsDep,
    body: SyncRequest | None = None,
) -> SyncRequested:
    """Manual sync: publishes ``invoice.sync_requested.v1`` (reason ``manual``) with the
    latest snapshot."""
    requested_by = (body.requested_by if body else None) or _caller(request)
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
    request: Request,
    requests: RequestsDep,
    idempotency: IdempotencyDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """One sync request per invoice, by explicit ids or by a filter over the sync log's
    current status per invoice, under a new ``batch_id``. With ``dry_run``, the same
    resolution publishes nothing and answers 200 ``{"count", "sample"}`` (no Idempotency-Key
    is needed or kept: it changes nothing)."""
    selection: list[str] | InvoiceQuery
    if body.filter is not None:
        selection = body.filter.query(body.org_id)
    else:
        selection = body.invoice_ids or []

    if body.dry_run:
        with structlog.contextvars.bound_contextvars(org_id=body.org_id):
            preview = await requests.preview(body.org_id, selection)
        return JSONResponse(
            ResyncPreviewOut(count=preview.count, sample=preview.sample).model_dump()
        )

    async def handle() -> StoredResponse:
        with structlog.contextvars.bound_contextvars(org_id=body.org_id):
            batch = await requests.resync(
                body.org_id, selection, requested_by=body.requested_by or _caller(request)
            )
        answer = ResyncAccepted(
            batch_id=batch.batch_id, count=len(batch.invoice_ids), not_found=batch.not_found
        )
        return StoredResponse(202, answer.model_dump())

    payload = body.model_dump(mode="json")
    return await _answer(request, idempotency, idempotency_key, "resync", payload, handle)


async def _answer(
    request: Request,
    idempotency: IdempotentRequests,
    key: str | None,
    route: str,
    payload: Any,
    handle: Callable[[], Awaitable[StoredResponse]],
) -> Response:
    if key is None:
        response, replayed = await handle(), False
    else:
        try:
            response, replayed = await idempotency.run(
                key_id(_caller(request), route, key), request_hash(payload), handle
            )
        except KeyReused:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
                [{"field": "header.Idempotency-Key", "message": "reused with another body"}],
            ) from None
        except KeyInProgress:
            raise ApiError(
                409,
                "idempotency_key_in_progress",
                "a request with this Idempotency-Key is still being handled; retry shortly",
            ) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JSONResponse(response.body, status_code=response.status_code, headers=headers)


def _caller(request: Request) -> str:
    """Who called, without the key itself: a fingerprint of the bearer token."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return "api-key:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _invalid(index: int, item: Any, error: ValidationError) -> dict[str, Any]:
    invoice_id = item.get("invoice_id") if isinstance(item, dict) else None
    details = [
        {
            "field": ".".join(str(p) for p in ("body", "invoices", index, *e["loc"])),
            "message": e["msg"],
            "type": e["type"],
        }
        for e in error.errors(include_url=False, include_input=False)
    ]
    return {
        "index": index,
        "invoice_id": _sendable(invoice_id),
        "error": {
            "code": "invalid_request",
            "message": "the invoice is invalid",
            "details": details,
        },
    }


def _too_large(invoice: Invoice) -> dict[str, Any] | None:
    """``{"error": ...}`` for an invoice too large for one Kafka record, or None."""
    size = len(invoice.model_dump_json())
    if size <= MAX_INVOICE_BYTES:
        return None
    message = (
        f"the invoice is {size} bytes as an event; at most {MAX_INVOICE_BYTES} fit in one "
        "Kafka record: split it"
    )
    details = {"bytes": size, "max_bytes": MAX_INVOICE_BYTES}
    return {"error": {"code": "invoice_too_large", "message": message, "details": details}}


def _sendable(value: Any) -> str | None:
    """An item's own string, to echo back if it can be sent: JSON allows a lone surrogate
    (``"\\ud800"``), UTF-8 does not, and the answer would fail to render (a 500)."""
    if not isinstance(value, str):
        return None
    try:
        value.encode()
    except UnicodeEncodeError:
        return None
    return value


def _outcome(index: int, invoice: Invoice, outcome: IngestResult | Exception) -> dict[str, Any]:
    if isinstance(outcome, IngestResult):
        metrics.INVOICES_ACCEPTED.labels("batch", outcome.outcome.value).inc()
        return {"index": index, **result_body(outcome)}
    if isinstance(outcome, RetryLater):
        code, message = "unavailable", "not accepted: a dependency is unavailable; retry it"
    else:
        log.error("invoice.failed", invoice_id=invoice.invoice_id, error=repr(outcome))
        code, message = "internal_error", "not accepted: an unexpected error"
    metrics.INVOICES_REJECTED.labels("batch", code).inc()
    error = {"code": code, "message": message, "details": None}
    return {"index": index, "invoice_id": invoice.invoice_id, "error": error}


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

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(RetryLater, answer_unavailable)
    app.add_exception_handler(SyncLogError, sync_log_refused)
