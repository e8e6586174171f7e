"""The typed Xero port over the gateway: paths, parameters and answers, and every call
(organisation settings included) through the tenant's rate limiter, every write checked
against the writer lease each time it goes."""

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from xero_connector.adapters.xero_accounting import GatewayAccounting
from xero_connector.adapters.xero_client import BeforeSend, XeroResponse
from xero_connector.gateway import XeroGateway
from xero_connector.limiter import Limits, RateLimiter
from xero_connector.ports import XeroAccess, XeroScope
from xero_connector.writers import Fenced
from xero_connector.xero_errors import XeroError, XeroRateLimited
from xero_connector.xero_models import RateLimits

SCOPE = XeroScope("org_a", "tenant-1")


class Recorded:
    """An ApiClient answering from a script, recording every request."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    async def request(
        self,
        org_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        tenant_id: str | None = None,
        before_send: BeforeSend | None = None,
    ) -> XeroResponse:
        if before_send is not None:
            await before_send()
        self.sent.append(
            {
                "method": method,
                "path": path,
                "params": dict(params or {}),
                "json": json,
                "headers": dict(headers or {}),
                "tenant_id": tenant_id,
            }
        )
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return XeroResponse(200, answer, RateLimits(), {})


class StubAccessTokens:
    """The `AccessTokens` port as the client sees it, without a token manager."""

    async def access(self, org_id: str, *, rejected: str | None = None) -> XeroAccess:
        return XeroAccess(org_id, "tenant-1", "tok", datetime.now(UTC), 1)


async def no_wait(seconds: float) -> None:
    return None


def port(client: Recorded) -> tuple[GatewayAccounting, RateLimiter]:
    limiter = RateLimiter(Limits(per_minute=1000, concurrent=5))
    gateway = XeroGateway(client, limiter, sleep=no_wait)
    return GatewayAccounting(gateway, StubAccessTokens()), limiter


def minute_429() -> XeroRateLimited:
    return XeroRateLimited("slow down", problem="minute", retry_after=1, limits=RateLimits())


async def test_organisation_settings_wait_out_a_429_like_every_other_call() -> None:
    client = Recorded(minute_429(), {"Currencies": [{"Code": "NZD", "Description": "NZ dollar"}]})
    xero, _ = port(client)
    assert [c.code for c in await xero.currencies(SCOPE)] == ["NZD"]
    assert [s["path"] for s in client.sent] == ["/Currencies", "/Currencies"]
    assert {s["tenant_id"] for s in client.sent} == {"tenant-1"}


async def test_creates_are_puts_and_answers_are_typed() -> None:
    saved = {
        "InvoiceID": "x-1",
        "InvoiceNumber": "INV-1",
        "Type": "ACCREC",
        "Status": "AUTHORISED",
        "Url": "https://c/1",
        "Total": 172.5,
        "Contact": {"ContactID": "c-1"},
    }
    refused = {
        "InvoiceID": "00000000-0000-0000-0000-000000000000",
        "HasErrors": True,
        "ValidationErrors": [{"Message": "Invoice # must be unique."}],
    }
    client = Recorded({"Invoices": [saved, refused]})
    xero, _ = port(client)
    written = await xero.create_invoices(SCOPE, [{"a": 1}, {"b": 2}], key="k", unitdp=4)
    [sent] = client.sent
    assert (sent["method"], sent["path"]) == ("PUT", "/Invoices")
    assert sent["params"] == {"summarizeErrors": "false", "unitdp": 4}
    assert sent["headers"] == {"Idempotency-Key": "k"}
    assert written[0].invoice is not None and written[0].invoice.total == Decimal("172.5")
    assert written[0].invoice.url == "https://c/1" and written[0].invoice.contact_id == "c-1"
    assert written[1].invoice is None and written[1].messages == ("Invoice # must be unique.",)


async def test_updates_go_by_invoice_id_only() -> None:
    xero, _ = port(Recorded())
    with pytest.raises(AssertionError):
        await xero.update_invoices(SCOPE, [{"InvoiceNumber": "INV-1"}], key="k", unitdp=2)


async def test_an_answer_with_another_element_count_is_an_error() -> None:
    xero, _ = port(Recorded({"Invoices": []}))
    with pytest.raises(XeroError):
        await xero.create_invoices(SCOPE, [{"a": 1}], key="k", unitdp=2)


async def test_lookups_are_chunked_to_fit_xero_urls() -> None:
    client = Recorded(*[{"Invoices": []} for _ in range(4)])
    xero, _ = port(client)
    numbers = [f"INV-{n}" for n in range(30)]
    ids = [f"{n:08d}-0000-0000-0000-000000000000" for n in range(60)]
    assert await xero.find_invoices(SCOPE, numbers=numbers, ids=ids) == []
    sizes = [len(str(next(iter(s["params"].values()))).split(",")) for s in client.sent]
    assert sizes == [25, 5, 50, 10]


async def test_a_name_lookup_escapes_quotes_and_keeps_exact_names_only() -> None:
    client = Recorded(
        {
            "Contacts": [
                {"ContactID": "c1", "Name": 'Bob "B" Ltd'},
                {"ContactID": "c2", "Name": "Bob"},
            ]
        }
    )
    xero, _ = port(client)
    found = await xero.contacts_named(SCOPE, 'Bob "B" Ltd')
    assert [c.contact_id for c in found] == ["c1"]
    assert client.sent[0]["params"] == {"where": 'Name=="Bob \\"B\\" Ltd"'}


class TakenOver:
    """The writer check of an instance whose organisation another writer takes over once
    ``taken`` is set."""

    def __init__(self) -> None:
        self.checks = 0
        self.taken = False

    async def check(self, org_id: str, epoch: int) -> None:
        self.checks += 1
        if self.taken:
            raise Fenced(f"{org_id}: a later writer took over from epoch {epoch}")


async def test_a_write_that_waited_out_a_429_is_checked_again_before_it_goes() -> None:
    writers = TakenOver()

    async def taken_over_meanwhile(seconds: float) -> None:
        writers.taken = True

    client = Recorded(minute_429(), {"Invoices": []})
    limiter = RateLimiter(Limits(per_minute=1000, concurrent=5))
    gateway = XeroGateway(client, limiter, sleep=taken_over_meanwhile)
    xero = GatewayAccounting(gateway, StubAccessTokens(), writers)
    with pytest.raises(Fenced):
        await xero.create_invoices(
            XeroScope("org_a", "tenant-1", epoch=3), [{"a": 1}], key="k", unitdp=2
        )
    assert (len(client.sent), writers.checks) == (1, 2)
