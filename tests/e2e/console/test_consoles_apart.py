"""Consoles of the running stack started apart with settings of their own: one whose sync-log
address answers nothing (the console names it; the rest of each page still works), one whose
session secret the test knows (an expired session is refused however it is signed)."""

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest
from itsdangerous import TimestampSigner
from playwright.sync_api import Browser, expect

from local_infra import free_port
from local_infra.stack import Stack

if TYPE_CHECKING:  # Playwright's cookie dicts are typed only in its private module
    from playwright._impl._api_structures import Cookie, SetCookieParam

ORG = "org_demo"


SECRET = "a-session-secret-this-test-knows"


@contextmanager
def second_console(e2e_stack: Stack, **env: str) -> Iterator[str]:
    """Another console process over the same stack, with ``env`` on top of make run's."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    overrides = {"CONSOLE_PORT": str(port), "CONSOLE_PUBLIC_URL": url, **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "console.main"],
        env=e2e_stack._console_env() | overrides,
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


@pytest.fixture
def console_without_sync_log(e2e_stack: Stack) -> Iterator[str]:
    with second_console(e2e_stack, CONSOLE_SYNC_LOG_URL=f"http://127.0.0.1:{free_port()}") as url:
        yield url


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


def session_cookie(session: dict[str, object]) -> str:
    """A session cookie as the console signs it (Starlette's: itsdangerous over base64 JSON)."""
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(SECRET).sign(data).decode()


def test_a_session_expires_after_its_max_age(browser: Browser, e2e_stack: Stack) -> None:
    max_age = 3600
    with second_console(
        e2e_stack, CONSOLE_SESSION_SECRET=SECRET, CONSOLE_SESSION_MAX_AGE_SECONDS=str(max_age)
    ) as url:
        context = browser.new_context(base_url=url)
        try:
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("User name").fill("viewer")
            page.get_by_label("Password").fill(e2e_stack.console_password)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Organisations")).to_be_visible()
            (cookie,) = [c for c in context.cookies() if c["name"] == "console_session"]
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
            assert 0 < cookie["expires"] - time.time() <= max_age

            # Signed in longer ago than the max age: refused, back to the sign-in page.
            stale = session_cookie(
                {"user": "viewer", "signed_in_at": int(time.time()) - max_age - 5, "csrf": "x"}
            )
            context.add_cookies([with_value(cookie, stale)])
            page.goto(f"/orgs/{ORG}")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            # The same session signed in just now is good: only the age was wrong.
            fresh = session_cookie(
                {"user": "viewer", "signed_in_at": int(time.time()), "csrf": "x"}
            )
            context.add_cookies([with_value(cookie, fresh)])
            page.goto(f"/orgs/{ORG}")
            expect(page.locator("#connection-status")).to_be_visible()
        finally:
            context.close()


def with_value(cookie: "Cookie", value: str) -> "SetCookieParam":
    """The same cookie (domain, path, flags) with another value."""
    return {
        "name": cookie["name"],
        "value": value,
        "domain": cookie["domain"],
        "path": cookie["path"],
        "httpOnly": cookie["httpOnly"],
        "secure": cookie["secure"],
        "sameSite": cookie["sameSite"],
    }
