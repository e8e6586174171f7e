"""Connect with a return_to: the state carries it, and the callback's outcome, good or bad,
is handed back for the route to report there instead of raised."""

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.xero_connector.fakes import FakeClock, FakeConnections, FakeEvents, FakeIdentity
from xero_connector.domain import LastSeen, Mappings, OrgSettings, PendingAuthorization, Used
from xero_connector.errors import AuthorizationFailed, InvalidState
from xero_connector.service import ConnectionService, OAuthClient
from xero_connector.xero_errors import OAuthError
from xero_connector.xero_models import TokenGrant

CONSOLE_URL = "http://127.0.0.1:8005/orgs/org_a/xero"


class FakeAuthorizations:
    def __init__(self) -> None:
        self.pending: dict[str, PendingAuthorization] = {}

    async def put(self, pending: PendingAuthorization) -> None:
        self.pending[pending.state] = pending

    async def take(self, state: str, now: datetime) -> PendingAuthorization | None:
        return self.pending.pop(state, None)


class FakeConfig:
    async def get_settings(self, org_id: str) -> OrgSettings | None:
        return None

    async def put_settings(self, org_id: str, settings: OrgSettings) -> None: ...

    async def get_mappings(self, org_id: str) -> Mappings | None:
        return None

    async def get_settings_and_mappings(
        self, org_id: str
    ) -> tuple[OrgSettings | None, Mappings | None]:
        return None, None

    async def put_mappings(self, org_id: str, mappings: Mappings) -> None: ...

    async def record_used(self, org_id: str, used: Used, at: datetime) -> None: ...

    async def seen_since(self, org_id: str, since: datetime) -> LastSeen:
        return LastSeen()

    async def clear(self, org_id: str) -> None: ...


class RefusingIdentity(FakeIdentity):
    async def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> TokenGrant:
        raise OAuthError("invalid_grant", "code expired")


def service(
    identity: FakeIdentity | None = None,
) -> tuple[ConnectionService, FakeAuthorizations, FakeConnections]:
    authorizations, connections = FakeAuthorizations(), FakeConnections()
    connection_service = ConnectionService(
        connections=connections,
        authorizations=authorizations,
        identity=identity or FakeIdentity(),
        events=FakeEvents(),
        config=FakeConfig(),
        client=OAuthClient("app", "https://login.example", "https://cb.example/cb", (), 600),
        clock=FakeClock(),
    )
    return connection_service, authorizations, connections


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


async def test_the_return_to_travels_with_the_state_and_comes_back_with_the_connection() -> None:
    connections, authorizations, stored = service()
    state = state_of(await connections.start("org_a", CONSOLE_URL))
    assert authorizations.pending[state].return_to == CONSOLE_URL

    done = await connections.complete(code="c", state=state)
    assert done.return_to == CONSOLE_URL and done.org_id == "org_a"
    assert done.failure is None and done.connection is not None
    assert stored.docs["org_a"].tenant_name == "Acme Ltd"


async def test_a_failure_is_handed_back_when_there_is_somewhere_to_report_it() -> None:
    connections, _, stored = service(RefusingIdentity())
    state = state_of(await connections.start("org_a", CONSOLE_URL))
    done = await connections.complete(code="c", state=state)
    assert done.return_to == CONSOLE_URL and done.connection is None
    assert isinstance(done.failure, AuthorizationFailed)
    assert "org_a" not in stored.docs

    refused = state_of(await connections.start("org_a", CONSOLE_URL))
    denied = await connections.complete(code=None, state=refused, error="access_denied")
    assert isinstance(denied.failure, AuthorizationFailed)


async def test_without_a_return_to_a_failure_raises_as_before() -> None:
    connections, _, _ = service(RefusingIdentity())
    state = state_of(await connections.start("org_a"))
    with pytest.raises(AuthorizationFailed):
        await connections.complete(code="c", state=state)


async def test_an_unknown_state_raises_whatever_was_started() -> None:
    connections, _, _ = service()
    await connections.start("org_a", CONSOLE_URL)
    with pytest.raises(InvalidState):
        await connections.complete(code="c", state="forged")
