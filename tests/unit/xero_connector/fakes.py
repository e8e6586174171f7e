"""Hand-written fakes of the connector's ports, recording what they were asked."""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sync_schemas import ConnectionStatus, XeroConnectionChanged
from xero_connector.domain import Connection, TokenPair
from xero_connector.xero_errors import InvalidGrant, XeroTransportError
from xero_connector.xero_models import TokenGrant, XeroConnection


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeConnections:
    def __init__(self) -> None:
        self.docs: dict[str, Connection] = {}

    async def get(self, org_id: str) -> Connection | None:
        await asyncio.sleep(0)
        return self.docs.get(org_id)

    async def put(self, connection: Connection) -> None:
        self.docs[connection.org_id] = connection

    async def put_tokens(
        self, org_id: str, generation: int, tokens: TokenPair, expires_at: datetime, at: datetime
    ) -> Connection | None:
        current = self.docs.get(org_id)
        if current is None or current.generation != generation:
            return None
        stored = replace(
            current,
            tokens=tokens,
            access_expires_at=expires_at,
            generation=generation + 1,
            written_at=at,
        )
        self.docs[org_id] = stored
        return stored

    async def expire(
        self, org_id: str, generation: int, reason: str, at: datetime
    ) -> Connection | None:
        current = self.docs.get(org_id)
        if (
            current is None
            or current.generation != generation
            or current.status is not ConnectionStatus.CONNECTED
        ):
            return None
        self.docs[org_id] = current.with_status(ConnectionStatus.EXPIRED, reason, at)
        return self.docs[org_id]


class FakeLeases:
    def __init__(self) -> None:
        self.held: dict[tuple[str, int], str] = {}
        self.acquired: list[str] = []
        self.extended: list[str] = []

    async def acquire(
        self, org_id: str, generation: int, holder: str, ttl_seconds: float, now: datetime
    ) -> str | None:
        key = (org_id, generation)
        if key in self.held:
            return None
        self.held[key] = holder
        self.acquired.append(holder)
        return f"{org_id}:{generation}"

    async def release(self, lease_id: str) -> None:
        org_id, generation = lease_id.rsplit(":", 1)
        self.held.pop((org_id, int(generation)), None)

    async def extend(self, lease_id: str, expires_at: datetime) -> None:
        self.extended.append(lease_id)

    async def clear(self, org_id: str, generation: int) -> None:
        self.held.pop((org_id, generation), None)


class FakeEvents:
    def __init__(self) -> None:
        self.published: list[XeroConnectionChanged] = []

    async def publish(self, change: XeroConnectionChanged) -> None:
        self.published.append(change)


class FakeIdentity:
    """Issues numbered tokens; ``refuse`` makes refreshes invalid_grant; ``lose`` loses that
    many refresh answers after "rotating"."""

    def __init__(self) -> None:
        self.refreshed_with: list[str] = []
        self.revoked: list[str] = []
        self.refuse = False
        self.lose = 0
        self.delay = 0.0
        self.issued = 0

    def _grant(self) -> TokenGrant:
        self.issued += 1
        return TokenGrant(f"access-{self.issued}", f"refresh-{self.issued}", 1800, "offline_access")

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant:
        return self._grant()

    async def refresh(self, refresh_token: str) -> TokenGrant:
        self.refreshed_with.append(refresh_token)
        await asyncio.sleep(self.delay)
        if self.refuse:
            raise InvalidGrant("invalid_grant")
        grant = self._grant()
        if self.lose:
            self.lose -= 1
            raise XeroTransportError("ReadTimeout", sent=True)
        return grant

    async def revoke(self, refresh_token: str) -> None:
        self.revoked.append(refresh_token)

    async def connections(self, access_token: str) -> list[XeroConnection]:
        return [XeroConnection("c1", "tenant-1", "ORGANISATION", "Acme Ltd", "ev1", None, None)]


def connected(org_id: str, clock: FakeClock, expires_in_s: float = 1800) -> Connection:
    return Connection(
        org_id=org_id,
        status=ConnectionStatus.CONNECTED,
        generation=1,
        written_at=clock(),
        reason="connected",
        tenant_id="tenant-1",
        tenant_name="Acme Ltd",
        connected_at=clock(),
        access_expires_at=clock() + timedelta(seconds=expires_in_s),
        tokens=TokenPair("access-0", "refresh-0"),
    )
