"""The writer over a hand-written fake of the Xero port: creates are PUTs after the intent
is stored, a lost answer or a taken number is looked up, only what is ours is adopted."""

import asyncio
import itertools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

from service_kit.errors import RetryLater
from sync_schemas import ErrorCode, EventType, SyncOutcome
from tests.support.samples import invoice
from xero_connector.domain import Intent, InvoiceRecord, Link
from xero_connector.errors import ConnectionExpired
from xero_connector.limiter import DailyLimitSpent
from xero_connector.ports import XeroScope
from xero_connector.sync.model import SyncAsk, SyncResult, Target, Write
from xero_connector.sync.writer import LINKS_AHEAD, Writer
from xero_connector.writers import Fenced
from xero_connector.xero_errors import TenantChanged, XeroBadRequest, XeroUnavailable
from xero_connector.xero_models import RateLimits, WrittenInvoice, XeroInvoice

SCOPE = XeroScope("org_acme", "tenant-1")
URL = "https://console.example/orgs/org_acme/invoices/inv_1"
_ids = itertools.count(1)


class FakeXero:
    """Xero's invoice rules the writer relies on: PUT creates only, ACCREC numbers unique."""

    def __init__(self, *held: XeroInvoice, lose_next_answer: bool = False) -> None:
        self.invoices = {i.invoice_id: i for i in held}
        self.lose_next_answer = lose_next_answer
        self.calls: list[str] = []
        self.updated: list[list[str]] = []

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        self.calls.append("PUT")
        answers = []
        for payload in invoices:
            number = str(payload["InvoiceNumber"])
            if any(
                i.type == "ACCREC" and i.number.casefold() == number.casefold()
                for i in self.invoices.values()
            ):
                answers.append(WrittenInvoice(None, ("Invoice # must be unique.",)))
                continue
            made = XeroInvoice(
                f"x-{next(_ids)}", number, "ACCREC", "AUTHORISED", payload.get("Url")
            )
            self.invoices[made.invoice_id] = made
            answers.append(WrittenInvoice(made))
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise XeroUnavailable("timed out after sending")
        return answers

    async def update_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        self.calls.append("POST")
        self.updated.append([str(p["InvoiceID"]) for p in invoices])
        return [WrittenInvoice(self.invoices[str(p["InvoiceID"])]) for p in invoices]

    async def find_invoices(
        self, scope: XeroScope, *, numbers: Sequence[str] = (), ids: Sequence[str] = ()
    ) -> list[XeroInvoice]:
        self.calls.append("GET")
        wanted = {n.casefold() for n in numbers}
        return [i for i in self.invoices.values() if i.number.casefold() in wanted]


class Records:
    def __init__(self) -> None:
        self.intents: dict[str, list[tuple[str, str]]] = {}
        self.links: dict[str, Link] = {}
        self.new: set[str] = set()  # links stored as new: no mark, no link before

    async def intend(
        self, org_id: str, tenant_id: str, intents: Mapping[str, tuple[str, str]]
    ) -> None:
        for invoice_id, pair in intents.items():
            self.intents.setdefault(invoice_id, []).append(pair)

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None:
        self.links.update(links)
        self.new.update(new)


def create(number: str = "INV-1", invoice_id: str = "inv_1") -> Write:
    inv = invoice(invoice_id=invoice_id, invoice_number=number)
    target = Target(inv, [SyncAsk(f"e-{invoice_id}", EventType.INVOICE_CREATED, inv)])
    return Write(target, {"InvoiceNumber": number, "Url": URL}, "digest")


def creates(count: int) -> list[Write]:
    return [create(f"INV-{n}", f"inv_{n}") for n in range(1, count + 1)]


async def no_wait(seconds: float) -> None:
    return None


def writer(xero: FakeXero, records: Records, attempts: int = 4) -> Writer:
    return Writer(xero, records, write_attempts=attempts, sleep=no_wait)  # type: ignore[arg-type]


async def run(
    w: Writer, writes: list[Write], records: dict[str, InvoiceRecord]
) -> tuple[dict[str, SyncResult], dict[str, Link]]:
    sync_results: dict[str, SyncResult] = {}
    links = await w.write(SCOPE, writes, records, sync_results)
    return sync_results, links


async def test_a_create_is_a_put_after_its_intent_is_stored() -> None:
    xero, records = FakeXero(), Records()
    sync_results, links = await run(writer(xero, records), [create()], {})
    assert xero.calls == ["PUT"]
    assert records.intents == {"inv_1": [("INV-1", URL)]}
    assert sync_results["inv_1"].outcome is SyncOutcome.CREATED
    assert records.links["inv_1"] == links["inv_1"]  # stored as soon as Xero answered


async def test_only_first_creates_are_stored_as_new_links() -> None:
    # An invoice with no mark and no link yet has no links document to update: its link
    # can be an insert. One that failed before (a mark) or was linked (an update) has one.
    linked = InvoiceRecord("org_acme", "inv_3", 1, Link("tenant-1", "x-3", 1, "h", "DRAFT"))
    xero, records = FakeXero(), Records()
    xero.invoices["x-3"] = XeroInvoice("x-3", "INV-3", "ACCREC", "DRAFT", URL)
    update = create("INV-3", "inv_3")
    update.xero_id = "x-3"
    known = {
        "inv_1": InvoiceRecord("org_acme", "inv_1"),  # blank: as the pipeline fills them in
        "inv_2": InvoiceRecord("org_acme", "inv_2", high_water=1),  # failed before
        "inv_3": linked,
    }
    writes = [create("INV-1", "inv_1"), create("INV-2", "inv_2"), update, create("INV-4", "inv_4")]
    sync_results, links = await run(writer(xero, records), writes, known)
    assert {r.outcome for r in sync_results.values()} == {SyncOutcome.CREATED, SyncOutcome.UPDATED}
    assert set(links) == {"inv_1", "inv_2", "inv_3", "inv_4"}
    assert records.new == {"inv_1", "inv_4"}


async def test_a_lost_answer_is_looked_up_and_adopted_not_created_twice() -> None:
    xero, records = FakeXero(lose_next_answer=True), Records()
    sync_results, _ = await run(writer(xero, records), [create()], {})
    assert xero.calls == ["PUT", "GET", "POST"]
    assert [len(u) for u in xero.updated] == [1]  # the adopted invoice, sent once
    assert len(xero.invoices) == 1
    assert sync_results["inv_1"].outcome is SyncOutcome.UPDATED
    assert records.new == {"inv_1"}  # adopted, but its first link all the same


async def test_our_own_earlier_create_is_adopted_even_with_a_single_write_attempt() -> None:
    ours = XeroInvoice("x-ours", "INV-1", "ACCREC", "AUTHORISED", URL)
    record = InvoiceRecord("org_acme", "inv_1", intents={"tenant-1": Intent(("INV-1",), (URL,))})
    xero, records = FakeXero(ours), Records()
    sync_results, _ = await run(writer(xero, records, attempts=1), [create()], {"inv_1": record})
    assert xero.calls == ["GET", "POST"]  # tried before without a link: looked up first
    assert sync_results["inv_1"].xero_id == "x-ours"
    # Without the stored intent, the PUT's refusal leads to the same lookup.
    xero = FakeXero(XeroInvoice("x-ours", "INV-1", "ACCREC", "AUTHORISED", URL))
    sync_results, _ = await run(writer(xero, Records(), attempts=1), [create()], {})
    assert xero.calls == ["PUT", "GET", "POST"] and sync_results["inv_1"].xero_id == "x-ours"


async def test_someone_elses_invoice_with_our_number_is_never_written() -> None:
    theirs = XeroInvoice("x-hand", "INV-1", "ACCREC", "AUTHORISED", None)
    xero, records = FakeXero(theirs), Records()
    sync_results, links = await run(writer(xero, records), [create()], {})
    assert xero.calls == ["PUT", "GET"]
    assert sync_results["inv_1"].code is ErrorCode.INVOICE_NUMBER_TAKEN
    assert "x-hand" in sync_results["inv_1"].message and links == {}


async def test_a_renumbered_invoice_finds_its_create_under_the_old_number() -> None:
    ours = XeroInvoice("x-old", "INV-OLD", "ACCREC", "AUTHORISED", URL)
    record = InvoiceRecord("org_acme", "inv_1", intents={"tenant-1": Intent(("INV-OLD",), (URL,))})
    xero, records = FakeXero(ours), Records()
    sync_results, _ = await run(writer(xero, records), [create("INV-NEW")], {"inv_1": record})
    # The first create's outcome was never known: the lookup covers the old number too, finds
    # ours there and renumbers it by InvoiceID instead of creating a second invoice.
    assert xero.calls == ["GET", "POST"] and len(xero.invoices) == 1
    assert sync_results["inv_1"].xero_id == "x-old"


async def test_past_the_batch_deadline_no_new_write_is_sent() -> None:
    xero, records = FakeXero(), Records()
    late = writer(xero, records)
    late.deadline = 0.0  # long past: the batch must end inside Kafka's poll interval
    sync_results, links = await run(late, [create()], {})
    assert xero.calls == [] and links == {}
    assert sync_results["inv_1"].code is ErrorCode.XERO_UNAVAILABLE  # retried by itself


class IntentsFirst(FakeXero):
    """Notes every create sent before its intent was stored."""

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records
        self.unintended: list[str] = []

    def note_unintended(self, invoices: Sequence[Mapping[str, Any]]) -> None:
        stored = {number for pairs in self.records.intents.values() for number, _ in pairs}
        self.unintended += [
            str(p["InvoiceNumber"]) for p in invoices if p["InvoiceNumber"] not in stored
        ]

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        self.note_unintended(invoices)
        await asyncio.sleep(0)  # a Xero call: the next chunk's intents are stored meanwhile
        return await super().create_invoices(scope, invoices, key=key, unitdp=unitdp)


class SlowRecords(Records):
    """Intents take longer to store than a create to send."""

    async def intend(
        self, org_id: str, tenant_id: str, intents: Mapping[str, tuple[str, str]]
    ) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        await super().intend(org_id, tenant_id, intents)


async def test_each_create_is_sent_after_its_intent_is_stored_chunk_after_chunk() -> None:
    records = SlowRecords()
    xero = IntentsFirst(records)
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    sync_results, links = await run(chunked, creates(5), {})
    assert xero.calls == ["PUT"] * 3 and xero.unintended == []
    assert {r.outcome for r in sync_results.values()} == {SyncOutcome.CREATED}
    assert len(records.intents) == len(links) == 5


class InFlight(IntentsFirst):
    """Holds every create until ``release`` is set, noting how many are in flight at once."""

    def __init__(self, records: Records, fail_on: str | None = None) -> None:
        super().__init__(records)
        self.release = asyncio.Event()
        self.sent = 0
        self.in_flight = 0
        self.most = 0
        self.fail_on = fail_on  # a create of this number: the call fails at once

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        self.sent += 1
        self.note_unintended(invoices)  # as it is sent
        if any(p["InvoiceNumber"] == self.fail_on for p in invoices):
            raise RetryLater("the store behind the call is down")
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.release.wait()
            return await FakeXero.create_invoices(self, scope, invoices, key=key, unitdp=unitdp)
        finally:
            self.in_flight -= 1


def lanes(xero: FakeXero, records: Records, count: int) -> Writer:
    return Writer(xero, records, chunk_size=2, lanes=count, sleep=no_wait)  # type: ignore[arg-type]


async def test_lanes_send_that_many_chunks_at_once_each_after_its_intents() -> None:
    records = SlowRecords()
    xero = InFlight(records)
    writing = asyncio.ensure_future(run(lanes(xero, records, 3), creates(9), {}))
    for _ in range(50):
        await asyncio.sleep(0)
    assert xero.in_flight == 3  # three chunks sent, none answered yet
    xero.release.set()
    sync_results, links = await writing
    assert xero.most == 3 and xero.calls == ["PUT"] * 5 and xero.unintended == []
    assert {r.outcome for r in sync_results.values()} == {SyncOutcome.CREATED}
    assert len(records.intents) == len(links) == len(records.links) == 9


async def test_a_failing_lane_lets_the_chunks_sent_finish_and_no_chunk_goes_after_it() -> None:
    records = Records()
    xero = InFlight(records, fail_on="INV-3")  # the second chunk fails while the first waits
    sync_results: dict[str, SyncResult] = {}
    two = lanes(xero, records, 2)
    writing = asyncio.ensure_future(two.write(SCOPE, creates(9), {}, sync_results))
    while xero.sent < 2:
        await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)
    assert not writing.done() and xero.in_flight == 1  # the first chunk is not given up
    xero.release.set()
    with pytest.raises(RetryLater):
        await writing
    # Xero wrote the first chunk: its outcomes and links are kept, and nothing was sent after.
    assert xero.sent == 2 and set(sync_results) == set(records.links) == {"inv_1", "inv_2"}


class FailsEach(FakeXero):
    """Each create of a number in ``failures`` fails with its error, after ``turns`` turns."""

    def __init__(self, failures: dict[str, tuple[int, Exception]]) -> None:
        super().__init__()
        self.failures = failures

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        for payload in invoices:
            if (failure := self.failures.get(str(payload["InvoiceNumber"]))) is not None:
                turns, error = failure
                for _ in range(turns):
                    await asyncio.sleep(0)
                raise error
        return await super().create_invoices(scope, invoices, key=key, unitdp=unitdp)


async def test_when_lanes_fail_together_a_fenced_writer_sends_its_batch_back() -> None:
    xero = FailsEach(
        {
            "INV-1": (5, Fenced("org_acme: a later writer took over")),
            "INV-3": (0, TenantChanged("the connection now reaches another tenant")),
        }
    )
    with pytest.raises(Fenced):  # not the tenant's error: that would fail invoices here
        await run(lanes(xero, Records(), 2), creates(4), {})


class RefusesWhole(FakeXero):
    """Refuses a request whole when it holds ``unreadable`` beside others; every call takes a
    few turns of the loop, and a POST notes how many calls were in flight beside it."""

    def __init__(self, *held: XeroInvoice, unreadable: str) -> None:
        super().__init__(*held)
        self.unreadable = unreadable
        self.in_flight = 0
        self.beside_posts: list[int] = []

    async def _call(self) -> None:
        self.in_flight += 1
        try:
            for _ in range(3):
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        await self._call()
        numbers = [p["InvoiceNumber"] for p in invoices]
        if self.unreadable in numbers and len(numbers) > 1:
            self.calls.append("PUT")
            raise XeroBadRequest("unreadable", kind=None, status=400, limits=RateLimits())
        return await super().create_invoices(scope, invoices, key=key, unitdp=unitdp)

    async def update_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        self.beside_posts.append(self.in_flight)
        await self._call()
        return await super().update_invoices(scope, invoices, key=key, unitdp=unitdp)


async def test_a_create_adopted_while_splitting_is_updated_after_every_lanes_creates() -> None:
    ours = XeroInvoice("x-ours", "INV-1", "ACCREC", "AUTHORISED", URL)  # a create answered lost
    xero, records = RefusesWhole(ours, unreadable="INV-2"), Records()
    sync_results, _ = await run(lanes(xero, records, 2), creates(8), {})
    # The first chunk is refused whole and halved; INV-1, refused as a duplicate, is adopted.
    assert sync_results["inv_1"].outcome is SyncOutcome.UPDATED
    assert sync_results["inv_1"].xero_id == "x-ours"
    # Its update went alone, once no create was in flight.
    assert xero.updated == [["x-ours"]] and xero.beside_posts == [0]


class StoreDown(Records):
    """The store fails after the first chunk's intents."""

    async def intend(
        self, org_id: str, tenant_id: str, intents: Mapping[str, tuple[str, str]]
    ) -> None:
        if self.intents:
            raise RetryLater("the store is down")
        await super().intend(org_id, tenant_id, intents)


async def test_intents_that_cannot_be_stored_stop_the_writes_after_the_chunk_in_flight() -> None:
    xero, records = FakeXero(), StoreDown()
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    with pytest.raises(RetryLater):
        await run(chunked, creates(5), {})
    assert xero.calls == ["PUT"]  # the chunk already on its way, and nothing after it


class LinksHeld(Records):
    """Storing links waits until ``release`` is set; notes when each store starts and ends."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.order: list[str] = []

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None:
        first = min(links)
        self.order.append(f"start {first}")
        await self.release.wait()
        for _ in range(10):  # a store's round trip: longer than the error takes to rise
            await asyncio.sleep(0)
        await super().settle(org_id, high_water, links, new=new)
        self.order.append(f"end {first}")


class ReleasesOnPut(FakeXero):
    """Releases the held link stores when the ``nth`` PUT is sent; fails the PUTs from
    ``fail_from`` on with a connection that has expired."""

    def __init__(self, records: LinksHeld, nth: int, fail_from: int | None = None) -> None:
        super().__init__()
        self.records = records
        self.nth = nth
        self.fail_from = fail_from

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        sent = self.calls.count("PUT") + 1
        if sent == self.nth:
            self.records.release.set()
        if self.fail_from is not None and sent >= self.fail_from:
            self.calls.append("PUT")
            raise ConnectionExpired(scope.org_id)
        return await super().create_invoices(scope, invoices, key=key, unitdp=unitdp)


async def test_a_chunks_links_are_stored_while_the_next_chunk_is_sent_and_before_the_end() -> None:
    records = LinksHeld()
    xero = ReleasesOnPut(records, nth=2)  # the first chunk's links wait for the second PUT
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    # A writer that waited for the links before the next PUT would never send it (the
    # timeout turns that hang into a failure).
    _, links = await asyncio.wait_for(run(chunked, creates(5), {}), timeout=5)
    assert xero.calls == ["PUT"] * 3
    assert records.links == links and len(links) == 5  # every link stored before the return
    # One chunk's links after the other's, never two at once.
    assert records.order == [
        "start inv_1", "end inv_1", "start inv_3", "end inv_3", "start inv_5", "end inv_5"
    ]  # fmt: skip


async def test_the_writer_goes_on_while_earlier_chunks_links_are_stored() -> None:
    records = LinksHeld()
    # The first chunk's links wait for the last PUT the writer may send meanwhile.
    xero = ReleasesOnPut(records, nth=LINKS_AHEAD + 1)
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    chunks = LINKS_AHEAD + 2
    # A writer that waited for the first chunk's links before that PUT would never send it
    # (the timeout turns that hang into a failure).
    _, links = await asyncio.wait_for(run(chunked, creates(2 * chunks), {}), timeout=5)
    assert xero.calls == ["PUT"] * chunks
    assert records.links == links and len(links) == 2 * chunks
    # Queued behind each other all the same: a later chunk's links never land first.
    firsts = [min(f"inv_{2 * n + 1}", f"inv_{2 * n + 2}") for n in range(chunks)]  # as noted
    assert records.order == [f"{step} {first}" for first in firsts for step in ("start", "end")]


async def test_the_writer_waits_once_links_ahead_chunks_links_are_storing() -> None:
    records = LinksHeld()  # never released
    xero = FakeXero()
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(chunked, creates(4 * LINKS_AHEAD), {}), timeout=0.2)
    # Each of the first LINKS_AHEAD chunks' links storing, the next chunk sent, and then the
    # writer waits for the first chunk's.
    assert xero.calls == ["PUT"] * (LINKS_AHEAD + 1)


class LinksFailOnRelease(LinksHeld):
    """Each store waits for ``release``, then fails: a store that fails late."""

    async def settle(
        self,
        org_id: str,
        high_water: Mapping[str, int],
        links: Mapping[str, Link],
        *,
        new: Collection[str] = (),
    ) -> None:
        await self.release.wait()
        raise RetryLater("the store is down")


class FailsWhenHeld(FakeXero):
    """The PUT of ``fail_on`` fails (a daily limit spent) once the other lane waits for its
    links: after ``held`` other PUTs."""

    def __init__(self, fail_on: str, held: int) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.held = held

    async def create_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        if any(p["InvoiceNumber"] == self.fail_on for p in invoices):
            while self.calls.count("PUT") < self.held:
                await asyncio.sleep(0)
            for _ in range(5):  # the other lane is waiting for the oldest links now
                await asyncio.sleep(0)
            raise DailyLimitSpent(scope.tenant_id, 60.0)
        return await super().create_invoices(scope, invoices, key=key, unitdp=unitdp)


async def test_a_lane_that_fails_while_another_waits_for_links_loses_no_link() -> None:
    records = LinksHeld()
    xero = FailsWhenHeld("INV-2", held=LINKS_AHEAD + 1)  # the second lane's first chunk
    two = Writer(xero, records, chunk_size=1, lanes=2, sleep=no_wait)  # type: ignore[arg-type]
    sync_results: dict[str, SyncResult] = {}
    writing = asyncio.ensure_future(two.write(SCOPE, creates(10), {}, sync_results))
    while len(records.order) < 1 or not xero.calls.count("PUT") > LINKS_AHEAD:
        await asyncio.sleep(0)
    for _ in range(20):  # the failure comes while the first lane waits at the bound
        await asyncio.sleep(0)
    records.release.set()
    with pytest.raises(DailyLimitSpent):  # the failure itself, not a cancellation
        await asyncio.wait_for(writing, timeout=5)
    # Every create Xero answered has its link stored, the last one's included.
    assert set(sync_results) == set(records.links)
    assert len(records.links) == LINKS_AHEAD + 1


async def test_a_store_that_fails_late_stops_the_writes_within_links_ahead_chunks() -> None:
    records = LinksFailOnRelease()
    # The first chunk's store fails once the last PUT the writer may send meanwhile is sent.
    xero = ReleasesOnPut(records, nth=LINKS_AHEAD + 1)
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    with pytest.raises(RetryLater):
        await asyncio.wait_for(run(chunked, creates(19), {}), timeout=5)
    # Raised before the chunk after those: a writer that never waited would send all ten.
    assert xero.calls == ["PUT"] * (LINKS_AHEAD + 1)


class CancelsOnPost(FakeXero):
    """Cancels ``task`` as the ``nth`` update answers: before anything else the loop runs."""

    def __init__(self, *held: XeroInvoice, nth: int) -> None:
        super().__init__(*held)
        self.nth = nth
        self.task: asyncio.Task[Any] | None = None

    async def update_invoices(
        self, scope: XeroScope, invoices: Sequence[Mapping[str, Any]], *, key: str, unitdp: int
    ) -> list[WrittenInvoice]:
        answer = await super().update_invoices(scope, invoices, key=key, unitdp=unitdp)
        if self.calls.count("POST") == self.nth and self.task is not None:
            asyncio.get_running_loop().call_soon(self.task.cancel)
        return answer


async def test_a_write_cancelled_as_its_links_are_stored_leaves_no_store_running() -> None:
    held = [XeroInvoice(f"x-u{n}", f"INV-{n}", "ACCREC", "AUTHORISED", URL) for n in (1, 2, 3)]
    updates = creates(3)
    for w, invoice_in_xero in zip(updates, held, strict=True):
        w.xero_id = invoice_in_xero.invoice_id
    records = LinksHeld()  # never released: the first chunk's links stay in flight
    xero = CancelsOnPost(*held, nth=2)  # the cancel lands once the write waits for its links
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    task = asyncio.ensure_future(run(chunked, updates, {}))
    xero.task = task
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    assert xero.calls == ["POST", "POST"] and records.order == ["start inv_1"]
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []  # neither chunk's store goes on after the write


async def test_links_reached_before_an_error_are_stored_before_it_is_raised() -> None:
    records = LinksHeld()
    # The second PUT finds the connection expired, while the first chunk's links are held.
    xero = ReleasesOnPut(records, nth=2, fail_from=2)
    chunked = writer(xero, records)
    chunked.chunk_size = 2
    with pytest.raises(ConnectionExpired):
        await asyncio.wait_for(run(chunked, creates(5), {}), timeout=5)
    assert xero.calls == ["PUT", "PUT"]
    assert set(records.links) == {"inv_1", "inv_2"}  # the written chunk's results hold
