"""The Sync Log page in headless Chromium (Debian's, driven by Playwright): an operator filters
to failed invoices and sees the failure with what to do, then opens its timeline."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from sync_schemas import ErrorCode, EventType, new_event
from tests.integration.sync_log.conftest import API_KEY, SyncLog
from tests.integration.sync_log.test_recording import failed, succeeded
from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS
from tests.support.eventually import eventually
from tests.support.samples import invoice


async def test_operator_finds_a_failed_invoice_and_what_to_do(
    sync_log: SyncLog, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is missing: `make test` installs it (apt-get install chromium)")
    t = datetime.now(UTC)
    ids = {"org_id": "org_acme", "invoice_id": "inv_7", "invoice_number": "INV-0007"}
    await sync_log.publish(
        new_event(EventType.INVOICE_CREATED, invoice(**ids), source="/t", time=t)
    )
    bad = failed(
        1,
        ErrorCode.CURRENCY_NOT_ENABLED,
        **ids,
        message="EUR is not enabled in Acme Ltd",
        remediation=ErrorCode.CURRENCY_NOT_ENABLED.remediation("org_acme"),
    )
    await sync_log.publish(
        new_event(EventType.INVOICE_SYNC_FAILED, bad, source="/t", time=t + timedelta(seconds=1))
    )
    ok = {"org_id": "org_acme", "invoice_id": "inv_8", "invoice_number": "INV-0008"}
    await sync_log.publish(
        new_event(EventType.INVOICE_SYNC_SUCCEEDED, succeeded(1, **ok), source="/t", time=t)
    )

    async def both_recorded() -> bool:
        failed_rows = (await sync_log.get("/v1/invoices", status="failed"))["items"]
        synced_rows = (await sync_log.get("/v1/invoices", status="synced"))["items"]
        return bool(failed_rows) and bool(synced_rows)

    await eventually(both_recorded, what="INV-0007 failed and INV-0008 synced", timeout=30)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 800})
            await page.goto(f"{sync_log.url}/#key={API_KEY}")
            await expect(page.locator("#rows")).to_contain_text("INV-0008")
            await page.select_option("select[name=status]", "failed")
            await page.click("button[type=submit]")
            rows = page.locator("#rows")
            await expect(rows).to_contain_text(
                "currency_not_enabled: EUR is not enabled in Acme Ltd"
            )
            await expect(rows).to_contain_text("What to do: Enable the currency in Xero")
            await expect(rows).not_to_contain_text("INV-0008")
            await page.click("text=INV-0007")
            timeline = page.locator("#detail")
            await expect(timeline).to_contain_text("Timeline")
            await expect(timeline).to_contain_text("invoice.sync_failed.v1")
            await page.screenshot(path=str(tmp_path / "sync-log.png"), full_page=True)
        finally:
            await browser.close()
