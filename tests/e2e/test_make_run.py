"""``make run``'s launcher, started the way ``make run`` starts it (``running_stack``), on free
ports, its own topics and databases, over the session's Kafka and MongoDB: everything healthy,
the demo organisation connected through OAuth and mapped, and nothing left running after."""

import os
import signal
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from local_infra import free_port
from local_infra.demo_org import DEMO_MAPPINGS, DEMO_ORG_ID, UNMAPPED_TAX_CODE
from local_infra.launcher import banner
from local_infra.servers import pid_alive
from local_infra.stack import Stack, StackError, running_stack
from local_infra.stack_settings import StackSettings
from tests.support.stack import KEY, stack_settings


def get(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10, **kwargs)


def test_the_stack_starts_ready_connected_and_mapped_and_stops_clean(
    kafka_bootstrap: str, mongodb_uri: str, unique: str, tmp_path: Path
) -> None:
    settings = stack_settings(kafka_bootstrap, mongodb_uri, unique, tmp_path)
    lines: list[tuple[str, str]] = []
    with running_stack(settings, lambda name, line: lines.append((name, line))) as stack:
        pids = [p.pid for p in stack.processes]
        assert sorted(p.name for p in stack.processes) == [
            "console",
            "invoice-events",
            "sync-log",
            "xero-connector",
            "xero-sandbox",
        ]
        assert stack.infra_started == []  # external Kafka and MongoDB are not ours to stop

        for name, url in stack.urls.items():
            assert httpx.get(f"{url}/healthz").status_code == 200, name
            if name != "xero-sandbox":
                ready = httpx.get(f"{url}/readyz", timeout=10)
                assert ready.status_code == 200, (name, ready.text)

        # Every API key is the dev key: refused without it, accepted with it.
        guarded = [
            f"{settings.invoice_events_url}/v1/invoices/{DEMO_ORG_ID}/nope",
            f"{settings.xero_connector_url}/v1/orgs/{DEMO_ORG_ID}/connection",
            f"{settings.sync_log_url}/v1/stats",
        ]
        for url in guarded:
            assert httpx.get(url).status_code == 401, url
            assert get(url).status_code in (200, 404), url

        connector = settings.xero_connector_url
        connection = get(f"{connector}/v1/orgs/{DEMO_ORG_ID}/connection").json()
        assert connection["status"] == "connected"
        assert connection["tenant_id"] == stack.tenant_id
        assert connection["tenant_name"] == "Demo Company (NZ)"

        mappings = get(f"{connector}/v1/orgs/{DEMO_ORG_ID}/mappings").json()
        assert mappings["tax_rates"] == DEMO_MAPPINGS["tax_rates"]
        assert mappings["accounts"] == DEMO_MAPPINGS["accounts"]
        assert UNMAPPED_TAX_CODE not in mappings["tax_rates"]
        settings_out = get(f"{connector}/v1/orgs/{DEMO_ORG_ID}/settings").json()
        assert settings_out["auto_create_contacts"] is False
        assert stack.mapping_check["ok"] is True

        # The OAuth flow really went through the sandbox: authorize, then the code exchange.
        calls = httpx.get(f"{settings.sandbox_url}/_sandbox/requests").json()["requests"]
        paths = {call["path"].lower() for call in calls}
        assert {"/identity/connect/authorize", "/connect/token"} <= paths

        text = banner(stack, 1.0)
        assert (
            f"{settings.console_url}   sign in as [bold]admin[/] / [bold]{stack.console_password}"
            in text
        )
        # The console is up, signed in to with the printed dev user.
        with httpx.Client(base_url=settings.console_url, follow_redirects=True) as browser:
            login = browser.get("/login")
            assert login.status_code == 200
            token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = browser.post(
                "/login",
                data={"name": "admin", "password": stack.console_password, "csrf_token": token},
            )
            assert signed_in.status_code == 200 and DEMO_ORG_ID in signed_in.text
        for url in stack.urls.values():
            assert url in text

        # A process that dies is noticed (make run then reports it and stops everything).
        assert stack.dead() is None
        sandbox = next(p for p in stack.processes if p.name == "xero-sandbox")
        assert sandbox.pid is not None
        os.kill(sandbox.pid, signal.SIGKILL)
        assert sandbox.proc is not None
        sandbox.proc.wait(timeout=10)
        dead = stack.dead()
        assert dead is not None and dead.name == "xero-sandbox"

    assert all(pid is not None and not pid_alive(pid) for pid in pids)
    names = {name for name, _ in lines}
    assert {
        "invoice-events",
        "xero-connector",
        "sync-log",
        "console",
    } <= names  # logs were streamed


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = StackSettings(
            sync_log_port=port,
            invoice_events_port=free_port(),
            xero_connector_port=free_port(),
            xero_sandbox_port=free_port(),
            run_dir=tmp_path,
        )
        stack = Stack(settings, lambda name, line: None)
        with pytest.raises(StackError, match=rf"port {port} for sync-log .*SYNC_LOG_PORT="):
            stack.start()
