"""Fencing on the real stack: a second instance joins while the first has batches in flight
against a slow Xero, and new versions arrive during the rebalance. The first instance's
batches of the partitions it loses are stopped (fence.py); whatever each instance did, every
invoice is in Xero once, with its newest version's content."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from service_kit.clock import utc_now
from sync_schemas import SyncOutcome
from tests.integration.xero_connector.pipeline_support import (
    by_hand,
    created,
    hand_made,
    invoice,
    publish,
    results,
    setup_org,
    stats,
    xero_invoices,
)
from tests.integration.xero_connector.support import ConnectorFactory, Sandbox
from tests.support.eventually import eventually
from xero_connector.adapters.mongo_sync import MongoWriterLeases
from xero_connector.metrics import CONSUMED
from xero_connector.writers import Fenced, WriterLeases

ORGS = [f"org_f{n}" for n in range(6)]
PER_ORG = 12
# One invoice a batch, so the first instance has something in flight at every moment.
SLOW = {"xero_backoff_seconds": 0.01, "linger_ms": 20, "topic_partitions": 6, "chunk_size": 1}
# Xero calls that end within 5 s, so that a writer lease of a few seconds outlives any of them.
QUICK_CALLS = {
    "http_read_timeout_seconds": 2,
    "http_write_timeout_seconds": 1,
    "http_connect_timeout_seconds": 1,
    "http_pool_timeout_seconds": 1,
}


async def test_a_second_instance_joining_mid_bulk_leaves_one_newest_copy_of_each(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(consume=False, topic_partitions=6) as setup:
        tenants = {org: await setup_org(setup, sandbox, org) for org in ORGS}
        first = [created(invoice(org, n)) for org in ORGS for n in range(1, PER_ORG + 1)]
        await publish(kafka_bootstrap, setup.names.invoice_events, first)
    await sandbox.faults(latency_ms=400)  # every Xero call slow: batches stay in flight
    try:
        async with connector(**SLOW) as a:

            async def writing() -> bool:
                puts = [(await stats(sandbox, t)).get("PUT /Invoices", 0) for t in tenants.values()]
                return sum(puts) >= 3

            await eventually(writing, what="three PUT /Invoices under way", timeout=60)
            async with connector(**SLOW) as b:  # joins: partitions move mid-batch
                newer = [created(invoice(org, 1, version=2)) for org in ORGS]
                await publish(kafka_bootstrap, a.names.invoice_events, newer)
                await sandbox.faults(latency_ms=0)
                out = await results(b, len(first) + len(newer), timeout=120)
    finally:
        await sandbox.faults(latency_ms=0)

    answered = {e.data.cause_event_id for e in out}
    assert {e.id for e in first + newer} <= answered  # every event got a result
    for org, tenant in tenants.items():
        held = [i for i in await xero_invoices(sandbox, tenant) if i["Type"] == "ACCREC"]
        copies = Counter(i["InvoiceNumber"] for i in held)
        assert set(copies.values()) == {1}, (org, copies)  # none twice
        assert len(copies) == PER_ORG, (org, copies)  # none lost
        [one] = [i for i in held if i["InvoiceNumber"] == "INV-00001"]
        assert one["Reference"] == "v2", (org, one)  # the newest version won
    newest = {e.data.org_id for e in out if e.data.version == 2 and hasattr(e.data, "outcome")}
    assert newest == set(ORGS)  # each org's version 2 reported synced
    stopped = CONSUMED.labels("revoked")._value.get()
    print(f"records of revoked batches left to the new owner: {stopped:g}")


async def test_one_holder_per_epoch_on_the_real_server(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    store = MongoWriterLeases(mongo_db)
    many = [
        WriterLeases(store, f"i{n}", ttl_seconds=30, poll_seconds=0.05, clock=utc_now)
        for n in range(6)
    ]
    got = await asyncio.gather(
        *(w.acquire("org_e", wait_seconds=0) for w in many), return_exceptions=True
    )
    assert got.count(1) == 1 and all(isinstance(g, Fenced) for g in got if g != 1)
    winner = many[got.index(1)]
    await winner.release_all()
    successor = next(w for w in many if w is not winner)
    assert await successor.acquire("org_e", wait_seconds=0) == 2
    with pytest.raises(Fenced):
        await winner.check("org_e", 1)


async def test_a_zombie_whose_lease_was_taken_writes_nothing_more(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    short = QUICK_CALLS | {"writer_lease_seconds": 8}
    async with connector(consume=False) as setup:
        tenant = await setup_org(setup, sandbox, "org_z")
        bulk = [created(invoice("org_z", n)) for n in range(1, 21)]
        await publish(kafka_bootstrap, setup.names.invoice_events, bulk)
    await sandbox.faults(latency_ms=300, tenant_id=tenant)
    try:
        async with connector(**SLOW, **short) as zombie:
            db = zombie.app.state.mongo[zombie.settings.mongodb_database]
            store = MongoWriterLeases(db)

            async def writing() -> bool:
                return (await stats(sandbox, tenant)).get("PUT /Invoices", 0) >= 2

            await eventually(writing, what="two PUT /Invoices of org_z", timeout=60)
            # Another instance took the organisation while this one was (as it thinks) busy.
            latest = await store.latest("org_z")
            assert latest is not None
            taken = datetime.now(UTC) + timedelta(seconds=3)
            assert await store.create("org_z", latest[0] + 1, "the-successor", taken)
            puts = (await stats(sandbox, tenant)).get("PUT /Invoices", 0)
            await asyncio.sleep(1.5)  # the zombie's writes in flight end; no new one starts
            after = (await stats(sandbox, tenant)).get("PUT /Invoices", 0)
            await sandbox.faults(latency_ms=0, tenant_id=tenant)
            # The successor "dies"; its lease ends and the zombie, its batch sent back,
            # takes the organisation again and finishes the bulk.
            out = await results(zombie, len(bulk), timeout=90)
    finally:
        await sandbox.faults(latency_ms=0, tenant_id=tenant)
    # At most the writes already on their way when it was taken: one a lane (each checked the
    # lease before it left, and each is a create, which cannot overwrite anything).
    assert after - puts <= zombie.settings.write_lanes
    held = Counter(i["InvoiceNumber"] for i in await xero_invoices(sandbox, tenant))
    assert len(held) == len(bulk) and set(held.values()) == {1}
    assert {e.id for e in bulk} <= {e.data.cause_event_id for e in out}


async def test_a_writer_that_waited_out_another_reads_what_that_one_created_meanwhile(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    # A new writer reads an invoice's record as its batch starts, then waits for the lease of
    # the writer before it. That writer's last create lands meanwhile, under the number the
    # invoice had then. Read again once the lease is taken, its intent shows: the invoice is
    # found under the old number and renumbered, not created a second time under the new.
    short = QUICK_CALLS | {"writer_lease_seconds": 30}
    renumbered = invoice("org_r", 1, version=2, invoice_number="INV-00001-R")
    async with connector(consume=False) as setup:
        tenant = await setup_org(setup, sandbox, "org_r")
        url = setup.settings.invoice_url_template.format(org_id="org_r", invoice_id="inv_00001")
        store = MongoWriterLeases(setup.app.state.mongo[setup.settings.mongodb_database])
        # The writer before: its lease outlasts the new writer's start, however slow.
        before = utc_now() + timedelta(seconds=60)
        assert await store.create("org_r", 1, "the-writer-before", before)
        reads = CommandCount("find", "links")
        async with connector(**short) as writer:
            await publish(kafka_bootstrap, writer.names.invoice_events, [created(renumbered)])
            # The new writer has read the record (nothing yet) and waits for the lease.
            await eventually(reads.grew, what="the new writer's read of the links", timeout=20)
            # Meanwhile the writer before stores its intent, and its create lands.
            v1 = {"inv_00001": ("INV-00001", url)}
            await setup.stores.records.intend("org_r", tenant, v1)
            [made] = await by_hand(sandbox, tenant, hand_made("INV-00001") | {"Url": url})
            await store.extend("org_r", 1, utc_now())  # and then it stops
            out = await results(writer, 1, timeout=40)
            # Its next batch, under the lease it holds now, reads the records once.
            reads = CommandCount("find", "links")
            second = [created(invoice("org_r", 2))]
            await publish(kafka_bootstrap, writer.names.invoice_events, second)
            await results(writer, 2, timeout=40)
            read_once = reads.grown_by()
    assert read_once == 1
    [one, _] = sorted(await xero_invoices(sandbox, tenant), key=lambda i: i["InvoiceNumber"])
    assert one["InvoiceID"] == made["InvoiceID"] and one["InvoiceNumber"] == "INV-00001-R"
    assert out[0].data.outcome is SyncOutcome.UPDATED


class CommandCount:
    """This process's ``mongo_commands_total`` of one command and collection: has it grown
    since the count was made?"""

    def __init__(self, command: str, collection: str) -> None:
        self._labels = {"command": command, "collection": collection}
        self._start = self._now()

    def _now(self) -> float:
        return REGISTRY.get_sample_value("mongo_commands_total", self._labels) or 0.0

    async def grew(self) -> bool:
        return self.grown_by() > 0

    def grown_by(self) -> float:
        return self._now() - self._start
