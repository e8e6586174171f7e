"""The console in Debian's chromium (Playwright), against the stack as ``make run`` starts it:
real services over real Kafka and MongoDB, Xero played by the sandbox.

    def test_x(signed_in: SignIn) -> None:
        page = signed_in("operator")          # a fresh browser context, signed in
        page.goto("/orgs/org_demo/sync-log")  # paths are relative to the console
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local_infra.demo import Demo
from local_infra.stack import Stack
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

# Set to write docs/console/*.png from the tests (the README shows them).
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS") == "1"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "console"
# Waiting on the pipeline (Kafka, the connector, the sync log), not a speed requirement.
SETTLE_MS = 60_000

SignIn = Callable[..., Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make browser` installs it (apt-get install chromium)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def signed_in(browser: Browser, e2e_stack: Stack) -> Iterator[SignIn]:
    """Sign a role's dev user in, in a context of its own, through the sign-in form."""
    contexts = []

    def sign_in(role: str, tenant_for_consent: str | None = None) -> Page:
        context = browser.new_context(
            base_url=e2e_stack.settings.console_url, viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        consent_for(page, tenant_for_consent or e2e_stack.tenant_id)
        page.goto("/login")
        page.get_by_label("User name").fill(role)
        page.get_by_label("Password").fill(e2e_stack.console_password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Organisations")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def consent_for(page: Page, tenant_id: str) -> None:
    """On Xero's consent page a user picks the organisation; the sandbox takes it from
    ``sandbox_tenant_id`` (other tests of the session create tenants of their own)."""

    def pick(route: Any) -> None:
        url = httpx.URL(route.request.url)
        route.continue_(url=str(url.copy_merge_params({"sandbox_tenant_id": tenant_id})))

    page.route("**/identity/connect/authorize*", pick)


def reload_until(page: Page, check: Callable[[], bool], what: str) -> None:
    """Reload the page until ``check()`` holds: the worklist is a snapshot, not live."""
    for _ in range(SETTLE_MS // 500):
        if check():
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"the page never showed {what}")


def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        DOCS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS / f"{name}.png"), full_page=True)


def xero_invoices(demo: Demo, invoice_number: str) -> list[dict[str, Any]]:
    """What the sandbox (Xero) holds under that number, voided ones left out."""
    url = f"{demo.sandbox_url}/_sandbox/orgs/{demo.tenant()}/invoices"
    held = httpx.get(url, timeout=15).json()["Invoices"]
    return [
        item
        for item in held
        if str(item.get("InvoiceNumber", "")).lower() == invoice_number.lower()
        and item.get("Status") not in ("DELETED", "VOIDED")
    ]
