"""The truth in Xero, on the real stack (Kafka, the MongoDB-wire server, the Xero sandbox):
the connector never touches what is not its own, and never reports what is not there.
Each test is one of the operator's situations of issue 14; the sandbox rules they rest on
are in services/xero-sandbox/README.md with their sources."""

from datetime import UTC, datetime
from typing import Any

from sync_schemas import (
    ErrorCode,
    EventType,
    InvoiceSyncRequested,
    SyncOutcome,
    SyncReason,
    new_event,
)
from tests.integration.xero_connector.pipeline_support import (
    MAPPINGS,
    by_hand,
    by_invoice,
    created,
    hand_made,
    invoice,
    publish,
    requested,
    results,
    setup_org,
    stats,
    xero_invoices,
)
from tests.integration.xero_connector.support import ConnectorFactory, Sandbox, connect
from tests.support.eventually import eventually
from xero_connector.adapters.mongo_sync import MongoRetries
from xero_connector.domain import ScheduledRetry

FAST = {"xero_backoff_seconds": 0.01, "linger_ms": 50}


def held(invoices: list[dict[str, Any]], number: str) -> list[dict[str, Any]]:
    return [i for i in invoices if i["InvoiceNumber"].casefold() == number.casefold()]


async def test_a_contact_created_in_xero_after_contact_missing_is_used_on_resync(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_c")
        customer = {"id": "cus_new", "name": "Fresh Produce Ltd"}
        inv = invoice("org_c", 1, customer=customer)
        await publish(kafka_bootstrap, c.names.invoice_events, [created(inv)])
        [first] = await results(c, 1)
        # The seed's remedy: the operator creates the contact in Xero, then re-syncs.
        response = await sandbox.http.post(
            f"/_sandbox/orgs/{tenant}/contacts",
            json={"Contacts": [{"Name": "Fresh Produce Ltd", "ContactNumber": "cus_new"}]},
        )
        assert response.status_code == 200, response.text
        await publish(kafka_bootstrap, c.names.invoice_events, [requested(inv)])
        out = await results(c, 2)
    assert first.data.error_code is ErrorCode.CONTACT_MISSING
    assert out[1].data.outcome is SyncOutcome.CREATED
    [made] = await xero_invoices(sandbox, tenant)
    assert made["Contact"]["ContactNumber"] == "cus_new"


async def test_a_hand_made_invoice_with_our_number_is_untouched_until_linked(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_h")
        [theirs] = await by_hand(sandbox, tenant, hand_made("INV-00001"))
        before = held(await xero_invoices(sandbox, tenant), "INV-00001")
        ours = invoice("org_h", 1)
        await publish(kafka_bootstrap, c.names.invoice_events, [created(ours)])
        [refused] = await results(c, 1)
        after = held(await xero_invoices(sandbox, tenant), "INV-00001")

        # The operator adopts it: later versions update that Xero invoice.
        link = f"/v1/orgs/org_h/invoices/{ours.invoice_id}/link"
        bill = await c.http.post(
            link, json={"xero_invoice_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12}
        )
        linked = await c.http.post(link, json={"xero_invoice_id": theirs["InvoiceID"]})
        v2 = invoice("org_h", 1, version=2)
        await publish(kafka_bootstrap, c.names.invoice_events, [created(v2)])
        out = await results(c, 2)
        final = held(await xero_invoices(sandbox, tenant), "INV-00001")
        unlinked = await c.http.delete(link)

    assert refused.data.error_code is ErrorCode.INVOICE_NUMBER_TAKEN
    assert theirs["InvoiceID"] in refused.data.message
    assert "/v1/orgs/org_h/invoices/inv_00001/link" in refused.data.remediation
    assert after == before  # nothing written over it
    assert bill.status_code == 409, bill.text
    assert linked.status_code == 200, linked.text
    assert linked.json()["xero_invoice_number"] == "INV-00001"
    assert out[1].data.outcome is SyncOutcome.UPDATED
    assert out[1].data.xero_invoice_id == theirs["InvoiceID"]
    [one] = final
    assert one["InvoiceID"] == theirs["InvoiceID"] and one["Reference"] == "v2"
    assert unlinked.status_code == 204


async def test_an_invoice_whose_batch_stopped_after_its_intents_can_be_linked(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    # A crash or a revoke between storing a create's intents and its outcome leaves the
    # invoice with intents only: no mark and no link yet. An explicit link must still land.
    async with connector(consume=False) as c:
        tenant = await setup_org(c, sandbox, "org_i")
        [theirs] = await by_hand(sandbox, tenant, hand_made("INV-00001"))
        records = c.stores.records
        await records.intend("org_i", tenant, {"inv_00001": ("INV-00001", "https://v/1")})
        link = "/v1/orgs/org_i/invoices/inv_00001/link"
        linked = await c.http.post(link, json={"xero_invoice_id": theirs["InvoiceID"]})
        record = (await records.get_many("org_i", ["inv_00001"]))["inv_00001"]
    assert linked.status_code == 200, linked.text
    assert record.link is not None and record.link.xero_invoice_id == theirs["InvoiceID"]
    assert record.intents[tenant].numbers == ("INV-00001",)  # kept: they prove a create


async def test_a_bill_with_our_number_found_after_a_timeout_is_untouched(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST, http_read_timeout_seconds=0.5) as c:
        tenant = await setup_org(c, sandbox, "org_b")
        topic = c.names.invoice_events
        await publish(kafka_bootstrap, topic, [created(invoice("org_b", 9))])
        await results(c, 1)  # settings, org data and contacts are cached now
        [bill] = await by_hand(sandbox, tenant, hand_made("INV-00001", "ACCPAY", "Supplier"))
        await sandbox.faults(latency_ms=1500, tenant_id=tenant)  # Xero writes, answers late

        async def after_the_slow_put() -> bool:
            if (await stats(sandbox, tenant)).get("PUT /Invoices", 0) >= 2:
                await sandbox.faults(latency_ms=0, tenant_id=tenant)
                return True
            return False

        await publish(kafka_bootstrap, topic, [created(invoice("org_b", 1))])
        await eventually(after_the_slow_put, what="the slow PUT /Invoices", timeout=20)
        out = await results(c, 2)
        calls = await stats(sandbox, tenant)
    numbered = held(await xero_invoices(sandbox, tenant), "INV-00001")
    assert sorted(i["Type"] for i in numbered) == ["ACCPAY", "ACCREC"]  # ours created once
    [still] = [i for i in numbered if i["Type"] == "ACCPAY"]
    assert (still["Reference"], still["Total"]) == (bill["Reference"], bill["Total"])
    assert out[1].data.xero_invoice_id != bill["InvoiceID"]
    assert calls.get("GET /Invoices", 0) >= 1, calls  # looked up before sending again


async def test_reset_and_another_tenant_resyncs_every_invoice_into_it(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        first = await setup_org(c, sandbox, "org_t")
        invoices = [invoice("org_t", n) for n in (1, 2, 3)]
        await publish(kafka_bootstrap, c.names.invoice_events, [created(i) for i in invoices])
        await results(c, 3)
        assert (await c.http.post("/v1/orgs/org_t/reset")).status_code == 200
        second = await sandbox.create_org(
            name="Second Books", currencies=["NZD"], contacts=[{"Name": "Harbour Cafe Ltd"}]
        )
        await connect(c, sandbox, "org_t", second)
        await c.http.put("/v1/orgs/org_t/settings", json={"auto_create_contacts": True})
        await c.http.put("/v1/orgs/org_t/mappings", json=MAPPINGS)
        status = (await c.http.get("/v1/orgs/org_t/connection")).json()
        await publish(kafka_bootstrap, c.names.invoice_events, [requested(i) for i in invoices])
        out = await results(c, 6)
    assert status["tenant_id"] == second and status["tenant_name"] == "Second Books"
    new = await xero_invoices(sandbox, second)
    assert sorted(i["InvoiceNumber"] for i in new) == ["INV-00001", "INV-00002", "INV-00003"]
    assert {e.data.outcome for e in out[3:]} == {SyncOutcome.CREATED}
    assert {e.data.xero_invoice_id for e in out[3:]} == {i["InvoiceID"] for i in new}
    assert len(await xero_invoices(sandbox, first)) == 3  # the old tenant is left alone


async def test_a_connect_to_another_tenant_without_reset_trusts_nothing_of_the_first(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        first = await setup_org(c, sandbox, "org_s")
        inv = invoice("org_s", 1)
        await publish(kafka_bootstrap, c.names.invoice_events, [created(inv)])
        await results(c, 1)
        # A link as the previous version stored it: no tenant on it.
        db = c.app.state.mongo[c.settings.mongodb_database]
        await db["links"].update_one({"_id": "org_s/inv_00001"}, {"$unset": {"tenant_id": ""}})
        second = await sandbox.create_org(
            name="Other Books", currencies=["NZD"], contacts=[{"Name": "Harbour Cafe Ltd"}]
        )
        await connect(c, sandbox, "org_s", second)
        await publish(kafka_bootstrap, c.names.invoice_events, [requested(inv)])
        out = await results(c, 2)
    [made] = await xero_invoices(sandbox, second)
    assert out[1].data.outcome is SyncOutcome.CREATED
    assert out[1].data.xero_invoice_id == made["InvoiceID"]
    assert len(await xero_invoices(sandbox, first)) == 1


async def test_invoices_waiting_on_the_connection_sync_after_reconnect_with_nobody_asking(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    # Only the connector runs: no invoice-events, no sync log to ask which invoices failed.
    async with connector(**FAST, retry_poll_seconds=0.2) as c:
        tenant = await setup_org(c, sandbox, "org_w")
        await sandbox.faults(revoke_refresh_tokens=True, tenant_id=tenant)
        await sandbox.faults(expire_access_tokens=True, tenant_id=tenant)
        waiting = [invoice("org_w", n) for n in (1, 2, 3)]
        await publish(kafka_bootstrap, c.names.invoice_events, [created(i) for i in waiting])
        failed = await results(c, 3)
        await connect(c, sandbox, "org_w", tenant)  # the operator's Reconnect, nothing else
        out = await results(c, 6)
    assert {e.data.error_code for e in failed} == {ErrorCode.CONNECTION_EXPIRED}
    assert {e.data.outcome for e in out[3:]} == {SyncOutcome.CREATED}
    assert len(await xero_invoices(sandbox, tenant)) == 3


async def test_a_draft_then_void_is_deleted_and_a_void_never_synced_writes_nothing(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_v")
        topic = c.names.invoice_events
        await publish(kafka_bootstrap, topic, [created(invoice("org_v", 1, status="draft"))])
        await results(c, 1)
        voids = [invoice("org_v", 1, version=2, status="void"), invoice("org_v", 2, status="void")]
        await publish(kafka_bootstrap, topic, [created(v) for v in voids])
        out = by_invoice(await results(c, 3))
        writes = await stats(sandbox, tenant)
    [deleted] = await xero_invoices(sandbox, tenant)
    assert deleted["Status"] == "DELETED"
    assert out["inv_00001"].outcome is SyncOutcome.UPDATED
    never = out["inv_00002"]
    assert never.outcome is SyncOutcome.UNCHANGED and "nothing to void" in never.message
    assert writes.get("PUT /Invoices", 0) == 1 and writes.get("POST /Invoices", 0) == 1


async def test_a_v1_retry_after_a_v2_void_puts_nothing_live_in_xero(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_r")
        db = c.app.state.mongo[c.settings.mongodb_database]
        v1, v2 = invoice("org_r", 1), invoice("org_r", 1, version=2, status="void")
        scheduled = ScheduledRetry(
            "org_r",
            v1.invoice_id,
            datetime(2030, 1, 1, tzinfo=UTC),
            2,
            None,
            v1.model_dump(mode="json"),
        )
        await MongoRetries(db).schedule([scheduled])
        await publish(kafka_bootstrap, c.names.invoice_events, [created(v2)])
        await results(c, 1)
        left = await db["scheduled_retries"].find_one({"_id": "org_r/inv_00001"})
        # The retry of version 1 arrives anyway (it was sent before the void landed).
        retry = InvoiceSyncRequested(
            org_id="org_r",
            invoice_id=v1.invoice_id,
            reason=SyncReason.RESYNC,
            attempt=2,
            invoice=v1,
        )
        event = new_event(EventType.INVOICE_SYNC_REQUESTED, retry, source="/t", subject="org_r")
        await publish(kafka_bootstrap, c.names.invoice_events, [event])
        out = await results(c, 2)
    assert left is None  # the older retry was dropped when version 2 got its outcome
    assert out[1].data.version == 1 and out[1].data.outcome is SyncOutcome.UNCHANGED
    assert [i for i in await xero_invoices(sandbox, tenant) if i["Status"] != "DELETED"] == []


async def test_a_four_decimal_unit_price_keeps_four_decimals_in_xero(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_d")
        inv = invoice("org_d", 1, line={"quantity": "3", "unit_price": "10.1234"})
        await publish(kafka_bootstrap, c.names.invoice_events, [created(inv)])
        [out] = await results(c, 1)
        sent = [
            r for r in await sandbox.requests() if r["method"] == "PUT" and "Invoices" in r["path"]
        ]
    response = await sandbox.http.get(f"/_sandbox/orgs/{tenant}/invoices?unitdp=4")
    [made] = response.json()["Invoices"]
    line = made["LineItems"][0]
    assert str(line["UnitAmount"]) == "10.1234"
    assert str(line["LineAmount"]) == "30.37"  # 3 x 10.1234 = 30.3702, at 2 dp
    assert str(out.data.xero_total) == str(made["Total"])
    assert "unitdp=4" in str(sent[-1]["query"])


async def test_no_caller_supplied_field_can_dead_letter_a_valid_invoice(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_f")
        inv = invoice("org_f", 1)
        asked = InvoiceSyncRequested(
            org_id="org_f",
            invoice_id=inv.invoice_id,
            reason=SyncReason.MANUAL,
            requested_by="xero-connector:retry:0",
            invoice=inv,
        )
        event = new_event(EventType.INVOICE_SYNC_REQUESTED, asked, source="/t", subject="org_f")
        await publish(kafka_bootstrap, c.names.invoice_events, [event])
        [out] = await results(c, 1)
    assert out.data.outcome is SyncOutcome.CREATED and out.data.attempt == 1
    assert len(await xero_invoices(sandbox, tenant)) == 1


async def test_a_namesake_with_another_contact_number_is_never_used(
    connector: ConnectorFactory, sandbox: Sandbox, kafka_bootstrap: str
) -> None:
    other = [{"Name": "Harbour Cafe Ltd", "ContactNumber": "cus_other"}]
    async with connector(**FAST) as c:
        strict = await setup_org(c, sandbox, "org_n1", contacts=other)
        tenant = await setup_org(
            c, sandbox, "org_n2", contacts=other, settings={"auto_create_contacts": True}
        )
        customer = {"id": "cus_mine", "name": "Harbour Cafe Ltd"}
        events = [created(invoice(org, 1, customer=customer)) for org in ("org_n1", "org_n2")]
        await publish(kafka_bootstrap, c.names.invoice_events, events)
        out = {e.data.org_id: e.data for e in await results(c, 2)}
    assert out["org_n1"].error_code is ErrorCode.CONTACT_MISSING
    assert "cus_other" in out["org_n1"].message
    assert await xero_invoices(sandbox, strict) == []
    [made] = await xero_invoices(sandbox, tenant)
    assert made["Contact"]["ContactNumber"] == "cus_mine"
    assert made["Contact"]["Name"] == "Harbour Cafe Ltd (cus_mine)"
