"""A Xero sandbox with client credentials of its own, served on a free port for the session
(the connector reaches Xero over HTTP), and the three services started once per module."""

import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import uvicorn

from tests.reliability.security.support import Running, sandbox_settings, services
from tests.support.eventually import eventually_sync
from xero_sandbox.app import create_app


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    runner = uvicorn.Server(
        uvicorn.Config(create_app(sandbox_settings()), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually_sync(lambda: runner.started, what="the sandbox to start", timeout=10, interval=0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    runner.should_exit = True
    thread.join(timeout=5)
    sock.close()


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
