"""The Xero client over ``httpx.MockTransport``: bearer + tenant from the token manager, one
retry after a 401 TokenExpired, rate-limit headers to the observer, errors as the tree, the
check before sending (the writer's) beside the token read."""

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from xero_connector.adapters import xero_client
from xero_connector.adapters.xero_client import ApiCall, XeroApiClient
from xero_connector.errors import NotConnected
from xero_connector.ports import XeroAccess
from xero_connector.writers import Fenced
from xero_connector.xero_errors import (
    TenantChanged,
    Unauthorized,
    XeroRateLimited,
    XeroTransportError,
)

ORGS = {"Organisations": [{"OrganisationID": "o", "Name": "Acme", "BaseCurrency": "NZD"}]}
LIMITS = {"X-DayLimit-Remaining": "4999", "X-MinLimit-Remaining": "59"}


class StubAccessTokens:
    """The `AccessTokens` port as the client sees it, without a token manager."""

    def __init__(self) -> None:
        self.current = "tok-1"
        self.asked: list[str | None] = []

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        self.asked.append(rejected)
        if rejected == self.current:
            self.current = "tok-2"
        return XeroAccess(org_id, "tenant-9", self.current, datetime.now(UTC), 1)


def client(
    handler: httpx.MockTransport, tokens: StubAccessTokens, calls: list[ApiCall]
) -> XeroApiClient:
    http = httpx.AsyncClient(transport=handler)
    return XeroApiClient(http, tokens, api_url="https://api.test", observer=calls.append)


async def test_an_expired_token_is_refreshed_and_the_request_sent_again() -> None:
    seen: list[tuple[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["authorization"], request.headers["xero-tenant-id"]))
        if request.headers["authorization"] == "Bearer tok-1":
            detail = {"Status": 401, "Detail": "TokenExpired: token expired at 11/20/2026"}
            return httpx.Response(401, json=detail)
        return httpx.Response(200, json=ORGS, headers=LIMITS)

    tokens, calls = StubAccessTokens(), list[ApiCall]()
    answer_ = await client(httpx.MockTransport(answer), tokens, calls).request(
        "org_a", "GET", "/Organisation"
    )
    assert answer_.body == ORGS
    assert seen == [("Bearer tok-1", "tenant-9"), ("Bearer tok-2", "tenant-9")]
    assert tokens.asked == [None, "tok-1"]
    assert [(c.endpoint, c.status, c.tenant_id) for c in calls] == [
        ("GET /Organisation", 200, "tenant-9")
    ]
    assert calls[0].limits.minute_remaining == 59


async def test_another_401_is_not_retried() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"Detail": "AuthorizationUnsuccessful"})

    tokens = StubAccessTokens()
    with pytest.raises(Unauthorized):
        await client(httpx.MockTransport(answer), tokens, []).request(
            "org_a", "GET", "/Organisation"
        )
    assert tokens.asked == [None]


async def test_a_429_raises_with_its_wait() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Retry-After": "3", "X-Rate-Limit-Problem": "minute", **LIMITS}
        return httpx.Response(429, content=json.dumps({"Status": 429}), headers=headers)

    calls: list[ApiCall] = []
    with pytest.raises(XeroRateLimited) as caught:
        await client(httpx.MockTransport(answer), StubAccessTokens(), calls).request(
            "org_a", "GET", "/Currencies"
        )
    assert caught.value.retry_after == 3 and caught.value.problem == "minute"
    assert calls[0].status == 429


async def test_no_answer_is_a_transport_error_that_names_no_secret() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(XeroTransportError) as caught:
        await client(httpx.MockTransport(answer), StubAccessTokens(), []).request(
            "org_a", "GET", "/Accounts"
        )
    assert caught.value.sent is True
    assert "tok-1" not in str(caught.value)


async def test_decimals_are_sent_as_exact_json_numbers() -> None:
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={"Invoices": []})

    amounts = {"UnitAmount": Decimal("123456789012345.123456"), "Quantity": Decimal("0.1")}
    await client(httpx.MockTransport(answer), StubAccessTokens(), []).request(
        "org_a", "PUT", "/Invoices", json={"Invoices": [amounts]}
    )
    assert bodies == [b'{"Invoices": [{"UnitAmount": 123456789012345.123456, "Quantity": 0.1}]}']


async def test_a_call_for_another_tenant_is_refused_before_it_is_sent() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(TenantChanged):
        await client(httpx.MockTransport(answer), StubAccessTokens(), []).request(
            "org_a", "POST", "/Invoices", json={}, tenant_id="tenant-of-before"
        )
    assert sent == []


class MeetingTokens(StubAccessTokens):
    """A token read that lets the check go on, then waits for it: it ends only if the check
    runs beside it, not before it nor after it."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.checked = asyncio.Event()

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        self.reading.set()
        await self.checked.wait()
        return await super().access(org_id, rejected=rejected)


async def test_the_check_before_sending_runs_alongside_the_token_read() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"Invoices": []})

    tokens = MeetingTokens()

    async def check() -> None:
        await tokens.reading.wait()
        tokens.checked.set()

    api = client(httpx.MockTransport(answer), tokens, [])
    call = api.request("org_a", "PUT", "/Invoices", json={}, before_send=check)
    await asyncio.wait_for(call, timeout=5)
    assert [r.headers["authorization"] for r in sent] == ["Bearer tok-1"]


async def test_a_refused_check_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"Invoices": []})

    async def check() -> None:
        raise Fenced("org_a: a later writer took over")

    with pytest.raises(Fenced):
        await client(httpx.MockTransport(answer), StubAccessTokens(), []).request(
            "org_a", "PUT", "/Invoices", json={}, before_send=check
        )
    assert sent == []


async def test_a_write_sent_again_after_an_expired_token_is_checked_again() -> None:
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["authorization"])
        detail = {"Status": 401, "Detail": "TokenExpired: token expired at 11/20/2026"}
        return httpx.Response(401, json=detail)

    checks: list[int] = []

    async def check() -> None:  # a successor takes over while the token is refreshed
        checks.append(1)
        if len(checks) > 1:
            raise Fenced("org_a: a later writer took over")

    with pytest.raises(Fenced):
        await client(httpx.MockTransport(answer), StubAccessTokens(), []).request(
            "org_a", "PUT", "/Invoices", json={}, before_send=check
        )
    assert (sent, len(checks)) == (["Bearer tok-1"], 2)


class WaitingTokens(StubAccessTokens):
    """A token read that waits, as for another instance's refresh of the connection."""

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        await asyncio.sleep(0.05)
        return await super().access(org_id, rejected=rejected)


async def test_a_write_whose_token_read_waited_is_checked_again_before_it_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"Invoices": []})

    checks: list[int] = []

    async def check() -> None:  # a successor takes over while the token is read
        checks.append(1)
        if len(checks) > 1:
            raise Fenced("org_a: a later writer took over")

    api = client(httpx.MockTransport(answer), WaitingTokens(), [])
    await api.request("org_a", "PUT", "/Invoices", json={}, before_send=check)
    assert (len(sent), len(checks)) == (1, 1)  # a read well under the threshold: one check
    monkeypatch.setattr(xero_client, "CHECK_AGAIN_AFTER_S", 0.01)  # now it is a long read
    checks.clear()
    with pytest.raises(Fenced):
        await api.request("org_a", "PUT", "/Invoices", json={}, before_send=check)
    assert (len(sent), len(checks)) == (1, 2)


class GoneTokens(StubAccessTokens):
    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        raise NotConnected(org_id)


async def test_a_fenced_writer_learns_it_even_when_the_token_read_fails_too() -> None:
    async def check() -> None:
        await asyncio.sleep(0)  # still running when the token read fails
        raise Fenced("org_a: a later writer took over")

    def answer(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    with pytest.raises(Fenced):
        await client(httpx.MockTransport(answer), GoneTokens(), []).request(
            "org_a", "PUT", "/Invoices", json={}, before_send=check
        )
