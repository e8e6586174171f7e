"""What the routes take besides their bodies: the services, who called, and ``Idempotency-Key``
as a dependency.

    OnceDep = Annotated[Once, Depends(Idempotent("invoices"))]

    async def ingest_invoice(invoice: Invoice, once: OnceDep) -> Accepted:
        return await once(invoice, Accepted, accept)      # accept() -> Accepted

``Once`` runs the route's work under the key (see idempotency.py for the protocol): the first
request runs it and its answer is stored; a repeat with the same body gets the stored answer
with ``Idempotent-Replayed: true``; a repeat with another body is refused (422), one while the
first still runs too (409). Without the header the work simply runs.
"""

import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel

from invoice_events.decisions import StoredResponse, key_id, request_hash
from invoice_events.idempotency import IdempotentRequests, KeyInProgress, KeyReused
from invoice_events.resync import SyncRequests
from invoice_events.service import InvoiceService
from service_kit.http import ApiError, app_state

M = TypeVar("M", bound=BaseModel)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Replays of the same request return the first answer and publish nothing",
    ),
]


def caller(request: Request) -> str:
    """Who called, without the key itself: a fingerprint of the bearer token."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return "api-key:" + hashlib.sha256(token.encode()).hexdigest()[:12]


InvoicesDep = Annotated[InvoiceService, Depends(app_state("invoices"))]
RequestsDep = Annotated[SyncRequests, Depends(app_state("sync_requests"))]
CallerDep = Annotated[str, Depends(caller)]


class Once:
    """A route's work under its Idempotency-Key (or none)."""

    def __init__(
        self, requests: IdempotentRequests, key: str | None, response: Response, status: int
    ) -> None:
        self._requests = requests
        self._key = key
        self._response = response
        self._status = status

    async def __call__(
        self, body: BaseModel, answer: type[M], work: Callable[[], Awaitable[M]]
    ) -> M:
        if self._key is None:
            return await work()

        async def handle() -> StoredResponse:
            return StoredResponse(self._status, (await work()).model_dump(mode="json"))

        try:
            stored, replayed = await self._requests.run(
                self._key, request_hash(body.model_dump(mode="json")), handle
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
        if replayed:
            self._response.headers["Idempotent-Replayed"] = "true"
            self._response.status_code = stored.status_code
        return answer.model_validate(stored.body)


class Idempotent:
    """The dependency: ``route`` names the route in the stored key (a key is the caller's
    own, per route), ``status`` is the route's success status, stored with the answer."""

    def __init__(self, route: str, status: int = 202) -> None:
        self._route = route
        self._status = status

    def __call__(
        self,
        request: Request,
        response: Response,
        who: CallerDep,
        idempotency_key: IdempotencyKey = None,
    ) -> Once:
        requests: IdempotentRequests = request.app.state.idempotency
        key = key_id(who, self._route, idempotency_key) if idempotency_key else None
        return Once(requests, key, response, self._status)
