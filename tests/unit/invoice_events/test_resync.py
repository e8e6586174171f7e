"""A dry-run resync resolves exactly as a real one and publishes nothing."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from invoice_events.decisions import PublishState, Snapshot
from invoice_events.ports import InvoiceQuery, ResyncBatch
from invoice_events.resync import SyncRequests
from sync_schemas import EventType
from tests.support.samples import invoice
from tests.unit.invoice_events.fakes import FakePublisher, FakeSnapshots

AT = datetime(2026, 11, 20, tzinfo=UTC)


class FakeSyncLog:
    """Answers every query with ``ids``, remembering the queries."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.queries: list[InvoiceQuery] = []

    async def invoice_ids(self, query: InvoiceQuery) -> AsyncIterator[str]:
        self.queries.append(query)
        for invoice_id in self.ids:
            yield invoice_id


class FakeBatches:
    def __init__(self) -> None:
        self.saved: list[ResyncBatch] = []

    async def get(self, batch_id: str) -> ResyncBatch | None:
        return next((b for b in reversed(self.saved) if b.batch_id == batch_id), None)

    async def save(self, batch: ResyncBatch) -> None:
        self.saved.append(batch)


def snapshots(*invoice_ids: str) -> FakeSnapshots:
    store = FakeSnapshots()
    for invoice_id in invoice_ids:
        inv = invoice(org_id="org_a", invoice_id=invoice_id)
        store.docs[("org_a", invoice_id)] = Snapshot(
            inv, PublishState.PUBLISHED, f"e-{invoice_id}", EventType.INVOICE_CREATED, "c", AT
        )
    return store


async def test_a_dry_run_counts_what_a_real_run_would_send_and_sends_nothing() -> None:
    known = [f"inv_{i:03d}" for i in range(30)]
    resolved = ["inv_999", *known, "inv_000"]  # one unknown, one repeated
    publisher, batches = FakePublisher(), FakeBatches()
    sync_log = FakeSyncLog(resolved)
    requests = SyncRequests(snapshots(*known), publisher, batches, sync_log)
    query = InvoiceQuery("org_a", "failed", None, error_codes=("contact_missing",))

    preview = await requests.preview("org_a", query)
    assert preview.count == 30
    assert preview.sample == known[:20]
    assert publisher.events == [] and batches.saved == []
    assert sync_log.queries == [query]

    real = await requests.resync("org_a", query, requested_by="ops@acme.example")
    assert len(real.invoice_ids) == preview.count
    assert real.invoice_ids[:20] == preview.sample
    assert [e.data.invoice_id for e in publisher.events][:20] == preview.sample
    assert {e.data.requested_by for e in publisher.events} == {"ops@acme.example"}


async def test_a_dry_run_of_explicit_ids_skips_the_unknown_ones_as_a_run_does() -> None:
    requests = SyncRequests(snapshots("a", "b"), FakePublisher(), FakeBatches(), FakeSyncLog([]))
    preview = await requests.preview("org_a", ["b", "x", "a"])
    assert (preview.count, preview.sample) == (2, ["b", "a"])


def test_the_error_codes_asked_for_are_error_code_and_error_codes_once_each() -> None:
    assert InvoiceQuery("o").codes == ()
    assert InvoiceQuery("o", "failed", "a").codes == ("a",)
    assert InvoiceQuery("o", "failed", "a", error_codes=("b", "a")).codes == ("a", "b")
