"""The console over hand-written fakes of the three services (httpx.MockTransport) and an
in-memory audit log: what a browser would get, without a server."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from console.audit import AuditEntry, AuditPage
from console.config import Role, Settings, User
from console.main import create_app
from console.passwords import hash_password

PASSWORD = "correct horse battery staple"
KEYS = {
    "invoice-events": "ie-secret-key-1",
    "xero-connector": "xc-secret-key-2",
    "sync-log": "sl-secret-key-3",
}
SESSION_SECRET = "session-secret-never-shown"
HASH = hash_password(PASSWORD)

Handler = Callable[[httpx.Request], httpx.Response]


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def ensure_indexes(self) -> None:
        return None

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    async def page(
        self, org_id: str | None = None, before: str | None = None, limit: int = 50
    ) -> AuditPage:
        items = [e for e in reversed(self.entries) if org_id in (None, e.org_id)]
        return AuditPage(items=items[:limit], next_before=None)


@dataclass
class FakeService:
    """Answers by (method, path); records every request it got."""

    name: str
    routes: dict[tuple[str, str], Any] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    down: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.down:
            raise httpx.ConnectError("refused", request=request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def calls(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def body(self, request: httpx.Request) -> Any:
        return json.loads(request.content)


@dataclass
class Console:
    client: TestClient
    services: dict[str, FakeService]
    audit: FakeAudit
    settings: Settings

    def sign_in(self, name: str) -> None:
        page = self.client.get("/login")
        response = self.client.post(
            "/login",
            data={"name": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text

    def csrf(self, path: str = "/") -> str:
        return csrf_of(self.client.get(path).text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def default_services() -> dict[str, FakeService]:
    connector = FakeService("xero-connector")
    connector.routes.update(
        {
            ("GET", "/v1/orgs"): {
                "items": [
                    {
                        "org_id": "org_demo",
                        "status": "connected",
                        "tenant_name": "Demo Ltd",
                        "connected_at": "2026-11-20T09:00:00Z",
                        "waiting": 0,
                    }
                ]
            },
            ("GET", "/v1/orgs/org_demo/connection"): {
                "status": "connected",
                "tenant_name": "Demo Ltd",
                "connected_at": "2026-11-20T09:00:00Z",
                "waiting": 0,
            },
            ("GET", "/v1/orgs/org_demo/settings"): {
                "sync_mode": "automatic",
                "auto_create_contacts": False,
                "invoice_status": "AUTHORISED",
                "default_account_code": None,
            },
            ("GET", "/v1/orgs/org_demo/mappings"): {
                "accounts": {"consulting": "200"},
                "tax_rates": {},
                "currencies": {},
            },
        }
    )
    sync_log = FakeService("sync-log")
    sync_log.routes.update(
        {
            ("GET", "/v1/stats/orgs"): {
                "items": [{"org_id": "org_demo", "by_status": {"synced": 3, "failed": 1}}]
            },
            ("GET", "/v1/stats"): {
                "by_status": {"synced": 3, "failed": 1},
                "by_error_code": {"contact_missing": 1},
            },
            ("GET", "/v1/invoices"): {
                "items": [
                    {
                        "org_id": "org_demo",
                        "invoice_id": "inv_1",
                        "invoice_number": "INV-1",
                        "version": 1,
                        "status": "failed",
                        "xero_invoice_id": None,
                        "last_error": {
                            "error_code": "contact_missing",
                            "message": "no contact",
                            "remediation": "turn on auto-create",
                        },
                        "updated_at": "2026-11-20T09:00:00Z",
                    }
                ],
                "next_cursor": None,
            },
        }
    )
    invoices = FakeService("invoice-events")
    invoices.routes.update(
        {
            ("POST", "/v1/invoices/org_demo/inv_1/sync"): httpx.Response(202, json={}),
            ("POST", "/v1/resync"): {"count": 4, "sample": ["inv_1"]},
        }
    )
    return {s.name: s for s in (connector, sync_log, invoices)}


def make_console(**overrides: Any) -> Console:
    services = default_services()
    users = [
        User(name=role.name, role=role, password_hash=SecretStr(HASH))
        for role in (Role.viewer, Role.operator, Role.admin)
    ]
    settings = Settings(
        users=users,
        session_secret=SecretStr(SESSION_SECRET),
        invoice_events_api_key=SecretStr(KEYS["invoice-events"]),
        xero_connector_api_key=SecretStr(KEYS["xero-connector"]),
        sync_log_api_key=SecretStr(KEYS["sync-log"]),
        mongodb_uri=SecretStr("mongodb://127.0.0.1:1"),
        **overrides,
    )
    audit = FakeAudit()
    transports: dict[str, httpx.AsyncBaseTransport] = {
        name: httpx.MockTransport(s.handle) for name, s in services.items()
    }
    app = create_app(settings, transports, audit)
    return Console(TestClient(app), services, audit, settings)


@pytest.fixture
def console() -> Iterator[Console]:
    made = make_console()
    with made.client:
        yield made
