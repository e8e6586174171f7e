"""The CLI over an httpx.MockTransport: requests it sends, what it prints, clear errors."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from xero_sync_ops import cli

Handler = Callable[[httpx.Request], httpx.Response]
runner = CliRunner()


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], list[httpx.Request]]:
    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def record(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return handler(request)

        monkeypatch.setattr(cli, "transport", httpx.MockTransport(record))
        return seen

    return install


def invoke(*args: str) -> Any:
    return runner.invoke(cli.app, ["--api-key", "k", *args], env={"COLUMNS": "200"})


ENTRY = {
    "event_id": "e1",
    "occurred_at": "2026-11-20T10:00:00Z",
    "org_id": "org_demo",
    "invoice_id": "inv_1",
    "invoice_number": "INV-1",
    "version": 1,
    "status": "failed",
    "error_code": "tax_rate_unmapped",
    "message": "Tax code EXEMPT has no mapping",
}


def test_log_sends_the_filters_and_prints_a_table_with_the_next_cursor(serve: Any) -> None:
    seen = serve(lambda r: httpx.Response(200, json={"items": [ENTRY], "next_cursor": "abc"}))
    result = invoke("log", "--org", "org_demo", "--status", "failed", "--limit", "10")
    assert result.exit_code == 0, result.output
    (request,) = seen
    assert request.url.path == "/v1/sync-log"
    assert dict(request.url.params) == {"org_id": "org_demo", "status": "failed", "limit": "10"}
    assert request.headers["authorization"] == "Bearer k"
    assert "inv_1" in result.output and "tax_rate_unmapped" in result.output
    assert "--cursor abc" in result.output


def test_log_follows_cursors_for_several_pages(serve: Any) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        nxt = {None: "c1", "c1": None}[cursor]
        return httpx.Response(200, json={"items": [ENTRY], "next_cursor": nxt})

    seen = serve(pages)
    result = invoke("log", "--pages", "5")
    assert result.exit_code == 0, result.output
    assert len(seen) == 2 and "2 rows" in result.output


def test_timeline_shows_the_last_error_and_what_to_do(serve: Any) -> None:
    detail = {
        **ENTRY,
        "xero_invoice_id": None,
        "last_error": {
            "error_code": "tax_rate_unmapped",
            "message": "Tax code EXEMPT has no mapping",
            "xero_messages": [],
            "remediation": "Map EXEMPT to a Xero tax rate, then re-sync",
            "occurred_at": "2026-11-20T10:00:00Z",
        },
        "history": [ENTRY],
    }
    seen = serve(lambda r: httpx.Response(200, json=detail))
    result = invoke("timeline", "org_demo", "inv_1")
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/v1/invoices/org_demo/inv_1"
    assert "What to do: Map EXEMPT" in result.output


def test_resync_posts_the_filter_and_follows_the_batch_to_its_end(serve: Any) -> None:
    polls = iter([(0, 0), (1, 0), (2, 1)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/resync":
            return httpx.Response(202, json={"batch_id": "b1", "count": 3})
        synced, failed = next(polls)
        return httpx.Response(
            200,
            json={
                "batch_id": "b1",
                "total": 3,
                "synced": synced,
                "failed": failed,
                "pending": 3 - synced - failed,
                "by_error_code": {"contact_missing": failed} if failed else {},
            },
        )

    seen = serve(handler)
    result = invoke(
        "resync", "--org", "org_demo", "--error-code", "tax_rate_unmapped", "--poll", "0"
    )
    assert result.exit_code == 2, result.output  # one failed: non-zero for scripts
    post = seen[0]
    assert post.url.host == "127.0.0.1" and post.url.port == 8001
    assert post.read() == (
        b'{"org_id":"org_demo","filter":{"status":"failed","error_code":"tax_rate_unmapped"}}'
    )
    assert [r.url.path for r in seen[1:]] == ["/v1/batches/b1"] * 3
    assert all(r.url.port == 8003 for r in seen[1:])
    assert "contact_missing" in result.output


def test_check_lists_problems_and_exits_non_zero(serve: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"status": "connected", "tenant_name": "Demo"})
        problem = {"kind": "tax_rate_invalid", "code": "GST9", "message": "no such TaxType"}
        return httpx.Response(200, json={"ok": False, "problems": [problem]})

    serve(handler)
    result = invoke("check", "org_demo")
    assert result.exit_code == 2
    assert "tax_rate_invalid" in result.output and "GST9" in result.output


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"error": {"code": "unauthorized", "message": "bad key"}}, "refused the API key"),
        (404, {"error": {"code": "not_found", "message": "no such invoice"}}, "not found"),
        (
            409,
            {
                "error": {
                    "code": "not_connected",
                    "message": "org_x is not connected",
                    "details": {"remediation": "Connect: POST /v1/orgs/org_x/connection"},
                }
            },
            "Connect: POST",
        ),
    ],
)
def test_http_errors_are_one_clear_line(serve: Any, status: int, body: Any, expected: str) -> None:
    serve(lambda r: httpx.Response(status, json=body))
    result = invoke("timeline", "org_x", "inv_9")
    assert result.exit_code == 1
    assert expected in result.output
    assert "Traceback" not in result.output


def test_connection_refused_names_the_service_and_url(serve: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    serve(refuse)
    result = invoke("--sync-log-url", "http://127.0.0.1:1", "stats")
    assert result.exit_code == 1
    assert "cannot reach sync-log at http://127.0.0.1:1" in result.output
