"""xero-connector running in-process (its real lifespan) against the session's Kafka and
MongoDB and the Xero sandbox served on a free port; topics and a database of the test's own."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.xero_connector.support import ConnectorFactory, Sandbox, connector_factory
from tests.support.sandbox import Server, server

__all__ = ["server"]


@pytest.fixture
async def sandbox(server: Server) -> AsyncIterator[Sandbox]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        (await http.post("/_sandbox/reset")).raise_for_status()
        yield Sandbox(http)


@pytest.fixture
def connector(
    kafka_bootstrap: str, mongodb_uri: str, unique: str, server: Server
) -> ConnectorFactory:
    """``async with connector(**settings_overrides) as c:`` starts one instance; several
    instances share the test's database and topics."""
    return connector_factory(kafka_bootstrap, mongodb_uri, unique, server.base_url)
