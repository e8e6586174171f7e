"""The sync-log client over httpx's MockTransport: paging, row checks, error classes."""

import httpx
import pytest
from pydantic import SecretStr

from invoice_events.adapters.sync_log import SyncLogClient, SyncLogUnavailable
from invoice_events.ports import InvoiceQuery, SyncLogError

QUERY = InvoiceQuery("org_acme", "failed", "not_connected")


def client(transport: httpx.MockTransport) -> SyncLogClient:
    return SyncLogClient(
        "http://sync-log", SecretStr("k"), timeout_seconds=1, page_size=2, transport=transport
    )


async def test_follows_the_cursor_and_skips_rows_the_filter_should_have_excluded() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "cursor" not in request.url.params:
            rows = [
                {"org_id": "org_acme", "invoice_id": "a", "status": "failed",
                 "last_error": {"error_code": "not_connected"}},
                {"org_id": "org_acme", "invoice_id": "b", "status": "failed",
                 "last_error": {"error_code": "tax_rate_unmapped"}},
            ]  # fmt: skip
            return httpx.Response(200, json={"items": rows, "next_cursor": "c1"})
        row = {"org_id": "org_acme", "invoice_id": "c", "status": "failed", "last_error": None}
        return httpx.Response(200, json={"items": [row], "next_cursor": None})

    async with client(httpx.MockTransport(answer)) as sync_log:
        ids = [i async for i in sync_log.invoice_ids(QUERY)]

    assert ids == ["a", "c"]
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1"]
    assert seen[0].url.params["limit"] == "2"
    assert seen[0].url.params["error_code"] == "not_connected"
    assert seen[0].headers["authorization"] == "Bearer k"


@pytest.mark.parametrize(
    ("status", "error"),
    [(503, SyncLogUnavailable), (401, SyncLogUnavailable), (422, SyncLogError)],
)
async def test_errors_say_whether_a_retry_can_help(status: int, error: type[Exception]) -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(status, json={}))
    async with client(transport) as sync_log:
        with pytest.raises(error):
            [i async for i in sync_log.invoice_ids(QUERY)]


async def test_several_error_codes_go_as_a_repeated_parameter_and_rows_are_checked() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        rows = [
            {"org_id": "org_acme", "invoice_id": "a", "status": "failed",
             "invoice_number": "INV-1", "last_error": {"error_code": "contact_missing"}},
            {"org_id": "org_acme", "invoice_id": "b", "status": "failed",
             "invoice_number": "INV-1", "last_error": {"error_code": "tax_rate_unmapped"}},
            {"org_id": "org_acme", "invoice_id": "c", "status": "failed",
             "invoice_number": "INV-1", "last_error": {"error_code": "xero_validation"}},
            {"org_id": "org_acme", "invoice_id": "d", "status": "failed",
             "invoice_number": "INV-2", "last_error": {"error_code": "contact_missing"}},
        ]  # fmt: skip
        return httpx.Response(200, json={"items": rows, "next_cursor": None})

    query = InvoiceQuery(
        "org_acme",
        "failed",
        "contact_missing",
        error_codes=("tax_rate_unmapped",),
        invoice_number="INV-1",
    )
    async with client(httpx.MockTransport(answer)) as sync_log:
        ids = [i async for i in sync_log.invoice_ids(query)]

    assert ids == ["a", "b"]  # c has another code, d another number
    params = seen[0].url.params
    assert params.get_list("error_code") == ["contact_missing", "tax_rate_unmapped"]
    assert params["invoice_number"] == "INV-1"
