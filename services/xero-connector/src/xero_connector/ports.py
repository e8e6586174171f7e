"""What the connector's use cases need from the outside world. Adapters implement these;
unit tests use the small fakes in tests/unit/xero_connector/fakes.py."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sync_schemas import XeroConnectionChanged
from xero_connector.domain import (
    Connection,
    InvoiceRecord,
    LastSeen,
    Link,
    Mappings,
    OrgSettings,
    PendingAuthorization,
    ScheduledRetry,
    TokenPair,
    Used,
)
from xero_connector.xero_models import (
    Account,
    ContactPage,
    Currency,
    Organisation,
    TaxRate,
    TokenGrant,
    WrittenContact,
    WrittenInvoice,
    XeroConnection,
    XeroContact,
    XeroInvoice,
)

Payload = dict[str, Any]  # an element this integration sends to Xero (built by mapping.py)


class ConnectionStore(Protocol):
    """One document per organisation; tokens encrypted by the adapter."""

    async def get(self, org_id: str) -> Connection | None: ...

    async def put(self, connection: Connection) -> None: ...

    async def put_tokens(
        self, org_id: str, generation: int, tokens: TokenPair, expires_at: datetime, at: datetime
    ) -> Connection | None:
        """Store a refreshed token set as ``generation + 1`` if the stored one is still
        ``generation``; None (nothing written) when it moved on."""
        ...

    async def expire(
        self, org_id: str, generation: int, reason: str, at: datetime
    ) -> Connection | None:
        """Mark the connection expired (tokens dropped) if it is still connected at
        ``generation``; None (nothing written) when a refresh or a Reconnect moved it on."""
        ...


class RefreshLeases(Protocol):
    """One refresh per connection at a time, across instances."""

    async def acquire(
        self, org_id: str, generation: int, holder: str, ttl_seconds: float, now: datetime
    ) -> str | None:
        """A lease id when this holder may refresh ``generation``; None when another holds it."""
        ...

    async def release(self, lease_id: str) -> None: ...

    async def extend(self, lease_id: str, expires_at: datetime) -> None:
        """Keep a lease while its refresh still runs (a refresh may outlast one lease)."""
        ...

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

    async def get_settings_and_mappings(
        self, org_id: str
    ) -> tuple[OrgSettings | None, Mappings | None]:
        """The settings and the mappings, in one read (one document)."""
        ...

    async def put_mappings(self, org_id: str, mappings: Mappings) -> None: ...

    async def clear(self, org_id: str) -> None: ...

    async def record_used(self, org_id: str, used: Used, at: datetime) -> None:
        """Remember the codes invoices used, in one write (the pipeline calls this once per
        batch and organisation)."""
        ...

    async def seen_since(self, org_id: str, since: datetime) -> LastSeen:
        """The codes used at or after ``since``, with when each was last used."""
        ...


class ConnectionEvents(Protocol):
    async def publish(self, change: XeroConnectionChanged) -> None: ...


class XeroIdentity(Protocol):
    """Xero's identity server and /connections. Raises the tree of ``xero_errors``."""

    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant: ...

    async def refresh(self, refresh_token: str) -> TokenGrant: ...

    async def revoke(self, refresh_token: str) -> None: ...

    async def connections(self, access_token: str) -> list[XeroConnection]: ...


@dataclass(frozen=True, slots=True)
class XeroScope:
    """Which Xero organisation a call is for: our organisation and the tenant it was
    connected to when the work began. A call is refused if the connection has moved on."""

    org_id: str
    tenant_id: str
    # The token generation the work began with (not part of the scope's identity): a refusal
    # from Xero expires the connection only if it has not moved on since.
    generation: int = field(default=0, compare=False)
    # This instance's writer epoch for the organisation (writers.py); 0: not a writer.
    epoch: int = field(default=0, compare=False)


class XeroAccounting(Protocol):
    """Every call the connector makes to Xero's Accounting API, typed. The adapter
    (``adapters/xero_accounting.py``) sends them through the rate-limited gateway and raises
    the ``xero_errors`` tree; whole-request refusals raise, element refusals are returned."""

    async def scope(self, org_id: str) -> XeroScope:
        """The connected tenant; raises NotConnected / ConnectionExpired."""
        ...

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Payload], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        """``PUT /Invoices``: creates only; a taken ACCREC number is an element error."""
        ...

    async def update_invoices(
        self, scope: XeroScope, invoices: Sequence[Payload], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        """``POST /Invoices`` of elements that all carry their InvoiceID."""
        ...

    async def find_invoices(
        self, scope: XeroScope, *, numbers: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> list[XeroInvoice]:
        """Every invoice (sales and bills, any status) with one of these numbers or ids."""
        ...

    async def contacts_page(self, scope: XeroScope, page: int) -> ContactPage: ...

    async def contact_by_number(self, scope: XeroScope, number: str) -> XeroContact | None: ...

    async def contacts_named(self, scope: XeroScope, name: str) -> list[XeroContact]: ...

    async def create_contacts(
        self, scope: XeroScope, contacts: Sequence[Payload], *, key: str
    ) -> list[WrittenContact]: ...

    async def organisation(self, scope: XeroScope) -> Organisation: ...

    async def currencies(self, scope: XeroScope) -> list[Currency]: ...

    async def tax_rates(self, scope: XeroScope) -> list[TaxRate]: ...

    async def accounts(self, scope: XeroScope) -> list[Account]: ...


class InvoiceRecords(Protocol):
    """The connector's record of each invoice: high-water mark, link and intents."""

    async def get_many(
        self, org_id: str, invoice_ids: Sequence[str]
    ) -> dict[str, InvoiceRecord]: ...

    async def intend(
        self, org_id: str, tenant_id: str, intents: Mapping[str, tuple[str, str]]
    ) -> None:
        """Add (number, url) by invoice id to the tenant's intents, before a create."""
        ...

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None:
        """Raise each invoice's high-water mark (never lower it) and store the new links.
        ``new``: invoices that may have neither mark nor link stored (a first create): theirs
        are inserted, and written as any other only if the record exists after all. A link
        not in ``new`` is written only over a stored mark or link."""
        ...

    async def unlink(self, org_id: str, invoice_id: str) -> None: ...

    async def forget_org(self, org_id: str) -> None:
        """Reset: no link of the organisation is trusted any more (intents stay: they are
        what proves a Xero invoice is ours)."""
        ...


class ParkedSyncs(Protocol):
    async def release_parked(self, org_id: str, now: datetime) -> int:
        """Make the organisation's syncs that wait on its connection due now."""
        ...


class TenantData(Protocol):
    """What Reset makes untrusted: state that belongs to the organisation's Xero tenant."""

    async def forget_org(self, org_id: str) -> None: ...


class ContactCache(Protocol):
    """ContactIDs by customer, per organisation and tenant."""

    async def get_many(self, scope: XeroScope, customer_ids: Sequence[str]) -> dict[str, str]: ...

    async def put_many(self, scope: XeroScope, contacts: Mapping[str, str]) -> None: ...

    async def forget(self, scope: XeroScope, customer_id: str) -> None: ...

    async def forget_org(self, org_id: str) -> None: ...


class RetryStore(Protocol):
    async def schedule(self, retries: Sequence[ScheduledRetry]) -> None: ...

    async def drop_older(self, org_id: str, versions: Mapping[str, int]) -> None:
        """Forget the scheduled retries of these invoices for versions below the given ones."""
        ...


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
