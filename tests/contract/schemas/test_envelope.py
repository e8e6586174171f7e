"""Every event round-trips through the CloudEvents Kafka envelope; bad records raise the
documented, distinct errors."""

from datetime import UTC, datetime

import pytest

from sync_schemas import (
    EnvelopeError,
    EventType,
    InvalidAttribute,
    MalformedPayload,
    MissingAttribute,
    SchemaViolation,
    UnknownEventType,
    decode,
    encode,
    new_event,
    topics,
)
from tests.support.samples import sample_data


@pytest.mark.parametrize("event_type", list(EventType))
def test_every_event_type_round_trips(event_type: EventType) -> None:
    data = sample_data(event_type)
    event = new_event(event_type, data, source="/tests")
    record = encode(event)

    decoded = decode(record.value, record.headers)

    assert decoded == event
    assert decoded.data == data
    assert record.key == b"org_acme"
    assert record.topic == event_type.topic


def test_headers_follow_the_kafka_binding_binary_mode() -> None:
    event = new_event(
        EventType.INVOICE_CREATED,
        sample_data(EventType.INVOICE_CREATED),
        source="/invoice-events",
        event_id="evt-1",
        time=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    headers = dict(encode(event).headers)
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": b"evt-1",
        "ce_source": b"/invoice-events",
        "ce_type": b"invoice.created.v1",
        "ce_time": b"2026-11-20T09:30:00+00:00",
        "ce_subject": b"inv_000123",
        "content-type": b"application/json",
    }
    assert encode(event).topic == topics.INVOICE_EVENTS


def test_decode_accepts_a_string_header_mapping() -> None:
    record = encode(
        new_event(EventType.INVOICE_CREATED, sample_data(EventType.INVOICE_CREATED), source="/s")
    )
    as_strings = {k: v.decode() for k, v in record.headers}
    assert decode(record.value, as_strings).type is EventType.INVOICE_CREATED


def test_data_must_match_the_type() -> None:
    with pytest.raises(TypeError):
        new_event(
            EventType.INVOICE_SYNC_FAILED, sample_data(EventType.INVOICE_CREATED), source="/s"
        )


def _valid_record() -> tuple[bytes, list[tuple[str, bytes]]]:
    record = encode(
        new_event(EventType.INVOICE_CREATED, sample_data(EventType.INVOICE_CREATED), source="/s")
    )
    return record.value, record.headers


def _without(headers: list[tuple[str, bytes]], name: str) -> list[tuple[str, bytes]]:
    return [(k, v) for k, v in headers if k != name]


def _replace(headers: list[tuple[str, bytes]], name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [*_without(headers, name), (name, value)]


VALUE, HEADERS = _valid_record()

BAD_RECORDS = {
    "random bytes": (b"\x8f\x00\xffgarbage", HEADERS, MalformedPayload),
    "truncated json": (VALUE[: len(VALUE) // 2], HEADERS, MalformedPayload),
    "json array": (b"[1, 2]", HEADERS, MalformedPayload),
    "empty value": (b"", HEADERS, MalformedPayload),
    "null value": (None, HEADERS, MalformedPayload),
    "deeply nested": (b"[" * 100_000 + b"]" * 100_000, HEADERS, MalformedPayload),
    "missing ce_type": (VALUE, _without(HEADERS, "ce_type"), MissingAttribute),
    "missing ce_id": (VALUE, _without(HEADERS, "ce_id"), MissingAttribute),
    "no headers": (VALUE, [], MissingAttribute),
    "unknown ce_type": (VALUE, _replace(HEADERS, "ce_type", b"invoice.paid.v1"), UnknownEventType),
    "wrong specversion": (VALUE, _replace(HEADERS, "ce_specversion", b"0.3"), InvalidAttribute),
    "bad ce_time": (VALUE, _replace(HEADERS, "ce_time", b"yesterday"), InvalidAttribute),
    "non-utf8 header": (VALUE, _replace(HEADERS, "ce_id", b"\xff\xfe"), InvalidAttribute),
    "xml content type": (
        VALUE,
        _replace(HEADERS, "content-type", b"application/xml"),
        InvalidAttribute,
    ),
    "schema-invalid data": (b'{"org_id": "org_acme", "version": "one"}', HEADERS, SchemaViolation),
}


@pytest.mark.parametrize("case", list(BAD_RECORDS))
def test_bad_records_raise_their_documented_error(case: str) -> None:
    value, headers, expected = BAD_RECORDS[case]
    with pytest.raises(EnvelopeError) as info:
        decode(value, headers)
    assert type(info.value) is expected
    assert info.value.reason == expected.reason


def test_error_reasons_are_distinct() -> None:
    reasons = [
        e.reason
        for e in (
            MalformedPayload,
            MissingAttribute,
            InvalidAttribute,
            UnknownEventType,
            SchemaViolation,
        )
    ]
    assert len(set(reasons)) == len(reasons)


def test_schema_violation_names_each_field_without_echoing_input() -> None:
    payload = b'{"org_id": "org_acme", "invoice_id": "inv_1", "version": "one", "secret": "s3"}'
    with pytest.raises(SchemaViolation) as info:
        decode(payload, HEADERS)
    fields = {".".join(map(str, e["loc"])) for e in info.value.errors}
    assert {"version", "invoice_number", "customer", "lines"} <= fields
    assert "s3" not in str(info.value) and "input" not in info.value.errors[0]


def test_an_event_without_ce_time_takes_the_record_time_not_the_readers_clock() -> None:
    record = encode(
        new_event(EventType.INVOICE_CREATED, sample_data(EventType.INVOICE_CREATED), source="/s")
    )
    headers = [(k, v) for k, v in record.headers if k != "ce_time"]
    produced = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert decode(record.value, headers, record_time=produced).time == produced


def test_a_consumed_record_without_ce_time_is_dated_by_kafka() -> None:
    from aiokafka import ConsumerRecord

    from service_kit.events import decode_record

    record = encode(
        new_event(EventType.INVOICE_CREATED, sample_data(EventType.INVOICE_CREATED), source="/s")
    )
    headers = [(k, v) for k, v in record.headers if k != "ce_time"]
    millis = 1_763_629_200_000  # 2025-11-20T09:00:00Z
    consumed = ConsumerRecord("t", 0, 7, millis, 0, record.key, record.value, None, 0, 0, headers)
    assert decode_record(consumed).time == datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
