"""Connect, Reconnect, Disconnect and Reset: the connection use cases over the ports.

url = await connections.start("org_acme")                   # send the browser there
done = await connections.complete(code=code, state=state)   # Xero's redirect lands here
await connections.disconnect("org_acme")
"""

from dataclasses import dataclass
from datetime import timedelta

import structlog

from service_kit.clock import Clock, utc_now
from sync_schemas import ConnectionStatus, XeroConnectionChanged
from xero_connector import oauth
from xero_connector.domain import Connection, PendingAuthorization, TokenPair
from xero_connector.errors import (
    AuthorizationFailed,
    ConnectorError,
    InvalidState,
    XeroNotConfigured,
)
from xero_connector.ports import (
    AuthorizationStore,
    ConnectionEvents,
    ConnectionStore,
    OrgConfigStore,
    ParkedSyncs,
    TenantData,
    XeroIdentity,
)
from xero_connector.xero_errors import OAuthError, XeroError

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OAuthClient:
    client_id: str
    login_url: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state_ttl_seconds: float


@dataclass(frozen=True, slots=True)
class Callback:
    """How a callback ended: connected, or (with a ``return_to`` to report it at) failed."""

    org_id: str
    return_to: str | None
    connection: Connection | None = None
    failure: ConnectorError | XeroError | None = None


class ConnectionService:
    def __init__(
        self,
        *,
        connections: ConnectionStore,
        authorizations: AuthorizationStore,
        identity: XeroIdentity,
        events: ConnectionEvents,
        config: OrgConfigStore,
        client: OAuthClient,
        tenant_data: tuple[TenantData, ...] = (),
        parked: ParkedSyncs | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._connections = connections
        self._authorizations = authorizations
        self._identity = identity
        self._events = events
        self._config = config
        self._client = client
        self._tenant_data = tenant_data
        self._parked = parked
        self._clock = clock

    async def start(self, org_id: str, return_to: str | None = None) -> str:
        """An authorize URL with PKCE (S256) and a one-time state bound to ``org_id``;
        ``return_to`` (checked by the caller against the console's origins) travels with the
        state, for the callback to send the browser back to."""
        if not self._client.client_id:
            raise XeroNotConfigured("XERO_CONNECTOR_XERO_CLIENT_ID is not set")
        verifier = oauth.new_verifier()
        state = oauth.new_state()
        pending = PendingAuthorization(
            state=state,
            org_id=org_id,
            code_verifier=verifier,
            redirect_uri=self._client.redirect_uri,
            expires_at=self._clock() + timedelta(seconds=self._client.state_ttl_seconds),
            return_to=return_to,
        )
        await self._authorizations.put(pending)
        log.info("xero.connect.started", org_id=org_id)
        return oauth.authorize_url(
            self._client.login_url,
            client_id=self._client.client_id,
            redirect_uri=self._client.redirect_uri,
            scopes=self._client.scopes,
            state=state,
            code_challenge=oauth.pkce_challenge(verifier),
        )

    async def complete(
        self, *, code: str | None, state: str | None, error: str | None = None
    ) -> Callback:
        """Finish the flow Xero redirected back with; the state is used up either way. A
        failure raises, unless the flow was started with a ``return_to``: then it is
        returned, to be reported there. An unknown state always raises InvalidState (it
        knows no ``return_to``)."""
        pending = await self._take(state)
        if pending.return_to is None:
            return Callback(pending.org_id, None, await self._finish(pending, code, error))
        try:
            connection = await self._finish(pending, code, error)
        except (ConnectorError, XeroError) as failure:
            return Callback(pending.org_id, pending.return_to, failure=failure)
        return Callback(pending.org_id, pending.return_to, connection)

    async def _take(self, state: str | None) -> PendingAuthorization:
        pending = await self._authorizations.take(state, self._clock()) if state else None
        if pending is None:
            raise InvalidState("unknown, used or expired state: start again from Connect")
        return pending

    async def _finish(
        self, pending: PendingAuthorization, code: str | None, error: str | None
    ) -> Connection:
        org_id = pending.org_id
        if error or not code:
            log.warning("xero.connect.refused", org_id=org_id, error=error or "no code")
            raise AuthorizationFailed(f"Xero did not authorize: {error or 'no code returned'}")
        try:
            grant = await self._identity.exchange_code(
                code, pending.code_verifier, pending.redirect_uri
            )
        except OAuthError as refused:
            log.warning("xero.connect.exchange_refused", org_id=org_id, error=refused.error)
            raise AuthorizationFailed(f"Xero refused the code: {refused.error}") from None
        if not grant.refresh_token:
            raise AuthorizationFailed("Xero issued no refresh token: the offline_access scope")
        tenants = await self._identity.connections(grant.access_token)
        tenant = oauth.pick_tenant(tenants, oauth.auth_event_id(grant.access_token))
        if tenant is None:
            raise AuthorizationFailed("the authorization reached no Xero organisation")

        now = self._clock()
        previous = await self._connections.get(org_id)
        reconnect = previous is not None
        if previous is not None and previous.tenant_id != tenant.tenant_id:
            # Another Xero organisation: links and contacts are kept per tenant, but those
            # stored before they carried one would otherwise pass for the new tenant's.
            for data in self._tenant_data:
                await data.forget_org(org_id)
        connection = Connection(
            org_id=org_id,
            status=ConnectionStatus.CONNECTED,
            # A new generation: a refresh still running on the old tokens cannot store them.
            generation=(previous.generation + 1) if previous else 1,
            written_at=now,
            reason="reconnected" if reconnect else "connected",
            tenant_id=tenant.tenant_id,
            tenant_name=tenant.tenant_name,
            xero_connection_id=tenant.id,
            connected_at=now,
            access_expires_at=now + timedelta(seconds=grant.expires_in),
            tokens=TokenPair(grant.access_token, grant.refresh_token),
        )
        await self._connections.put(connection)
        log.info("xero.connected", org_id=org_id, tenant_id=tenant.tenant_id, reconnect=reconnect)
        await self._publish(connection)
        if self._parked is not None:
            # What failed waiting on the connection syncs again, with nobody asking.
            released = await self._parked.release_parked(org_id, now)
            log.info("xero.parked_released", org_id=org_id, count=released)
        return connection

    async def status(self, org_id: str) -> Connection | None:
        return await self._connections.get(org_id)

    async def disconnect(self, org_id: str, reason: str = "disconnected") -> Connection | None:
        """Revoke at Xero, drop the tokens, publish ``disconnected``. Idempotent."""
        connection = await self._connections.get(org_id)
        if connection is None or connection.status is ConnectionStatus.DISCONNECTED:
            return connection
        if connection.tokens is not None:
            try:
                await self._identity.revoke(connection.tokens.refresh_token)
            except XeroError as failed:
                # The tokens are dropped all the same; Xero forgets an unused grant in 60 days.
                log.warning("xero.revoke_failed", org_id=org_id, error=type(failed).__name__)
        gone = connection.with_status(ConnectionStatus.DISCONNECTED, reason, self._clock())
        await self._connections.put(gone)
        log.info("xero.disconnected", org_id=org_id, reason=reason)
        await self._publish(gone)
        return gone

    async def reset(self, org_id: str) -> Connection | None:
        """Disconnect, then forget the settings and mappings, and stop trusting what was
        known of the tenant: links to its invoices, its contacts. (A Connect to another tenant
        does the same.)"""
        connection = await self.disconnect(org_id, reason="integration reset")
        await self._config.clear(org_id)
        for data in self._tenant_data:
            await data.forget_org(org_id)
        log.info("xero.reset", org_id=org_id)
        return connection

    async def _publish(self, connection: Connection) -> None:
        await self._events.publish(
            XeroConnectionChanged(
                org_id=connection.org_id,
                status=connection.status,
                tenant_id=connection.tenant_id,
                tenant_name=connection.tenant_name,
                reason=connection.reason,
            )
        )
