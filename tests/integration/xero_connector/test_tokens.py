"""The token manager against the sandbox and the real MongoDB: transparent refresh, one
refresh across instances, invalid_grant, a lost refresh response, and the atomicity of the
lease and of the one-time state on the real server."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pymongo.asynchronous.database import AsyncDatabase

from tests.integration.xero_connector.support import (
    ConnectorFactory,
    Sandbox,
    connect,
    connection_events,
)
from xero_connector.adapters.mongo import MongoAuthorizations, MongoRefreshLeases
from xero_connector.crypto import TokenCipher
from xero_connector.domain import PendingAuthorization
from xero_connector.errors import ConnectionExpired
from xero_connector.tokens import TokenManager
from xero_connector.xero_errors import XeroTransportError
from xero_connector.xero_models import TokenGrant

ORG = "org_tokens"


async def test_an_access_token_that_expires_mid_use_is_refreshed_transparently(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Mid Use Ltd")
    async with connector() as c:
        await connect(c, sandbox, ORG, tenant)
        before = await c.tokens.access(ORG)
        assert (await c.xero.organisation(ORG)).name == "Mid Use Ltd"

        expired = await sandbox.faults(expire_access_tokens=True, tenant_id=tenant)
        assert expired["expired_access_tokens"] >= 1
        # By our clock the token is still good: Xero's 401 TokenExpired drives the refresh.
        assert [c.code for c in await c.xero.currencies(ORG)] == ["NZD"]

        after = await c.tokens.access(ORG)
        assert after.access_token != before.access_token
        assert after.generation == before.generation + 1
        log = [(r["method"], r["path"], r["status"]) for r in await sandbox.requests()]
        currencies = [status for _, path, status in log if path.endswith("/Currencies")]
        assert currencies == [401, 200]
        assert await sandbox.token_calls("refresh_token") == 1


async def test_two_instances_refreshing_at_once_make_one_refresh_call(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Twin Ltd")
    async with connector() as a, connector() as b:
        await connect(a, sandbox, ORG, tenant)
        await sandbox.faults(expire_access_tokens=True, tenant_id=tenant)

        # Both instances meet the expired token at once, three callers each.
        calls = [inst.xero.organisation(ORG) for inst in (a, b, a, b, a, b)]
        orgs = await asyncio.gather(*calls)
        assert {o.name for o in orgs} == {"Twin Ltd"}
        assert await sandbox.token_calls("refresh_token") == 1
        held_a, held_b = await a.tokens.access(ORG), await b.tokens.access(ORG)
        assert held_a.access_token == held_b.access_token

        # Ahead of expiry too: the stored expiry is within the refresh margin for both.
        stored = await a.stores.connections.get(ORG)
        assert stored is not None and stored.tokens is not None
        soon = datetime.now(UTC) + timedelta(seconds=30)
        await a.stores.connections.put_tokens(
            ORG, stored.generation, stored.tokens, soon, datetime.now(UTC)
        )
        fresh = await asyncio.gather(a.tokens.access(ORG), b.tokens.access(ORG))
        assert fresh[0].access_token == fresh[1].access_token != held_a.access_token
        assert await sandbox.token_calls("refresh_token") == 2
        assert (await a.xero.organisation(ORG)).name == "Twin Ltd"
        assert (await b.xero.organisation(ORG)).name == "Twin Ltd"


async def test_a_revoked_refresh_token_expires_the_connection_and_publishes(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Revoked Ltd")
    async with connector() as c:
        await connect(c, sandbox, ORG, tenant)
        await sandbox.faults(revoke_refresh_tokens=True, expire_access_tokens=True)

        with pytest.raises(ConnectionExpired):
            await c.xero.organisation(ORG)
        status = (await c.http.get(f"/v1/orgs/{ORG}/connection")).json()
        assert status["status"] == "expired"
        assert status["access_token_expires_at"] is None
        assert await connection_events(c) == [
            ("connected", "connected"),
            ("expired", "Xero refused the refresh token (invalid_grant)"),
        ]
        stored = await c.stores.connections.get(ORG)
        assert stored is not None and stored.tokens is None

        # From now on: fail fast, without calling Xero.
        calls = len(await sandbox.requests())
        with pytest.raises(ConnectionExpired):
            await c.tokens.access(ORG)
        check = await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        assert check.status_code == 409
        assert check.json()["error"]["code"] == "connection_expired"
        assert (
            "POST /v1/orgs/org_tokens/connection" in check.json()["error"]["details"]["remediation"]
        )
        assert len(await sandbox.requests()) == calls

        # Reconnect works after the one-shot fault.
        await connect(c, sandbox, ORG, tenant)
        assert (await c.xero.organisation(ORG)).name == "Revoked Ltd"


class LosesFirstAnswer:
    """The identity client, except that the first refresh's answer is lost on the way back
    (Xero rotated the token, we never heard)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lost = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def refresh(self, refresh_token: str) -> TokenGrant:
        grant: TokenGrant = await self.inner.refresh(refresh_token)
        if not self.lost:
            self.lost += 1
            raise XeroTransportError("ReadTimeout calling POST /connect/token", sent=True)
        return grant


async def test_a_lost_refresh_answer_is_retried_with_the_same_token_within_the_grace(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Lossy Ltd")
    async with connector() as c:
        await connect(c, sandbox, ORG, tenant)
        stored = await c.stores.connections.get(ORG)
        assert stored is not None and stored.tokens is not None
        tokens = c.tokens
        lossy = LosesFirstAnswer(tokens._identity)
        manager = TokenManager(
            c.stores.connections, c.stores.leases, lossy, c.app.state.connections._events
        )
        access = await manager.access(ORG, rejected=stored.tokens.access_token)
        assert lossy.lost == 1
        refreshes = [
            r
            for r in await sandbox.requests()
            if (r["body"] or {}).get("grant_type") == "refresh_token"
        ]
        assert [r["status"] for r in refreshes] == [200, 200]  # the same token, twice
        now = await c.stores.connections.get(ORG)
        assert now is not None and now.tokens is not None
        assert now.tokens.access_token == access.access_token
        assert now.tokens.refresh_token != stored.tokens.refresh_token
        assert (await c.xero.organisation(ORG)).name == "Lossy Ltd"


async def test_the_lease_has_exactly_one_holder_on_the_real_server(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    leases = MongoRefreshLeases(mongo_db)
    now = datetime.now(UTC)
    for generation in range(15):
        won = await asyncio.gather(
            *(leases.acquire("org_l", generation, f"h{i}", 30, now) for i in range(4))
        )
        assert len([w for w in won if w]) == 1, won

    # A dead holder's lease: after it expires exactly one contender takes it over.
    dead = await leases.acquire("org_d", 1, "dead", 1, now - timedelta(seconds=5))
    assert dead is not None
    later = datetime.now(UTC)
    won = await asyncio.gather(*(leases.acquire("org_d", 1, f"h{i}", 30, later) for i in range(4)))
    assert len([w for w in won if w]) == 1
    assert await leases.acquire("org_d", 1, "late", 30, later) is None
    winner = next(w for w in won if w)
    await leases.release(winner)
    assert await leases.acquire("org_d", 1, "next", 30, later) is not None


async def test_a_state_is_taken_once_even_concurrently(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoAuthorizations(mongo_db, TokenCipher.from_keys([Fernet.generate_key()]))
    expires = datetime.now(UTC) + timedelta(minutes=5)
    for i in range(10):
        await store.put(PendingAuthorization(f"st{i}", "org_s", "verifier-x", "http://cb", expires))
        taken = await asyncio.gather(*(store.take(f"st{i}", datetime.now(UTC)) for _ in range(4)))
        assert len([t for t in taken if t is not None]) == 1
        winner = next(t for t in taken if t is not None)
        assert winner.code_verifier == "verifier-x" and winner.org_id == "org_s"
    raw = await mongo_db["authorizations"].find_one({"_id": "used:st0"})
    assert raw is not None
