"""What the connector's use cases need from the outside world. Adapters implement these;
unit tests use the small fakes in tests/unit/xero_connector/fakes.py."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_schemas import XeroConnectionChanged
from xero_connector.domain import Connection, Mappings, OrgSettings, PendingAuthorization, Tokens
from xero_connector.xero_models import (
    Account,
    Currency,
    Organisation,
    TaxRate,
    TokenGrant,
    XeroConnection,
)

Clock = Callable[[], datetime]


class ConnectionStore(Protocol):
    """One document per organisation; tokens encrypted by the adapter."""

    async def get(self, org_id: str) -> Connection | None: ...

    async def put(self, connection: Connection) -> None: ...

    async def put_tokens(
        self, org_id: str, generation: int, tokens: Tokens, expires_at: datetime, at: datetime
    ) -> Connection | None:
        """Store a refreshed token set as ``generation + 1`` if the stored one is still
        ``generation``; None (nothing written) when it moved on."""
        ...


class RefreshLeases(Protocol):
    """One refresh per connection at a time, across instances."""

    async def acquire(
        self, org_id: str, generation: int, holder: str, ttl_s: float, now: datetime
    ) -> str | None:
        """A lease id when this holder may refresh ``generation``; None when another holds it."""
        ...

    async def release(self, lease_id: str) -> None: ...

    async def clear(self, org_id: str, generation: int) -> None:
        """Forget every lease of a generation that has been replaced."""
        ...


class AuthorizationStore(Protocol):
    async def put(self, pending: PendingAuthorization) -> None: ...

    async def take(self, state: str, now: datetime) -> PendingAuthorization | None:
        """The pending authorization, once: a second take of the same state gets None."""
        ...


class OrgConfigStore(Protocol):
    async def get_settings(self, org_id: str) -> OrgSettings | None: ...

    async def put_settings(self, org_id: str, settings: OrgSettings) -> None: ...

    async def get_mappings(self, org_id: str) -> Mappings | None: ...

    async def put_mappings(self, org_id: str, mappings: Mappings) -> None: ...

    async def clear(self, org_id: str) -> None: ...

    async def record_currencies(self, org_id: str, codes: Iterable[str], at: datetime) -> None:
        """Remember invoice currencies seen (the pipeline calls this)."""
        ...

    async def recent_currencies(self, org_id: str, since: datetime) -> list[str]: ...


class ConnectionEvents(Protocol):
    async def publish(self, change: XeroConnectionChanged) -> None: ...


class XeroIdentity(Protocol):
    """Xero's identity server and /connections. Raises the tree of ``xero_errors``."""

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant: ...

    async def refresh(self, refresh_token: str) -> TokenGrant: ...

    async def revoke(self, refresh_token: str) -> None: ...

    async def connections(self, access_token: str) -> list[XeroConnection]: ...


class XeroSettingsReader(Protocol):
    """An organisation's settings in Xero, through its connection."""

    async def organisation(self, org_id: str) -> Organisation: ...

    async def currencies(self, org_id: str) -> list[Currency]: ...

    async def tax_rates(self, org_id: str) -> list[TaxRate]: ...

    async def accounts(self, org_id: str) -> list[Account]: ...


@dataclass(frozen=True, slots=True)
class XeroAccess:
    """What a call to an organisation's Xero needs. Holds a secret: never log it."""

    org_id: str
    tenant_id: str
    access_token: str
    expires_at: datetime
    generation: int

    def __repr__(self) -> str:
        return f"XeroAccess(org_id={self.org_id!r}, tenant_id={self.tenant_id!r}, token=***)"


class AccessTokens(Protocol):
    """The token manager as the Xero client sees it."""

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess: ...
