"""The seed's procedures, each done through the console only and checked twice: what the page
shows, and what Xero (the sandbox) holds. Invoices arrive from the invoicing system (its
API); everything an operator does is a click."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from local_infra import demo_org
from local_infra.demo import Demo
from tests.e2e.console.conftest import SETTLE_MS, SignIn, reload_until, screenshot, xero_invoices

ORG = demo_org.DEMO_ORG_ID


@pytest.fixture
def restored(demo: Demo) -> Iterator[Demo]:
    """Leave the demo organisation as `make run` set it up, also when a test fails."""
    with demo.restoring():
        yield demo
    demo.call("PUT", demo.connector("/mappings"), json=demo_org.DEMO_MAPPINGS)


def _row(page: Page, invoice_number: str):  # type: ignore[no-untyped-def]
    return page.locator("#invoices tbody tr", has_text=invoice_number)


def _status_shown(page: Page, invoice_number: str, status: str) -> bool:
    row = _row(page, invoice_number)
    return row.count() == 1 and status in row.locator("td").first.inner_text()


def test_missing_contact_fixed_by_auto_create_and_a_resync_from_the_row(
    signed_in: SignIn, restored: Demo
) -> None:
    demo = restored
    customer = {"id": f"cus_{demo.run}", "name": f"Tui Brewing {demo.run}"}
    invoice = demo.invoice("contact", customer=customer)
    number = invoice["invoice_number"]
    demo.publish(invoice)
    demo.wait_for(invoice, "failed", "contact_missing")

    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}/sync-log?status=failed&error_code=contact_missing")
    expect(_row(page, number)).to_contain_text("contact_missing")
    health = page.locator("section.health")
    expect(health).to_contain_text("Turn on auto-create contacts")
    screenshot(page, "sync-log")
    health.get_by_role("link", name="Open settings").click()

    page.get_by_label("Create missing contacts in Xero automatically").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_contain_text("Settings saved.")
    expect(page.locator("#fix-heading")).to_contain_text("failed on causes this fixes")

    page.goto(f"/orgs/{ORG}/sync-log?invoice_number={number}")
    page.get_by_role("button", name=f"Re-sync {number}").click()
    expect(page.get_by_role("status").first).to_contain_text("Re-sync of")
    reload_until(page, lambda: _status_shown(page, number, "synced"), f"{number} synced")

    held = xero_invoices(demo, number)
    assert len(held) == 1
    assert held[0]["Contact"]["Name"] == customer["name"]


def test_unmapped_tax_rate_fixed_on_the_mapping_screen_and_resynced_from_its_prompt(
    signed_in: SignIn, restored: Demo
) -> None:
    demo = restored
    code = demo_org.UNMAPPED_TAX_CODE
    invoice = demo.invoice("exempt", tax_code=code)
    number = invoice["invoice_number"]
    demo.set_tax_mapping(code, None)
    demo.publish(invoice)
    demo.wait_for(invoice, "failed", "tax_rate_unmapped")

    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}/mappings")
    expect(page.locator(".banner").first).to_contain_text(
        re.compile(r"\d+ tax codes? ha(s|ve) no mapping")
    )
    tax = page.locator("section.mapping", has_text="Tax codes")
    expect(tax.locator("tr.unmapped", has_text=code)).to_contain_text("no mapping")
    # Unmapped first: no unmapped row after a mapped one.
    kinds = [
        c or "" for c in tax.locator("tbody tr").evaluate_all("rs => rs.map(r => r.className)")
    ]
    assert kinds == sorted(kinds, key=lambda c: c != "unmapped") and kinds[-1] != "unmapped"
    screenshot(page, "mapping")
    # A choice Xero does not have is refused with the problem, nothing saved.
    tax.get_by_label(code).select_option("OUTPUT2")
    page.get_by_role("button", name="Check with Xero and save").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Mapping checked against Xero and saved"
    )
    prompt = page.locator(".prompt")
    expect(prompt).to_contain_text("failed on causes this fixes: re-sync them?")
    prompt.get_by_role("button", name=re.compile(r"Re-sync \d+ invoices?")).click()

    expect(page.get_by_role("heading", name="Batch report")).to_be_visible()
    # The report updates by itself (htmx) until nothing is pending.
    expect(page.locator("#report-heading")).to_have_text("Done", timeout=SETTLE_MS)
    assert int(page.locator("#batch-synced").inner_text()) >= 1
    screenshot(page, "batch-report")
    assert len(xero_invoices(demo, number)) == 1
    assert demo.mappings()["tax_rates"][code] == "OUTPUT2"


def test_a_mapping_xero_would_refuse_is_not_saved(signed_in: SignIn, restored: Demo) -> None:
    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}/mappings")
    accounts = page.locator("section.mapping", has_text="Revenue categories")
    select = accounts.locator("select").first
    # An option Xero's list does not have: an operator typing it in, or a stale page.
    select.evaluate(
        "s => { const o = new Option('999 (gone)', '999'); s.add(o); s.value = '999'; }"
    )
    page.get_by_role("button", name="Check with Xero and save").click()
    problems = page.locator("#mapping-problems")
    expect(problems).to_contain_text("Not saved")
    expect(problems).to_contain_text("999")
    assert "999" not in demo_mapping_accounts(restored)


def demo_mapping_accounts(demo: Demo) -> list[str]:
    return list(demo.mappings()["accounts"].values())


def test_an_eur_invoice_mapped_to_an_enabled_currency_and_resynced(
    signed_in: SignIn, restored: Demo
) -> None:
    demo = restored
    invoice = demo.invoice("eur", currency="EUR")
    number = invoice["invoice_number"]
    demo.publish(invoice)
    demo.wait_for(invoice, "failed", "currency_not_enabled")

    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}/mappings")
    currencies = page.locator("section.mapping", has_text="Currencies")
    expect(currencies.locator("tr.unmapped")).to_contain_text("EUR")
    currencies.get_by_label("EUR").select_option("AUD")
    page.get_by_role("button", name="Check with Xero and save").click()
    prompt = page.locator(".prompt")
    expect(prompt).to_contain_text("currency_not_enabled")
    prompt.get_by_role("button", name=re.compile(r"Re-sync \d+ invoices?")).click()
    expect(page.locator("#report-heading")).to_have_text("Done", timeout=SETTLE_MS)

    page.goto(f"/orgs/{ORG}/sync-log?invoice_number={number}")
    reload_until(page, lambda: _status_shown(page, number, "synced"), f"{number} synced")
    held = xero_invoices(demo, number)
    assert [h["CurrencyCode"] for h in held] == ["AUD"]


def test_expired_connection_fixed_by_reconnect_and_the_waiting_invoices_resync(
    signed_in: SignIn, restored: Demo
) -> None:
    demo = restored
    faults = {
        "expire_access_tokens": True,
        "revoke_refresh_tokens": True,
        "tenant_id": demo.tenant(),
    }
    httpx.put(f"{demo.sandbox_url}/_sandbox/faults", json=faults, timeout=15).raise_for_status()
    invoice = demo.invoice("expired")
    number = invoice["invoice_number"]
    demo.publish(invoice)
    demo.wait_for(invoice, "failed", "connection_expired")

    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}")
    reload_until(
        page,
        lambda: "Needs attention" in page.locator("#connection-status").inner_text(),
        "the connection as needing attention",
    )
    expect(page.locator("#waiting")).not_to_have_text("0 invoices")
    screenshot(page, "connection-expired")
    page.get_by_role("button", name="Reconnect").click()

    # Xero's consent (the sandbox) sent the browser back to the card.
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}\?done=connected"))
    expect(page.get_by_role("status").first).to_contain_text("Connected to Xero")
    expect(page.locator("#connection-status")).to_contain_text("connected")
    # The waiting invoices re-sync by themselves; the card follows them (htmx polling).
    expect(page.locator("#waiting")).to_have_text("0 invoices", timeout=SETTLE_MS)
    expect(page.locator("#resync-progress")).not_to_contain_text("Re-syncing", timeout=SETTLE_MS)
    demo.wait_for(invoice, "synced")
    assert len(xero_invoices(demo, number)) == 1


def test_a_manual_resync_of_a_synced_invoice_makes_no_duplicate(
    signed_in: SignIn, demo: Demo
) -> None:
    invoice = demo.invoice("twice")
    number = invoice["invoice_number"]
    demo.publish(invoice)
    demo.wait_for(invoice, "synced")

    page = signed_in("operator")
    page.goto(f"/orgs/{ORG}/invoices/{invoice['invoice_id']}")
    expect(page.locator("#invoice-status")).to_contain_text("synced")
    expect(page.get_by_role("table")).to_contain_text("OUTPUT2")  # what was sent, mapped
    screenshot(page, "invoice")
    page.get_by_role("button", name="Re-sync this invoice").click()
    expect(page.get_by_role("status").first).to_contain_text("Re-sync requested")
    reload_until(
        page,
        lambda: page.locator(".timeline li", has_text="synced").count() >= 2,
        "a second synced outcome in the timeline",
    )
    assert len(xero_invoices(demo, number)) == 1


def test_a_bulk_resync_previews_its_count_and_reports_the_batch(
    signed_in: SignIn, restored: Demo
) -> None:
    demo = restored
    code = f"BULK{demo.run[-6:].upper()}"
    invoices = [demo.invoice(f"bulk{i}", tax_code=code) for i in range(3)]
    for invoice in invoices:
        demo.publish(invoice)
    for invoice in invoices:
        demo.wait_for(invoice, "failed", "tax_rate_unmapped")
    demo.set_tax_mapping(code, "OUTPUT2")  # the cause fixed (the mapping screen's own test)

    page = signed_in("operator")
    page.goto(f"/orgs/{ORG}/sync-log?status=failed&error_code=tax_rate_unmapped")
    page.get_by_role("link", name="Re-sync all matching…").click()
    preview = page.locator("#preview-count")
    expect(preview).to_contain_text("This will re-sync")
    count = int(preview.locator("strong").inner_text())
    assert count >= 3
    screenshot(page, "bulk-preview")
    page.get_by_role("button", name=f"Re-sync {count} invoices").click()
    expect(page.locator("#report-heading")).to_have_text("Done", timeout=SETTLE_MS)
    assert int(page.locator("#batch-total").inner_text()) == count
    assert int(page.locator("#batch-synced").inner_text()) >= 3
    for invoice in invoices:
        assert len(xero_invoices(demo, invoice["invoice_number"])) == 1
    page.goto("/audit")
    expect(page.locator("#audit tbody tr").first).to_contain_text("bulk_resync")


def test_disconnect_then_connect(signed_in: SignIn, restored: Demo) -> None:
    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}")
    page.get_by_role("link", name="Disconnect…").click()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status").first).to_contain_text("Disconnected from Xero")
    expect(page.locator("#connection-status")).to_contain_text("disconnected")
    page.get_by_role("button", name="Connect").click()
    expect(page).to_have_url(re.compile(rf"/orgs/{ORG}\?done=connected"))
    expect(page.locator("#connection-status")).to_contain_text("connected")
    expect(page.locator("#tenant-name")).to_have_text("Demo Company (NZ)")
    screenshot(page, "connection")
    page.goto(f"/audit?org_id={ORG}")
    rows = page.locator("#audit tbody tr")
    expect(rows.nth(0)).to_contain_text("connect_returned")
    expect(rows.nth(1)).to_contain_text("connect_started")
    expect(rows.nth(2)).to_contain_text("disconnect")
    screenshot(page, "audit")


def test_reset_asks_for_the_organisation_then_clears_it(signed_in: SignIn, restored: Demo) -> None:
    page = signed_in("admin")
    page.goto(f"/orgs/{ORG}")
    page.get_by_role("link", name="Reset…").click()
    page.get_by_label(re.compile("to confirm")).fill("org_dem")
    page.get_by_role("button", name="Reset the integration").click()
    expect(page.locator("#reset-error")).to_contain_text(f"Type {ORG} exactly")
    assert restored.connection_status() == "connected"  # nothing happened

    page.get_by_label(re.compile("to confirm")).fill(ORG)
    page.get_by_role("button", name="Reset the integration").click()
    expect(page.get_by_role("status").first).to_contain_text("The integration was reset")
    expect(page.locator("#connection-status")).to_contain_text("disconnected")
    assert restored.mappings()["tax_rates"] == {}
    # Connect sets it up again (the fixture puts the demo's mappings and settings back).
    page.goto(f"/orgs/{ORG}")
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#connection-status")).to_contain_text("connected")
