"""The servers under the services fail: the Kafka broker restarts in the middle of a bulk, the
MongoDB-wire server is stopped for 10 s while results flow. No process may die, no invoice may
be lost or sent twice, and the HTTP APIs say 503 (retry) rather than 500 while a server is
away, then answer again."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.support.faults import AUTH, FaultStack, Infra, Org, fault_stack, verify


def test_a_kafka_restart_mid_bulk_loses_and_duplicates_nothing(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 1000
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_kafka_a", "org_kafka_b"], auto_create_contacts=True)
        # A slower Xero (200 ms a call) keeps the bulk going for seconds after the first
        # 300, so the fault lands mid-bulk however fast the connector is.
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 200})
        numbers = stack.publish_bulk(orgs, per_org)

        stack.wait_progress(orgs, at_least=300)
        started = time.monotonic()
        infra.kafka.stop()
        in_xero_at_stop = sum(len(stack.xero_invoices(org)) for org in orgs)
        time.sleep(3)
        infra.kafka.start()
        infra.kafka.wait_ready()
        back = time.monotonic()
        stack.wait_progress(orgs, at_least=in_xero_at_stop + 1, timeout_s=180)
        stack.sandbox("PUT", "/_sandbox/faults", json={"latency_ms": 0})
        resumed = time.monotonic()
        settled = stack.wait_settled(orgs, per_org)

        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
        assert in_xero_at_stop < len(numbers), "the restart came too late to test anything"
    report(
        "Kafka broker restart mid-bulk",
        verdict,
        recover_s=resumed - back,
        settled_s=settled - started,
    )


def probes(stack: FaultStack, org: Org) -> dict[str, str]:
    """One MongoDB-backed read per service."""
    s = stack.settings
    return {
        "sync-log": f"{s.sync_log_url}/v1/sync-log?org_id={org.org_id}&limit=5",
        "invoice-events": f"{s.invoice_events_url}/v1/invoices/{org.org_id}/inv_{org.org_id}_00000",
        "xero-connector": f"{s.xero_connector_url}/v1/orgs/{org.org_id}/settings",
    }


def status_of(url: str) -> tuple[int, Any]:
    try:
        response = httpx.get(url, headers=AUTH, timeout=30)
    except httpx.TransportError as exc:
        return 0, repr(exc)
    body = response.json() if response.headers.get("content-type", "").startswith("app") else None
    return response.status_code, body


def test_mongodb_away_for_10s_pauses_consumers_apis_answer_503_then_all_catch_up(
    infra: Infra, unique: str, tmp_path: Path, report: Any
) -> None:
    per_org = 1000
    with fault_stack(infra, unique, tmp_path) as stack:
        orgs = stack.connect_orgs(["org_mongo_a", "org_mongo_b"], auto_create_contacts=True)
        numbers = stack.publish_bulk(orgs, per_org)
        urls = probes(stack, orgs[0])
        assert {name: status_of(url)[0] for name, url in urls.items()} == dict.fromkeys(urls, 200)

        stack.wait_progress(orgs, at_least=300)
        started = time.monotonic()
        infra.mongo.stop()
        answers: dict[str, list[tuple[int, Any]]] = {name: [] for name in urls}
        with ThreadPoolExecutor(len(urls)) as pool:
            while time.monotonic() - started < 10:
                for name, answer in zip(urls, pool.map(status_of, urls.values()), strict=True):
                    answers[name].append(answer)
        ready_while_down = status_of(f"{stack.settings.sync_log_url}/readyz")
        infra.mongo.start()
        infra.mongo.wait_ready()
        back = time.monotonic()
        deadline = back + 60
        while any(status_of(url)[0] != 200 for url in urls.values()):
            assert time.monotonic() < deadline, "the APIs did not answer 200 again in 60 s"
            time.sleep(0.5)
        answering = time.monotonic()
        settled = stack.wait_settled(orgs, per_org)

        for name, seen in answers.items():
            codes = {code for code, _ in seen}
            assert codes == {503}, f"{name} answered {seen} while MongoDB was away"
            assert all(body["error"]["code"] == "unavailable" for _, body in seen), seen
        assert ready_while_down[0] == 503
        assert ready_while_down[1]["checks"]["mongodb"] is False
        verdict = verify(stack, orgs, numbers)
        assert verdict.synced == len(numbers)
    report(
        "MongoDB-wire server stopped 10 s",
        verdict,
        recover_s=answering - back,
        settled_s=settled - started,
    )
