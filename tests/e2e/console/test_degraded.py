"""A service that is down: the console names it and the rest of each page still works. A
second console of the running stack, whose sync-log address answers nothing."""

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from local_infra import free_port
from local_infra.stack import Stack

ORG = "org_demo"


@pytest.fixture
def console_without_sync_log(e2e_stack: Stack) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = e2e_stack._console_env() | {
        "CONSOLE_PORT": str(port),
        "CONSOLE_PUBLIC_URL": url,
        "CONSOLE_SYNC_LOG_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "console.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the second console exited"
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_service_down_is_named_and_the_rest_of_the_page_works(
    browser: Browser, e2e_stack: Stack, console_without_sync_log: str
) -> None:
    ready = httpx.get(f"{console_without_sync_log}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["checks"]["sync-log"] is False

    context = browser.new_context(base_url=console_without_sync_log)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("User name").fill("viewer")
        page.get_by_label("Password").fill(e2e_stack.console_password)
        page.get_by_role("button", name="Sign in").click()

        # The overview: the organisations (the connector) are there, the counts say why not.
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("sync-log is not reachable")
        expect(page.get_by_role("link", name=ORG)).to_be_visible()

        page.goto(f"/orgs/{ORG}")
        expect(page.locator("#connection-status")).to_contain_text("connected")
        expect(page.get_by_role("alert")).to_contain_text("sync-log is not reachable")

        page.goto(f"/orgs/{ORG}/sync-log")
        expect(page.get_by_role("alert").first).to_contain_text("sync-log is not reachable")
        expect(page.get_by_role("combobox", name="Organisation")).to_be_visible()
        page.goto(f"/orgs/{ORG}/settings")  # another service's screen works as ever
        expect(page.get_by_label("Sync mode")).to_be_visible()
    finally:
        context.close()
