"""The demo organisation ``make run`` creates in the sandbox, connects and maps.

Chosen for the seed cases ``make demo`` walks through: NZD base with AUD enabled but not EUR
(an EUR invoice fails ``currency_not_enabled``), two existing contacts (a new customer fails
``contact_missing`` while auto-create is off), and the tax code ``EXEMPT`` left unmapped
(``tax_rate_unmapped`` until it is mapped to ``EXEMPTOUTPUT`` and re-synced by filter).
"""

from typing import Any
from urllib.parse import urlsplit

import httpx

DEMO_ORG_ID = "org_demo"
UNMAPPED_TAX_CODE = "EXEMPT"

# Tax rates and accounts are left out: the sandbox's NZ defaults (OUTPUT2, ZERORATEDOUTPUT,
# NONE, EXEMPTOUTPUT, ...; revenue accounts 200, 260, 270) are what a NZ organisation has.
DEMO_TENANT: dict[str, Any] = {
    "name": "Demo Company (NZ)",
    "base_currency": "NZD",
    "currencies": ["NZD", "AUD"],
    "contacts": [
        {
            "Name": "Harbour Cafe Ltd",
            "ContactNumber": "cus_42",
            "EmailAddress": "accounts@harbour.example",
        },
        {
            "Name": "Kauri Design Studio",
            "ContactNumber": "cus_43",
            "EmailAddress": "hello@kauri.example",
        },
    ],
}

DEMO_SETTINGS: dict[str, Any] = {
    "sync_mode": "automatic",
    "auto_create_contacts": False,
    "invoice_status": "AUTHORISED",
    "default_account_code": None,
}

DEMO_MAPPINGS: dict[str, Any] = {
    "accounts": {"consulting": "200", "subscriptions": "200", "training": "200"},
    "tax_rates": {"GST15": "OUTPUT2", "GST0": "ZERORATEDOUTPUT", "NOTAX": "NONE"},
    "currencies": {},
}


class DemoSetupError(RuntimeError):
    """A step of the demo set-up got an unexpected answer; the message says which."""


def _expect(response: httpx.Response, status: int, step: str) -> Any:
    if response.status_code != status:
        raise DemoSetupError(f"{step}: HTTP {response.status_code} {response.text[:500]}")
    return response.json() if response.content else None


def create_tenant(sandbox_url: str) -> str:
    with httpx.Client(base_url=sandbox_url, timeout=10) as sandbox:
        body = _expect(sandbox.post("/_sandbox/orgs", json=DEMO_TENANT), 201, "create demo org")
    tenant_id: str = body["tenant_id"]
    return tenant_id


def connect(connector_url: str, api_key: str, org_id: str, tenant_id: str) -> dict[str, Any]:
    """The real OAuth flow, as a browser does it: start, consent at the sandbox, callback."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(timeout=15) as http:
        started = http.post(f"{connector_url}/v1/orgs/{org_id}/connection", headers=headers)
        authorize_url: str = _expect(started, 200, "start connection")["authorize_url"]
        # The sandbox consents at once; name the tenant so an older one is never chosen.
        consent = http.get(f"{authorize_url}&sandbox_tenant_id={tenant_id}")
        if consent.status_code != 302:
            raise DemoSetupError(f"authorize: HTTP {consent.status_code} {consent.text[:500]}")
        callback = consent.headers["location"]
        if urlsplit(callback).netloc != urlsplit(connector_url).netloc:
            raise DemoSetupError(f"authorize redirected elsewhere: {callback}")
        done: dict[str, Any] = _expect(http.get(callback), 200, "OAuth callback")
    if done.get("status") != "connected":
        raise DemoSetupError(f"OAuth callback did not connect: {done}")
    return done


def configure(connector_url: str, api_key: str, org_id: str) -> dict[str, Any]:
    """Settings and mappings; returns the live mapping check."""
    headers = {"Authorization": f"Bearer {api_key}"}
    base = f"{connector_url}/v1/orgs/{org_id}"
    with httpx.Client(timeout=15, headers=headers) as http:
        _expect(http.put(f"{base}/settings", json=DEMO_SETTINGS), 200, "put settings")
        _expect(http.put(f"{base}/mappings", json=DEMO_MAPPINGS), 200, "put mappings")
        check: dict[str, Any] = _expect(http.post(f"{base}/mappings/check"), 200, "check mappings")
    return check
