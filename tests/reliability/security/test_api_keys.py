"""Every route of the four apps, enumerated from the apps themselves: the public ones are listed
here by name, every other one refuses a missing or wrong key with 401 and the contract's error
body, admits each of the service's own keys, and compares keys in constant time.

A route added later is covered without touching this file: it is either listed public below
(which a reviewer sees) or it is probed as protected. Public entries that no longer exist fail
too, so the list cannot rot.
"""

import base64
import hmac
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio

from tests.reliability.security.support import (
    KEYS,
    REDIRECT_URI,
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SERVICES,
    Endpoint,
    Running,
    bearer,
    build,
    endpoints,
    sandbox_settings,
    settings_of,
)

OPS = {Endpoint("GET", p) for p in ("/healthz", "/readyz", "/metrics")}
DOCS = {Endpoint("GET", p) for p in ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")}
PUBLIC: dict[str, set[Endpoint]] = {
    "invoice-events": OPS | DOCS,
    # Xero redirects the browser here; the one-time OAuth state is the guard.
    "xero-connector": OPS | DOCS | {Endpoint("GET", "/v1/oauth/callback")},
    # The Sync Log page shell holds no data; it calls the API with the key the operator enters.
    "sync-log": OPS | DOCS | {Endpoint("GET", "/")},
}
# Path parameters of the probes (an unknown one fails the test: add a sample here).
PARAMS = {
    "org_id": "org_keyprobe",
    "invoice_id": "inv_keyprobe",
    "batch_id": "batch_keyprobe",
    "tenant_id": "00000000-0000-0000-0000-000000000000",
    "account_id": "00000000-0000-0000-0000-000000000001",
    "contact_id": "00000000-0000-0000-0000-000000000002",
    "key": "00000000-0000-0000-0000-000000000003",
    "tax_type": "OUTPUT2",
    "connection_id": "00000000-0000-0000-0000-000000000004",
}
WITH_BODY = {"POST", "PUT", "PATCH"}
in_module_loop = pytest.mark.asyncio(loop_scope="module")  # where the module's apps live
# Sent with every refused request that can carry a body: the key must be refused before the
# body is parsed (no 422 for bad JSON, no 400 for JSON nested too deep, to a caller without one).
HOSTILE_BODIES = [b'{"org_id": "not json', b"[" * 5000]


def concrete(path: str) -> str:
    return path.format(**PARAMS)


def other_service(service: str) -> str:
    return SERVICES[(SERVICES.index(service) + 1) % len(SERVICES)]


def wrong_credentials(service: str) -> dict[str, dict[str, str]]:
    """Authorization headers that must all be refused, by what is wrong with them."""
    right = KEYS[service][0]
    last = chr(ord(right[-1]) ^ 1)  # one bit off in the last character
    return {
        "no key": {},
        "wrong key": bearer("not-a-key-of-anyone-000"),
        "last character differs": bearer(right[:-1] + last),
        "first character differs": bearer(chr(ord(right[0]) ^ 1) + right[1:]),
        "a prefix of the key": bearer(right[:-1]),
        "the key and more": bearer(right + "0"),
        "empty bearer": {"Authorization": "Bearer "},
        "scheme alone": {"Authorization": "Bearer"},
        "basic scheme": {"Authorization": "Basic " + base64.b64encode(right.encode()).decode()},
        "no scheme": {"Authorization": right},
        "another service's key": bearer(KEYS[other_service(service)][0]),
    }


def assert_refused(response: httpx.Response, presented: dict[str, str], what: str) -> None:
    assert response.status_code == 401, (what, response.status_code, response.text[:300])
    assert response.headers["www-authenticate"] == "Bearer", what
    body = response.json()
    assert set(body) == {"error"}, what
    assert body["error"]["code"] == "unauthorized", what
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], what
    assert set(body["error"]) == {"code", "message", "details"}, what
    # The refusal never echoes what was presented.
    credential = presented.get("Authorization", "").partition(" ")[2]
    if len(credential) > 4:
        assert credential not in response.text, what


def test_every_route_is_listed_public_or_probed_as_protected() -> None:
    """The classification itself, from apps built with their real settings (no I/O)."""
    for service in SERVICES:
        settings = settings_of(service, "127.0.0.1:1", "mongodb://127.0.0.1:1", "t_x", "http://x")
        found = set(endpoints(build(service, settings)))
        assert PUBLIC[service] <= found, (service, PUBLIC[service] - found)
        protected = found - PUBLIC[service]
        assert protected, service
        assert all(e.path.startswith("/v1/") for e in protected), (service, protected)


@in_module_loop
async def test_every_protected_route_refuses_every_wrong_key_with_the_contract_body(
    apps: dict[str, Running],
) -> None:
    probed = 0
    for service, running in apps.items():
        protected = [e for e in endpoints(running.app) if e not in PUBLIC[service]]
        for endpoint in protected:
            for what, headers in wrong_credentials(service).items():
                bodies = HOSTILE_BODIES if endpoint.method in WITH_BODY else [None]
                for body in bodies:
                    response = await running.http.request(
                        endpoint.method,
                        concrete(endpoint.path),
                        headers={**headers, "Content-Type": "application/json"},
                        content=body,
                    )
                    assert_refused(response, headers, f"{service} {endpoint} {what}")
                    probed += 1
    assert probed >= 20 * len(wrong_credentials("sync-log"))


@in_module_loop
async def test_each_configured_key_is_admitted_on_every_protected_route(
    apps: dict[str, Running],
) -> None:
    for service, running in apps.items():
        for endpoint in endpoints(running.app):
            if endpoint in PUBLIC[service]:
                continue
            for key in KEYS[service]:
                for scheme in ("Bearer", "bearer"):  # the scheme is case-insensitive (RFC 7235)
                    response = await running.http.request(
                        endpoint.method,
                        concrete(endpoint.path),
                        headers={"Authorization": f"{scheme} {key}"},
                        json={} if endpoint.method in WITH_BODY else None,
                    )
                    what = (service, endpoint, key, response.text[:300])
                    assert response.status_code != 401, what
                    assert response.status_code < 500, what


@in_module_loop
async def test_public_routes_answer_without_a_key(apps: dict[str, Running]) -> None:
    expected = {"/v1/oauth/callback": 400}  # no state: refused as invalid_state, not 401
    for service, running in apps.items():
        for endpoint in PUBLIC[service]:
            response = await running.http.request(endpoint.method, endpoint.path)
            assert response.status_code == expected.get(endpoint.path, 200), (
                service,
                endpoint,
                response.text[:300],
            )
    callback = await apps["xero-connector"].http.get("/v1/oauth/callback")
    assert callback.json()["error"]["code"] == "invalid_state"


class CompareRecorder:
    """hmac.compare_digest, recording what it compared."""

    def __init__(self) -> None:
        self.original = hmac.compare_digest
        self.calls: list[tuple[bytes, bytes]] = []

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((bytes(a), bytes(b)))
        return self.original(a, b)


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> CompareRecorder:
    recorder = CompareRecorder()
    monkeypatch.setattr(hmac, "compare_digest", recorder)
    return recorder


@in_module_loop
async def test_keys_are_compared_in_constant_time_against_every_configured_key(
    apps: dict[str, Running], compared: CompareRecorder
) -> None:
    """Each check compares the presented value with every key through hmac.compare_digest,
    also after a match: which key matched (or how far a guess got) takes no different path."""
    for service, running in apps.items():
        keys = {k.encode() for k in KEYS[service]}
        endpoint = next(e for e in endpoints(running.app) if e not in PUBLIC[service])
        presented_values = [*KEYS[service], KEYS[service][0][:-1] + "x", "nope"]
        for presented in presented_values:
            compared.calls.clear()
            await running.http.request(
                endpoint.method, concrete(endpoint.path), headers=bearer(presented)
            )
            assert compared.calls, (service, presented)
            # Whole passes over the keys, every key in each: no early exit on a match.
            assert len(compared.calls) % len(keys) == 0, (service, presented, compared.calls)
            assert {b for _, b in compared.calls} == keys, (service, presented)
            assert {a for a, _ in compared.calls} == {presented.encode()}, (service, presented)


# -- the Xero sandbox: Xero's own auth model ------------------------------------------------------

# The sandbox is a dev/test double and never deployed (its README, docs/contract.md): its control
# API has no authentication by design, its authorize endpoint consents at once (Xero's login
# page), the token endpoints authenticate the OAuth client, the Xero APIs a bearer token.
SANDBOX_OPEN = {Endpoint("GET", "/healthz"), *DOCS, Endpoint("GET", "/identity/connect/authorize")}
SANDBOX_CLIENT_AUTH = {Endpoint("POST", "/connect/token"), Endpoint("POST", "/connect/revocation")}


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def sandbox_class(endpoint: Endpoint) -> str:
    if endpoint.path.startswith("/_sandbox/"):
        return "control"
    if endpoint in SANDBOX_OPEN:
        return "open"
    if endpoint in SANDBOX_CLIENT_AUTH:
        return "client"
    if endpoint.path.startswith(("/api.xro/2.0/", "/connections")):
        return "bearer"
    raise AssertionError(f"an unclassified sandbox route: {endpoint}")


@pytest_asyncio.fixture(loop_scope="module")
async def xero() -> AsyncIterator[httpx.AsyncClient]:
    app = build("xero-sandbox", sandbox_settings())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://xero", timeout=10) as http:
        yield http


async def sandbox_grant(xero: httpx.AsyncClient) -> tuple[str, str, str]:
    """(access token, refresh token, tenant id) of a fresh consent."""
    created = await xero.post("/_sandbox/orgs", json={"name": "Key Probe Ltd"})
    tenant_id: str = created.json()["tenant_id"]
    consent = await xero.get(
        "/identity/connect/authorize",
        params={
            "response_type": "code",
            "client_id": SANDBOX_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "offline_access accounting.settings.read",
            "state": "st",
            "sandbox_tenant_id": tenant_id,
        },
    )
    code = parse_qs(urlsplit(consent.headers["location"]).query)["code"][0]
    grant = await xero.post(
        "/connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        auth=(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET),
    )
    assert grant.status_code == 200, grant.text
    body = grant.json()
    return body["access_token"], body["refresh_token"], tenant_id


@in_module_loop
async def test_every_sandbox_route_has_xeros_auth_model(
    xero: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xero_sandbox.app import create_app

    found = endpoints(create_app(sandbox_settings()))
    classes = {e: sandbox_class(e) for e in found}
    assert set(found) >= SANDBOX_OPEN | SANDBOX_CLIENT_AUTH
    access, refresh, tenant = await sandbox_grant(xero)
    tenant_header = {"xero-tenant-id": tenant}

    bearer_routes = [e for e, kind in classes.items() if kind == "bearer"]
    assert len(bearer_routes) >= 15
    for endpoint in bearer_routes:
        wrong = {
            "no token": {},
            "wrong token": bearer("not-a-token"),
            "last character differs": bearer(access[:-1] + chr(ord(access[-1]) ^ 1)),
            "empty bearer": {"Authorization": "Bearer "},
            "basic scheme": {"Authorization": f"Basic {access}"},
            "refresh token as bearer": bearer(refresh),
        }
        for what, headers in wrong.items():
            response = await xero.request(
                endpoint.method, concrete(endpoint.path), headers=headers | tenant_header
            )
            assert response.status_code == 401, (endpoint, what, response.text[:200])
            assert response.json()["Detail"] == "AuthorizationUnsuccessful", (endpoint, what)
        right = await xero.request(
            endpoint.method,
            concrete(endpoint.path),
            headers=bearer(access) | tenant_header,
            json={} if endpoint.method in WITH_BODY else None,
        )
        assert right.status_code not in (401, 403), (endpoint, right.text[:200])
        assert right.status_code < 500, (endpoint, right.text[:200])

    # The OAuth client's secret: compared with secrets.compare_digest, wrong ones refused.
    calls: list[tuple[bytes, bytes]] = []
    original = secrets.compare_digest

    def recording(a: Any, b: Any) -> bool:
        calls.append((bytes(a), bytes(b)))
        return original(a, b)

    monkeypatch.setattr(secrets, "compare_digest", recording)
    secret = SANDBOX_CLIENT_SECRET
    for endpoint in sorted(SANDBOX_CLIENT_AUTH, key=lambda e: e.path):
        form = {"grant_type": "refresh_token", "refresh_token": "x", "token": "x"}
        for what, headers in {
            "no client auth": {},
            "wrong secret": basic(SANDBOX_CLIENT_ID, "wrong"),
            "last character differs": basic(
                SANDBOX_CLIENT_ID, secret[:-1] + chr(ord(secret[-1]) ^ 1)
            ),
            "wrong client": basic("someone-else", secret),
        }.items():
            refused = await xero.post(endpoint.path, data=form, headers=headers)
            assert refused.status_code == 400, (endpoint, what)
            assert refused.json()["error"] == "invalid_client", (endpoint, what)
            assert secret not in refused.text
        calls.clear()
        admitted = await xero.post(
            endpoint.path, data=form, headers=basic(SANDBOX_CLIENT_ID, secret)
        )
        assert admitted.status_code < 500
        if admitted.status_code == 400:
            assert admitted.json()["error"] != "invalid_client", endpoint
        assert calls == [(secret.encode(), secret.encode())], endpoint
