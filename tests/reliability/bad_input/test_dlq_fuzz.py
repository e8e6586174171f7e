"""Garbage on ``invoices.events``, interleaved with valid invoices, through the whole stack as
``make run`` starts it: every bad record reaches the DLQ with its reason from every consumer of
the topic, the sync log records each once as ``invalid_event``, and every valid invoice still
syncs, exactly once in Xero. Nothing lost.

The integration tests send one bad record per consumer (tests/integration: sync_log,
xero_connector, invoice_events); this sends every kind, many of each, keyed to real and unknown
organisations and shadowing valid invoices' ids, through all three consumers at once.
"""

import asyncio
import json
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from local_infra.demo import Demo
from local_infra.stack import Stack
from service_kit.events import Topics
from sync_schemas import EnvelopeError, EventType, Invoice, decode, encode, new_event
from tests.support.eventually import eventually

WAIT_S = 180.0  # a guard against hanging, not a performance claim
CONSUMERS_OF_INVOICE_EVENTS = 3  # invoice-events, xero-connector, sync-log
TOO_LARGE = "too large for the DLQ"


Headers = list[tuple[str, bytes | None]]  # a Kafka record's headers; a value may be null


@dataclass(frozen=True)
class Record:
    kind: str
    reason: str | None  # None: a valid invoice
    value: bytes | None
    headers: Headers
    key: bytes | None
    invoice_id: str | None = None


def valid_invoice(demo: Demo, n: int) -> dict[str, Any]:
    data = demo.invoice(f"fuzz{n:03d}")
    data["lines"][0]["description"] = f"Café ☕ 中文 עברית \u202e{n} \u2013 ok"
    data["lines"].append(dict(data["lines"][0], quantity="0.5", unit_price="0.01"))
    return data


def event_of(data: dict[str, Any], kind: EventType = EventType.INVOICE_CREATED) -> Record:
    record = encode(new_event(kind, Invoice.model_validate(data), source="/upstream"))
    headers: Headers = list(record.headers)
    return Record("valid", None, record.value, headers, record.key, data["invoice_id"])


def with_header(headers: Headers, name: str, value: bytes | None) -> Headers:
    kept = [(n, v) for n, v in headers if n != name]
    return kept if value is None else [*kept, (name, value)]


def schema_violations(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Valid JSON objects that break the Invoice schema, one field at a time."""
    line = data["lines"][0]
    changes: list[dict[str, Any]] = [
        {"version": "x"},
        {"version": 0},
        {"version": 2**63},  # beyond a 64-bit integer: what MongoDB would refuse to store
        {"lines": []},
        {"lines": [dict(line, quantity=1.5)]},  # a JSON number loses precision: refused
        {"lines": [dict(line, unit_price="1e400")]},
        {"lines": [dict(line, quantity="-9999999999999999")]},
        {"lines": [dict(line, description="\ud800")]},  # a lone surrogate, escaped in JSON
        {"lines": [dict(line, description="")]},
        {"lines": "none"},
        {"currency": "nzd"},
        {"invoice_id": "inv/../1"},
        {"org_id": ""},
        {"issue_date": "2026-02-30"},
        {"issue_date": "10000-01-01"},
        {"status": "paid"},
        {"line_amount_type": None},
        {"customer": {"id": "cus 42", "name": "x"}},
        {"invoice_number": "N" * 256},
    ]
    out = [dict(data, **change) for change in changes]
    out.append({k: v for k, v in data.items() if k != "customer"})
    out.append({k: v for k, v in data.items() if k != "org_id"})
    return out


def bad_records(rng: random.Random, demo: Demo, shadowed: list[dict[str, Any]]) -> list[Record]:
    template = event_of(valid_invoice(demo, 999))
    value, headers, key = template.value or b"", template.headers, template.key
    other = b"org_other"
    out: list[Record] = []

    def add(kind: str, reason: str, v: bytes | None, h: Any = headers, k: Any = key) -> None:
        out.append(Record(kind, reason, v, list(h), k))

    for _ in range(20):
        add("random bytes", "malformed_payload", b"\xff" + rng.randbytes(rng.randint(0, 2000)))
    for _ in range(10):
        add("random bytes, no headers", "missing_attribute", rng.randbytes(rng.randint(1, 500)), [])
    for i in range(20):
        cut = rng.randint(1, len(value) - 1)
        add("truncated JSON", "malformed_payload", value[:cut], k=key if i % 2 else other)
    add("empty value", "malformed_payload", b"")
    add("tombstone", "malformed_payload", None)
    for doc in (b"[]", b'"invoice"', b"42", b"null", b"true", b"NaN"):
        add("JSON, not an object", "malformed_payload", doc)
    add("deeply nested JSON", "malformed_payload", b"[" * 100_000)
    # Fits Kafka's default limit (1 MiB + 12 bytes) alone, but not with the DLQ headers added.
    add(TOO_LARGE, "malformed_payload", b"\xff" + rng.randbytes(1_048_000))
    for n, violation in enumerate(schema_violations(json.loads(value))):
        add(
            "schema-invalid",
            "schema_violation",
            json.dumps(violation).encode(),
            k=key if n % 3 else None,
        )
    for data in shadowed:  # the id of a valid invoice, but version 0: must never win over it
        add(
            "schema-invalid, shadowing",
            "schema_violation",
            json.dumps(dict(data, version=0)).encode(),
        )
    request = with_header(headers, "ce_type", EventType.INVOICE_SYNC_REQUESTED.value.encode())
    add("sync request without reason", "schema_violation", value, request)
    result = with_header(headers, "ce_type", EventType.INVOICE_SYNC_SUCCEEDED.value.encode())
    add("invoice as a sync result", "schema_violation", value, result)
    for name in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        add(f"no {name}", "missing_attribute", value, with_header(headers, name, None))
        add(f"empty {name}", "missing_attribute", value, with_header(headers, name, b""))
    add(
        "specversion 0.3",
        "invalid_attribute",
        value,
        with_header(headers, "ce_specversion", b"0.3"),
    )
    add(
        "content-type text/plain",
        "invalid_attribute",
        value,
        with_header(headers, "content-type", b"text/plain"),
    )
    add(
        "ce_time not a time",
        "invalid_attribute",
        value,
        with_header(headers, "ce_time", b"yesterday"),
    )
    add(
        "non-UTF-8 header",
        "invalid_attribute",
        value,
        with_header(headers, "ce_source", b"\xff\xfe"),
    )
    null_id = [*with_header(headers, "ce_id", None), ("ce_id", None)]
    add("null ce_id header", "missing_attribute", value, null_id)
    for kind in (b"invoice.deleted.v1", b"invoice.created.v2", b"INVOICE.CREATED.V1"):
        add("unknown ce_type", "unknown_event_type", value, with_header(headers, "ce_type", kind))
    return out


def expected_reason(record: Record) -> str | None:
    """What the envelope says of the record here, before Kafka sees it."""
    try:
        decode(record.value, record.headers)
    except EnvelopeError as error:
        return error.reason
    return None


async def publish(
    bootstrap: str, topic: str, records: list[Record]
) -> dict[tuple[int, int], Record]:
    """Publish in order; the records by their (partition, offset)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=2**21
    )
    await producer.start()
    try:
        sent = [await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in records]
        metadata = await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return {(m.partition, m.offset): r for m, r in zip(metadata, records, strict=True)}


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record the topic holds now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # as tests/integration read topics
        found = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [p for p in partitions if await consumer.position(p) < end[p]]:
            batches = await consumer.getmany(*partitions, timeout_ms=1000)
            records.extend(r for batch in batches.values() for r in batch)
        return records
    finally:
        await consumer.stop()


def text(headers: Headers) -> set[tuple[str, str]]:
    return {(k, (v or b"").decode(errors="replace")) for k, v in headers}


async def until(what: str, probe: Callable[[], Awaitable[bool]]) -> None:
    """Wait for ``probe`` (which asserts, saying what it saw) for up to WAIT_S."""
    await eventually(probe, what=what, timeout=WAIT_S, interval=0.5)


async def invalid_event_entries(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"error_code": "invalid_event", "limit": 500}
    while True:
        response = await http.get("/v1/sync-log", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page["next_cursor"]:
            return items
        params["cursor"] = page["next_cursor"]


async def test_every_bad_record_is_dead_lettered_and_logged_while_valid_invoices_sync_once(
    stack: Stack, demo: Demo
) -> None:
    rng = random.Random(20261120)
    names = Topics.with_prefix(stack.settings.topic_prefix)
    valid_data = [valid_invoice(demo, n) for n in range(40)]
    valid = [event_of(d) for d in valid_data]
    for i in range(0, len(valid), 10):  # a null header value is allowed on a valid event
        valid[i] = replace(valid[i], headers=[*valid[i].headers, ("traceparent", None)])
    bad = bad_records(rng, demo, valid_data[:5])
    for record in bad:
        assert expected_reason(record) == record.reason, record.kind
    mixed = valid[:-1] + bad
    rng.shuffle(mixed)
    mixed.append(valid[-1])  # the last record: the pipeline still flows after all the garbage

    published = await publish(stack.kafka, names.invoice_events, mixed)
    sources = {f"{names.invoice_events}:{p}:{o}": r for (p, o), r in published.items() if r.reason}
    dead: dict[str, list[ConsumerRecord[bytes, bytes]]] = defaultdict(list)

    async def all_dead_lettered() -> bool:
        dead.clear()
        for copy in await read_topic(stack.kafka, names.dlq):
            h = {k: v.decode(errors="replace") for k, v in copy.headers}
            dead[f"{h['dlq_source_topic']}:{h['dlq_partition']}:{h['dlq_offset']}"].append(copy)
        short = {s: len(dead[s]) for s in sources if len(dead[s]) < CONSUMERS_OF_INVOICE_EVENTS}
        assert not short, f"{len(short)} bad records with fewer copies: {list(short.items())[:5]}"
        return True

    await until("every consumer to dead-letter every bad record", all_dead_lettered)

    async with httpx.AsyncClient(
        base_url=stack.settings.sync_log_url,
        headers={"Authorization": f"Bearer {stack.settings.dev_api_key}"},
        timeout=30,
    ) as http:
        logged: dict[str, dict[str, Any]] = {}

        async def all_logged() -> bool:
            logged.clear()
            logged.update({e["event_id"]: e for e in await invalid_event_entries(http)})
            missing = [s for s in sources if f"dlq:{s}" not in logged]
            assert not missing, f"{len(missing)} not in the sync log, e.g. {missing[:3]}"
            return True

        async def all_synced() -> bool:
            statuses: Counter[str | None] = Counter()
            for data in valid_data:
                response = await http.get(f"/v1/invoices/{data['org_id']}/{data['invoice_id']}")
                statuses[
                    response.json().get("status") if response.status_code == 200 else None
                ] += 1
            assert statuses["synced"] == len(valid_data), f"statuses {dict(statuses)}"
            return True

        await until("the sync log to record every bad record", all_logged)
        await until("every valid invoice to be synced", all_synced)
        shadowed = [
            (await http.get(f"/v1/invoices/{d['org_id']}/{d['invoice_id']}")).json()
            for d in valid_data[:5]
        ]

    # Every copy in the DLQ: the original bytes and headers, and the reason the envelope gives.
    for source, record in sources.items():
        copies = dead[source]
        reasons = {dict(c.headers)["dlq_reason"].decode() for c in copies}
        assert reasons == {record.reason}, (record.kind, reasons)
        for copy in copies:
            value, original = copy.value or b"", record.value or b""
            if record.kind == TOO_LARGE:  # a prefix, and how long the original was
                assert dict(copy.headers)["dlq_truncated"] == str(len(original)).encode()
                assert 0 < len(value) < len(original)
                assert original.startswith(value)
            else:
                assert value == original, record.kind
            assert copy.key == record.key, record.kind
            # Every original header is kept (as text: the DLQ is published through FastStream,
            # whose headers are str); the publisher may add its own, e.g. correlation_id.
            assert text(record.headers) <= text(copy.headers), record.kind
            assert dict(copy.headers)["dlq_error"], record.kind
    assert not set(dead) - set(sources), "a valid invoice was dead-lettered"

    # The sync log: each bad record once, as a failed invalid_event with its reason.
    entries = [logged[f"dlq:{s}"] for s in sources]
    for entry, record in zip(entries, sources.values(), strict=True):
        assert entry["status"] == "failed", record.kind
        assert entry["message"].startswith(f"{record.reason}: "), (record.kind, entry["message"])
        assert entry["remediation"], record.kind
    assert len({e["event_id"] for e in entries}) == len(sources)

    # Every valid invoice synced, once in Xero; a shadowing bad record never made it failed.
    assert all(s["status"] == "synced" and s["last_error"] is None for s in shadowed)
    async with httpx.AsyncClient(base_url=stack.settings.sandbox_url, timeout=30) as sandbox:
        response = await sandbox.get(f"/_sandbox/orgs/{stack.tenant_id}/invoices")
    numbers = Counter(i["InvoiceNumber"] for i in response.json()["Invoices"])
    assert {d["invoice_number"]: numbers[d["invoice_number"]] for d in valid_data} == {
        d["invoice_number"]: 1 for d in valid_data
    }
    assert stack.dead() is None


async def test_an_invoice_too_large_for_kafka_is_a_clear_413_and_a_large_one_syncs(
    stack: Stack, demo: Demo
) -> None:
    """10,000 lines do not fit one Kafka record: a 413 saying so, not a 503 retried for ever;
    4,000 lines (about 0.6 MB) go through the whole pipeline into Xero, once."""
    huge, large = valid_invoice(demo, 901), valid_invoice(demo, 902)
    huge["lines"] = huge["lines"][:1] * 10_000
    large["lines"] = large["lines"][:1] * 4_000
    headers = {"Authorization": f"Bearer {stack.settings.dev_api_key}"}
    async with httpx.AsyncClient(
        base_url=stack.settings.invoice_events_url, headers=headers, timeout=60
    ) as http:
        refused = await http.post("/v1/invoices", json=huge)
        batch = await http.post("/v1/invoices/batch", json={"invoices": [huge, large]})
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"]["code"] == "invoice_too_large"
    assert batch.status_code == 202, batch.text
    first, second = batch.json()["results"]
    assert first["error"]["code"] == "invoice_too_large"
    assert second["outcome"] == "published"

    detail = await asyncio.to_thread(demo.wait_for, large, "synced")
    assert detail["version"] == 1
    assert await asyncio.to_thread(demo.xero_copies, large["invoice_number"]) == 1
    assert await asyncio.to_thread(demo.status, huge["invoice_id"]) is None
