"""No token, code, state, verifier, API key or token key in any log line, over a whole
lifecycle logged at DEBUG (ours, httpx's, uvicorn's, FastStream's)."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog

from service_kit.logging import configure_logging
from tests.integration.xero_connector.support import (
    API_KEY,
    TOKEN_KEY,
    ConnectorFactory,
    Sandbox,
)

ORG = "org_logs"
# The test plays the browser and the operator with httpx clients of its own; their log lines
# (a redirect URL holds a code and a state) are the browser's, not the connector's.
BROWSER: ContextVar[bool] = ContextVar("browser", default=False)


class ConnectorLinesOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if BROWSER.get():
            return False
        # The test's client to the in-process connector (uvicorn's access log in production,
        # which service-kit's serve() turns off).
        return not (record.name == "httpx" and "http://xero-connector/" in record.getMessage())


@contextmanager
def as_browser() -> Iterator[None]:
    token = BROWSER.set(True)
    try:
        yield
    finally:
        BROWSER.reset(token)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("DEBUG", json_logs=True)
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    handler.addFilter(ConnectorLinesOnly())
    try:
        yield buffer
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        structlog.reset_defaults()


async def test_no_secret_reaches_a_log_line(
    connector: ConnectorFactory, sandbox: Sandbox, captured_logs: io.StringIO
) -> None:
    tenant = await sandbox.create_org(name="Quiet Ltd")
    secrets: list[str] = [API_KEY, TOKEN_KEY]
    async with connector() as c:
        started = await c.http.post(f"/v1/orgs/{ORG}/connection")
        with as_browser():
            callback = await sandbox.consent(started.json()["authorize_url"], tenant)
        query = parse_qs(urlsplit(callback).query)
        secrets += [query["code"][0], query["state"][0]]
        assert (await c.http.get(callback)).status_code == 200
        first = await c.stores.connections.get(ORG)
        assert first is not None and first.tokens is not None
        secrets += [first.tokens.access_token, first.tokens.refresh_token]

        await c.xero.organisation(ORG)
        with as_browser():
            await sandbox.faults(expire_access_tokens=True)
        await c.xero.organisation(ORG)  # a refresh
        second = await c.stores.connections.get(ORG)
        assert second is not None and second.tokens is not None
        secrets += [second.tokens.access_token, second.tokens.refresh_token]
        await c.http.post(f"/v1/orgs/{ORG}/mappings/check")
        await c.http.get(callback)  # a replay, refused (and logged)
        await c.http.delete(f"/v1/orgs/{ORG}/connection")

    text = captured_logs.getvalue()
    lines = text.splitlines()
    # The capture works: our events and httpx's requests are in it.
    assert any('"xero.token.refreshed"' in line for line in lines)
    assert any('"xero.connected"' in line for line in lines)
    assert any("HTTP Request" in line for line in lines)
    for secret in secrets:
        assert len(secret) >= 16
        leaking = [line for line in lines if secret in line]
        assert not leaking, leaking[:1]
