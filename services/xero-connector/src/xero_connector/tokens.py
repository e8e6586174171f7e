"""The token manager: a valid access token and tenant id per organisation, for every caller.

    access = await tokens.access("org_acme")            # refreshed ahead of expiry if needed
    access = await tokens.access("org_acme", rejected=access.access_token)   # after a 401

Raises :class:`NotConnected` or :class:`ConnectionExpired` without calling Xero when the
organisation has no usable connection.

Refresh protocol (one refresh per connection at a time, across instances):

1. Read the connection (by ``_id``). If its access token is good for longer than
   ``refresh_ahead`` and is not the one the caller saw rejected, hand it out: no lock.
2. Otherwise take the in-process lock of the organisation, then the MongoDB lease named after
   the token generation being replaced (``refresh:{org}:{generation}:{attempt}``, created by an
   insert, so exactly one instance wins it). The loser polls until the generation moves on
   (then uses the new token) or the lease is released or expires (then tries to take it).
3. The winner re-reads the connection: if the generation has moved on meanwhile it uses that.
   Else it refreshes at Xero and stores the rotated refresh token and the new access token
   (one document write, conditional on the generation) before anyone uses the new token.
4. ``invalid_grant``: the connection becomes ``expired`` (tokens dropped) and
   ``xero.connection_changed.v1`` (expired) is published; callers get ConnectionExpired.
5. No answer (a lost response: Xero may have rotated the token already): retry with the same
   refresh token, which Xero keeps usable for a 30-minute grace after its first use, a few
   times within ``refresh_grace``. The stored token is only replaced by a stored answer, so a
   crash at any point leaves a refresh token that still works within the grace.
"""

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from service_kit.clock import Clock, utc_now
from service_kit.periodic import every
from sync_schemas import ConnectionStatus, XeroConnectionChanged
from xero_connector.domain import Connection, TokenPair
from xero_connector.errors import ConnectionExpired, NotConnected
from xero_connector.metrics import TOKEN_REFRESHES
from xero_connector.ports import (
    ConnectionEvents,
    ConnectionStore,
    RefreshLeases,
    XeroAccess,
    XeroIdentity,
)
from xero_connector.xero_errors import InvalidGrant, XeroUnavailable
from xero_connector.xero_models import TokenGrant

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class RefreshStalled(XeroUnavailable):
    """Another instance held the refresh lease for too long without finishing."""


class TokenManager:
    def __init__(
        self,
        connections: ConnectionStore,
        leases: RefreshLeases,
        identity: XeroIdentity,
        events: ConnectionEvents,
        *,
        refresh_ahead_seconds: float = 120,
        lease_seconds: float = 45,
        grace_seconds: float = 1500,
        retries: int = 3,
        poll_seconds: float = 0.05,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        holder: str | None = None,
    ) -> None:
        self._connections = connections
        self._leases = leases
        self._identity = identity
        self._events = events
        self._ahead = timedelta(seconds=refresh_ahead_seconds)
        self._lease_seconds = lease_seconds
        self._grace = timedelta(seconds=grace_seconds)
        self._retries = retries
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._sleep = sleep
        self.holder = holder or instance_name()
        self._locks: dict[str, asyncio.Lock] = {}

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        connection = await self._connections.get(org_id)
        access = self._access_of(org_id, connection)
        if self._usable(access, rejected):
            return access
        async with self._locks.setdefault(org_id, asyncio.Lock()):
            return await self._refreshed(org_id, rejected)

    async def mark_expired(self, org_id: str, reason: str, *, generation: int) -> None:
        """For callers that learn from Xero that the connection is gone (e.g. a 403), about
        the tokens of ``generation``: a refusal of tokens a Reconnect (or a refresh) has since
        replaced says nothing of the new ones, so it expires nothing."""
        await self._expire(org_id, generation, reason)

    # -- internals ------------------------------------------------------------------------------

    def _access_of(self, org_id: str, connection: Connection | None) -> XeroAccess:
        if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
            raise NotConnected(org_id)
        if connection.status is ConnectionStatus.EXPIRED:
            raise ConnectionExpired(org_id)
        if connection.tokens is None or connection.tenant_id is None:
            raise NotConnected(org_id)
        return XeroAccess(
            org_id=org_id,
            tenant_id=connection.tenant_id,
            access_token=connection.tokens.access_token,
            expires_at=connection.access_expires_at or self._clock(),
            generation=connection.generation,
        )

    def _usable(self, access: XeroAccess, rejected: str | None) -> bool:
        if rejected is not None and access.access_token == rejected:
            return False
        return access.expires_at - self._ahead > self._clock()

    async def _refreshed(self, org_id: str, rejected: str | None) -> XeroAccess:
        deadline = self._clock() + timedelta(seconds=self._lease_seconds * 2 + 5)
        while True:
            connection = await self._connections.get(org_id)
            access = self._access_of(org_id, connection)
            if self._usable(access, rejected):
                return access
            assert connection is not None
            lease = await self._leases.acquire(
                org_id, connection.generation, self.holder, self._lease_seconds, self._clock()
            )
            if lease is None:
                if self._clock() > deadline:
                    raise RefreshStalled(f"the token refresh of {org_id} did not finish in time")
                await self._sleep(self._poll_seconds)
                continue
            keeper = asyncio.create_task(self._keep(lease))
            try:
                current = await self._connections.get(org_id)
                if current is None or current.generation != connection.generation:
                    continue  # replaced while we took the lease: look again
                self._access_of(org_id, current)
                return await self._refresh(current)
            finally:
                keeper.cancel()
                await self._leases.release(lease)

    async def _keep(self, lease: str) -> None:
        """Extend the lease every third of its length while the refresh runs: its retries
        within Xero's grace can outlast one lease, and a second refresher must not start."""

        async def extend() -> None:
            await self._leases.extend(lease, self._clock() + timedelta(seconds=self._lease_seconds))

        await every(self._lease_seconds / 3, extend, name="refresh_lease", sleep=self._sleep)

    async def _refresh(self, connection: Connection) -> XeroAccess:
        org_id = connection.org_id
        assert connection.tokens is not None and connection.tenant_id is not None
        log.info("xero.token.refresh", org_id=org_id, generation=connection.generation)
        grant = await self._call_refresh(connection)
        now = self._clock()
        tokens = TokenPair(
            grant.access_token, grant.refresh_token or connection.tokens.refresh_token
        )
        expires_at = now + timedelta(seconds=grant.expires_in)
        stored = await self._connections.put_tokens(
            org_id, connection.generation, tokens, expires_at, now
        )
        if stored is None:
            # A reconnect replaced the connection meanwhile: its tokens win.
            log.info("xero.token.refresh_superseded", org_id=org_id)
            return self._access_of(org_id, await self._connections.get(org_id))
        await self._leases.clear(org_id, connection.generation)
        log.info("xero.token.refreshed", org_id=org_id, generation=stored.generation)
        return self._access_of(org_id, stored)

    async def _call_refresh(self, connection: Connection) -> TokenGrant:
        assert connection.tokens is not None
        started = self._clock()
        attempt = 0
        while True:
            try:
                grant = await self._identity.refresh(connection.tokens.refresh_token)
                TOKEN_REFRESHES.labels("ok").inc()
                return grant
            except InvalidGrant:
                TOKEN_REFRESHES.labels("invalid_grant").inc()
                reason = "Xero refused the refresh token (invalid_grant)"
                if await self._expire(connection.org_id, connection.generation, reason):
                    raise ConnectionExpired(connection.org_id) from None
                latest = await self._connections.get(connection.org_id)
                if latest is not None and latest.status is ConnectionStatus.EXPIRED:
                    raise ConnectionExpired(connection.org_id) from None  # expired by another
                raise XeroUnavailable("the connection changed during the refresh") from None
            except XeroUnavailable as error:
                TOKEN_REFRESHES.labels("unavailable").inc()
                # The answer may be lost after Xero rotated the token; the token we sent stays
                # usable for the grace period, so sending it again is safe.
                attempt += 1
                if attempt > self._retries or self._clock() - started > self._grace:
                    raise
                log.warning(
                    "xero.token.refresh_retry",
                    org_id=connection.org_id,
                    attempt=attempt,
                    error=type(error).__name__,
                )
                await self._sleep(min(0.2 * 2**attempt, 5.0))

    async def _expire(self, org_id: str, generation: int, reason: str) -> bool:
        """Expire the connection if it is still at ``generation`` (one conditional write)."""
        connection = await self._connections.expire(org_id, generation, reason, self._clock())
        if connection is None:
            log.info("xero.connection.expiry_superseded", org_id=org_id, generation=generation)
            return False
        log.warning("xero.connection.expired", org_id=org_id, reason=reason)
        await self._events.publish(
            XeroConnectionChanged(
                org_id=connection.org_id,
                status=ConnectionStatus.EXPIRED,
                tenant_id=connection.tenant_id,
                tenant_name=connection.tenant_name,
                reason=reason,
            )
        )
        return True
