"""OAuth 2.0 over plain HTTP: authorize, PKCE, code and refresh grants, grace, revocation."""

from __future__ import annotations

import httpx
import pytest

from .conftest import (
    REDIRECT_URI,
    api_headers,
    authorize,
    connect,
    create_org,
    pkce_pair,
    redirect_params,
)


def _exchange(http: httpx.Client, code: str, verifier: str | None = None) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        form["code_verifier"] = verifier
    return http.post("/connect/token", data=form, auth=("sandbox", "sandbox"))


def _refresh(http: httpx.Client, refresh_token: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": "sandbox",
        "client_secret": "sandbox",
    }
    return http.post("/connect/token", data=form)


def _bearer(token: dict[str, object]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_authorize_redirects_with_code_and_state_for_the_newest_tenant(http: httpx.Client) -> None:
    create_org(http, name="Older")
    newest = create_org(http, name="Newest")
    params = redirect_params(authorize(http))
    assert params["state"] == "st-123"
    token = _exchange(http, params["code"]).json()
    assert token["expires_in"] == 1800
    assert token["token_type"] == "Bearer"
    connections = http.get("/connections", headers=_bearer(token)).json()
    assert [(c["tenantId"], c["tenantName"]) for c in connections] == [(newest, "Newest")]


def test_authorize_refuses_unknown_client_and_foreign_redirect(http: httpx.Client) -> None:
    create_org(http)
    assert authorize(http, client_id="nope").status_code == 400
    foreign = authorize(http, redirect_uri="https://evil.example/cb")
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_request"
    wrong_type = redirect_params(authorize(http, response_type="token"))
    assert wrong_type["error"] == "unsupported_response_type"
    assert wrong_type["state"] == "st-123"


def test_pkce_s256_and_plain_are_verified(http: httpx.Client) -> None:
    tenant = create_org(http)
    verifier, challenge = pkce_pair()
    s256 = {
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "sandbox_tenant_id": tenant,
    }
    code = redirect_params(authorize(http, **s256))["code"]
    assert _exchange(http, code, "wrong-verifier").json() == {"error": "invalid_grant"}
    # The failed attempt used the code up.
    assert _exchange(http, code, verifier).json() == {"error": "invalid_grant"}

    code = redirect_params(authorize(http, **s256))["code"]
    assert _exchange(http, code).status_code == 400  # verifier missing
    code = redirect_params(authorize(http, **s256))["code"]
    assert _exchange(http, code, verifier).status_code == 200

    plain = {"code_challenge": "plain-secret-value", "code_challenge_method": "plain"}
    code = redirect_params(authorize(http, **plain))["code"]
    assert _exchange(http, code, "plain-secret-value").status_code == 200


def test_codes_are_single_use(http: httpx.Client) -> None:
    create_org(http)
    code = redirect_params(authorize(http))["code"]
    assert _exchange(http, code).status_code == 200
    second = _exchange(http, code)
    assert (second.status_code, second.json()) == (400, {"error": "invalid_grant"})


def test_wrong_client_is_invalid_client(http: httpx.Client) -> None:
    create_org(http)
    code = redirect_params(authorize(http))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    basic = http.post("/connect/token", data=form, auth=("sandbox", "wrong"))
    assert (basic.status_code, basic.json()) == (400, {"error": "invalid_client"})
    fields = http.post("/connect/token", data={**form, "client_id": "x", "client_secret": "y"})
    assert fields.json() == {"error": "invalid_client"}


def test_refresh_rotates_and_grace_allows_the_previous_token(http: httpx.Client) -> None:
    tenant = create_org(http)
    first = connect(http, tenant)
    second = _refresh(http, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # Within the 30-minute grace the used token still works and yields a fresh pair.
    again = _refresh(http, first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] not in (first["refresh_token"], second["refresh_token"])
    # Every token issued works against the API.
    for token in (second, again.json()):
        assert http.get("/api.xro/2.0/Organisation", headers=api_headers(token, tenant)).is_success


def test_unknown_and_revoked_refresh_tokens_are_invalid_grant(http: httpx.Client) -> None:
    tenant = create_org(http)
    assert _refresh(http, "never-issued").json() == {"error": "invalid_grant"}
    token = connect(http, tenant)
    revoked = http.put("/_sandbox/faults", json={"revoke_refresh_tokens": True})
    assert revoked.json()["revoked_refresh_tokens"] == 1
    refused = _refresh(http, token["refresh_token"])
    assert (refused.status_code, refused.json()) == (400, {"error": "invalid_grant"})
    # One-shot: a later reconnect works.
    assert _refresh(http, connect(http, tenant)["refresh_token"]).status_code == 200


def test_revocation_removes_connections(http: httpx.Client) -> None:
    tenant = create_org(http)
    token = connect(http, tenant)
    assert len(http.get("/connections", headers=_bearer(token)).json()) == 1
    revoked = http.post(
        "/connect/revocation", data={"token": token["refresh_token"]}, auth=("sandbox", "sandbox")
    )
    assert revoked.status_code == 200
    assert http.get("/connections", headers=_bearer(token)).json() == []
    assert _refresh(http, token["refresh_token"]).json() == {"error": "invalid_grant"}
    forbidden = http.get("/api.xro/2.0/Organisation", headers=api_headers(token, tenant))
    assert forbidden.status_code == 403
    assert forbidden.json()["Detail"] == "AuthenticationUnsuccessful"


def test_delete_connection(http: httpx.Client) -> None:
    tenant = create_org(http)
    token = connect(http, tenant)
    connection = http.get("/Connections", headers=_bearer(token)).json()[0]
    assert connection["authEventId"]
    filtered = http.get(
        "/connections", headers=_bearer(token), params={"authEventId": connection["authEventId"]}
    )
    assert len(filtered.json()) == 1
    deleted = http.delete(f"/connections/{connection['id']}", headers=_bearer(token))
    assert deleted.status_code == 204
    assert (
        http.delete(f"/connections/{connection['id']}", headers=_bearer(token)).status_code == 404
    )
    assert http.get("/api.xro/2.0/Invoices", headers=api_headers(token, tenant)).status_code == 403


@pytest.mark.parametrize("header", [None, "Bearer not-a-token", "Basic abc"])
def test_bad_bearer_is_401_authorization_unsuccessful(
    http: httpx.Client, header: str | None
) -> None:
    tenant = create_org(http)
    headers = {"xero-tenant-id": tenant}
    if header:
        headers["Authorization"] = header
    response = http.get("/api.xro/2.0/Organisation", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert (body["Title"], body["Status"], body["Detail"]) == (
        "Unauthorized",
        401,
        "AuthorizationUnsuccessful",
    )


def test_expired_access_token_is_401_token_expired(http: httpx.Client) -> None:
    tenant = create_org(http)
    token = connect(http, tenant)
    expired = http.put("/_sandbox/faults", json={"expire_access_tokens": True, "tenant_id": tenant})
    assert expired.json()["expired_access_tokens"] == 1
    response = http.get("/api.xro/2.0/Organisation", headers=api_headers(token, tenant))
    assert response.status_code == 401
    body = response.json()
    assert body["Detail"].startswith("TokenExpired: token expired at ")
    assert body["Extensions"] == {}
    # The refresh token still works and gives a usable access token.
    fresh = _refresh(http, token["refresh_token"]).json()
    assert http.get("/api.xro/2.0/Organisation", headers=api_headers(fresh, tenant)).is_success


def test_tenant_not_connected_is_403(http: httpx.Client) -> None:
    mine = create_org(http, name="Mine")
    other = create_org(http, name="Other")
    token = connect(http, mine)
    response = http.get("/api.xro/2.0/Organisation", headers=api_headers(token, other))
    assert response.status_code == 403
    body = response.json()
    assert (body["Type"], body["Title"], body["Detail"]) == (
        None,
        "Forbidden",
        "AuthenticationUnsuccessful",
    )
