"""Xero misbehaves, through the sandbox's faults and limits: 5xx answers with latency, a storm
of 429s, access tokens that expire in the middle of a batch, refresh tokens revoked in the
middle of a bulk, and writes that time out after Xero has done them. Every invoice still ends
in Xero exactly once — or, where the organisation's connection is gone, failed as
``connection_expired`` until Reconnect re-syncs it."""

import time
from pathlib import Path
from typing import Any

import httpx

from local_infra import demo_org
from tests.support.faults import (
    AUTH,
    CONNECTOR,
    FaultStack,
    Infra,
    Org,
    error_code,
    fault_stack,
    verify,
)
from tests.support.stack import KEY


def xero_calls(stack: FaultStack, org: Org) -> int:
    stats = stack.sandbox("GET", "/_sandbox/stats")
    calls: int = stats["tenants"].get(org.tenant_id, {}).get("calls", 0)
    return calls


def timed_out_writes(stack: FaultStack) -> float:
    return sum(
        stack.metric(
            CONNECTOR, "xero_calls_total", endpoint=f"{method} /Invoices", status="transport_error"
        )
        for method in ("PUT", "POST")
    )


def test_503s_with_latency_on_a_fifth_of_calls_are_retried_into_exactly_once(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 500
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_5xx_a", "org_5xx_b"], auto_create_contacts=True)
        five_xx = {"error_rate": 0.2, "error_status": 503, "latency_ms": 150}
        stack.sandbox("PUT", "/_sandbox/faults", json=five_xx)
        started = time.monotonic()
        numbers = stack.publish_bulk(orgs, per_org)
        settled = stack.wait_settled(orgs, per_org)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        answered_503 = stack.sandbox("GET", "/_sandbox/stats")["totals"]["by_status"].get("503", 0)
        assert answered_503 > 0, "no 503 was injected: the test proved nothing"
    report(
        f"Xero 20% 503 + 150 ms latency ({answered_503} 503s)",
        verdict,
        settled_s=settled - started,
    )


def test_a_429_storm_is_waited_out_without_losing_or_duplicating(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 400
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(
            ["org_429_a", "org_429_b", "org_429_c"], auto_create_contacts=True
        )
        # Half of all calls are refused with 429 and Retry-After, whatever the connector's
        # own pacing does (it follows Xero's X-*-Remaining headers, so real limits alone
        # never make a storm).
        stack.sandbox("PUT", "/_sandbox/faults", json={"error_rate": 0.5, "error_status": 429})
        started = time.monotonic()
        numbers = stack.publish_bulk(orgs, per_org, customers=60)
        settled = stack.wait_settled(orgs, per_org, timeout_s=300)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        storm = stack.sandbox("GET", "/_sandbox/stats")["totals"]["responses_429"]
        assert storm >= 10, f"only {storm} 429s: no storm"
    report(
        f"429 storm: half of all calls ({storm} 429s)",
        verdict,
        settled_s=settled - started,
    )


def test_access_tokens_expired_mid_batch_are_refreshed_and_the_bulk_completes(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org, half = 1000, 500
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_tok_a", "org_tok_b"], auto_create_contacts=True)
        numbers = stack.publish_bulk(orgs, half)
        stack.wait_progress(orgs, at_least=200)
        started = time.monotonic()
        refreshed_before = stack.metric(CONNECTOR, "xero_token_refreshes_total")
        stack.sandbox("PUT", "/_sandbox/faults", json={"expire_access_tokens": True})
        in_xero_at_expiry = sum(len(stack.xero_invoices(org)) for org in orgs)
        # The second half goes out after the expiry, however fast the first half went.
        numbers += stack.publish_bulk(orgs, per_org - half, first=half)
        settled = stack.wait_settled(orgs, per_org)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        assert in_xero_at_expiry < len(numbers), "the tokens expired too late to test anything"
        refreshed = stack.metric(CONNECTOR, "xero_token_refreshes_total", outcome="ok")
        assert stack.metric(CONNECTOR, "xero_token_refreshes_total") > refreshed_before
        assert refreshed >= 1
    report(
        "access tokens expired mid-batch",
        verdict,
        settled_s=settled - started,
    )


def test_revoked_refresh_tokens_fail_that_org_fast_others_untouched_reconnect_resyncs(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org, half = 1000, 500
    with fault_stack(infra, unique, tmp_path) as stack:
        revoked, other = stack.connect_orgs(["org_rev_a", "org_rev_b"], auto_create_contacts=True)
        numbers = stack.publish_bulk([other], per_org) + stack.publish_bulk([revoked], half)
        stack.wait_progress([revoked], at_least=half)

        # Half-way through its bulk the organisation loses its connection at Xero: its access
        # token stops working and its refresh token is refused (invalid_grant), as when a
        # user disconnects the app. (Revoking only once the first half is in Xero makes the
        # count that must wait exact, whatever the machine's speed.)
        tenant = {"tenant_id": revoked.tenant_id}
        stack.sandbox("PUT", "/_sandbox/faults", json={"revoke_refresh_tokens": True} | tenant)
        stack.sandbox("PUT", "/_sandbox/faults", json={"expire_access_tokens": True} | tenant)
        started = time.monotonic()
        calls_at_revoke = xero_calls(stack, revoked)
        in_xero_at_revoke = len(stack.xero_invoices(revoked))
        numbers += stack.publish_bulk([revoked], per_org - half, first=half)
        stack.wait_settled([revoked, other], per_org, synced=False)
        failed_fast = time.monotonic()

        # Fails fast: a few calls find out, the rest are not even tried.
        assert xero_calls(stack, revoked) - calls_at_revoke <= 5
        rows = stack.sync_log_rows(revoked)
        failed = [row for row in rows if row["status"] == "failed"]
        assert failed and {error_code(row) for row in failed} == {"connection_expired"}
        assert len(failed) == per_org - in_xero_at_revoke
        assert all(row["status"] == "synced" for row in stack.sync_log_rows(other))
        url = f"{stack.settings.xero_connector_url}/v1/orgs/{revoked.org_id}/connection"
        assert httpx.get(url, headers=AUTH, timeout=10).json()["status"] == "expired"

        # Reconnect: every invoice that waited is re-synced, without anyone asking.
        demo_org.connect(stack.settings.xero_connector_url, KEY, revoked.org_id, revoked.tenant_id)
        reconnected = time.monotonic()
        stack.wait_settled([revoked, other], per_org)
        resynced = time.monotonic()

        verdict = verify(stack, [revoked, other], numbers)
        assert verdict.synced == len(numbers)
    report(
        f"refresh tokens revoked mid-bulk ({len(failed)} waited)",
        verdict,
        recover_s=resynced - reconnected,
        settled_s=failed_fast - started,
    )


def test_writes_that_time_out_after_xero_did_them_are_not_duplicated(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org, half = 500, 250
    timeout_env = {CONNECTOR: {"XERO_CONNECTOR_HTTP_READ_TIMEOUT_SECONDS": "1.0"}}
    with fault_stack(infra, unique, tmp_path, extra_env=timeout_env) as stack:
        orgs = stack.connect_orgs(["org_slow_a", "org_slow_b"], auto_create_contacts=True)
        numbers = stack.publish_bulk(orgs, half)
        # Each organisation has written invoices, so its contacts are known (20 customers,
        # the first 20 invoices): under the fault the connector goes straight to writes. CI
        # once saw one organisation not started yet, whose first contact lookup then spent
        # the whole fault timing out, with no write tried.
        for org in orgs:
            stack.wait_progress([org], at_least=50)
        # Xero does every call and answers after the client gave up, until a few invoice
        # writes have timed out that way (at most 10 s). The second half is published once
        # Xero is slow, so writes meet the fault however fast the first half went (CI once
        # saw the whole bulk in Xero before the fault began).
        started = time.monotonic()
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 1500})
        numbers += stack.publish_bulk(orgs, per_org - half, first=half)
        while timed_out_writes(stack) < 3 and time.monotonic() - started < 10:
            time.sleep(0.2)
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})
        cleared = time.monotonic()
        settled = stack.wait_settled(orgs, per_org)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        timed_out = timed_out_writes(stack)
        assert timed_out >= 1, "no invoice write timed out: the test proved nothing"
    report(
        f"writes time out after Xero did them ({timed_out:.0f})",
        verdict,
        recover_s=settled - cleared,
        settled_s=settled - started,
    )
