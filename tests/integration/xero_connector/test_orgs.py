"""The organisation list and the waiting count, for the operator console: organisations known
by a connection, by settings or mappings, or by invoices parked on a missing connection."""

from sync_schemas import SyncOutcome
from tests.integration.xero_connector.pipeline_support import (
    created,
    invoice,
    publish,
    results,
    setup_org,
    xero_invoices,
)
from tests.integration.xero_connector.support import ConnectorFactory, Sandbox, connect
from tests.support.eventually import eventually
from xero_connector.adapters.mongo_sync import MongoRetries
from xero_connector.domain import PARKED_UNTIL, ScheduledRetry
from xero_connector.retries import PARKED_SWEEP_SECONDS

FAST = {"xero_backoff_seconds": 0.01, "linger_ms": 50, "retry_poll_seconds": 0.2}


async def test_every_known_org_is_listed_with_what_waits_on_its_connection(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    tenant = await sandbox.create_org(name="Listed Ltd")
    async with connector(**FAST) as c:
        assert (await c.http.get("/v1/orgs")).json() == {"items": []}

        # Two invoices of an organisation nobody connected fail not_connected and are parked.
        await publish(
            c.settings.kafka_bootstrap_servers[0],
            c.names.invoice_events,
            [created(invoice("org_waiting", 1)), created(invoice("org_waiting", 2))],
        )
        failed = await results(c, 2)
        assert {e.data.error_code.value for e in failed} == {"not_connected"}
        await connect(c, sandbox, "org_connected", tenant)
        put = await c.http.put("/v1/orgs/org_configured/settings", json={"sync_mode": "manual"})
        assert put.status_code == 200

        listed = await c.http.get("/v1/orgs")
        assert listed.status_code == 200
        items = listed.json()["items"]
        assert [i["org_id"] for i in items] == ["org_configured", "org_connected", "org_waiting"]
        by_org = {i["org_id"]: i for i in items}
        assert by_org["org_connected"]["status"] == "connected"
        assert by_org["org_connected"]["tenant_name"] == "Listed Ltd"
        assert by_org["org_connected"]["connected_at"]
        assert by_org["org_connected"]["waiting"] == 0
        assert by_org["org_configured"] == {
            "org_id": "org_configured",
            "status": "disconnected",
            "tenant_name": None,
            "connected_at": None,
            "waiting": 0,
        }
        assert by_org["org_waiting"]["status"] == "disconnected"
        assert by_org["org_waiting"]["waiting"] == 2

        status = (await c.http.get("/v1/orgs/org_waiting/connection")).json()
        assert status["status"] == "disconnected" and status["waiting"] == 2
        assert (await c.http.get("/v1/orgs/org_connected/connection")).json()["waiting"] == 0

        # A Connect releases them: once requested again nothing waits any more.
        await connect(c, sandbox, "org_waiting", tenant)

        async def released() -> bool:
            status = await c.http.get("/v1/orgs/org_waiting/connection")
            return bool(status.json()["waiting"] == 0)

        await eventually(released, what="the parked invoices released by the Connect")
        listed_again = {i["org_id"]: i for i in (await c.http.get("/v1/orgs")).json()["items"]}
        assert listed_again["org_waiting"]["status"] == "connected"
        assert listed_again["org_waiting"]["waiting"] == 0


async def test_the_org_list_needs_a_key(connector: ConnectorFactory) -> None:
    async with connector(consume=False) as c:
        refused = await c.http.get("/v1/orgs", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthorized"


async def test_a_sync_parked_after_its_connect_is_released_by_the_sweep(
    connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    """A batch still failing on the old connection when the Connect came parks its invoice
    after the Connect released the organisation's parked syncs: the sweep releases it, since
    the organisation is connected, and it syncs with nobody asking."""
    async with connector(**FAST) as c:
        tenant = await setup_org(c, sandbox, "org_swept", settings={"auto_create_contacts": True})
        late = invoice("org_swept", 1)
        retries = MongoRetries(c.app.state.mongo[c.settings.mongodb_database])
        parked = ScheduledRetry(
            "org_swept", late.invoice_id, PARKED_UNTIL, 1, None, late.model_dump(mode="json"), True
        )
        await retries.schedule([parked])
        [result] = await results(c, 1, timeout=3 * PARKED_SWEEP_SECONDS)
    assert result.data.invoice_id == late.invoice_id
    assert result.data.outcome is SyncOutcome.CREATED, result.data
    assert [i["InvoiceNumber"] for i in await xero_invoices(sandbox, tenant)] == [
        late.invoice_number
    ]
