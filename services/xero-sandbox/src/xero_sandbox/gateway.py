"""The pipeline every Accounting API call goes through, in Xero's order: token, tenant, rate
limits, idempotency, injected faults, the call itself, injected latency.

The call and the idempotency record happen without an await in between, so concurrent
requests cannot interleave inside them; latency is applied after the write (a client that
times out still finds the write done) while the request keeps its concurrency slot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .errors import AccountingError, NotFound, PostDataInvalid, QueryParseError
from .idempotency import MAX_KEY_LENGTH, fingerprint
from .model import Org
from .sandbox import Sandbox
from .tokens import Grant
from .xero_json import api_exception, json_default, problem

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
_STATUS_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class XeroJSONResponse(JSONResponse):
    """Starlette's JSON, plus the Decimals a failed element echoes from the request."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content,
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
            default=json_default,
        ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any  # JSON-able, or text when ``text`` is set
    text: bool = False


Handler = Callable[[Org, bytes], Reply]


def unauthorized(detail: str) -> JSONResponse:
    return JSONResponse(
        problem(401, "Unauthorized", detail),
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def forbidden() -> JSONResponse:
    return JSONResponse(problem(403, "Forbidden", "AuthenticationUnsuccessful"), status_code=403)


def expired_detail(expired_at: float) -> str:
    moment = datetime.fromtimestamp(expired_at, tz=UTC).strftime("%m/%d/%Y %H:%M:%S")
    return f"TokenExpired: token expired at {moment}"


def bearer_grant(sandbox: Sandbox, request: Request) -> Grant | JSONResponse:
    """The grant behind the request's access token, or Xero's 401 for a bad one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return unauthorized("AuthorizationUnsuccessful")
    checked = sandbox.tokens.check_access(token.strip())
    if checked.expired_at is not None:
        return unauthorized(expired_detail(checked.expired_at))
    if checked.grant is None:
        return unauthorized("AuthorizationUnsuccessful")
    return checked.grant


class Gateway:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    async def run(self, request: Request, handler: Handler, *, write: bool = False) -> Response:
        body = await request.body()
        sandbox = self.sandbox
        grant = bearer_grant(sandbox, request)
        if isinstance(grant, JSONResponse):
            return grant
        tenant_id = request.headers.get("xero-tenant-id", "").strip()
        org = sandbox.orgs.get(tenant_id)
        if org is None or not grant.connects(tenant_id):
            return forbidden()

        decision = sandbox.limiter.acquire(tenant_id)
        if not decision.allowed:
            assert decision.problem is not None
            sandbox.stats.problems_429[decision.problem] += 1
            headers = {
                **decision.headers,
                "Retry-After": str(decision.retry_after),
                "X-Rate-Limit-Problem": decision.problem,
            }
            body_429 = problem(429, "Too Many Requests", f"Rate limit exceeded: {decision.problem}")
            return JSONResponse(body_429, status_code=429, headers=headers)
        headers = decision.headers
        try:
            verdict = sandbox.faults.decide(tenant_id)
            reply = self._decide(request, org, body, handler, write, verdict.error_status)
            if reply.status == 429 and verdict.error_status == 429:
                # Xero's 429s always say which limit was hit and when to come back.
                headers = {**headers, "Retry-After": "1", "X-Rate-Limit-Problem": "minute"}
                sandbox.stats.problems_429["minute"] += 1
            if verdict.latency_seconds > 0:
                await asyncio.sleep(verdict.latency_seconds)
        finally:
            sandbox.limiter.release(tenant_id)
        return _response(reply, headers)

    def _decide(
        self,
        request: Request,
        org: Org,
        body: bytes,
        handler: Handler,
        write: bool,
        fault_status: int | None,
    ) -> Reply:
        key = request.headers.get("idempotency-key") if write else None
        request_print = None
        if key is not None:
            if len(key) > MAX_KEY_LENGTH:
                detail = f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters"
                return Reply(400, problem(400, "Bad Request", detail))
            request_print = fingerprint(request.method, request.url.path, request.url.query, body)
            stored = self.sandbox.idempotency.lookup(org.tenant_id, key)
            if stored is not None:
                if stored.fingerprint != request_print:
                    detail = (
                        "IdempotencyKeyReused: the Idempotency-Key was already used "
                        "with a different request"
                    )
                    return Reply(400, problem(400, "Bad Request", detail))
                return Reply(stored.status, stored.body)
        if fault_status is not None:
            # An injected failure happens "before" Xero did anything, so it is not remembered.
            title = _STATUS_TITLES.get(fault_status, "Error")
            detail = f"Sandbox fault injection: {title}"
            return Reply(fault_status, problem(fault_status, title, detail))
        reply = _call(handler, org, body)
        if key is not None and request_print is not None:
            self.sandbox.idempotency.remember(
                org.tenant_id, key, request_print, reply.status, reply.body
            )
        return reply


def _call(handler: Handler, org: Org, body: bytes) -> Reply:
    try:
        return handler(org, body)
    except NotFound:
        return Reply(404, NOT_FOUND_TEXT, text=True)
    except PostDataInvalid:
        return Reply(400, api_exception(14, "PostDataInvalidException", "Invalid Json data"))
    except QueryParseError as error:
        return Reply(400, api_exception(16, "QueryParseException", str(error)))
    except AccountingError as error:
        return Reply(error.status, api_exception(error.status, "ApiException", str(error)))


def _response(reply: Reply, headers: dict[str, str]) -> Response:
    if reply.text:
        return PlainTextResponse(reply.body, status_code=reply.status, headers=headers)
    return XeroJSONResponse(reply.body, status_code=reply.status, headers=headers)
