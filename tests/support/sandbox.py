"""A real Xero sandbox behind uvicorn on a free loopback port, for the whole session.

A conftest imports the ``server`` fixture from here (and re-exports it) to use it.
"""

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from tests.support.eventually import eventually_sync
from xero_sandbox.app import create_app
from xero_sandbox.config import Settings

# Generous limits so ordinary tests never meet them; limit tests lower them explicitly.
ROOMY = Settings(
    port=0, per_minute=100_000, per_day=1_000_000, concurrent=50, app_per_minute=1_000_000
)


@dataclass(frozen=True)
class Server:
    base_url: str


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    app = create_app(ROOMY)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    eventually_sync(lambda: runner.started, what="the sandbox to start", timeout=10, interval=0.01)
    yield Server(f"http://127.0.0.1:{port}")
    runner.should_exit = True
    thread.join(timeout=5)
    sock.close()
