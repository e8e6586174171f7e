"""Every page under axe (axe-core in chromium): no serious or critical violation; and the
actions are reachable and usable from the keyboard alone."""

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from local_infra import demo_org
from local_infra.demo import Demo
from tests.e2e.console.conftest import SignIn, screenshot

ORG = demo_org.DEMO_ORG_ID
AXE = Axe()


def _serious(page: Page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_every_page_has_no_serious_accessibility_violation(signed_in: SignIn, demo: Demo) -> None:
    invoice = demo.invoice("axe")
    demo.publish(invoice)
    demo.wait_for(invoice, "synced")
    page = signed_in("admin")
    pages = [
        "/",
        f"/orgs/{ORG}",
        f"/orgs/{ORG}/sync-log",
        f"/orgs/{ORG}/sync-log?status=failed",
        f"/orgs/{ORG}/invoices/{invoice['invoice_id']}",
        f"/orgs/{ORG}/mappings",
        f"/orgs/{ORG}/settings",
        f"/orgs/{ORG}/disconnect",
        f"/orgs/{ORG}/reset",
        f"/orgs/{ORG}/resync?status=synced&invoice_number={invoice['invoice_number']}",
        f"/orgs/{ORG}/batches/no-such-batch",
        "/audit",
        "/orgs/org_unknown",
    ]
    found = {}
    for path in pages:
        page.goto(path)
        if path == "/":
            screenshot(page, "overview")
        if problems := _serious(page):
            found[path] = problems
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    if problems := _serious(page):
        found["/login"] = problems
    assert found == {}


def test_the_actions_are_reachable_by_keyboard(signed_in: SignIn, demo: Demo) -> None:
    invoice = demo.invoice("keys")
    number = invoice["invoice_number"]
    demo.publish(invoice)
    demo.wait_for(invoice, "synced")
    page = signed_in("operator")
    page.goto(f"/orgs/{ORG}/sync-log?invoice_number={number}")

    # The skip link comes first and moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")

    # Tab on to the row's Re-sync button, and press it.
    target = page.get_by_role("button", name=f"Re-sync {number}")
    for _ in range(60):
        page.keyboard.press("Tab")
        if target.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("the row's Re-sync button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").first).to_contain_text(f"Re-sync of {invoice['invoice_id']}")

    # The organisation switcher and the bulk re-sync, by keyboard too.
    page.get_by_role("combobox", name="Organisation").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type(ORG)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}$"))
    page.goto(f"/orgs/{ORG}/sync-log?status=synced&invoice_number={number}")
    page.get_by_role("link", name="Re-sync all matching…").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#preview-count")).to_contain_text("This will re-sync 1 invoice")
    page.get_by_role("button", name="Re-sync 1 invoice").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#report-heading")).to_be_visible()
