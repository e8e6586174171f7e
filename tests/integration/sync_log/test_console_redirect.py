"""The old Sync Log page hands over to the operator console once SYNC_LOG_CONSOLE_URL names it."""

import httpx

from tests.integration.sync_log.conftest import SyncLog, serve, settings_for


async def test_the_page_stays_while_no_console_is_named(sync_log: SyncLog) -> None:
    async with httpx.AsyncClient(base_url=sync_log.url) as browser:
        page = await browser.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_the_page_redirects_to_the_consoles_sync_log(
    kafka_bootstrap: str, mongodb_uri: str, unique: str
) -> None:
    settings = settings_for(
        kafka_bootstrap,
        mongodb_uri,
        unique,
        console_url="http://127.0.0.1:8005/",
        consumer_enabled=False,
    )
    server, task = await serve(settings)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as browser:
            page = await browser.get("/")
            assert page.status_code == 307
            assert page.headers["location"] == "http://127.0.0.1:8005/sync-log"
            # The API is untouched.
            api = await browser.get("/v1/stats", headers={"Authorization": "Bearer test-key"})
            assert api.status_code == 200
    finally:
        server.should_exit = True
        await task
