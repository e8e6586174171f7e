"""Oversized and hostile requests are refused with a 4xx in the contract's error format and the
services stay up: body size (declared and chunked), batch caps, deeply nested or huge JSON,
huge query strings and paths. The three services run behind uvicorn here, as in production,
so the requests go through real HTTP parsing.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from invoice_events.config import Settings as InvoiceEventsSettings
from service_kit.settings import ServiceSettings
from sync_log.config import Settings as SyncLogSettings
from tests.reliability.security.support import KEYS, Running, bearer, endpoints, services
from tests.support.samples import CONTRACT_INVOICE
from xero_connector.config import Settings as ConnectorSettings

in_module_loop = pytest.mark.asyncio(loop_scope="module")

LIMIT = 256 * 1024
PARAMS = {"org_id": "org_limits", "invoice_id": "inv_limits", "batch_id": "batch_limits"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(
    kafka_bootstrap: str, mongodb_uri: str, sandbox_url: str
) -> AsyncIterator[dict[str, Running]]:
    unique = f"t_sec_limits_{uuid.uuid4().hex[:8]}"
    async with services(
        kafka_bootstrap, mongodb_uri, unique, sandbox_url, served=True, max_body_bytes=LIMIT
    ) as running:
        yield running


def key(service: str) -> dict[str, str]:
    return bearer(KEYS[service][0])


def json_headers(service: str) -> dict[str, str]:
    return key(service) | {"Content-Type": "application/json"}


def body_routes(running: Running) -> list[tuple[str, str]]:
    """(method, concrete path) of every route whose OpenAPI operation takes a request body."""
    paths = running.app.openapi()["paths"]
    return [
        (e.method, e.path.format(**PARAMS))
        for e in endpoints(running.app)
        if "requestBody" in paths.get(e.path, {}).get(e.method.lower(), {})
    ]


def optional_body_routes(running: Running) -> set[tuple[str, str]]:
    """Routes whose body is optional: for them no body (empty, or JSON null) is valid input."""
    paths = running.app.openapi()["paths"]
    return {
        (e.method, e.path.format(**PARAMS))
        for e in endpoints(running.app)
        if "requestBody" in (operation := paths.get(e.path, {}).get(e.method.lower(), {}))
        and not operation["requestBody"].get("required", False)
    }


def routes_for_bodies(running: Running) -> list[tuple[str, str]]:
    """Routes to send oversized bodies to: those that take one, else (sync-log takes none)
    every protected GET, which must refuse a body over the limit just the same."""
    return body_routes(running) or [
        ("GET", e.path.format(**PARAMS))
        for e in endpoints(running.app)
        if e.path.startswith("/v1/") and e.method == "GET"
    ]


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length: httpx sends it chunked."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


async def assert_alive(served: dict[str, Running]) -> None:
    for running in served.values():
        assert (await running.http.get("/healthz")).status_code == 200, running.name


def test_every_service_has_a_body_limit_setting() -> None:
    classes: list[type[ServiceSettings]] = [
        InvoiceEventsSettings,
        ConnectorSettings,
        SyncLogSettings,
    ]
    for settings in classes:
        field = settings.model_fields["max_body_bytes"]
        assert isinstance(field.default, int) and 1024 <= field.default <= 8 * 1024 * 1024
    # A batch of 1,000 invoices must fit under invoice-events' own default.
    assert InvoiceEventsSettings.model_fields["max_body_bytes"].default >= 8 * 1024 * 1024


@in_module_loop
async def test_bodies_over_the_limit_get_413_declared_or_chunked(
    served: dict[str, Running],
) -> None:
    checked = 0
    for name, running in served.items():
        routes = routes_for_bodies(running)
        assert routes, name
        for method, path in routes:
            declared = await running.http.request(
                method, path, content=b" " * (LIMIT + 1), headers=json_headers(name)
            )
            error = assert_error_body(declared, 413, "payload_too_large")
            assert error["details"] == {"max_bytes": LIMIT}

            request = running.http.build_request(
                method, path, content=chunks(4 * LIMIT), headers=json_headers(name)
            )
            assert "content-length" not in request.headers
            assert request.headers["transfer-encoding"] == "chunked"
            chunked = await running.http.send(request)
            assert_error_body(chunked, 413, "payload_too_large")

            # Up to the limit the body reaches the route (here: refused as invalid JSON).
            under = await running.http.request(
                method, path, content=b"{" + b" " * (LIMIT - 1), headers=json_headers(name)
            )
            assert under.status_code != 413 and under.status_code < 500, (name, method, path)
            checked += 1
    assert checked >= 4 + 2 + 6  # invoice-events, xero-connector, sync-log
    await assert_alive(served)


@in_module_loop
async def test_batch_and_page_caps_are_422_naming_the_field(served: dict[str, Running]) -> None:
    events = served["invoice-events"].http
    headers = json_headers("invoice-events")
    too_many = await events.post(
        "/v1/invoices/batch", json={"invoices": [{}] * 1001}, headers=headers
    )
    error = assert_error_body(too_many, 422, "invalid_request")
    assert [d["field"] for d in error["details"]] == ["body.invoices"]
    none = await events.post("/v1/invoices/batch", json={"invoices": []}, headers=headers)
    assert [d["field"] for d in assert_error_body(none, 422, "invalid_request")["details"]] == [
        "body.invoices"
    ]
    at_cap = await events.post(
        "/v1/invoices/batch", json={"invoices": [{"org_id": 1}] * 1000}, headers=headers
    )
    assert at_cap.status_code == 202, at_cap.text[:300]  # 1,000 is allowed (each one invalid)
    assert at_cap.json()["accepted"] == 0 and len(at_cap.json()["results"]) == 1000

    ids = [f"inv_{i}" for i in range(10_001)]
    resync = await events.post(
        "/v1/resync", json={"org_id": "org_limits", "invoice_ids": ids}, headers=headers
    )
    error = assert_error_body(resync, 422, "invalid_request")
    assert [d["field"] for d in error["details"]] == ["body.invoice_ids"]

    log = served["sync-log"].http
    for path in ("/v1/sync-log", "/v1/invoices"):
        for limit in (0, 501, 10**30):
            page = await log.get(path, params={"limit": limit}, headers=key("sync-log"))
            error = assert_error_body(page, 422, "invalid_request")
            assert [d["field"] for d in error["details"]] == ["query.limit"], (path, limit)
        assert (await log.get(path, params={"limit": 500}, headers=key("sync-log"))).is_success
    await assert_alive(served)


def deep(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


HOSTILE_BODIES: dict[str, bytes] = {
    "arrays nested 100,000 deep": b"[" * 100_000,
    "objects nested 100,000 deep": b'{"a":' * 100_000,
    "objects nested 300 deep, closed": deep(300).encode(),
    "a 100,000-digit number": b'{"version": ' + b"9" * 100_000 + b"}",
    "NaN and Infinity": b'{"version": NaN, "invoices": Infinity, "org_id": -Infinity}',
    "invalid UTF-8": b'{"org_id": "\xff\xfe"}',
    "a lone surrogate": b'{"org_id": "\\ud800"}',
    "truncated": b'{"invoices": [',
    "a JSON string": b'"invoices"',
    "null": b"null",
    "empty": b"",
}
NO_BODY = frozenset({"null", "empty"})


@in_module_loop
async def test_hostile_json_gets_4xx_on_every_body_route_and_the_services_stay_up(
    served: dict[str, Running],
) -> None:
    # 300 levels: past pydantic's serialisation depth (255), which a 500 would come from.
    nested_invoice = {**CONTRACT_INVOICE, "reference": "nested extra", "x": json.loads(deep(300))}
    sent = 0
    for name, running in served.items():
        optional = optional_body_routes(running)
        for method, path in body_routes(running):
            for what, body in HOSTILE_BODIES.items():
                if (method, path) in optional and what in NO_BODY:
                    continue  # the documented way to call it without a body
                response = await running.http.request(
                    method, path, content=body, headers=json_headers(name)
                )
                assert 400 <= response.status_code < 500, (name, path, what, response.text[:200])
                assert response.json()["error"]["code"], (name, path, what)
                sent += 1
    assert sent >= (4 + 2) * len(HOSTILE_BODIES)  # invoice-events, xero-connector

    events = served["invoice-events"].http
    headers = json_headers("invoice-events")
    batch = {"invoices": [CONTRACT_INVOICE, json.loads(deep(300))]}
    too_deep = await events.post("/v1/invoices/batch", json=batch, headers=headers)
    error = assert_error_body(too_deep, 422, "invalid_request")
    assert [d["field"] for d in error["details"]] == ["body.invoices"]
    # A lone surrogate is valid JSON but not UTF-8: the item is refused, its id not echoed.
    surrogate = b'{"invoices": [{"invoice_id": "\\ud800"}, {"invoice_id": "inv_ok"}]}'
    answered = await events.post("/v1/invoices/batch", content=surrogate, headers=headers)
    assert answered.status_code == 202, answered.text[:300]
    assert [r["invoice_id"] for r in answered.json()["results"]] == [None, "inv_ok"]
    # Unknown fields of an invoice are ignored, however deep: the invoice itself is fine.
    extra = await events.post("/v1/invoices", json=nested_invoice, headers=headers)
    assert extra.status_code == 202, extra.text[:300]
    await assert_alive(served)


async def raw_request_status(url: str, target: str, authorization: str) -> int | None:
    """Send one request by hand (httpx refuses URLs this long); the status answered, or None
    when the server closed the connection without one."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\n"
    try:
        writer.write(f"{head}Connection: close\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    return int(line.split()[1]) if line else None


@in_module_loop
async def test_huge_query_strings_and_paths_get_4xx(served: dict[str, Running]) -> None:
    log, huge = served["sync-log"].http, "o" * 60_000
    for path in ("/v1/sync-log", "/v1/invoices", "/v1/stats", "/v1/connections"):
        for field in ("org_id", "invoice_id", "invoice_number", "batch_id"):
            if path in ("/v1/stats", "/v1/connections") and field != "org_id":
                continue
            response = await log.get(path, params={field: huge}, headers=key("sync-log"))
            error = assert_error_body(response, 422, "invalid_request")
            assert [d["field"] for d in error["details"]] == [f"query.{field}"], (path, field)
    many = "&".join(f"status=s{i}" for i in range(5_000))
    assert (await log.get(f"/v1/sync-log?{many}", headers=key("sync-log"))).status_code == 422
    cursor = await log.get("/v1/sync-log", params={"cursor": huge}, headers=key("sync-log"))
    assert_error_body(cursor, 422, "invalid_request")

    long_paths = {
        "sync-log": [
            f"/v1/invoices/{huge}/inv_1",
            f"/v1/invoices/org_1/{huge}",
            f"/v1/batches/{huge}",
        ],
        "invoice-events": [f"/v1/invoices/{huge}/inv_1", f"/v1/invoices/org_1/{huge}/sync"],
        "xero-connector": [f"/v1/orgs/{huge}/connection", f"/v1/orgs/{huge}/settings"],
    }
    for name, paths in long_paths.items():
        for path in paths:
            method = "POST" if path.endswith("/sync") else "GET"
            response = await served[name].http.request(method, path, headers=key(name))
            assert_error_body(response, 422, "invalid_request")

    # A megabyte of query string, past what an HTTP client will send: refused, not a crash.
    targets = {
        "sync-log": "/v1/sync-log?org_id=",
        "invoice-events": "/v1/invoices/org_1/inv_1?x=",
        "xero-connector": "/v1/orgs/org_1/settings?x=",
    }
    for name, target in targets.items():
        url = str(served[name].http.base_url)
        status = await raw_request_status(url, target + "a" * 2**20, f"Bearer {KEYS[name][0]}")
        assert status is None or 400 <= status < 500, (name, status)
    await assert_alive(served)
