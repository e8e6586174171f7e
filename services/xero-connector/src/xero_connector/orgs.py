"""Every organisation the connector knows, for the operator console's list, and how many of
its invoices wait on its connection.

    orgs = OrgDirectory(connections, configured, parked)
    await orgs.list()           # [OrgSummary("org_acme", CONNECTED, "Acme Ltd", ..., waiting=0)]
    await orgs.waiting("org_acme")

An organisation is known when it has a connection record, settings or mappings, or syncs
parked on its connection (it failed ``not_connected`` before anyone connected it). The list is
three reads, whatever the number of organisations: the connections, the configured ids and the
parked counts grouped by organisation.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_schemas import ConnectionStatus
from xero_connector.domain import Connection


class ConnectionListing(Protocol):
    async def all(self) -> list[Connection]:
        """Every organisation's connection record (a small collection: one per org)."""
        ...


class ConfiguredOrgs(Protocol):
    async def org_ids(self) -> list[str]:
        """The organisations that have settings or mappings stored."""
        ...


class WaitingSyncs(Protocol):
    async def parked_count(self, org_id: str) -> int:
        """The organisation's invoices parked until it is connected again."""
        ...

    async def parked_by_org(self) -> dict[str, int]:
        """The same, for every organisation with any (one grouped read)."""
        ...


@dataclass(frozen=True, slots=True)
class OrgSummary:
    org_id: str
    status: ConnectionStatus
    tenant_name: str | None
    connected_at: datetime | None
    waiting: int


def summarise(
    connections: Sequence[Connection], configured: Iterable[str], waiting: Mapping[str, int]
) -> list[OrgSummary]:
    """One row per organisation in any of the three, sorted by org_id. Pure."""
    by_org = {c.org_id: c for c in connections}
    org_ids = sorted(set(by_org) | set(configured) | {o for o, n in waiting.items() if n > 0})
    rows = []
    for org_id in org_ids:
        connection = by_org.get(org_id)
        rows.append(
            OrgSummary(
                org_id=org_id,
                status=connection.status if connection else ConnectionStatus.DISCONNECTED,
                tenant_name=connection.tenant_name if connection else None,
                connected_at=connection.connected_at if connection else None,
                waiting=waiting.get(org_id, 0),
            )
        )
    return rows


class OrgDirectory:
    def __init__(
        self, connections: ConnectionListing, configured: ConfiguredOrgs, parked: WaitingSyncs
    ) -> None:
        self._connections = connections
        self._configured = configured
        self._parked = parked

    async def list(self) -> list[OrgSummary]:
        return summarise(
            await self._connections.all(),
            await self._configured.org_ids(),
            await self._parked.parked_by_org(),
        )

    async def waiting(self, org_id: str) -> int:
        return await self._parked.parked_count(org_id)
