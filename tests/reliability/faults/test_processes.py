"""A connector process killed with SIGKILL in the middle of a bulk: restarted, or replaced by
the other instance of its consumer group. Nothing it had in flight may be lost or sent twice:
offsets are committed only after the outcomes are published, and the writes it may have made
before dying are found again (Idempotency-Key, the invoice-number lookup)."""

import time
from pathlib import Path
from typing import Any

from tests.support.faults import (
    CONNECTOR,
    Infra,
    fault_stack,
    orgs_on_every_partition,
    verify,
)


def test_a_connector_killed_mid_bulk_and_restarted_loses_and_duplicates_nothing(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 1000
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_kill_a", "org_kill_b"], auto_create_contacts=True)
        # A slower Xero (200 ms a call) keeps the bulk going for seconds after the first
        # 300, so the fault lands mid-bulk however fast the connector is.
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 200})
        numbers = stack.publish_bulk(orgs, per_org)

        stack.wait_progress(orgs, at_least=300)
        started = time.monotonic()
        stack.kill(CONNECTOR)
        in_xero_at_kill = sum(len(stack.xero_invoices(org)) for org in orgs)
        time.sleep(2)
        stack.restart(CONNECTOR)
        back = time.monotonic()
        stack.wait_progress(orgs, at_least=in_xero_at_kill + 1)
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})
        resumed = time.monotonic()
        settled = stack.wait_settled(orgs, per_org)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers) == 2 * per_org
        assert in_xero_at_kill < len(numbers), "the kill came too late to test anything"
    report(
        "connector kill -9 mid-bulk, restarted",
        verdict,
        recover_s=resumed - back,
        settled_s=settled - started,
    )


def test_with_two_connectors_the_survivor_takes_the_killed_ones_partitions(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    partitions = 3
    per_org = 700
    with fault_stack(infra, unique, tmp_path, connectors=2) as stack:
        second = f"{CONNECTOR}-2"
        # One organisation per partition: whichever partitions the killed instance had,
        # it had work in flight on them.
        org_ids = orgs_on_every_partition("org_pair", partitions)
        orgs = stack.connect_orgs(org_ids, auto_create_contacts=True)
        # A slower Xero (200 ms a call) keeps the bulk going for seconds after the first
        # 300, so the fault lands mid-bulk however fast the connector is.
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 200})
        numbers = stack.publish_bulk(orgs, per_org)

        stack.wait_progress(orgs, at_least=300)
        started = time.monotonic()
        stack.kill(second)
        in_xero_at_kill = sum(len(stack.xero_invoices(org)) for org in orgs)
        stack.wait_progress(orgs, at_least=in_xero_at_kill + 1)
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})
        resumed = time.monotonic()
        settled = stack.wait_settled(orgs, per_org, killed={second})

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        assert in_xero_at_kill < len(numbers), "the kill came too late to test anything"
        assert stack.process(CONNECTOR).exit_code() is None
    report(
        "1 of 2 connectors kill -9, survivor takes over",
        verdict,
        recover_s=resumed - started,
        settled_s=settled - started,
    )
