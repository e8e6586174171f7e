"""The sync log under the faults that used to leave stale statuses: events whose clocks
disagree with the connector's (no ``ce_time`` at all, a producer clock ahead), two sync-log
instances through a rolling restart while results pour in, and a sync log that is paused
while an expired organisation is reconnected (the connector, not the sync log, knows which
invoices wait on the connection)."""

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from local_infra import demo_org
from tests.support.eventually import eventually_sync
from tests.support.faults import (
    AUTH,
    CONNECTOR,
    SYNC_LOG,
    Infra,
    bulk_invoice,
    expect,
    fault_stack,
    orgs_on_every_partition,
    verify,
)
from tests.support.stack import KEY


def test_events_without_ce_time_or_from_a_clock_ahead_end_synced(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_kind = 100
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_clock"], auto_create_contacts=True)
        (org,) = orgs
        # The sync log is down while an upstream producer publishes straight to Kafka:
        # half the events with no ce_time, half stamped by a clock 5 s ahead. When the sync
        # log comes back, the connector's results (stamped by its own clock) are there too.
        stack.kill(SYNC_LOG)
        timeless = [bulk_invoice(org.org_id, n, 20) for n in range(per_kind)]
        ahead = [bulk_invoice(org.org_id, n, 20) for n in range(per_kind, 2 * per_kind)]
        stack.produce(timeless)
        stack.produce(ahead, ce_time=datetime.now(UTC) + timedelta(seconds=5))
        numbers = [i["invoice_number"] for i in timeless + ahead]
        stack.wait_progress(orgs, at_least=len(numbers))
        time.sleep(2)  # the sync log reads them well after the results were stamped
        started = time.monotonic()
        stack.restart(SYNC_LOG)
        settled = stack.wait_settled(orgs, len(numbers), killed={SYNC_LOG})

        verdict = verify(stack, orgs, numbers)
    report(
        "no ce_time / producer clock +5 s, log behind",
        verdict,
        recover_s=settled - started,
        settled_s=settled - started,
    )


def test_two_sync_logs_through_a_rolling_restart_leave_no_stale_status(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 500
    with fault_stack(infra, unique, tmp_path) as stack:
        second = stack.add_instance(SYNC_LOG)
        orgs = stack.connect_orgs(orgs_on_every_partition("org_roll", 3), auto_create_contacts=True)
        numbers = stack.publish_bulk(orgs, per_org)
        stack.wait_progress(orgs, at_least=200)

        # A rolling update: one instance at a time stops gracefully and starts again, while
        # results and new versions keep coming; partitions move twice.
        started = time.monotonic()
        stack.rolling_restart(SYNC_LOG)
        versions = stack.publish_versions(orgs, range(0, per_org, 5), version=2)
        stack.rolling_restart(second)
        settled = stack.wait_versions(orgs, numbers, versions)

        verdict = verify(stack, orgs, numbers, versions)
    report(
        "2 sync-logs, rolling restart mid-bulk",
        verdict,
        settled_s=settled - started,
    )


def test_expiry_mid_bulk_with_the_sync_log_paused_reconnect_resyncs_everything(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org, half = 600, 300
    with fault_stack(infra, unique, tmp_path) as stack:
        expired, other = stack.connect_orgs(["org_exp_a", "org_exp_b"], auto_create_contacts=True)
        numbers = stack.publish_bulk([other], per_org) + stack.publish_bulk([expired], half)
        stack.wait_progress([expired], at_least=150)

        # The sync log stops reading (a long GC pause, a stuck node) just as the organisation
        # loses its connection at Xero; the connector fails what it cannot write and parks it.
        # The rest of the bulk is published once the connection is gone, so invoices are
        # parked however fast the first part went.
        stack.pause(SYNC_LOG)
        tenant = {"tenant_id": expired.tenant_id}
        stack.sandbox("PUT", "/_sandbox/faults", json={"revoke_refresh_tokens": True} | tenant)
        stack.sandbox("PUT", "/_sandbox/faults", json={"expire_access_tokens": True} | tenant)
        started = time.monotonic()
        numbers += stack.publish_bulk([expired], per_org - half, first=half)
        connection = f"{stack.settings.xero_connector_url}/v1/orgs/{expired.org_id}/connection"

        def parked_on_expired_connection() -> float:
            status = expect(httpx.get(connection, headers=AUTH, timeout=15), 200)["status"]
            failed = stack.metric(
                CONNECTOR, "invoices_failed_total", error_code="connection_expired"
            )
            return failed if status == "expired" else 0.0

        parked = eventually_sync(
            parked_on_expired_connection,
            what="invoices parked on the expired connection (else the test proves nothing)",
            timeout=60,
            interval=0.5,
        )

        # Reconnect while the sync log is still paused, then let it read again: every invoice
        # is synced without anyone asking for it.
        demo_org.connect(stack.settings.xero_connector_url, KEY, expired.org_id, expired.tenant_id)
        reconnected = time.monotonic()
        stack.resume(SYNC_LOG)
        settled = stack.wait_settled([expired, other], per_org)

        verdict = verify(stack, [expired, other], numbers)
    report(
        f"expiry, sync-log paused, reconnect ({parked:.0f} waited)",
        verdict,
        recover_s=settled - reconnected,
        settled_s=settled - started,
    )
