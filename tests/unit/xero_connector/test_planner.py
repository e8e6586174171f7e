"""The sync core's decisions as tables: collapse, the version guard, unchanged, ownership,
cancels, results of a write, retries. Pure: no port, no fake."""

from decimal import Decimal
from typing import Any

import pytest

from sync_schemas import ErrorCode, EventType, SyncOutcome
from tests.support.samples import invoice
from xero_connector.domain import LEGACY_TENANT, Intent, InvoiceRecord, Link
from xero_connector.sync import planner
from xero_connector.sync.model import SyncAsk, SyncResult, Target, Write, failed
from xero_connector.xero_models import WrittenInvoice, XeroInvoice

T1, T2 = "tenant-1", "tenant-2"
OUR_URL = "https://console.example/orgs/org_acme/invoices/inv_1"


def request(version: int, event: str, attempt: int = 1) -> SyncAsk:
    inv = invoice(invoice_id="inv_1", version=version)
    return SyncAsk(event, EventType.INVOICE_UPDATED, inv, attempt=attempt)


def target(version: int = 2, **changes: Any) -> Target:
    return Target(invoice(invoice_id="inv_1", version=version, **changes), [request(version, "e")])


def link(version: int = 1, tenant: str = T1, status: str = "AUTHORISED") -> Link:
    return Link(tenant, "x-1", version, "hash-1", status)


def xero(
    number: str = "INV-000123",
    kind: str = "ACCREC",
    status: str = "AUTHORISED",
    url: str | None = OUR_URL,
    invoice_id: str = "x-1",
) -> XeroInvoice:
    return XeroInvoice(invoice_id, number, kind, status, url, Decimal("172.50"))


def test_collapse_keeps_the_newest_version_and_every_event() -> None:
    targets = planner.collapse([request(1, "a"), request(3, "b"), request(2, "c", attempt=4)])
    [only] = targets
    assert only.version == 3
    assert [r.event_id for r in only.asks] == ["a", "b", "c"]
    # an older version's spent retries count for nothing against the newest one
    assert only.attempt == 1
    again = planner.collapse([request(3, "d", attempt=2), request(3, "e")])
    assert again[0].attempt == 2


@pytest.mark.parametrize(
    ("version", "record", "tenant", "expected"),
    [
        (2, InvoiceRecord("o", "inv_1"), T1, None),
        (2, InvoiceRecord("o", "inv_1", high_water=2, link=link(2)), T1, None),
        (1, InvoiceRecord("o", "inv_1", high_water=2), T1, ("", "version 1 is older")),
        (1, InvoiceRecord("o", "inv_1", high_water=2, link=link(2)), T1, ("x-1", "older")),
        # a link of another tenant says nothing, but the high-water mark is the invoice's own
        (1, InvoiceRecord("o", "inv_1", high_water=2, link=link(2, T2)), T1, ("", "older")),
        (3, InvoiceRecord("o", "inv_1", high_water=2, link=link(2, T2)), T1, None),
        # a link written before high-water marks existed still guards
        (1, InvoiceRecord("o", "inv_1", link=link(2)), T1, ("x-1", "older")),
        # and one written before links had a tenant counts for the connected tenant
        (1, InvoiceRecord("o", "inv_1", link=link(2, LEGACY_TENANT)), T1, ("x-1", "older")),
    ],
)
def test_the_version_guard(
    version: int, record: InvoiceRecord, tenant: str, expected: tuple[str, str] | None
) -> None:
    outcome = planner.guard(target(version), record, tenant)
    if expected is None:
        assert outcome is None
        return
    assert outcome is not None and outcome.outcome is SyncOutcome.UNCHANGED
    assert outcome.xero_id == expected[0] and expected[1] in outcome.message


@pytest.mark.parametrize(
    ("stored", "digest", "same"),
    [(None, "h", False), (link(), "hash-1", True), (link(), "hash-2", False)],
)
def test_unchanged_only_for_the_same_payload(stored: Link | None, digest: str, same: bool) -> None:
    assert (planner.unchanged(stored, digest) is not None) is same


MINE = Intent(("INV-000123",), (OUR_URL,))


@pytest.mark.parametrize(
    ("intent", "found", "expected"),
    [
        # nothing in Xero: create
        (MINE, [], None),
        # our earlier create (answer lost): adopt
        (MINE, [xero()], ("adopt", "x-1")),
        # case-insensitive numbers, as Xero compares them
        (Intent(("inv-000123",), (OUR_URL,)), [xero()], ("adopt", "x-1")),
        # typed by hand in Xero (no Url of ours): not ours, never touched
        (MINE, [xero(url=None)], ("taken", "x-1")),
        # another app's invoice with a Url of its own
        (MINE, [xero(url="https://other.app/1")], ("taken", "x-1")),
        # our Url but we never sent that number (no intent): no proof
        (Intent(), [xero()], ("taken", "x-1")),
        # a supplier bill with the same number: bills repeat numbers, not ours, not in the way
        (MINE, [xero(kind="ACCPAY", url=None)], None),
        # a deleted sales invoice frees its number
        (MINE, [xero(status="DELETED", url=None)], None),
        # renumbered upstream: our create under the old number is found and adopted
        (
            Intent(("INV-OLD", "INV-000123"), (OUR_URL,)),
            [xero(number="INV-OLD", invoice_id="x-old")],
            ("adopt", "x-old"),
        ),
        # a bill and a hand-made sales invoice: the sales one blocks
        (MINE, [xero(kind="ACCPAY", url=None, invoice_id="b"), xero(url=None)], ("taken", "x-1")),
        # ours, voided in Xero, and a live one of ours: the live one
        (
            Intent(("INV-OLD", "INV-000123"), (OUR_URL,)),
            [xero(status="VOIDED", invoice_id="v"), xero(number="INV-OLD", invoice_id="live")],
            ("adopt", "live"),
        ),
    ],
)
def test_ownership(
    intent: Intent, found: list[XeroInvoice], expected: tuple[str, str] | None
) -> None:
    owner = planner.ownership("INV-000123", intent, found)
    if expected is None:
        assert owner is None
        return
    kind = "adopt" if isinstance(owner, planner.Adopt) else "taken"
    assert owner is not None and (kind, owner.invoice.invoice_id) == expected


def test_a_taken_number_names_the_xero_invoice() -> None:
    outcome = planner.number_taken("INV-000123", xero(url=None))
    assert outcome.code is ErrorCode.INVOICE_NUMBER_TAKEN
    assert "x-1" in outcome.message and "INV-000123" in outcome.message


@pytest.mark.parametrize(
    ("stored", "current", "expected"),
    [
        (link(status="DRAFT"), xero(status="DRAFT"), "DELETED"),
        (link(), xero(status="SUBMITTED"), "DELETED"),
        (link(), xero(status="AUTHORISED"), "VOIDED"),
        (link(), xero(status="VOIDED"), SyncOutcome.UNCHANGED),
        (link(), xero(status="DELETED"), SyncOutcome.UNCHANGED),
        (link(), xero(status="PAID"), ErrorCode.XERO_VALIDATION),
        (None, None, SyncOutcome.UNCHANGED),  # never reached Xero: nothing to void
        (link(), None, ErrorCode.XERO_VALIDATION),  # gone from Xero
        (None, xero(status="DRAFT"), "DELETED"),  # adopted from a lost create
    ],
)
def test_cancel_follows_the_status_xero_holds(
    stored: Link | None, current: XeroInvoice | None, expected: Any
) -> None:
    decision = planner.cancel_status(stored, current)
    if isinstance(expected, SyncOutcome):
        assert isinstance(decision, SyncResult) and decision.outcome is expected
    elif isinstance(expected, ErrorCode):
        assert isinstance(decision, SyncResult) and decision.code is expected
    else:
        assert decision == expected


def test_nothing_to_void_says_so() -> None:
    decision = planner.cancel_status(None, None)
    assert isinstance(decision, SyncResult) and decision.xero_id == ""
    assert "nothing to void" in decision.message


def test_paid_says_what_to_do() -> None:
    decision = planner.cancel_status(link(), xero(status="PAID"))
    assert isinstance(decision, SyncResult) and "payments" in decision.message


@pytest.mark.parametrize(
    ("xero_id", "cancel", "answer", "expected"),
    [
        (None, False, WrittenInvoice(xero()), SyncOutcome.CREATED),
        ("x-1", False, WrittenInvoice(xero()), SyncOutcome.UPDATED),
        ("x-1", True, WrittenInvoice(xero(status="VOIDED")), SyncOutcome.UPDATED),
        (None, False, WrittenInvoice(None, ("Invoice # must be unique.",)), None),
        # an update refused for its number is not a lost create: it fails as Xero says
        ("x-1", False, WrittenInvoice(None, ("Invoice # must be unique.",)), "xero_validation"),
        (
            None,
            False,
            WrittenInvoice(None, ("Account code '9' is not a valid code for this document.",)),
            "account_invalid",
        ),
    ],
)
def test_the_outcome_of_a_written_element(
    xero_id: str | None, cancel: bool, answer: WrittenInvoice, expected: Any
) -> None:
    write = Write(target(), {"InvoiceNumber": "INV-000123"}, "d", xero_id, cancel)
    outcome = planner.written(write, answer)
    if expected is None:
        assert outcome is None
    elif isinstance(expected, SyncOutcome):
        assert outcome is not None and outcome.outcome is expected
        assert outcome.total == Decimal("172.50")
    else:
        assert outcome is not None and outcome.code == ErrorCode(expected)


def test_a_written_element_is_linked_with_its_status() -> None:
    write = Write(target(version=4), {}, "digest", None)
    new = planner.link_after(write, WrittenInvoice(xero(status="DRAFT")), T1)
    assert new == Link(T1, "x-1", 4, "digest", "DRAFT")
    assert planner.link_after(write, WrittenInvoice(None, ("no",)), T1) is None


POLICY = planner.RetryPolicy(unavailable_retries=3, unavailable_retry_seconds=60)
DOWN = failed(ErrorCode.XERO_UNAVAILABLE, "Xero is unavailable: 503")


@pytest.mark.parametrize(
    ("attempt", "outcome", "retry_after", "note"),
    [
        (1, DOWN, 60, "retry 1 of 3 scheduled in 60 s"),
        (2, DOWN, 120, "retry 2 of 3 scheduled in 120 s"),
        (3, DOWN, 240, "retry 3 of 3 scheduled in 240 s"),
        (4, DOWN, None, "no automatic retry left after 4 attempts"),
        (1, failed(ErrorCode.CONTACT_MISSING, "no contact"), None, "no contact"),
        (
            1,
            SyncResult(code=ErrorCode.RATE_LIMITED, message="spent", retry_after=3600),
            3600,
            "spent",
        ),
    ],
)
def test_retries(attempt: int, outcome: SyncResult, retry_after: float | None, note: str) -> None:
    planned = planner.plan_retry(attempt, outcome, POLICY)
    assert planned.retry_after == retry_after and note in planned.message


def test_only_tries_that_found_xero_away_count_as_attempts() -> None:
    limited = SyncResult(code=ErrorCode.RATE_LIMITED, message="spent", retry_after=3600)
    attempt = 2
    for _ in range(5):  # five daily resets waited out
        attempt = planner.next_attempt(attempt, limited)
    assert attempt == 2
    assert planner.next_attempt(attempt, DOWN) == 3
    assert planner.plan_retry(planner.next_attempt(attempt, DOWN), DOWN, POLICY).retry_after


def test_the_source_url_is_safe_for_any_identifier() -> None:
    url = planner.source_url("https://c.example/orgs/{org_id}/invoices/{invoice_id}", "o:1", "a.b")
    assert url == "https://c.example/orgs/o%3A1/invoices/a.b"


def test_the_planner_imports_no_io() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(planner))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    io = ("httpx", "pymongo", "faststream", "aiokafka", "asyncio", "xero_connector.adapters")
    assert not [m for m in imported if m.startswith(io)], imported


@pytest.mark.parametrize(
    ("stored", "outcome", "kept"),
    [
        (link(version=2), failed(ErrorCode.CONNECTION_EXPIRED, "gone"), True),
        (link(version=2), failed(ErrorCode.TAX_RATE_UNMAPPED, "no GST15"), True),
        (link(version=2), SyncResult(code=ErrorCode.RATE_LIMITED, message="spent"), True),
        (link(version=1), failed(ErrorCode.CONNECTION_EXPIRED, "gone"), False),  # v2 to write
        (None, failed(ErrorCode.NOT_CONNECTED, "none"), False),
        (link(version=2), failed(ErrorCode.XERO_VALIDATION, "Xero said no"), False),
    ],
)
def test_a_resync_at_the_written_version_is_not_failed_by_outside_causes(
    stored: Link | None, outcome: SyncResult, kept: bool
) -> None:
    record = InvoiceRecord("org_acme", "inv_1", link=stored)
    planned = planner.keep_written(target(version=2), record, outcome)
    if kept:
        assert planned.code is None and planned.outcome is SyncOutcome.UNCHANGED
        assert planned.retry_after is None and outcome.message in planned.message
    else:
        assert planned == outcome


def test_an_intent_adding_another_keeps_each_number_and_url_once_in_order() -> None:
    stored = Intent(("INV-1", "INV-2"), ("u1",))
    merged = stored.adding(Intent(("INV-2", "INV-3"), ("u1", "u2")))
    assert merged == Intent(("INV-1", "INV-2", "INV-3"), ("u1", "u2"))
    assert Intent().adding(stored) == stored
