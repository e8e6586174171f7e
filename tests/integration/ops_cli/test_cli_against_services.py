"""The CLI against the real sync-log and invoice-events services (their full lifespans, on
Kafka and MongoDB, on the test's own topics and databases): query, timeline, stats, resync and
the batch report, and the clear errors."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from invoice_events.config import Settings as InvoiceEventsSettings
from invoice_events.main import create_app as create_invoice_events
from local_infra import free_port
from service_kit.events import Topics
from sync_log.config import Settings as SyncLogSettings
from sync_log.main import create_app as create_sync_log
from sync_schemas import ErrorCode, EventType, InvoiceSyncFailed, new_event
from tests.integration.invoice_events.support import produce
from tests.support.eventually import eventually
from tests.support.samples import CONTRACT_INVOICE
from tests.support.serve import serving
from xero_sync_ops import cli

KEY = "ops-key"
ORG = "org_acme"


@dataclass
class Stack:
    invoice_events: str
    sync_log: str
    kafka: str
    names: Topics


@pytest.fixture
async def stack(kafka_bootstrap: str, mongodb_uri: str, unique: str) -> AsyncIterator[Stack]:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "mongodb_uri": mongodb_uri,
        "api_keys": KEY,
        "topic_prefix": unique,
        "topic_partitions": 3,
    }
    sync_log = SyncLogSettings(
        **common,
        mongodb_database=f"{unique[:50]}_sl",
        consumer_group=f"{unique}-sl",
        port=free_port(),
    )
    async with serving(create_sync_log(sync_log)) as sync_log_url:
        events = InvoiceEventsSettings(
            **common,
            mongodb_database=f"{unique[:50]}_ie",
            consumer_group=f"{unique}-ie",
            sync_log_url=sync_log_url,
            sync_log_api_key=KEY,
            port=free_port(),
        )
        async with serving(create_invoice_events(events)) as events_url:
            yield Stack(events_url, sync_log_url, kafka_bootstrap, Topics.with_prefix(unique))


async def run(stack: Stack, *args: str, key: str = KEY) -> Any:
    """The CLI in a thread: the services run on this test's event loop."""
    options = [
        "--api-key",
        key,
        "--invoice-events-url",
        stack.invoice_events,
        "--sync-log-url",
        stack.sync_log,
    ]
    return await asyncio.to_thread(
        CliRunner().invoke, cli.app, [*options, *args], env={"COLUMNS": "220"}
    )


async def rows(stack: Stack, **params: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        page = (await http.get(f"{stack.sync_log}/v1/invoices", params=params)).json()
    items: list[dict[str, Any]] = page["items"]
    return items


async def ingest_and_fail(stack: Stack, failures: dict[str, ErrorCode]) -> None:
    invoices = [
        {**CONTRACT_INVOICE, "invoice_id": i, "invoice_number": f"INV-{i}"} for i in failures
    ]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
        answer = await http.post(
            f"{stack.invoice_events}/v1/invoices/batch", json={"invoices": invoices}
        )
        assert answer.status_code == 202, answer.text

    async def known() -> bool:
        return len(await rows(stack, org_id=ORG)) >= len(failures)

    await eventually(known, what="sync-log to know every invoice", timeout=30)
    for invoice_id, code in failures.items():
        data = InvoiceSyncFailed(
            org_id=ORG,
            invoice_id=invoice_id,
            invoice_number=f"INV-{invoice_id}",
            version=1,
            error_code=code,
            message=f"{code.value} for {invoice_id}",
            retryable=False,
            remediation=code.remediation(ORG),
            attempt=1,
            cause_event_id="evt",
        )
        event = new_event(EventType.INVOICE_SYNC_FAILED, data, source="/xero-connector")
        await produce(stack.kafka, stack.names.sync_results, event)

    async def all_failed() -> bool:
        return len(await rows(stack, org_id=ORG, status="failed")) >= len(failures)

    await eventually(all_failed, what="the failures recorded in sync-log", timeout=30)


async def test_query_timeline_stats_resync_and_batch_report(stack: Stack) -> None:
    await ingest_and_fail(
        stack,
        {
            "inv_a": ErrorCode.TAX_RATE_UNMAPPED,
            "inv_b": ErrorCode.TAX_RATE_UNMAPPED,
            "inv_c": ErrorCode.CONTACT_MISSING,
        },
    )

    log = await run(stack, "log", "--org", ORG, "--status", "failed")
    assert log.exit_code == 0, log.output
    assert all(i in log.output for i in ("inv_a", "inv_b", "inv_c"))
    assert "tax_rate_unmapped" in log.output and "3 rows" in log.output

    paged = await run(stack, "log", "--org", ORG, "--limit", "1")
    assert "--cursor " in paged.output

    listed = await run(stack, "invoices", "--org", ORG, "--error-code", "contact_missing")
    assert "inv_c" in listed.output and "inv_a" not in listed.output

    timeline = await run(stack, "timeline", ORG, "inv_c")
    assert timeline.exit_code == 0, timeline.output
    assert "contact_missing" in timeline.output and "What to do:" in timeline.output

    stats = await run(stack, "stats", "--org", ORG)
    assert stats.exit_code == 0, stats.output
    assert "tax_rate_unmapped" in stats.output and "failed" in stats.output

    resync = await run(
        stack, "resync", "--org", ORG, "--error-code", "tax_rate_unmapped", "--no-wait"
    )
    assert resync.exit_code == 0, resync.output
    assert "2 invoice(s) requested" in resync.output
    batch_id = resync.output.split("Batch ", 1)[1].split(":", 1)[0].strip()

    async def recorded() -> bool:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
            body: dict[str, Any] = (
                await http.get(f"{stack.sync_log}/v1/batches/{batch_id}")
            ).json()
        return body.get("total") == 2

    await eventually(recorded, what="the resync recorded in sync-log", timeout=30)
    report = await run(stack, "batch", batch_id)
    assert report.exit_code == 0, report.output
    # total 2, synced 0, failed 0, pending 2: no connector runs in this test
    assert [c for c in report.output.split() if c.isdigit()] == ["2", "0", "0", "2"]
    assert batch_id in report.output


async def test_clear_errors_for_a_wrong_key_and_an_unknown_invoice(stack: Stack) -> None:
    refused = await run(stack, "stats", key="wrong")
    assert refused.exit_code == 1
    assert "sync-log refused the API key (401)" in refused.output

    missing = await run(stack, "timeline", ORG, "inv_nope")
    assert missing.exit_code == 1
    assert "not found" in missing.output and "Traceback" not in missing.output
