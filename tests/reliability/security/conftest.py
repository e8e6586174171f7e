"""A Xero sandbox with client credentials of its own, served on a free port for the session
(the connector reaches Xero over HTTP), and the three services started once per module."""

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio

from tests.reliability.security.support import Running, sandbox_settings, services
from tests.support.serve import serving_in_thread
from xero_sandbox.app import create_app


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with serving_in_thread(create_app(sandbox_settings())) as url:
        yield url


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The session's sandbox, reset: its control API and Xero's endpoints."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        (await http.post("/_sandbox/reset")).raise_for_status()
        yield http


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def apps(
    kafka_bootstrap: str, mongodb_uri: str, sandbox_url: str
) -> AsyncIterator[dict[str, Running]]:
    """invoice-events, xero-connector and sync-log with their real lifespans, in-process,
    once per module (tests using it run in the module's event loop)."""
    unique = f"t_sec_apps_{uuid.uuid4().hex[:8]}"
    async with services(kafka_bootstrap, mongodb_uri, unique, sandbox_url) as running:
        yield running
