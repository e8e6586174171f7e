"""The organisation list: every organisation known from any of three sources, one row each."""

from datetime import UTC, datetime

from sync_schemas import ConnectionStatus
from xero_connector.domain import Connection
from xero_connector.orgs import OrgDirectory, OrgSummary, summarise

AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def connection(org_id: str, status: ConnectionStatus, name: str | None = "Acme") -> Connection:
    return Connection(
        org_id=org_id,
        status=status,
        generation=1,
        written_at=AT,
        reason="x",
        tenant_id="t1",
        tenant_name=name,
        connected_at=AT,
    )


def test_each_source_makes_an_org_known_once_and_sorted() -> None:
    rows = summarise(
        [
            connection("org_b", ConnectionStatus.CONNECTED),
            connection("org_d", ConnectionStatus.EXPIRED),
        ],
        ["org_c", "org_b"],
        {"org_a": 3, "org_d": 2},
    )
    assert rows == [
        OrgSummary("org_a", ConnectionStatus.DISCONNECTED, None, None, 3),
        OrgSummary("org_b", ConnectionStatus.CONNECTED, "Acme", AT, 0),
        OrgSummary("org_c", ConnectionStatus.DISCONNECTED, None, None, 0),
        OrgSummary("org_d", ConnectionStatus.EXPIRED, "Acme", AT, 2),
    ]


def test_a_zero_count_alone_does_not_make_an_org_known() -> None:
    assert summarise([], [], {"org_gone": 0}) == []


class FakeConnections:
    def __init__(self, *connections: Connection) -> None:
        self.connections = list(connections)

    async def all(self) -> list[Connection]:
        return self.connections


class FakeConfigured:
    def __init__(self, *org_ids: str) -> None:
        self.ids = list(org_ids)

    async def org_ids(self) -> list[str]:
        return self.ids


class FakeParked:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    async def parked_count(self, org_id: str) -> int:
        return self.counts.get(org_id, 0)

    async def parked_by_org(self) -> dict[str, int]:
        return dict(self.counts)


async def test_the_directory_lists_from_the_three_stores_and_counts_waiting() -> None:
    directory = OrgDirectory(
        FakeConnections(connection("org_x", ConnectionStatus.DISCONNECTED, None)),
        FakeConfigured("org_y"),
        FakeParked({"org_x": 4}),
    )
    listed = await directory.list()
    assert [(r.org_id, r.status, r.waiting) for r in listed] == [
        ("org_x", ConnectionStatus.DISCONNECTED, 4),
        ("org_y", ConnectionStatus.DISCONNECTED, 0),
    ]
    assert await directory.waiting("org_x") == 4
    assert await directory.waiting("org_y") == 0
