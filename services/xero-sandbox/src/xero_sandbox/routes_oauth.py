"""Xero's identity endpoints: authorize (no login page), token, revocation, connections."""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .config import Settings
from .deps import SandboxDep
from .gateway import bearer_grant
from .sandbox import Sandbox
from .tokens import OAuthError, TokenSet

router = APIRouter(tags=["identity"])

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_OAUTH_ERROR: dict[int | str, dict[str, Any]] = {
    400: {"description": "OAuth 2.0 error: {error, error_description?}"}
}
_BEARER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, unknown or expired access token (problem JSON)"},
    403: {"description": "The token cannot be used here (problem JSON)"},
}


def redirect_allowed(settings: Settings, uri: str) -> bool:
    if settings.redirect_uris:
        return uri in settings.redirect_uris
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and parts.hostname in _LOOPBACK_HOSTS


def _with_query(uri: str, params: dict[str, str]) -> str:
    joiner = "&" if urlsplit(uri).query else "?"
    return f"{uri}{joiner}{urlencode(params)}"


def _oauth_error(code: str, description: str | None = None) -> JSONResponse:
    body = {"error": code}
    if description:
        body["error_description"] = description
    return JSONResponse(body, status_code=400, headers=_NO_STORE)


@router.get(
    "/identity/connect/authorize",
    responses={302: {"description": "Consented or refused: back to redirect_uri"}, **_OAUTH_ERROR},
)
async def authorize(request: Request, sandbox: SandboxDep) -> Response:
    """Consent is immediate: for ``sandbox_tenant_id`` if given, else the newest tenant."""
    params = request.query_params
    settings = sandbox.settings
    if params.get("client_id") != settings.client_id:
        return _oauth_error("unauthorized_client", "Unknown client or client not enabled")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or not redirect_allowed(settings, redirect_uri):
        return _oauth_error("invalid_request", "Invalid redirect_uri")
    state = params.get("state")

    def fail(code: str, description: str) -> RedirectResponse:
        reply = {"error": code, "error_description": description}
        if state is not None:
            reply["state"] = state
        return RedirectResponse(_with_query(redirect_uri, reply), status_code=302)

    if params.get("response_type") != "code":
        return fail("unsupported_response_type", "response_type must be code")
    scope = " ".join(params.get("scope", "").split())
    if not scope:
        return fail("invalid_scope", "scope is required")
    challenge = params.get("code_challenge")
    method = params.get("code_challenge_method") or ("plain" if challenge else "")
    if challenge and method not in ("S256", "plain"):
        return fail("invalid_request", "code_challenge_method must be S256 or plain")
    wanted = params.get("sandbox_tenant_id")
    org = sandbox.orgs.get(wanted) if wanted else sandbox.newest_org()
    if org is None:
        return fail("access_denied", "No such organisation in the sandbox")
    code = sandbox.tokens.issue_code(
        client_id=settings.client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        tenant_id=org.tenant_id,
        tenant_name=org.name,
        challenge=challenge,
        method=method,
    )
    reply = {"code": code, "scope": scope}
    if state is not None:
        reply["state"] = state
    return RedirectResponse(_with_query(redirect_uri, reply), status_code=302)


def _client(settings: Settings, request: Request, form: dict[str, str]) -> str:
    """Client authentication by HTTP Basic or by form fields, as Xero accepts both."""
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise OAuthError("invalid_client") from error
        client_id, _, secret = decoded.partition(":")
    expected = settings.client_secret.get_secret_value()
    if (
        client_id != settings.client_id
        or secret is None
        or not secrets.compare_digest(secret.encode(), expected.encode())
    ):
        raise OAuthError("invalid_client")
    return client_id


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


@router.post("/connect/token", responses=_OAUTH_ERROR)
async def token(request: Request, sandbox: SandboxDep) -> Response:
    form = await _form(request)
    try:
        client_id = _client(sandbox.settings, request, form)
        issued = _grant(sandbox, form, client_id)
    except OAuthError as error:
        return _oauth_error(error.code, error.description)
    return JSONResponse(issued.as_json(), headers=_NO_STORE)


def _grant(sandbox: Sandbox, form: dict[str, str], client_id: str) -> TokenSet:
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        return sandbox.tokens.exchange_code(
            form.get("code", ""), client_id, form.get("redirect_uri"), form.get("code_verifier")
        )
    if grant_type == "refresh_token":
        return sandbox.tokens.refresh(form.get("refresh_token", ""), client_id)
    raise OAuthError("unsupported_grant_type")


@router.post("/connect/revocation", responses=_OAUTH_ERROR)
async def revocation(request: Request, sandbox: SandboxDep) -> Response:
    form = await _form(request)
    try:
        client_id = _client(sandbox.settings, request, form)
    except OAuthError as error:
        return _oauth_error(error.code)
    if not form.get("token"):
        return _oauth_error("invalid_request")
    sandbox.tokens.revoke(form["token"], client_id)
    return Response(status_code=200)


def _utc(at: float) -> str:
    """.NET-style timestamp, seven fractional digits and no offset, as Xero writes them."""
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0"


@router.get("/connections", responses=_BEARER_ERRORS)
async def connections(request: Request, sandbox: SandboxDep) -> Response:
    grant = bearer_grant(sandbox, request)
    if isinstance(grant, JSONResponse):
        return grant
    wanted = request.query_params.get("authEventId")
    listed = [
        {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": c.tenant_type,
            "tenantName": c.tenant_name,
            "createdDateUtc": _utc(c.created_at),
            "updatedDateUtc": _utc(c.updated_at),
        }
        for c in grant.connections.values()
        if not wanted or c.auth_event_id == wanted
    ]
    return JSONResponse(listed)


@router.delete(
    "/connections/{connection_id}",
    responses={
        204: {"description": "Disconnected"},
        404: {"description": "No such connection"},
        **_BEARER_ERRORS,
    },
)
async def delete_connection(connection_id: str, request: Request, sandbox: SandboxDep) -> Response:
    grant = bearer_grant(sandbox, request)
    if isinstance(grant, JSONResponse):
        return grant
    if grant.connections.pop(connection_id, None) is None:
        return Response(status_code=404)
    return Response(status_code=204)
