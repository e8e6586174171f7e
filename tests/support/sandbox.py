"""A real Xero sandbox behind uvicorn on a free loopback port, for the whole session.

A conftest imports the ``server`` fixture from here (and re-exports it) to use it.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.serve import serving_in_thread
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
    with serving_in_thread(create_app(ROOMY)) as url:
        yield Server(url)
