"""The sync pipeline end to end: real Kafka, real MongoDB, the Xero sandbox.

Most tests set the organisation up with one instance that does not consume, publish the
events, then start a consuming instance, so that the whole burst arrives in one batch.
"""

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from sync_schemas import ErrorCode, SyncOutcome
from tests.integration.xero_connector.pipeline_support import (
    MAPPINGS,
    by_invoice,
    created,
    invoice,
    publish,
    publish_raw,
    requested,
    results,
    setup_org,
    stats,
    xero_invoices,
)
from tests.integration.xero_connector.support import (
    ConnectorFactory,
    Sandbox,
    read_events,
    watched_db,
)
from tests.support.eventually import eventually
from xero_connector.adapters.mongo_sync import (
    MongoContactCache,
    MongoInvoiceRecords,
    MongoRetries,
)
from xero_connector.domain import PARKED_UNTIL, Link, ScheduledRetry
from xero_connector.ports import XeroScope

FAST = {"xero_backoff_seconds": 0.01, "linger_ms": 50}


async def test_every_error_code_and_the_dlq(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(consume=False) as setup:
        topic = setup.names.invoice_events
        tenant = await setup_org(setup, sandbox, "org_a")
        await setup_org(setup, sandbox, "org_expired")
        expired_tenant = await setup_org(setup, sandbox, "org_down")
        events = [
            created(invoice("org_a", 1)),
            created(invoice("org_a", 2, line={"tax_code": "VAT9"})),
            created(invoice("org_a", 3, line={"revenue_category": "hardware"})),
            created(invoice("org_a", 4, currency="EUR")),
            created(invoice("org_a", 5, line={"tax_code": "BADTAX"})),
            created(invoice("org_a", 6, line={"revenue_category": "bad_account"})),
            created(invoice("org_a", 7, customer={"id": "cus_new", "name": "Nobody Ltd"})),
            created(invoice("org_a", 8, due_date=None)),
            created(invoice("org_nobody", 9)),
            created(invoice("org_expired", 10)),
            created(invoice("org_down", 11)),
        ]
        await sandbox.faults(revoke_refresh_tokens=True, tenant_id=None)
    # Only org_expired's tokens are expired and refused; the others reconnect below.
    async with connector(**FAST, xero_retries=1, write_attempts=1) as c:
        await reconnect_all_but(c, sandbox, "org_expired")
        await sandbox.faults(expire_access_tokens=True)
        await reconnect_all_but(c, sandbox, "org_expired")
        await sandbox.faults(error_rate=1.0, error_status=503, tenant_id=expired_tenant)
        await publish(kafka_bootstrap, topic, events)
        await publish_raw(kafka_bootstrap, topic, b"\x00not json")
        out = by_invoice(await results(c, len(events)))
        await sandbox.faults(error_rate=0, tenant_id=expired_tenant)
        dlq = await read_events_raw(kafka_bootstrap, c.names.dlq)

    codes = {k: getattr(v, "error_code", None) for k, v in out.items()}
    assert out["inv_00001"].outcome is SyncOutcome.CREATED
    assert codes == {
        "inv_00001": None,
        "inv_00002": ErrorCode.TAX_RATE_UNMAPPED,
        "inv_00003": ErrorCode.ACCOUNT_UNMAPPED,
        "inv_00004": ErrorCode.CURRENCY_NOT_ENABLED,
        "inv_00005": ErrorCode.TAX_RATE_INVALID,
        "inv_00006": ErrorCode.ACCOUNT_INVALID,
        "inv_00007": ErrorCode.CONTACT_MISSING,
        "inv_00008": ErrorCode.XERO_VALIDATION,
        "inv_00009": ErrorCode.NOT_CONNECTED,
        "inv_00010": ErrorCode.CONNECTION_EXPIRED,
        "inv_00011": ErrorCode.XERO_UNAVAILABLE,
    }
    assert out["inv_00008"].xero_messages == ["Due Date must be specified"]
    assert out["inv_00011"].retryable and not out["inv_00002"].retryable
    assert "POST /v1/orgs/org_expired/connection" in out["inv_00010"].remediation
    assert len(await xero_invoices(sandbox, tenant)) == 1
    assert [dict(h)["dlq_reason"] for h in dlq] == [b"missing_attribute"]


async def reconnect_all_but(c: Any, sandbox: Sandbox, skip: str) -> None:
    """Reconnect every test organisation except ``skip`` (its tokens stay refused)."""
    from tests.integration.xero_connector.support import connect

    for org in ("org_a", "org_down"):
        if org != skip:
            connection = await c.stores.connections.get(org)
            await connect(c, sandbox, org, connection.tenant_id)


async def read_events_raw(bootstrap: str, topic: str) -> list[list[tuple[str, bytes]]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        batches = await consumer.getmany(timeout_ms=2000)
        return [list(r.headers) for records in batches.values() for r in records]
    finally:
        await consumer.stop()


async def test_daily_limit_spent_fails_as_rate_limited_and_schedules_a_retry(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        await setup_org(c, sandbox, "org_day")
        await sandbox.http.put("/_sandbox/limits", json={"per_day": 3})
        try:
            await publish(kafka_bootstrap, c.names.invoice_events, [created(invoice("org_day", 1))])
            [result] = await results(c, 1)
        finally:
            await sandbox.http.put("/_sandbox/limits", json={"per_day": 1_000_000})
        scheduled = await c.app.state.mongo[c.settings.mongodb_database][
            "scheduled_retries"
        ].find_one({"_id": "org_day/inv_00001"})
    assert result.data.error_code is ErrorCode.RATE_LIMITED and result.data.retryable
    # Waiting out the daily limit uses none of the tries kept for Xero being away.
    assert scheduled is not None and scheduled["attempt"] == 1


async def test_xero_unavailable_is_retried_by_itself_until_the_retries_run_out(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    retry = {"xero_retries": 0, "write_attempts": 1, "retry_poll_seconds": 0.2}
    async with connector(**FAST, **retry, unavailable_retry_seconds=0.5) as c:
        tenant = await setup_org(c, sandbox, "org_flaky")
        await sandbox.faults(error_rate=1.0, error_status=503, tenant_id=tenant)
        try:
            await publish(
                kafka_bootstrap, c.names.invoice_events, [created(invoice("org_flaky", 1))]
            )
            failed = await results(c, 2)
        finally:
            await sandbox.faults(error_rate=0, tenant_id=tenant)
        out = await results(c, 3)
    # Attempt 1 fails and schedules attempt 2 after 0.5 s, which fails and schedules attempt 3
    # after 1 s; Xero is back by then.
    assert [(e.data.error_code, e.data.attempt) for e in failed[:2]] == [
        (ErrorCode.XERO_UNAVAILABLE, 1),
        (ErrorCode.XERO_UNAVAILABLE, 2),
    ]
    assert "retry 1 of 3 scheduled in 0.5 s" in failed[0].data.message
    assert out[2].data.outcome is SyncOutcome.CREATED and out[2].data.attempt == 3
    assert len(await xero_invoices(sandbox, tenant)) == 1

    async with connector(
        **FAST, **retry, unavailable_retries=1, unavailable_retry_seconds=0.2
    ) as c:
        tenant = await setup_org(c, sandbox, "org_down_for_good")
        await sandbox.faults(error_rate=1.0, error_status=503, tenant_id=tenant)
        try:
            event = created(invoice("org_down_for_good", 1))
            await publish(kafka_bootstrap, c.names.invoice_events, [event])
            await results(c, 5)  # the first organisation's 3, then attempts 1 and 2
            await asyncio.sleep(1.5)  # a third attempt would be due by now
            down = [e.data for e in await results(c, 5) if e.data.org_id == "org_down_for_good"]
        finally:
            await sandbox.faults(error_rate=0, tenant_id=tenant)
    assert [r.attempt for r in down] == [1, 2]
    assert "no automatic retry left after 2 attempts" in down[1].message


async def test_a_retry_sent_does_not_forget_the_next_one_already_scheduled(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    # The request just sent can fail again, and schedule its next attempt under the same _id,
    # before the retry loop marks the sent one done.
    retries = MongoRetries(mongo_db)
    now = datetime.now(UTC).replace(microsecond=0)
    sent = ScheduledRetry("org_r", "inv_1", now, 2, None, {"invoice_id": "inv_1"})
    await retries.schedule([sent])
    [due] = await retries.due(now)
    following = replace(sent, attempt=3, due_at=now + timedelta(seconds=2))
    await retries.schedule([following])
    await retries.done(due)
    assert await retries.due(now + timedelta(seconds=5)) == [following]
    await retries.done(following)
    assert await retries.due(now + timedelta(seconds=5)) == []


async def test_a_retry_of_an_older_version_never_replaces_a_newer_ones(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    retries = MongoRetries(mongo_db)
    now = datetime.now(UTC).replace(microsecond=0)
    newer = ScheduledRetry("org_r", "inv_1", now, 2, None, {"invoice_id": "inv_1", "version": 2})
    older = replace(newer, attempt=3, invoice={"invoice_id": "inv_1", "version": 1})
    await retries.schedule([newer])
    await retries.schedule([older])
    assert await retries.due(now) == [newer]
    later = replace(newer, attempt=3, due_at=now + timedelta(seconds=1))
    await retries.schedule([later])  # the same version moves on as before
    assert await retries.due(now + timedelta(seconds=2)) == [later]


async def test_a_batch_deletes_only_the_older_retries_it_finds(
    mongodb_uri: str, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    # Every outcome drops the invoice's older retries, but few invoices of a batch have one:
    # a delete statement for each would cost the server as much as writing their links.
    async with watched_db(mongodb_uri, mongo_db.name) as (db, commands):
        retries = MongoRetries(db)
        now = datetime.now(UTC).replace(microsecond=0)
        scheduled = [
            ScheduledRetry("org_r", i, now, 2, None, {"invoice_id": i, "version": v})
            for i, v in (("inv_1", 1), ("inv_2", 3), ("inv_3", 2))  # older, newer, the same
        ]
        await retries.schedule(scheduled)
        await retries.drop_older("org_r", {f"inv_{n}": 2 for n in range(1, 101)})
        assert {r.invoice_id for r in await retries.due(now)} == {"inv_2", "inv_3"}
        deleted = [d["q"]["_id"] for command in commands.of("delete") for d in command["deletes"]]
        assert deleted == ["org_r/inv_1"]


async def test_parked_syncs_are_released_once_and_the_sweep_sees_only_those_still_parked(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    retries = MongoRetries(mongo_db)
    now = datetime.now(UTC).replace(microsecond=0)
    parked = [
        ScheduledRetry(org, f"inv_{n}", PARKED_UNTIL, 1, None, {"invoice_id": f"inv_{n}"}, True)
        for org, n in (("org_p", 1), ("org_p", 2), ("org_q", 3))
    ]
    await retries.schedule(parked)
    assert await retries.orgs_still_parked() == ["org_p", "org_q"]
    assert await retries.release_parked("org_p", now) == 2
    assert await retries.release_parked("org_p", now) == 0  # released already: not counted
    assert await retries.orgs_still_parked() == ["org_q"]
    assert {r.invoice_id for r in await retries.due(now)} == {"inv_1", "inv_2"}
    assert await retries.parked_count("org_p") == 2  # waiting until requested


async def test_contacts_are_inserted_and_a_contact_stored_meanwhile_is_replaced(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    contacts = MongoContactCache(mongo_db)
    scope = XeroScope("org_c", "t-1")
    await contacts.put_many(scope, {"cus_1": "c-1"})
    await contacts.put_many(scope, {"cus_1": "c-1b", "cus_2": "c-2"})
    assert await contacts.get_many(scope, ["cus_1", "cus_2", "cus_3"]) == {
        "cus_1": "c-1b",
        "cus_2": "c-2",
    }
    assert await contacts.get_many(XeroScope("org_c", "t-2"), ["cus_1"]) == {}


async def test_links_never_go_back_to_an_older_version_and_high_water_only_rises(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    records = MongoInvoiceRecords(mongo_db)
    await records.intend("org_m", "t-1", {"inv_1": ("INV-1", "https://c/1")})
    await records.settle("org_m", {"inv_1": 3}, {"inv_1": Link("t-1", "x-3", 3, "h3", "DRAFT")})
    # A writer that fell behind (a zombie, a late batch) answers for version 2.
    await records.settle("org_m", {"inv_1": 2}, {"inv_1": Link("t-1", "x-2", 2, "h2", "DRAFT")})
    record = (await records.get_many("org_m", ["inv_1"]))["inv_1"]
    assert record.link == Link("t-1", "x-3", 3, "h3", "DRAFT") and record.high_water == 3
    assert record.intents["t-1"].numbers == ("INV-1",) and record.number == "INV-1"
    await records.settle("org_m", {"inv_1": 4}, {"inv_1": Link("t-1", "x-3", 4, "h4", "VOIDED")})
    record = (await records.get_many("org_m", ["inv_1"]))["inv_1"]
    assert record.link is not None and (record.link.version, record.high_water) == (4, 4)


async def test_a_first_creates_link_is_one_insert_and_a_wrong_guess_keeps_the_newer_link(
    mongodb_uri: str, mongo_db: AsyncDatabase[dict[str, Any]]
) -> None:
    # Intents and links apart: on FerretDB an update costs about eight inserts, and the
    # link written over its intent was most of the store's work in a bulk.
    async with watched_db(mongodb_uri, mongo_db.name) as (db, commands):
        records = MongoInvoiceRecords(db)
        await records.intend("org_n", "t-1", {"inv_1": ("INV-1", "https://c/1")})
        first = Link("t-1", "x-1", 1, "h1", "AUTHORISED")
        await records.settle("org_n", {}, {"inv_1": first}, new={"inv_1"})
        writes = [(name, c[name]) for name, c in commands.sent if name in ("insert", "update")]
        assert writes == [("insert", "intents"), ("insert", "links")]
        record = (await records.get_many("org_n", ["inv_1"]))["inv_1"]
        assert (record.link, record.high_water, record.number) == (first, 1, "INV-1")
        assert record.intents["t-1"].numbers == ("INV-1",)
        # Taken for new by mistake (another writer linked version 3 meanwhile): the insert
        # is refused and the link goes through the version guard like any other.
        await records.settle("org_n", {}, {"inv_1": Link("t-1", "x-3", 3, "h3", "DRAFT")})
        await records.settle(
            "org_n", {}, {"inv_1": Link("t-1", "x-2", 2, "h2", "DRAFT")}, new={"inv_1"}
        )
        record = (await records.get_many("org_n", ["inv_1"]))["inv_1"]
        assert record.link == Link("t-1", "x-3", 3, "h3", "DRAFT") and record.high_water == 3
        await records.settle(
            "org_n", {}, {"inv_1": Link("t-1", "x-3", 4, "h4", "VOIDED")}, new={"inv_1"}
        )
        record = (await records.get_many("org_n", ["inv_1"]))["inv_1"]
        assert record.link is not None and (record.link.version, record.high_water) == (4, 4)
        # Reset forgets the links, never the intents: they prove a Xero invoice is ours.
        await records.forget_org("org_n")
        record = (await records.get_many("org_n", ["inv_1"]))["inv_1"]
        assert record.link is None and record.intents["t-1"].numbers == ("INV-1",)


async def test_intents_stored_in_links_before_the_split_are_still_read(
    mongo_db: AsyncDatabase[dict[str, Any]],
) -> None:
    # A record written by the version that kept intents in the links document.
    await mongo_db["links"].insert_one(
        {
            "_id": "org_o/inv_1",
            "org_id": "org_o",
            "invoice_id": "inv_1",
            "number": "INV-OLD",
            "intents": {"t-1": {"numbers": ["INV-OLD"], "urls": ["https://c/1"]}},
            "high_water": 2,
        }
    )
    records = MongoInvoiceRecords(mongo_db)
    record = (await records.get_many("org_o", ["inv_1"]))["inv_1"]
    assert record.intents["t-1"].numbers == ("INV-OLD",) and record.number == "INV-OLD"
    await records.intend("org_o", "t-1", {"inv_1": ("INV-NEW", "https://c/1")})
    record = (await records.get_many("org_o", ["inv_1"]))["inv_1"]
    assert record.intents["t-1"].numbers == ("INV-OLD", "INV-NEW")  # every number we sent
    assert record.intents["t-1"].urls == ("https://c/1",)
    assert (record.number, record.high_water) == ("INV-NEW", 2)
    stored = await mongo_db["intents"].find_one({"_id": "org_o/inv_1"})
    assert stored is not None and stored["intents"]["t-1"]["numbers"] == ["INV-NEW"]
    # Its link, taken for new by mistake, goes over the old document.
    link = Link("t-1", "x-1", 2, "h2", "AUTHORISED")
    await records.settle("org_o", {}, {"inv_1": link}, new={"inv_1"})
    record = (await records.get_many("org_o", ["inv_1"]))["inv_1"]
    assert record.link == link and record.intents["t-1"].numbers == ("INV-OLD", "INV-NEW")


async def test_five_deliveries_of_one_invoice_in_a_burst_make_one_xero_invoice(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(consume=False) as setup:
        tenant = await setup_org(setup, sandbox, "org_burst", settings={"sync_mode": "automatic"})
        v1, v2, v3 = (invoice("org_burst", 1, version=v) for v in (1, 2, 3))
        burst = [created(v1), requested(v1, "b1"), created(v2), requested(v2, "b1"), created(v3)]
        await publish(kafka_bootstrap, setup.names.invoice_events, burst)
    async with connector(**FAST) as c:
        out = await results(c, 5)
        await publish(kafka_bootstrap, c.names.invoice_events, [requested(v3, "b2")])
        again = await results(c, 6)
    held = await xero_invoices(sandbox, tenant)
    assert len(held) == 1 and held[0]["Reference"] == "v3"
    assert len(out) == 5 and {e.data.cause_event_id for e in out} == {e.id for e in burst}
    assert {e.data.outcome for e in out} == {SyncOutcome.CREATED}
    assert [e.data.batch_id for e in out if e.data.batch_id] == ["b1", "b1"]
    assert again[-1].data.outcome is SyncOutcome.UNCHANGED


async def test_manual_mode_ignores_created_and_updated(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_manual", settings={"sync_mode": "manual"})
        events = [created(invoice("org_manual", 1)), requested(invoice("org_manual", 2))]
        await publish(kafka_bootstrap, c.names.invoice_events, events)
        out = await results(c, 1)
        await asyncio.sleep(1)
        out = await results(c, 1)
    assert [e.data.invoice_id for e in out] == ["inv_00002"]
    assert [i["InvoiceNumber"] for i in await xero_invoices(sandbox, tenant)] == ["INV-00002"]


async def test_crash_after_xero_accepted_before_commit_makes_no_duplicate(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(consume=False) as setup:
        tenant = await setup_org(setup, sandbox, "org_crash")
        events = [created(invoice("org_crash", n)) for n in range(1, 21)]
        await publish(kafka_bootstrap, setup.names.invoice_events, events)
    entered = asyncio.Event()
    victim: list[asyncio.Task[Any]] = []

    class CrashAfterWrite:
        """The port as it would look if the process died right after Xero accepted."""

        def __init__(self, port: Any) -> None:
            self._port = port

        def __getattr__(self, name: str) -> Any:
            return getattr(self._port, name)

        async def create_invoices(self, *args: Any, **kwargs: Any) -> Any:
            await self._port.create_invoices(*args, **kwargs)
            task = asyncio.current_task()
            assert task is not None
            victim.append(task)
            entered.set()
            await asyncio.Event().wait()  # hangs until cancelled

    async with connector(**FAST) as first:
        writer = first.app.state.pipeline.writer
        writer.xero = CrashAfterWrite(writer.xero)
        await asyncio.wait_for(entered.wait(), 20)
        assert len(await xero_invoices(sandbox, tenant)) == 20  # Xero accepted the batch
        victim[0].cancel()
        await asyncio.sleep(0.1)
    assert await results(first, 0, timeout=0) == []  # nothing published, nothing committed
    async with connector(**FAST) as second:
        out = await results(second, 20)
    assert len(await xero_invoices(sandbox, tenant)) == 20
    assert len(out) == 20 and all(getattr(e.data, "xero_invoice_id", None) for e in out)


async def test_unknown_outcome_is_looked_up_before_sending_again(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST, http_read_timeout_seconds=0.5) as c:
        tenant = await setup_org(c, sandbox, "org_slow")
        topic = c.names.invoice_events
        await publish(kafka_bootstrap, topic, [created(invoice("org_slow", 9))])
        await results(c, 1)  # settings and contacts are cached now
        await sandbox.faults(latency_ms=1500, tenant_id=tenant)  # Xero writes, then answers late

        async def clear_fault() -> None:
            await sandbox.faults(latency_ms=0, tenant_id=tenant)

        async def after_first_timeout() -> bool:
            calls = await stats(sandbox, tenant)
            if calls.get("PUT /Invoices", 0) >= 2:  # the warm-up, then the slow one
                await clear_fault()
                return True
            return False

        await publish(kafka_bootstrap, topic, [created(invoice("org_slow", n)) for n in (1, 2, 3)])
        await eventually(after_first_timeout, what="the slow PUT /Invoices", timeout=20)
        out = (await results(c, 4))[1:]
    assert len(await xero_invoices(sandbox, tenant)) == 4
    assert len(out) == 3 and all(getattr(e.data, "xero_invoice_id", None) for e in out), out
    calls = await stats(sandbox, tenant)
    assert calls.get("GET /Invoices", 0) >= 1, calls  # looked up before sending again


async def test_a_late_older_version_never_overwrites_a_newer_one(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_late")
        topic = c.names.invoice_events
        await publish(kafka_bootstrap, topic, [created(invoice("org_late", 1, version=3))])
        await results(c, 1)
        await publish(kafka_bootstrap, topic, [created(invoice("org_late", 1, version=2))])
        out = await results(c, 2)
    [held] = await xero_invoices(sandbox, tenant)
    assert held["Reference"] == "v3"
    assert out[-1].data.version == 2 and out[-1].data.outcome is SyncOutcome.UNCHANGED


async def test_a_batch_of_50_with_3_bad_invoices_is_one_xero_call(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(consume=False) as setup:
        tenant = await setup_org(
            setup, sandbox, "org_fifty", settings={"auto_create_contacts": True}
        )
        await setup.xero.currencies("org_fifty")
        bad: dict[int, dict[str, Any]] = {
            7: {"line": {"tax_code": "VAT9"}},  # fails before Xero
            23: {"due_date": None},  # Xero refuses it inside the batch
            41: {"line": {"tax_code": "BADTAX"}},  # fails before Xero
        }
        events = [
            created(
                invoice(
                    "org_fifty",
                    n,
                    customer={"id": f"cus_{n % 10}", "name": f"Customer {n % 10}"},
                    **bad.get(n, {}),
                )
            )
            for n in range(1, 51)
        ]
        await publish(kafka_bootstrap, setup.names.invoice_events, events)
    async with connector(**FAST) as c:
        out = by_invoice(await results(c, 50))
    failed = {k: v.error_code for k, v in out.items() if hasattr(v, "error_code")}
    assert failed == {
        "inv_00007": ErrorCode.TAX_RATE_UNMAPPED,
        "inv_00023": ErrorCode.XERO_VALIDATION,
        "inv_00041": ErrorCode.TAX_RATE_INVALID,
    }
    assert len(out) == 50
    assert len(await xero_invoices(sandbox, tenant)) == 47
    calls = await stats(sandbox, tenant)
    assert calls.get("POST /Invoices", 0) + calls.get("PUT /Invoices", 0) == 1, calls
    assert calls.get("PUT /Contacts", 0) == 1, calls


__all__ = ["read_events"]


async def test_a_resync_of_an_invoice_in_xero_at_its_version_stays_synced_whatever_else_broke(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_kept")
        topic = c.names.invoice_events
        one, two = invoice("org_kept", 1), invoice("org_kept", 2)
        await publish(kafka_bootstrap, topic, [created(one), created(two)])
        written = await results(c, 2)
        # Invoice 1's tax code loses its mapping: a re-sync of the same version has nothing
        # to write, so it stays synced; its next version has, and fails on the cause.
        unmapped = MAPPINGS | {"tax_rates": {}}
        assert (await c.http.put("/v1/orgs/org_kept/mappings", json=unmapped)).status_code == 200
        await publish(kafka_bootstrap, topic, [requested(one, "b1")])
        after_unmapping = (await results(c, 3))[-1]
        await publish(kafka_bootstrap, topic, [created(invoice("org_kept", 1, version=2))])
        next_version = (await results(c, 4))[-1]
        # The connection goes at Xero, and the connector finds out on invoice 3; a re-sync
        # of invoice 2, in Xero at its version, stays synced too.
        assert (await c.http.put("/v1/orgs/org_kept/mappings", json=MAPPINGS)).status_code == 200
        faults = {"revoke_refresh_tokens": True, "expire_access_tokens": True, "tenant_id": tenant}
        assert (await sandbox.http.put("/_sandbox/faults", json=faults)).status_code == 200
        await publish(kafka_bootstrap, topic, [created(invoice("org_kept", 3))])
        found_out = (await results(c, 5))[-1]
        await publish(kafka_bootstrap, topic, [requested(two, "b2")])
        after_expiry = (await results(c, 6))[-1]
    ids = {e.data.invoice_id: e.data.xero_invoice_id for e in written}
    assert {e.data.outcome for e in written} == {SyncOutcome.CREATED}
    assert next_version.data.error_code is ErrorCode.TAX_RATE_UNMAPPED, next_version.data
    assert found_out.data.error_code is ErrorCode.CONNECTION_EXPIRED, found_out.data
    for kept, cause in ((after_unmapping, "tax"), (after_expiry, "connection")):
        assert kept.data.outcome is SyncOutcome.UNCHANGED, kept.data
        assert kept.data.xero_invoice_id == ids[kept.data.invoice_id]
        message = kept.data.message.lower()
        assert "already in xero at version 1" in message and cause in message, message
    assert len(await xero_invoices(sandbox, tenant)) == 2
