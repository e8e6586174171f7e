"""A real sandbox behind uvicorn on a free loopback port, shared by this folder's tests, and
helpers to get tokens the way the connector will (authorize with PKCE, then /connect/token)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.sandbox import ROOMY, Server, server

__all__ = ["ROOMY", "Server", "server"]  # the session's sandbox, shared with other folders

REDIRECT_URI = "http://127.0.0.1:8765/callback"
SCOPE = "offline_access accounting.invoices accounting.contacts accounting.settings.read"


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """A client on a freshly reset sandbox."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        client.post("/_sandbox/reset").raise_for_status()
        yield client


def create_org(http: httpx.Client, **spec: Any) -> str:
    response = http.post("/_sandbox/orgs", json=spec)
    assert response.status_code == 201, response.text
    tenant_id: str = response.json()["tenant_id"]
    return tenant_id


@pytest.fixture
def tenant_id(http: httpx.Client) -> str:
    return create_org(http, name="Harbour Books Ltd", currencies=["NZD", "AUD"])


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(http: httpx.Client, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": "sandbox",
        "redirect_uri": REDIRECT_URI,
        "scope": SCOPE,
        "state": "st-123",
        **extra,
    }
    return http.get("/identity/connect/authorize", params=params)


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def connect(http: httpx.Client, tenant: str | None = None) -> dict[str, Any]:
    """Authorize with PKCE (S256) and exchange the code: the token response."""
    verifier, challenge = pkce_pair()
    extra = {"code_challenge": challenge, "code_challenge_method": "S256"}
    if tenant:
        extra["sandbox_tenant_id"] = tenant
    code = redirect_params(authorize(http, **extra))["code"]
    response = http.post(
        "/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=("sandbox", "sandbox"),
    )
    assert response.status_code == 200, response.text
    token: dict[str, Any] = response.json()
    return token


def api_headers(token: dict[str, Any], tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}", "xero-tenant-id": tenant}


def invoice(number: str, contact_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "Type": "ACCREC",
        "Contact": {"ContactID": contact_id},
        "InvoiceNumber": number,
        "Date": "2026-11-20",
        "DueDate": "2026-12-20",
        "LineAmountTypes": "Exclusive",
        "Status": "AUTHORISED",
        "LineItems": [
            {
                "Description": "Consulting, November",
                "Quantity": 10,
                "UnitAmount": 150.0,
                "AccountCode": "200",
                "TaxType": "OUTPUT2",
            }
        ],
    }
    body.update(overrides)
    return body
