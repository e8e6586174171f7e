"""OAuth 2.0 with PKCE between the connector and Xero (the sandbox), adversarially.

Already proven elsewhere, so not repeated here:
- tests/integration/xero_connector/test_connections.py: an unknown, a replayed and an expired
  state are refused as ``invalid_state`` and only the one good callback exchanged a code
  (``test_the_callback_refuses_unknown_replayed_and_expired_states``); the authorize URL carries
  ``code_challenge`` (43 chars), ``code_challenge_method=S256``, the configured ``redirect_uri``
  and a fresh state per start (``test_authorize_url_carries_pkce_and_a_state_bound_to_the_org``).
- tests/integration/xero_connector/test_tokens.py: a state is taken once even by four
  concurrent callbacks on the real MongoDB-wire server (``test_a_state_is_taken_once_even_...``).
- tests/unit/xero_connector/test_oauth.py: the S256 transform against RFC 7636's example,
  verifier length and alphabet, state length and uniqueness.
- tests/contract/sandbox/test_sandbox_oauth.py: Xero (the sandbox) refuses a wrong or missing
  verifier when a challenge was sent, a used code, a foreign redirect URI, a wrong client.

Added here: the challenge is S256 of the very verifier the connector keeps (encrypted) and
later sends; a tampered verifier makes Xero refuse the exchange and nothing gets connected; the
redirect URI cannot be steered by request parameters at either end; a state is used up by a
refused authorization too, and belongs to the organisation that started it.
"""

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from bson import Binary
from pymongo import AsyncMongoClient

from tests.integration.xero_connector.support import TOKEN_KEY, Sandbox
from tests.reliability.security.support import (
    CONNECTOR_KEY,
    REDIRECT_URI,
    bearer,
    connect,
    services,
    start_connect,
)
from xero_connector.crypto import TokenCipher

ORG = "org_oauth"
EVIL = "http://127.0.0.1:9/steal"


@pytest.fixture
async def connector(
    kafka_bootstrap: str, mongodb_uri: str, unique: str, sandbox_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    names = ("xero-connector",)
    async with services(kafka_bootstrap, mongodb_uri, unique, sandbox_url, names=names) as apps:
        yield apps["xero-connector"].http


@pytest.fixture
async def authorizations(mongodb_uri: str, unique: str) -> AsyncIterator[Any]:
    """The connector's pending authorizations, raw, as MongoDB holds them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        yield client[f"{unique[:50]}_xc"]["authorizations"]
    finally:
        await client.close()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def token_exchanges(xero: Sandbox) -> list[dict[str, Any]]:
    return [
        r
        for r in await xero.requests()
        if r["path"] == "/connect/token"
        and (r["body"] or {}).get("grant_type") == "authorization_code"
    ]


async def status_of(connector: httpx.AsyncClient, org_id: str) -> str:
    response = await connector.get(f"/v1/orgs/{org_id}/connection", headers=bearer(CONNECTOR_KEY))
    status: str = response.json()["status"]
    return status


async def test_the_challenge_is_s256_of_the_kept_verifier_which_the_exchange_sends(
    connector: httpx.AsyncClient, sandbox: httpx.AsyncClient, authorizations: Any
) -> None:
    xero = Sandbox(sandbox)
    tenant = await xero.create_org(name="Pkce Ltd")
    url = await start_connect(connector, ORG)
    query = query_of(url)
    assert query["code_challenge_method"] == "S256"

    doc = await authorizations.find_one({"_id": query["state"]})
    assert doc is not None and doc["org_id"] == ORG
    sealed = bytes(doc["code_verifier"])
    verifier = TokenCipher.from_keys([TOKEN_KEY]).decrypt(sealed)
    assert sealed.startswith(b"gAAAAA") and verifier.encode() not in sealed  # kept encrypted
    assert 43 <= len(verifier) <= 128
    assert query["code_challenge"] == s256(verifier)
    assert verifier not in url  # only the challenge travels through the browser

    callback = await xero.consent(url, tenant)
    done = await connector.get(callback)
    assert done.status_code == 200, done.text
    # The sandbox holds the challenge and verifies the verifier: 200 proves it was the one kept.
    [exchange] = await token_exchanges(xero)
    assert exchange["status"] == 200
    assert exchange["body"]["code_verifier"] == "***"  # sent (masked in the request log)
    assert exchange["body"]["redirect_uri"] == REDIRECT_URI


async def test_a_tampered_verifier_is_refused_by_xero_and_nothing_is_connected(
    connector: httpx.AsyncClient, sandbox: httpx.AsyncClient, authorizations: Any
) -> None:
    xero = Sandbox(sandbox)
    tenant = await xero.create_org(name="Tamper Ltd")
    url = await start_connect(connector, ORG)
    state = query_of(url)["state"]
    forged = TokenCipher.from_keys([TOKEN_KEY]).encrypt("a" * 64)  # a valid but wrong verifier
    await authorizations.update_one({"_id": state}, {"$set": {"code_verifier": Binary(forged)}})

    callback = await xero.consent(url, tenant)
    refused = await connector.get(callback)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "authorization_failed"
    assert [e["status"] for e in await token_exchanges(xero)] == [400]  # invalid_grant at Xero
    assert await status_of(connector, ORG) == "disconnected"
    # The state is used up: the same callback again is not even sent to Xero.
    again = await connector.get(callback)
    assert again.json()["error"]["code"] == "invalid_state"
    assert len(await token_exchanges(xero)) == 1


async def test_the_redirect_uri_is_the_configured_one_whatever_the_requests_say(
    connector: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    xero = Sandbox(sandbox)
    tenant = await xero.create_org(name="Redirect Ltd")
    steer = {"redirect_uri": EVIL, "redirect_url": EVIL, "return_to": EVIL}
    # A return_to off the console's origins is refused outright (no open redirect), and a
    # body cannot name another redirect_uri (an unknown field is refused).
    for body, fields in [
        ({"return_to": EVIL}, ["body.return_to"]),
        ({"redirect_uri": EVIL, "redirect_url": EVIL}, ["body.redirect_uri", "body.redirect_url"]),
    ]:
        refused = await connector.post(
            f"/v1/orgs/{ORG}/connection", headers=bearer(CONNECTOR_KEY), json=body
        )
        assert refused.status_code == 422
        assert [d["field"] for d in refused.json()["error"]["details"]] == fields
    url = await start_connect(connector, ORG, params=steer)
    assert query_of(url)["redirect_uri"] == REDIRECT_URI
    assert EVIL not in url

    callback = await xero.consent(url, tenant)
    done = await connector.get(f"{callback}&{urlencode(steer)}")
    assert done.status_code == 200, done.text
    [exchange] = await token_exchanges(xero)
    assert exchange["body"]["redirect_uri"] == REDIRECT_URI
    assert exchange["status"] == 200


async def test_a_state_is_used_up_by_a_refused_authorization_and_binds_its_org(
    connector: httpx.AsyncClient, sandbox: httpx.AsyncClient
) -> None:
    xero = Sandbox(sandbox)
    tenant = await xero.create_org(name="Denied Ltd")
    url = await start_connect(connector, ORG)
    state = query_of(url)["state"]
    denied = await connector.get(
        "/v1/oauth/callback", params={"state": state, "error": "access_denied"}
    )
    assert denied.status_code == 400
    assert denied.json()["error"]["code"] == "authorization_failed"
    # A code for that state later (a replay with a stolen code) finds the state gone.
    callback = await xero.consent(url, tenant)
    late = await connector.get(callback)
    assert late.json()["error"]["code"] == "invalid_state"
    assert await token_exchanges(xero) == []

    # The org is the one that started the flow, whatever the callback claims.
    body, _ = await connect(connector, xero, ORG, tenant)
    assert body["org_id"] == ORG
    other = "org_oauth_other"
    url = await start_connect(connector, ORG)
    callback = await xero.consent(url, tenant)
    done = await connector.get(f"{callback}&org_id={other}")
    assert done.json()["org_id"] == ORG
    assert await status_of(connector, other) == "disconnected"
