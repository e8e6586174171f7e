"""A connector instance that is alive but no longer the organisation's writer: one that loses
partitions to a newcomer mid-batch, one frozen past ``max_poll_interval_ms`` that wakes after
another instance took over, and a connection replaced under a batch in flight. Each ends
with the same question: does Xero hold every invoice once, with its newest version's
content, and does the sync log say so?"""

import time
from pathlib import Path
from typing import Any

import httpx

from local_infra import demo_org
from tests.support.eventually import eventually_sync
from tests.support.faults import (
    AUTH,
    CONNECTOR,
    FaultStack,
    Infra,
    expect,
    fault_stack,
    orgs_on_every_partition,
    verify,
)
from tests.support.stack import KEY

PARTITIONS = 3  # tests.support.stack gives every fault stack three partitions per topic


def fenced_or_revoked(stack: FaultStack, name: str) -> float:
    return sum(
        stack.metric(name, "invoice_events_consumed_total", fate=fate)
        for fate in ("fenced", "revoked")
    )


def test_scale_out_mid_bulk_with_new_versions_during_the_rebalance(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 600
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(
            orgs_on_every_partition("org_scale", PARTITIONS), auto_create_contacts=True
        )
        # A slow Xero: 2 s a call, so each organisation's bulk takes half a minute or more
        # and the newcomer (a few seconds to start) joins in the middle of it.
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 2000})
        numbers = stack.publish_bulk(orgs, per_org)
        stack.wait_progress(orgs, at_least=100)

        # A second instance joins while the first has batches in flight, and new versions
        # of a quarter of the invoices arrive while the partitions move.
        started = time.monotonic()
        second = stack.add_connector()
        in_xero_at_join = sum(len(stack.xero_invoices(org)) for org in orgs)
        versions = stack.publish_versions(orgs, range(0, per_org, 4), version=2)
        settled = stack.wait_versions(orgs, numbers, versions)
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})

        verdict = verify(stack, orgs, numbers, versions)
        assert in_xero_at_join < len(numbers), "the bulk was over before the join"
        assert stack.metric(second, "xero_calls_total") > 0, "the newcomer took no work"
    report(
        f"scale-out mid-bulk, {len(versions)} v2 during rebalance",
        verdict,
        settled_s=settled - started,
    )


def test_a_connector_frozen_past_max_poll_interval_is_fenced_when_it_wakes(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 300
    # The group drops a silent member after 20 s without a poll; batches stop taking new
    # chunks after 10 s (half of it, as the connector insists).
    poll = {
        CONNECTOR: {
            "XERO_CONNECTOR_MAX_POLL_INTERVAL_SECONDS": "20",
            "XERO_CONNECTOR_BATCH_DEADLINE_SECONDS": "10",
        }
    }
    with fault_stack(infra, unique, tmp_path, connectors=2, extra_env=poll) as stack:
        zombie = f"{CONNECTOR}-2"
        orgs = stack.connect_orgs(
            orgs_on_every_partition("org_zombie", PARTITIONS), auto_create_contacts=True
        )
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 400})  # Xero slowed
        numbers = stack.publish_bulk(orgs, per_org)
        stack.wait_progress(orgs, at_least=150)

        # SIGSTOP mid-batch: no poll, no heartbeat, no lease renewal, for as long as it takes
        # the other instance to take its partitions and leases and write newer versions.
        stack.pause(zombie)
        started = time.monotonic()
        versions = stack.publish_versions(orgs, range(0, per_org, 3), version=2)
        taken_over = stack.wait_versions(orgs, numbers, versions)

        # It wakes with its old batch in hand: every write it still tries must be refused.
        stack.resume(zombie)
        eventually_sync(
            lambda: fenced_or_revoked(stack, zombie),
            what="the woken instance to lose its batch or be fenced",
            timeout=60,
            interval=0.5,
        )
        time.sleep(5)  # anything it would still write has had time to land
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})

        verdict = verify(stack, orgs, numbers, versions)
        assert stack.process(zombie).exit_code() is None, "the woken instance died"
    report(
        "connector frozen past max.poll, then wakes",
        verdict,
        recover_s=taken_over - started,
        settled_s=taken_over - started,
    )


def test_disconnect_and_reconnect_under_a_batch_in_flight_leave_the_org_connected(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 400
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_flip"], auto_create_contacts=True)
        (org,) = orgs
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 300})
        numbers = stack.publish_bulk(orgs, per_org)
        stack.wait_progress(orgs, at_least=50)

        # An admin disconnects and connects again while writes with the old tokens are on
        # their way: their 401s and 403s must not mark the new connection expired.
        connection = f"{stack.settings.xero_connector_url}/v1/orgs/{org.org_id}/connection"
        started = time.monotonic()
        expect(httpx.delete(connection, headers=AUTH, timeout=15), 200)
        demo_org.connect(stack.settings.xero_connector_url, KEY, org.org_id, org.tenant_id)
        reconnected = time.monotonic()
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})
        settled = stack.wait_settled(orgs, per_org)

        assert expect(httpx.get(connection, headers=AUTH, timeout=15), 200)["status"] == (
            "connected"
        )
        verdict = verify(stack, orgs, numbers)
    report(
        "disconnect + reconnect under a batch",
        verdict,
        recover_s=settled - reconnected,
        settled_s=settled - started,
    )
