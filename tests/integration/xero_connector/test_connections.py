"""Connect, status, disconnect, reconnect and reset against the sandbox, with the events on
Kafka and the tokens in MongoDB."""

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from tests.integration.xero_connector.support import (
    ConnectorFactory,
    Sandbox,
    connect,
    connection_events,
)

ORG = "org_harbour"


async def raw_connection(connector: Any, org_id: str) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = connector.app.state.mongo
    doc = await client[connector.settings.mongodb_database]["connections"].find_one({"_id": org_id})
    assert doc is not None
    return doc


async def test_connect_stores_tokens_encrypted_and_publishes_connected(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Harbour Books Ltd")
    async with connector() as c:
        before = await c.http.get(f"/v1/orgs/{ORG}/connection")
        assert before.json()["status"] == "disconnected"

        done = await connect(c, sandbox, ORG, tenant)
        assert done == {
            "org_id": ORG,
            "status": "connected",
            "tenant_id": tenant,
            "tenant_name": "Harbour Books Ltd",
        }

        status = (await c.http.get(f"/v1/orgs/{ORG}/connection")).json()
        assert status["status"] == "connected"
        assert status["tenant_id"] == tenant
        assert status["tenant_name"] == "Harbour Books Ltd"
        assert status["connected_at"] and status["access_token_expires_at"]

        # The stored tokens work, and neither they nor any token field leave the API.
        access = await c.tokens.access(ORG)
        assert access.tenant_id == tenant
        assert (await c.xero.organisation(ORG)).name == "Harbour Books Ltd"
        text = str(status).lower()
        assert 'token"' not in text and access.access_token not in text

        # At rest: one Fernet blob, no plaintext token anywhere in the document.
        doc = await raw_connection(c, ORG)
        stored = await c.stores.connections.get(ORG)
        assert stored is not None and stored.tokens is not None
        raw = repr(doc).encode() + bytes(doc["tokens"])
        assert stored.tokens.access_token.encode() not in raw
        assert stored.tokens.refresh_token.encode() not in raw
        assert bytes(doc["tokens"]).startswith(b"gAAAAA")  # Fernet version byte, base64

        assert await connection_events(c) == [("connected", "connected")]


async def test_the_callback_refuses_unknown_replayed_and_expired_states(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org()
    async with connector(oauth_state_ttl_seconds=0.5) as c:
        unknown = await c.http.get("/v1/oauth/callback", params={"code": "x", "state": "nope"})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "invalid_state"

        started = await c.http.post(f"/v1/orgs/{ORG}/connection")
        callback = await sandbox.consent(started.json()["authorize_url"], tenant)
        # The callback is a browser redirect: no API key needed.
        first = await c.http.get(callback, headers={"Authorization": ""})
        assert first.status_code == 200, first.text
        replay = await c.http.get(callback, headers={"Authorization": ""})
        assert replay.status_code == 400
        assert replay.json()["error"]["code"] == "invalid_state"

        late = await c.http.post(f"/v1/orgs/{ORG}/connection")
        late_callback = await sandbox.consent(late.json()["authorize_url"], tenant)
        await asyncio.sleep(0.6)
        expired = await c.http.get(late_callback)
        assert expired.status_code == 400
        assert expired.json()["error"]["code"] == "invalid_state"

        # Only the one good callback exchanged a code.
        assert await sandbox.token_calls("authorization_code") == 1


async def test_authorize_url_carries_pkce_and_a_state_bound_to_the_org(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    from urllib.parse import parse_qs, urlsplit

    async with connector() as c:
        url = (await c.http.post(f"/v1/orgs/{ORG}/connection")).json()["authorize_url"]
        other = (await c.http.post("/v1/orgs/org_other/connection")).json()["authorize_url"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(f"{c.settings.xero_login_url}/identity/connect/authorize?")
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["scope"] == c.settings.scopes
    assert query["client_id"] == "sandbox"
    assert query["redirect_uri"] == c.settings.redirect_uri
    other_state = parse_qs(urlsplit(other).query)["state"][0]
    assert len(query["state"]) >= 32 and query["state"] != other_state


async def test_every_endpoint_but_the_callback_needs_a_key(connector: ConnectorFactory) -> None:
    async with connector() as c:
        for method, path in [
            ("GET", f"/v1/orgs/{ORG}/connection"),
            ("POST", f"/v1/orgs/{ORG}/connection"),
            ("DELETE", f"/v1/orgs/{ORG}/connection"),
            ("POST", f"/v1/orgs/{ORG}/reset"),
            ("GET", f"/v1/orgs/{ORG}/settings"),
            ("PUT", f"/v1/orgs/{ORG}/settings"),
            ("GET", f"/v1/orgs/{ORG}/mappings"),
            ("PUT", f"/v1/orgs/{ORG}/mappings"),
            ("POST", f"/v1/orgs/{ORG}/mappings/check"),
        ]:
            response = await c.http.request(method, path, headers={"Authorization": "Bearer no"})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"] == "unauthorized"
        for path in ["/healthz", "/metrics", "/docs"]:
            assert (await c.http.get(path, headers={"Authorization": ""})).status_code == 200


async def test_disconnect_revokes_at_xero_and_publishes_disconnected(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org()
    async with connector() as c:
        await connect(c, sandbox, ORG, tenant)
        stored = await c.stores.connections.get(ORG)
        assert stored is not None and stored.tokens is not None

        response = await c.http.delete(f"/v1/orgs/{ORG}/connection")
        assert response.status_code == 200
        assert response.json()["status"] == "disconnected"
        assert response.json()["access_token_expires_at"] is None

        revocations = [r for r in await sandbox.requests() if r["path"] == "/connect/revocation"]
        assert [r["status"] for r in revocations] == [200]
        # Revoked at Xero: the old refresh token is refused now.
        refused = await sandbox.http.post(
            "/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": stored.tokens.refresh_token},
            auth=("sandbox", "sandbox"),
        )
        assert refused.json() == {"error": "invalid_grant"}
        doc = await raw_connection(c, ORG)
        assert doc["tokens"] is None and doc["status"] == "disconnected"

        again = await c.http.delete(f"/v1/orgs/{ORG}/connection")  # idempotent, no new event
        assert again.json()["status"] == "disconnected"
        assert await connection_events(c) == [
            ("connected", "connected"),
            ("disconnected", "disconnected"),
        ]
        from xero_connector.errors import NotConnected

        with pytest.raises(NotConnected):
            await c.tokens.access(ORG)


async def test_reconnect_after_disconnect(connector: ConnectorFactory, sandbox: Sandbox) -> None:
    first = await sandbox.create_org(name="Old Books")
    async with connector() as c:
        await connect(c, sandbox, ORG, first)
        await c.http.delete(f"/v1/orgs/{ORG}/connection")
        second = await sandbox.create_org(name="New Books")
        done = await connect(c, sandbox, ORG, second)
        assert done["tenant_id"] == second
        status = (await c.http.get(f"/v1/orgs/{ORG}/connection")).json()
        assert (status["status"], status["tenant_name"]) == ("connected", "New Books")
        assert (await c.xero.organisation(ORG)).name == "New Books"
        assert await connection_events(c) == [
            ("connected", "connected"),
            ("disconnected", "disconnected"),
            ("connected", "reconnected"),
        ]


async def test_reset_disconnects_and_clears_settings_and_mappings(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org()
    async with connector() as c:
        await connect(c, sandbox, ORG, tenant)
        await c.http.put(f"/v1/orgs/{ORG}/settings", json={"sync_mode": "manual"})
        await c.http.put(f"/v1/orgs/{ORG}/mappings", json={"tax_rates": {"GST15": "OUTPUT2"}})

        response = await c.http.post(f"/v1/orgs/{ORG}/reset")
        assert response.status_code == 200
        assert response.json()["status"] == "disconnected"
        assert (await c.http.get(f"/v1/orgs/{ORG}/settings")).json()["sync_mode"] == "automatic"
        assert (await c.http.get(f"/v1/orgs/{ORG}/mappings")).json() == {
            "accounts": {},
            "tax_rates": {},
            "currencies": {},
        }
        assert [r["status"] for r in await sandbox.requests() if "revocation" in r["path"]] == [200]
        assert await connection_events(c) == [
            ("connected", "connected"),
            ("disconnected", "integration reset"),
        ]


async def test_a_connect_started_from_the_console_returns_there_with_the_outcome(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    from urllib.parse import parse_qs, urlsplit

    tenant = await sandbox.create_org(name="Console Books Ltd")
    back = "http://127.0.0.1:8005/orgs/org_harbour/xero?tab=connection"
    async with connector() as c:
        started = await c.http.post(f"/v1/orgs/{ORG}/connection", json={"return_to": back})
        assert started.status_code == 200, started.text
        callback = await sandbox.consent(started.json()["authorize_url"], tenant)
        done = await c.http.get(callback, headers={"Authorization": ""})
        assert done.status_code == 303
        location = urlsplit(done.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == back.split("?")[0]
        assert parse_qs(location.query) == {
            "tab": ["connection"],
            "xero": ["connected"],
            "org_id": [ORG],
        }
        status = (await c.http.get(f"/v1/orgs/{ORG}/connection")).json()
        assert status["status"] == "connected" and status["tenant_name"] == "Console Books Ltd"

        # The user refused at Xero: back to the console with the error code.
        again = await c.http.post(f"/v1/orgs/{ORG}/connection", json={"return_to": back})
        state = parse_qs(urlsplit(again.json()["authorize_url"]).query)["state"][0]
        denied = await c.http.get(
            "/v1/oauth/callback",
            params={"state": state, "error": "access_denied"},
            headers={"Authorization": ""},
        )
        assert denied.status_code == 303
        assert parse_qs(urlsplit(denied.headers["location"]).query) == {
            "tab": ["connection"],
            "xero": ["error"],
            "org_id": [ORG],
            "reason": ["authorization_failed"],
        }
        # A bad state knows no return_to: the plain 400 as before.
        unknown = await c.http.get("/v1/oauth/callback", params={"code": "x", "state": state})
        assert unknown.status_code == 400
        assert unknown.json()["error"]["code"] == "invalid_state"

        # Without a body, or with an empty one, Connect behaves as it always did.
        url = f"/v1/orgs/{ORG}/connection"
        for plain in (await c.http.post(url), await c.http.post(url, json={})):
            assert plain.status_code == 200, plain.text
        plain_callback = await sandbox.consent(plain.json()["authorize_url"], tenant)
        page = await c.http.get(plain_callback)
        assert page.status_code == 200 and page.json()["status"] == "connected"

        assert await sandbox.token_calls("authorization_code") == 2


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example/phish",
        "http://127.0.0.1:8005.evil.example/x",
        "http://127.0.0.1:8005@evil.example/x",
        "/relative/path",
        "http://127.0.0.1:8006/x",
    ],
)
async def test_connect_refuses_a_return_to_off_the_console_naming_the_field(
    connector: ConnectorFactory, return_to: str
) -> None:
    async with connector(consume=False) as c:
        refused = await c.http.post(f"/v1/orgs/{ORG}/connection", json={"return_to": return_to})
        assert refused.status_code == 422
        assert [d["field"] for d in refused.json()["error"]["details"]] == ["body.return_to"]


async def test_the_console_origins_are_a_setting(connector: ConnectorFactory) -> None:
    async with connector(consume=False, console_origins="https://console.example") as c:
        ok = await c.http.post(
            f"/v1/orgs/{ORG}/connection", json={"return_to": "https://console.example/x"}
        )
        assert ok.status_code == 200, ok.text
        default_gone = await c.http.post(
            f"/v1/orgs/{ORG}/connection", json={"return_to": "http://127.0.0.1:8005/x"}
        )
        assert default_gone.status_code == 422
